"""Training every (architecture, seed) together until all have plateaued, with checkpoints.

The convergence rule (:func:`plateaued`, stated in docs/theory/cmnist.md and :mod:`.run`) is
checked at every evaluation; the whole training state is written atomically to
``OUT/checkpoint.npz`` at every evaluation and a rerun under the same settings continues from
it; Ctrl-C stops at the next safe point (:func:`deferred_interrupt`).
"""

from __future__ import annotations

import contextlib
import io
import math
import signal
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import CMNISTConfig
from .seeds import PARTS, SPLITS, SeedGroup, data_tensors

if TYPE_CHECKING:
    from .dataset import CompositionalMNIST

__all__ = ["CHECKPOINT", "deferred_interrupt", "plateau_epoch", "plateaued", "train_seeds"]

CHECKPOINT = "checkpoint.npz"


# ------------------------------------------------------------------------ convergence rule
def plateaued(epochs: Sequence[int], train: Mapping[str, Sequence[float]], index: int,
              window: int, tol: float) -> bool:
    """Whether the convergence rule holds at evaluation ``index`` (see the module docstring).

    ``train`` maps each part to the training errors at ``epochs``; the rule needs an
    evaluation exactly ``window`` epochs earlier.
    """
    t = epochs[index]
    if t < window or (t - window) not in epochs:
        return False
    j = list(epochs).index(t - window)
    for values in train.values():
        now, before, start = values[index], values[j], values[0]
        if not (math.isfinite(now) and before - now < tol and now <= start / 2):
            return False
    return True


def plateau_epoch(epochs: Sequence[int], train: Mapping[str, Sequence[float]], window: int,
                  tol: float) -> int | None:
    """The first evaluation epoch at which the rule holds, or None."""
    for i in range(len(epochs)):
        if plateaued(epochs, train, i, window, tol):
            return int(epochs[i])
    return None


# ------------------------------------------------------------------------ training
def train_seeds(config: CMNISTConfig, data: CompositionalMNIST, key: str, out: Path, dev: str,
                say: Callable[[str], None]) -> dict[tuple[int, str], dict[str, Any]]:
    """Every (seed, architecture) trained together on ``dev`` to the convergence rule or the
    cap, resumed from ``out/checkpoint.npz`` written under ``key``; each network's record."""
    import torch

    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train_groups(config, data, key, out, dev, say)
    finally:
        torch.set_num_threads(threads)   # the caller's setting, for whatever runs next


def _train_groups(config: CMNISTConfig, data: CompositionalMNIST, key: str, out: Path,
                  dev: str, say: Callable[[str], None]
                  ) -> dict[tuple[int, str], dict[str, Any]]:
    tensors = data_tensors(data, config, dev)
    groups = {a: SeedGroup(tensors, a, config.seed_list, config, dev, data.image_shape,
                           data.positions) for a in config.archs}
    wall = 0.0
    epoch = 0
    saved = _load_checkpoint(out / CHECKPOINT, key)
    if saved is not None:
        try:
            for g in groups.values():
                g.load_state(saved)
            epoch, wall = int(saved["epoch"]), float(saved["wall_s"])
            say(f"resumed from {out / CHECKPOINT} at epoch {epoch}")
        except (KeyError, ValueError, RuntimeError):
            groups = {a: SeedGroup(tensors, a, config.seed_list, config, dev, data.image_shape,
                                   data.positions) for a in config.archs}
            epoch = 0
    if epoch == 0:
        for g in groups.values():
            g.evaluate(0)
    start = time.perf_counter() - wall
    converged = _converged(groups, config)
    with deferred_interrupt() as interrupted:
        while epoch < config.epochs and None in converged.values():
            epoch += 1
            for g in groups.values():
                g.train_epoch(epoch)
                interrupted()
            converged = _after_epoch(groups, config, key, out, epoch, start, say, converged)
    wall = time.perf_counter() - start
    results = {}
    for a, g in groups.items():
        for k, s in enumerate(g.seeds):
            first = converged[(s, a)]
            results[(s, a)] = {
                "arch": a, "seed": s, "epochs": g.epochs, "run_key": key,
                "errors": {sp: {p: g.curves[sp][p][k] for p in PARTS} for sp in SPLITS},
                "converged_epoch": first, "stopped_epoch": epoch,
                "wall_s": wall, "device": dev}
    return results


def _after_epoch(groups: Mapping[str, SeedGroup], config: CMNISTConfig, key: str, out: Path,
                 epoch: int, start: float, say: Callable[[str], None],
                 converged: dict[tuple[int, str], int | None]
                 ) -> dict[tuple[int, str], int | None]:
    """Evaluate, checkpoint and report after ``epoch`` when it is an evaluation epoch."""
    if epoch % config.eval_every and epoch != config.epochs:
        return converged
    for g in groups.values():
        g.evaluate(epoch)
    converged = _converged(groups, config)
    _save_checkpoint(out / CHECKPOINT, groups, key, epoch, time.perf_counter() - start)
    train = {a: np.mean([g.curves["train"]["compositional"][k][-1]
                         for k in range(len(g.seeds))]) for a, g in groups.items()}
    n_done = sum(v is not None for v in converged.values())
    say(f"epoch {epoch}/{config.epochs}: compositional train error "
        + ", ".join(f"{a} {v:.3f}" for a, v in train.items())
        + f"; converged {n_done}/{len(converged)}")
    return converged


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], None]]:
    """Ctrl-C during training stops at the next safe point instead of inside a PyTorch
    operation (where a ``KeyboardInterrupt`` can surface as an internal error of
    ``torch.func``): the first SIGINT is recorded and the yielded check raises
    :class:`KeyboardInterrupt` when called; a second SIGINT interrupts at once. Outside the
    main thread nothing changes (signals reach only the main thread)."""
    pending: list[bool] = []

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield check
        return

    def handler(signum: int, frame: Any) -> None:
        if pending:
            raise KeyboardInterrupt
        pending.append(True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


def _converged(groups: Mapping[str, SeedGroup], config: CMNISTConfig
               ) -> dict[tuple[int, str], int | None]:
    """Per network: the first evaluation epoch at which its rule held (None: not yet)."""
    return {(s, a): plateau_epoch(g.epochs, g.train_curves(k), config.plateau_window,
                                  config.plateau_tol)
            for a, g in groups.items() for k, s in enumerate(g.seeds)}


def _save_checkpoint(path: Path, groups: Mapping[str, SeedGroup], key: str, epoch: int,
                     wall: float) -> None:
    arrays: dict[str, np.ndarray] = {"run_key": np.array(key), "epoch": np.array(epoch),
                                     "wall_s": np.array(wall)}
    for g in groups.values():
        arrays.update(g.state())
    from modspec.theory.cache import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load_checkpoint(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The checkpoint's arrays when it was written under ``key`` (never unpickled); ``None``
    (train from the start) when it is unreadable, of another run, or holds non-finite weights
    — a damaged checkpoint, not a learning rate, is then to blame, and a fresh run names its
    own cause if it diverges."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if str(arrays.get("run_key", "")) != key:
        return None
    weights = [a for k, a in arrays.items() if "/param/" in k]
    if not all(np.isfinite(a).all() for a in weights):
        return None
    return arrays
