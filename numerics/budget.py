"""Memory budget: refuse a request whose arrays cannot fit before allocating any of them.

A run of gradient descent holds, for ``S`` seeds, its weights (three copies: the start, the
current weights and their gradients), a few total maps and a recording of every tracked series
at every recorded epoch::

    bytes ≈ 8 · S · (3 · Σ_layers out·in + 3 · n_out·n_in) + 8 · S · n_series · (T + 1)

with ``T = epochs // record_every + 1`` recorded times and ``n_series`` twice the recorded
curves (4 quadrant norms, a loss per output block and, as an upper bound on the modes, the
narrowest width of each module): the simulator fills one table of them and copies it out into
the record at the end. A prediction holds ``epochs + 1`` values of at least 8 curves
(times, one mode, four quadrant norms, two losses), each as a float64, a Python float in the
payload and JSON text.

These estimates count what a run cannot do without: the peak that ``tracemalloc`` traces
during a simulation lies between them and twice them (the tests check it), so a refused
request would not have fit. The check compares them with the memory available now
(``MemAvailable`` of ``/proc/meminfo``, or the physical memory where that file does not exist,
and no more than the process's own limits leave: ``ulimit -v``, ``ulimit -d``, its cgroup's
``memory.max``) and names the size the request needs.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

from modspec.theory.errors import ModspecError

__all__ = ["OUTPUT_BUDGET", "available_bytes", "check_memory", "check_output", "check_training",
           "format_bytes", "prediction_bytes", "training_bytes"]

FLOAT = 8
#: Bytes per predicted value: float64 array + Python float in a list (32) + JSON text (~20).
PREDICTED_VALUE = FLOAT + 32 + 20
#: Curves of every prediction: times, at least one mode, four quadrant norms, two losses.
PREDICTED_SERIES = 8


def _meminfo() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo``, or the physical memory (None: unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` in bytes (0 when it cannot be read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limits() -> list[int]:
    """What this process's own limits leave: the address space (``ulimit -v``) less what is
    mapped, the data segment less what it holds, and its cgroup's ``memory.max`` less what
    the group uses."""
    left = []
    try:
        import resource
    except ImportError:                                    # not POSIX: no such limits
        return left
    for which, field in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft = resource.getrlimit(which)[0]
        if soft != resource.RLIM_INFINITY:
            left.append(max(0, soft - _status_bytes(field)))
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            left.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    return left


def available_bytes() -> int | None:
    """Memory this process can still allocate, in bytes (None when it cannot be told): the
    least of the memory available on the machine and what this process's limits leave (an
    address-space limit, ``ulimit -v``, counts mapped but untouched pages too)."""
    known = [n for n in (_meminfo(), *_limits()) if n is not None]
    return min(known) if known else None


def format_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'`` (binary units up to YiB, then powers of ten of YiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} YiB"


def check_memory(nbytes: int, request: str) -> None:
    """Raise a ModspecError naming ``request`` when ``nbytes`` exceed the available memory."""
    free = available_bytes()
    if free is not None and nbytes > free:
        raise ModspecError(f"{request} is invalid: needs about {format_bytes(nbytes)} of "
                           f"memory, more than the {format_bytes(free)} available; ask for "
                           "less")


def _whole(*values: Any) -> bool:
    return all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
               for v in values)


def training_bytes(dataset: Any, network: Any, hidden: int, seeds: int, epochs: int,
                   record_every: int = 1) -> int:
    """Bytes a run of gradient descent cannot do without (module docstring).

    Returns 0 for requests the caller's own checks refuse (symbolic dataset, sizes that are
    not whole numbers), so those keep their own messages.
    """
    if (getattr(dataset, "is_symbolic", False) or not _whole(hidden, seeds, epochs)
            or not _whole(record_every) or record_every < 1):
        return 0
    ins, outs = dataset.input_blocks, dataset.output_blocks
    n_in = max(end for _, end in ins.values())
    n_out = max(end for _, end in outs.values())
    params, modes = 0, 0
    for module in network.modules:
        m_in = sum(ins[b][1] - ins[b][0] for b in module.inputs if b in ins)
        m_out = sum(outs[b][1] - outs[b][0] for b in module.outputs if b in outs)
        dims = [m_in] + [hidden] * (module.depth - 1) + [m_out]
        params += sum(a * b for a, b in zip(dims, dims[1:], strict=False))
        modes += min(dims)                     # at most this many distinct modes
    # the recorded observables (four quadrants, a loss per output block, the modes: an upper
    # bound) are filled into one table and copied out into the record at the end: twice
    series = 2 * (4 + len(outs) + modes)
    recorded = epochs // record_every + 2
    # the input covariance Σx (n_in × n_in) and the data (n_in + n_out rows of P objects)
    data = n_in * n_in + (n_in + n_out) * int(getattr(dataset, "P", 0) or 0)
    return FLOAT * (seeds * (3 * params + 3 * n_in * n_out + series * recorded) + data)


def check_training(dataset: Any, network: Any, hidden: Any, seeds: Any, epochs: Any,
                   record_every: Any = 1) -> None:
    """Refuse a run of gradient descent whose arrays (:func:`training_bytes`) cannot fit,
    naming its epochs, seeds and hidden width, before anything is allocated."""
    check_memory(training_bytes(dataset, network, hidden, seeds, epochs, record_every),
                 f"epochs={epochs}, seeds={seeds}, hidden={hidden}")


#: The most bytes a command prints without being asked for a coarser record (64 MiB).
OUTPUT_BUDGET = 64 * 2**20
#: Bytes per printed value: a number with its separator and indentation (JSON or CSV).
PRINTED_VALUE = 24


def check_output(rows: int, request: str, hint: str, series: int = PREDICTED_SERIES) -> None:
    """Refuse, naming ``request``, printing ``rows`` rows of ``series`` values when that is
    more than :data:`OUTPUT_BUDGET`; ``hint`` says how to ask for fewer rows."""
    nbytes = rows * series * PRINTED_VALUE
    if nbytes > OUTPUT_BUDGET:
        raise ModspecError(f"{request} is invalid: prints about {format_bytes(nbytes)}, more "
                           f"than the {format_bytes(OUTPUT_BUDGET)} output budget; {hint}")


def prediction_bytes(epochs: int, dataset: Any = None, network: Any = None,
                     hidden: int = 1) -> int:
    """Bytes a prediction at epochs ``0 … epochs`` cannot do without (module docstring).

    A coupled ``network`` has no closed form: its prediction integrates the matrix flow of one
    network ``hidden`` units wide, whose weights count as one seed of :func:`training_bytes`.
    """
    if not _whole(epochs):
        return 0
    flow = (training_bytes(dataset, network, hidden, 1, 0)
            if network is not None and network.coupled else 0)
    return PREDICTED_VALUE * PREDICTED_SERIES * (epochs + 1) + flow
