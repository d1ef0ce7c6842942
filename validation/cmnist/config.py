"""The settings of a Compositional MNIST run, and what is refused before one starts.

:class:`CMNISTConfig` holds the protocol's settings (defaults: the reference protocol of
docs/theory/cmnist.md) and refuses a bad one in one line; :func:`check_out` the output
folder; :func:`check_budget` a run whose memory (:func:`run_bytes`) exceeds the machine's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory.errors import bad, check_integer, check_number

from .cnn import ARCHS, check_init
from .dataset import check_build

__all__ = ["CMNISTConfig", "EVAL_CHUNK", "FLOAT32_MAX", "MAX_THREADS", "PIXEL_BYTES",
           "check_budget", "check_out", "run_bytes"]

#: The largest float32 number: a learning rate beyond it cannot even scale a step.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The most torch CPU threads a run may ask for: 4 per CPU (more only exhausts memory).
MAX_THREADS = 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class CMNISTConfig:
    """Settings of a Compositional MNIST experiment (defaults: the reference protocol).

    ``init``: "small" (N(0, 0.01²), the reference), "default" (PyTorch's) or a standard
    deviation. ``seeds`` network seeds ``seed, seed+1, …``, trained together. ``holdout``:
    fraction of digit tuples never seen in training (0 = original protocol). ``epochs`` is the
    cap; training stops earlier once every network has plateaued (``plateau_window`` epochs,
    ``plateau_tol``; see the module docstring). ``threads``: torch CPU threads (None: torch's
    default).
    """

    source: str = "digits"
    positions: int = 3
    n_train: int = 20_000
    n_test: int = 3_333
    holdout: float = 0.0
    r: float = 10.0
    data_seed: int = 0
    archs: tuple[str, ...] = ARCHS
    epochs: int = 300
    lr: float = 2e-3
    batch: int = 16
    init: str | float = "small"
    seeds: int = 3
    seed: int = 0
    device: str = "auto"
    eval_every: int = 1
    eval_train: int = 1_000
    plateau_window: int = 20
    plateau_tol: float = 0.01
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, low in (("epochs", 0), ("batch", 1), ("seeds", 1), ("eval_every", 1),
                          ("eval_train", 1), ("plateau_window", 1), ("data_seed", 0),
                          ("seed", 0), ("n_train", 1), ("n_test", 1), ("positions", 1)):
            check_integer(name, getattr(self, name), low)
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int)
                                         or not 1 <= self.threads <= MAX_THREADS):
            raise bad("threads", self.threads, f"must be an integer in [1, {MAX_THREADS}] "
                      "(4 per CPU of this machine)")
        for name in ("lr", "r", "plateau_tol"):
            check_number(name, getattr(self, name), 0, strict=True)
        if self.lr > FLOAT32_MAX:           # the step's scale of float32 parameters
            raise bad("lr", self.lr, f"must be at most {FLOAT32_MAX:.3g} (the parameters are "
                      "float32; the reference is 2e-3)")
        largest_r = math.sqrt(FLOAT32_MAX / max(self.n_train, self.n_test))
        if self.r > largest_r:              # its square summed over a split, in float32
            raise bad("r", self.r, f"must be at most {largest_r:.3g} (the squared identity "
                      "targets summed over a split must fit float32; the default is 10)")
        if self.plateau_window % self.eval_every:
            raise bad("plateau_window", self.plateau_window,
                      f"must be a multiple of eval_every ({self.eval_every})")
        if not self.archs:
            raise bad("archs", self.archs, f"must name at least one of {', '.join(ARCHS)}")
        for a in self.archs:
            if a not in ARCHS:
                raise bad("arch", a, f"must be among {', '.join(ARCHS)}")
        check_init(self.init)
        check_build(self.positions, self.n_train, self.n_test, self.holdout, self.r,
                    self.data_seed)           # the dataset's own limits, before any folder

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def run_key(self) -> str:
        """Hash of the settings that change the result (not device, threads, extra).

        The seeds and architectures are part of it: training stops when *every* network has
        plateaued, so each network's history depends on the others'.
        """
        d = asdict(self)
        for k in ("device", "threads", "extra"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[
            :16]


def check_out(out_dir: str | os.PathLike[str]) -> Path:
    """Create (or accept) the output folder, or refuse it in one line before any work."""
    if not str(out_dir).strip():
        raise bad("out", str(out_dir), "must be a folder path, not empty")
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise bad("out", str(out_dir), "is an existing file; must be a folder (new or existing)")
    try:
        (path / "seeds").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise bad("out", str(out_dir),
                  f"must be a folder this user can write ({exc.strerror})") from None
    return path


#: Bytes per image pixel while the splits are built and moved: the source's float64 digit
#: images gathered per position, their concatenation, the float32 copy and its tensor.
PIXEL_BYTES = 24
#: Examples evaluated at once (``SeedGroup.evaluate``), per seed.
EVAL_CHUNK = 1024


def run_bytes(config: CMNISTConfig) -> int:
    """About the memory a run needs: its images and targets, every seed's parameters (with
    their gradients and checkpoint copies) and the feature maps of the largest batch."""
    from .cnn import network_sizes

    side = 8 if config.source == "digits" else 28
    shape = (side, side * config.positions)
    n_out = 10 * config.positions + 10**config.positions
    examples = config.n_train + 2 * config.n_test
    total = examples * (shape[0] * shape[1] * PIXEL_BYTES + n_out * 8)
    for arch in config.archs:
        params, maps = network_sizes(arch, shape, config.positions)
        total += config.seeds * (4 * 4 * params
                                 + 2 * 4 * max(config.batch, EVAL_CHUNK) * (maps + n_out))
    return total


def check_budget(config: CMNISTConfig) -> None:
    """Refuse, in one line and before anything is allocated, a run whose :func:`run_bytes`
    exceed the memory available."""
    from modspec.numerics.budget import check_memory

    check_memory(run_bytes(config), f"n_train={config.n_train}, n_test={config.n_test}, "
                                    f"seeds={config.seeds}")
