"""Sweeps: many points of a grid, computed in bundles by an executor, stored as they finish.

:func:`sweep` reads a grid (:mod:`.sweep_grid`), skips the points its store already holds
(:mod:`.sweep_store`), cuts the rest into bundles and hands them to an executor: in-process,
a local process pool (the default) or a Dask distributed cluster (an address, a ``Client`` or
a ``LocalCluster``). A task is the
plain importable function :func:`run_bundle` of a list of :class:`~.sweep_grid.Point` (small,
picklable), run with BLAS on one thread; only the driver writes the store.

What a point computes (``compute``), as columns of its row (times in epochs of full-batch
gradient descent, ``τ = 1/(P·lr)``):

* ``theory`` — the theory of the run the point describes,
  :func:`modspec.numerics.expectation.expect` of its derivation and planned run
  (:mod:`.sweep_theory`: the seeded initial weights, the expected starts, the point's rule),
  in discrete time: ``theory.<q>`` the quadrant norms, ``theory.<mode>`` the mode strengths
  and ``theory.loss.<name>`` the losses at the last epoch; ``theory.end.<q>`` the end point
  (the converged map's quadrant norms, as ``modspec derive``; a subset's converged map for a
  point trained on a subset, with its held-out error ``theory.heldout``);
  ``theory.half_rise.<mode>`` the gradient flow's half-rise epoch from the start used
  (gradient descent). Generic compositional points of decoupled networks are evaluated in one
  batch of the same compiled predictor.
* ``simulate`` — :func:`modspec.numerics.simulate.simulate`, all seeds in one batch,
  recording every ``record_every`` epochs: ``simulate.<obs>`` the mean over seeds at the last
  epoch and ``simulate.<obs>.std`` the standard deviation; ``simulate.half_rise.<mode>`` the
  first epoch the seed-mean strength reaches half its last recorded value;
  ``simulate.heldout`` the held-out compositional error when objects are held out.
* ``train`` — the same from :func:`modspec.validation.training.train` (PyTorch, CPU).

Phase diagrams of a store: :func:`plot`.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modspec.numerics.record import Trajectory
from modspec.numerics.simulate import simulate, single_threaded_blas
from modspec.theory.errors import ModspecError, bad

from .comparison import measured_half_rise
from .sweep_grid import Point, grid_points, read_grid
from .sweep_store import StoreWarning, grid_key, load_sweep, open_store
from .sweep_theory import theory_values

__all__ = ["EXECUTORS", "SweepResult", "bundles", "check_plot", "load_sweep", "plot",
           "run_bundle", "sweep", "theory_values"]

#: The executors: in this process, a local process pool, a Dask distributed cluster.
EXECUTORS = ("inline", "pool", "dask")


# ------------------------------------------------------------------------ the task
def run_bundle(points: Sequence[Point]) -> list[dict[str, Any]]:
    """The rows of a bundle of points (see the module docstring), BLAS on one thread."""
    with single_threaded_blas():
        rows = [{"key": p.key, **p.params()} for p in points]
        todo = [i for i, p in enumerate(points) if "theory" in p.compute]
        for i, values in zip(todo, theory_values([points[i] for i in todo]), strict=True):
            rows[i].update(values)
        for i, p in enumerate(points):
            for kind, produce in (("simulate", _simulate), ("train", _train)):
                if kind in p.compute:
                    try:
                        rows[i].update(measured_values(kind, produce(p)))
                    except ModspecError as exc:     # e.g. gradient descent diverges here
                        rows[i][f"{kind}.error"] = str(exc)
    return rows


def _simulate(p: Point) -> Trajectory:
    return simulate(p.run_spec())


def _train(p: Point) -> Trajectory:
    from .training import train

    return train(p.run_spec("train"))


def measured_values(prefix: str, run: Trajectory) -> dict[str, float]:
    """Last-epoch means and standard deviations over seeds of a measured record, and the
    half-rise epoch of each mode's seed mean (half its last value)."""
    mean, std = run.mean(), run.std()
    out: dict[str, float] = {}
    for group, label in (("quadrant_norms", ""), ("modes", ""), ("loss", "loss.")):
        for key, values in mean[group].items():
            out[f"{prefix}.{label}{key}"] = float(values[-1])
            out[f"{prefix}.{label}{key}.std"] = float(std[group][key][-1])
    for key, values in mean["modes"].items():
        out[f"{prefix}.half_rise.{key}"] = measured_half_rise(run.t, values, float(values[-1]))
    if run.heldout is not None and run.heldout.get("compositional_error") is not None:
        held = np.asarray(run.heldout["compositional_error"])[:, -1]
        out[f"{prefix}.heldout"] = float(held.mean())
        out[f"{prefix}.heldout.std"] = float(held.std())
    return out


# ------------------------------------------------------------------------ executors
def bundles(points: Sequence[Point], workers: int) -> list[list[Point]]:
    """Points cut into bundles: about four per worker (so a slow one does not hold the rest
    back), at most 256 points of theory or 8 of simulation/training each (so progress and
    resumption stay fine-grained), each from one network and epoch count (one batch)."""
    order = sorted(points, key=lambda p: (p.arch, p.depth, p.epochs))
    heavy = any(("simulate" in p.compute or "train" in p.compute) for p in points)
    size = max(1, min(8 if heavy else 256, math.ceil(len(order) / (4 * max(workers, 1)))))
    out: list[list[Point]] = []
    for p in order:
        if out and len(out[-1]) < size and (out[-1][0].arch, out[-1][0].depth,
                                            out[-1][0].epochs) == (p.arch, p.depth, p.epochs):
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _worker_start(driver: int) -> None:
    """A pool worker's start: it leaves Ctrl-C to the driver, which stops the sweep, and it
    dies with the driver, so a driver killed even by SIGKILL leaves no worker behind (nor the
    resource tracker, which ends when its last client does). On Linux the kernel sends the
    worker SIGKILL when the driver dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
    thread also checks every half second that the driver is still the worker's parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)          # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != driver:                  # the driver died before this worker started
        os._exit(1)

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="modspec-driver-watch", daemon=True).start()


def _inline(work: list[list[Point]]) -> Iterator[list[dict[str, Any]]]:
    for bundle in work:
        yield run_bundle(bundle)


def _pool(work: list[list[Point]], workers: int) -> Iterator[list[dict[str, Any]]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        futures = [pool.submit(run_bundle, bundle) for bundle in work]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def modspec_version() -> str:
    """The modspec version of the process that runs this (asked of every Dask worker)."""
    from modspec._version import __version__

    return __version__


#: The largest first message a Dask scheduler sends (its handshake: a few hundred bytes).
HANDSHAKE_BYTES = 2**20


def _probe(address: str, timeout: float) -> None:
    """Refuse in one line, within ``timeout``, a service at ``address`` that is not a Dask
    scheduler: a Dask server sends its handshake as soon as a connection opens (an 8-byte
    little-endian length, then the message), so a service that stays silent (one that accepts
    but never answers, an HTTP server) or announces an absurd length is no scheduler (Dask's
    own client would wait forever on the first, and try to allocate exabytes on the second)."""
    import socket

    host, _, port = address.partition("://")[2].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise bad("--scheduler", address, "closed the connection without the "
                              "handshake of a Dask scheduler")
                head += chunk
    except TimeoutError:
        raise bad("--scheduler", address, f"accepts connections but sent no Dask handshake "
                  f"within {timeout:g} s: not a Dask scheduler") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise bad("--scheduler", address, f"cannot connect ({reason})") from None
    size = int.from_bytes(head, "little")
    if size > HANDSHAKE_BYTES:
        raise bad("--scheduler", address, f"does not speak Dask's protocol (its first message "
                  f"announces {size} bytes)")


def connect(address: Any, timeout: float = 5.0) -> Any:
    """A Dask client of the scheduler at ``address`` (``tcp://HOST:PORT``, a ``Client``, used
    as it is, or a cluster such as ``LocalCluster``), its workers checked: Python packages as
    the client's (``get_versions(check=True)``) and the same modspec version."""
    try:
        from distributed import Client
    except ImportError:
        raise bad("--scheduler", address,
                  "needs Dask (pip install 'modspec[dask]')") from None
    if isinstance(address, Client):
        client = address
    else:
        if isinstance(address, str):
            _probe(address, timeout)
        try:
            client = Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise bad("--scheduler", address, f"cannot connect ({reason})") from None
    try:
        client.get_versions(check=True)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise bad("--scheduler", address, "has no workers") from None
        versions = client.run(modspec_version)
        mine = modspec_version()
        other = {w: v for w, v in versions.items() if v != mine}
        if other:
            worker, version = next(iter(other.items()))
            raise bad("--scheduler", address,
                      f"worker {worker} runs modspec {version}, this client {mine}")
    except ValueError as exc:           # get_versions(check=True): mismatched packages
        if client is not address:
            client.close()
        if isinstance(exc, ModspecError):
            raise
        raise bad("--scheduler", address,
                  f"versions differ ({str(exc).splitlines()[0]})") from None
    return client


#: How often the driver looks at a Dask cluster while it waits, and how long it waits on a
#: cluster that has lost every worker before it stops (its finished points are stored).
POLL_S = 1.0
NO_WORKERS_S = 30.0


def _result(future: Any) -> list[dict[str, Any]]:
    """A bundle's rows; a bundle whose workers kept dying is one line, not a traceback."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        raise bad("--scheduler", "a worker", "died each time it ran a bundle of points (Dask "
                  "KilledWorker: out of memory or killed); the finished points are in the "
                  "store") from None


def _dask(work: list[list[Point]], client: Any, own: bool = True
          ) -> Iterator[list[dict[str, Any]]]:
    """Bundles on a Dask cluster; the client is closed at the end when the sweep made it
    (``own``), a user's own ``Client`` is left open (its futures of this sweep cancelled)."""
    import time

    from distributed import wait

    futures = []
    try:
        futures = [client.submit(run_bundle, bundle, pure=False) for bundle in work]
        pending, idle_since = set(futures), None
        while pending:
            try:
                done, pending = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                yield _result(future)
            if done or client.scheduler_info().get("workers"):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > NO_WORKERS_S:
                raise bad("--scheduler", getattr(client, "scheduler", None) and
                          client.scheduler.address, f"has had no workers for {NO_WORKERS_S:g} s "
                          f"with {len(pending)} bundle(s) of points left: the finished points "
                          "are in the store; start workers and run the sweep again")
    finally:
        if own:
            client.close()
        else:
            client.cancel(futures)


# --------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class SweepResult:
    """How a sweep went: ``points`` in the grid, ``skipped`` already in the store,
    ``computed`` now, the ``store`` path."""

    points: int
    skipped: int
    computed: int
    store: Path


def sweep(grid: str | Path | dict[str, Any], out: str | Path, *, workers: int | None = None,
          scheduler: str | None = None, client: Any = None,
          progress: bool = False) -> SweepResult:
    """Compute every point of ``grid`` (a grid file or its parsed tables) not yet in the store
    ``out``, appending a row per point as it finishes.

    ``workers``: 0 runs in this process, N a local pool of N processes (default: the CPU
    count); ``scheduler`` (``tcp://HOST:PORT``) submits the bundles to that Dask cluster
    instead, and so does ``client``: a Dask ``Client`` (left open) or a cluster such as
    ``LocalCluster`` (a client of it is made and closed). The whole grid is checked before
    any work. Interrupted (Ctrl-C, a kill), the
    store keeps every finished point and the same call resumes. ``out`` must be new, empty or
    a store of this grid (:func:`~.sweep_store.open_store`: a symbolic link, a file that is
    not a store and a store another sweep is writing are refused before any work).
    """
    tables = read_grid(grid) if not isinstance(grid, dict) else grid
    points = grid_points(tables, where=str(grid) if not isinstance(grid, dict) else "grid")
    family = str(tables.get("dataset", {}).get("family", "compositional"))
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise bad("workers", workers, "must be an integer ≥ 0 (0: in this process)")
    if scheduler is not None and not str(scheduler).startswith("tcp://"):
        raise bad("--scheduler", scheduler, "must be an address tcp://HOST:PORT")
    if scheduler is not None and client is not None:
        raise bad("client", client, "give a scheduler address or a client, not both")
    if client is not None and (isinstance(client, (str, bytes)) or
                               not hasattr(client, "scheduler_info")):
        raise bad("client", type(client).__name__, "must be a Dask Client or a cluster "
                  "(LocalCluster); an address goes to scheduler=")
    target = scheduler if client is None else client
    dask = connect(target) if target is not None else None
    own = dask is not None and dask is not client
    try:
        store = open_store(out, grid_key(family))
    except BaseException:
        if own:
            dask.close()
        raise
    with store:
        todo = list({p.key: p for p in points if p.key not in store.done}.values())
        skipped = len(points) - len(todo)
        work = bundles(todo, 1 if dask is not None else workers)
        if dask is not None:
            results: Iterable[list[dict[str, Any]]] = _dask(work, dask, own)
        elif workers == 0:
            results = _inline(work)
        else:
            results = _pool(work, min(workers, len(work)) or 1)
        from tqdm import tqdm

        with tqdm(total=len(points), initial=skipped, unit="point", file=sys.stderr,
                  disable=not progress, smoothing=0.1) as bar:
            for rows in results:
                for row in rows:
                    store.append(row)
                bar.update(len(rows))
    return SweepResult(len(points), skipped, len(todo), Path(out))


# ----------------------------------------------------------------------------- plots
#: What ``value`` of a plot may start with (the observable follows), besides a bare one.
VALUE_PREFIXES = ("loss.", "half_rise.", "end.")


def check_plot(points: Sequence[Point], x: str, value: str, y: str | None = None) -> None:
    """Refuse, before any point is computed, a phase diagram of ``points`` whose ``x``/``y``
    is not a parameter of the grid or whose ``value`` is no observable of its theory (the
    theory of the grid's first point of each network names them: quadrants, modes,
    ``loss.<name>``, ``half_rise.<mode>``, ``end.<quadrant>``, ``heldout``)."""
    names = [k for k in points[0].params() if k != "compute"] if points else []
    for flag, name in (("--x", x), ("--y", y)):
        if name is not None and name not in names:
            raise bad(flag, name, f"must be a parameter of this grid: {', '.join(names)}")
    if value == "heldout" or not points:
        return
    known: set[str] = set()
    firsts = {(p.family, repr(p.data), p.arch, p.depth, p.rule): p for p in reversed(points)}
    for p in firsts.values():
        row = theory_values([p])[0]
        if "theory.error" in row:
            return                              # no theory here to name them: not refused
        known |= {k.removeprefix("theory.") for k in row}
    from .sweep_store import observable_name

    if observable_name(value, known) not in known:        # shell-safe aliases: Gx_Oy
        shown = sorted(k for k in known if not k.startswith(VALUE_PREFIXES))
        raise bad("--value", value, f"must be an observable of this grid: {', '.join(shown)}"
                  ", or loss.<name>, half_rise.<mode>, end.<quadrant>, heldout")


def plot(store: Any, x: str, value: str, y: str | None = None,
         out: str | Path | None = None) -> Any:
    """A phase diagram of a store (a path or :func:`load_sweep`'s DataFrame), never an
    average over distinct points.

    One parameter ``x``: the theory ``theory.<value>`` as a line over ``x`` (evaluated between
    the grid points for a continuous ``x`` of decoupled networks on generic datasets; marked
    points at the grid points otherwise) and the simulation (or training)
    ``simulate.<value>`` as points with error bars (± std over seeds). Two, ``x`` and ``y``:
    the theory as a colour surface over the (x, y) grid (the simulation when no theory was
    computed), the measured points on it as circles coloured on the same scale. Every other
    parameter the sweep varies is drawn: as colours (curves) and panels (small multiples), or
    named on the axis when it moves with ``x``/``y``; too many panels are refused in one line
    (:mod:`modspec.validation.sweep_plot`). Returns the :class:`matplotlib.figure.Figure`;
    ``out`` (``.png`` or ``.pdf``) saves it.
    """
    from .sweep_plot import phase_diagram

    df = load_sweep(store) if not hasattr(store, "columns") else store
    if "key" in df.columns and df["key"].duplicated().any():   # one mark per point
        import warnings

        warnings.warn(f"{int(df['key'].duplicated().sum())} duplicate row(s) of points "
                      "drawn once (their first row)", StoreWarning, stacklevel=2)
        df = df.drop_duplicates("key")
    return phase_diagram(df, x, value, y=y, out=out)
