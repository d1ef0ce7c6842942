"""Train dense and split CNNs on Compositional MNIST to a stated convergence rule.

Protocol (docs/theory/cmnist.md, the original study): plain SGD with learning rate ``lr`` and
mini-batches of ``batch`` examples, loss = mean over the batch of the squared error *summed over
outputs*; the split network's two modules share nothing, so the summed loss trains each module
on its own part. The dataset is built once from ``data_seed`` and every network seed trains on it.

Errors (normalised so that an untrained network, output 0, starts near 1):

* compositional = mean over examples of the summed squared error over the ``10·positions``
  compositional outputs, divided by ``positions`` (the original "/3");
* non-compositional = the same over the ``10**positions`` identity outputs, divided by ``r²``;

on the training set (a fixed subset of ``eval_train`` examples), on test examples of seen digit
tuples and on test examples of held-out tuples, every ``eval_every`` epochs. The systematic
generalisation gap is held-out minus seen compositional error.

Seeds trained together. The networks of one architecture, one per seed, have their parameters
stacked along a leading seed axis and take each SGD step as one batched (``torch.func.vmap``)
forward and backward pass; each seed keeps its own initialisation and its own mini-batch order,
so the result equals training the seeds one at a time (to float rounding). The data live on the
training device.

Convergence (stated in advance, the same for every configuration). Let ``E_c(t)`` and ``E_n(t)``
be a network's normalised compositional and non-compositional *training* errors at evaluation
epoch ``t``. The network has plateaued at ``t`` when, for both parts ``E``,

    E(t − W) − E(t) < δ        and        E(t) ≤ E(0) / 2,

with window ``W = plateau_window`` epochs and tolerance ``δ = plateau_tol`` (defaults 20 epochs
and 0.01): over the last W epochs the error fell by less than 1 % of an untrained network's, and
the network has learned (the second condition keeps the initial plateau of a small
initialisation from counting). A network's convergence epoch is the first evaluation at which
its rule held; training stops at the first evaluation by which every network (every seed of
both architectures) has converged, or at the cap ``epochs``. (Once a network is on its plateau
the noise of SGD makes the rule come and go from one evaluation to the next, so "held once" is
the convergence epoch, not "holds now".)

Long runs never lose finished work: the whole training state (stacked weights, each seed's
random-generator state, the evaluation history) is written atomically to ``OUT/checkpoint.npz``
at every evaluation, and a rerun with the same settings continues from it; Ctrl-C stops at
once. When the run ends every network is written to ``OUT/seeds/<arch>-seed<k>.json`` and a
rerun with the same settings reuses them. Diverging SGD (a non-finite training loss) stops the
run with the epoch at which it happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import signal
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory.errors import bad

from .cnn import ARCHS, build_cnn, check_init, initialise
from .dataset import CompositionalMNIST, build

__all__ = ["CMNISTConfig", "MAX_THREADS", "SeedGroup", "check_budget", "check_out",
           "claim_over_time", "data_tensors", "plateau_epoch", "plateaued", "run", "run_bytes",
           "seed_path", "summarise", "verdict"]

SPLITS = ("train", "seen", "heldout")
PARTS = ("compositional", "noncompositional")
CHECKPOINT = "checkpoint.npz"


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(name, value, f"must be an integer ≥ {low}")
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int)
                                         or not 1 <= self.threads <= MAX_THREADS):
            raise bad("threads", self.threads, f"must be an integer in [1, {MAX_THREADS}] "
                      "(4 per CPU of this machine)")
        for name in ("lr", "r", "plateau_tol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or not value > 0:
                raise bad(name, value, "must be a finite number > 0")
        if self.lr > FLOAT32_MAX:           # the step's scale of float32 parameters
            raise bad("lr", self.lr, f"must be at most {FLOAT32_MAX:.3g} (the parameters are "
                      "float32; the reference is 2e-3)")
        if self.plateau_window % self.eval_every:
            raise bad("plateau_window", self.plateau_window,
                      f"must be a multiple of eval_every ({self.eval_every})")
        if not self.archs:
            raise bad("archs", self.archs, f"must name at least one of {', '.join(ARCHS)}")
        for a in self.archs:
            if a not in ARCHS:
                raise bad("arch", a, f"must be among {', '.join(ARCHS)}")
        check_init(self.init)

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
class SeedGroup:
    """The networks of one architecture, one per seed, trained together on one device.

    Seed ``s`` is initialised exactly as ``torch.manual_seed(s); build_cnn(...)`` then
    :func:`~modspec.validation.cmnist.cnn.initialise`, and draws its mini-batch order from its own
    generator seeded with ``s``. With one seed no ``vmap`` is used: that is training one
    network at a time.
    """

    def __init__(self, data: Mapping[str, Any], arch: str, seeds: Sequence[int],
                 config: CMNISTConfig, device: str, image_shape: tuple[int, int],
                 positions: int) -> None:
        import torch

        self.arch, self.seeds, self.config, self.device = arch, list(seeds), config, device
        self.positions, self.data = positions, data
        models = []
        for s in self.seeds:
            torch.manual_seed(s)
            model = build_cnn(arch, image_shape, positions)
            initialise(model, config.init)
            models.append(model)
        self.base = build_cnn(arch, image_shape, positions).to("meta")
        self.params = {name: torch.stack([dict(m.named_parameters())[name].detach()
                                          for m in models]).to(device).requires_grad_()
                       for name, _ in models[0].named_parameters()}
        self.gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        self.epochs: list[int] = []
        self.curves = {s: {p: [[] for _ in self.seeds] for p in PARTS} for s in SPLITS}

    # forward pass of every seed: x is (S, b, 1, H, W), or (b, 1, H, W) shared by all seeds
    def forward(self, params: Mapping[str, Any], x: Any) -> Any:
        from torch.func import functional_call, vmap

        shared = x.dim() == 4
        if len(self.seeds) == 1:
            one = {k: v[0] for k, v in params.items()}
            return functional_call(self.base, one, (x if shared else x[0],))[None]
        return vmap(lambda p, xx: functional_call(self.base, p, (xx,)),
                    in_dims=(0, None if shared else 0))(params, x)

    def train_epoch(self, epoch: int) -> None:
        """One epoch of SGD for every seed; stops with the epoch if a seed diverges."""
        import torch

        x_tr, y_tr = self.data["train"]
        n, b = x_tr.shape[0], self.config.batch
        params = list(self.params.values())
        perms = torch.stack([torch.randperm(n, generator=g) for g in self.gens]).to(self.device)
        total = torch.zeros(len(self.seeds), device=self.device)
        for a in range(0, n, b):
            idx = perms[:, a:a + b]
            out = self.forward(self.params, x_tr[idx])
            per_seed = ((out - y_tr[idx]) ** 2).sum(dim=-1).mean(dim=-1)
            grads = torch.autograd.grad(per_seed.sum(), params)
            with torch.no_grad():   # plain SGD (the update of torch.optim.SGD, no momentum)
                for p, g in zip(params, grads, strict=True):
                    p.add_(g, alpha=-self.config.lr)
            total += per_seed.detach()
        self._check_finite(total.cpu().numpy(), epoch)

    def _check_finite(self, losses: np.ndarray, epoch: int) -> None:
        """Stop, naming the seed and the epoch, when a seed's training loss is not finite."""
        finite = np.isfinite(losses)
        if not finite.all():
            s = self.seeds[int(np.flatnonzero(~finite)[0])]
            if epoch == 0:                      # before any step: the start is the cause
                raise bad("init", self.config.init,
                          f"the {self.arch} network (seed {s}) starts with a training loss "
                          "that is not finite (before any step); use a smaller init "
                          "(small: N(0, 0.01²))")
            raise bad("lr", self.config.lr,
                      f"SGD diverged: the training loss of the {self.arch} network (seed {s}) "
                      f"is not finite at epoch {epoch}; use a smaller learning rate "
                      "(reference 2e-3)")

    def evaluate(self, epoch: int) -> None:
        """Append every seed's normalised errors on the three splits at ``epoch``."""
        import torch

        self.epochs.append(epoch)
        n_comp, r = 10 * self.positions, self.data["r"]
        with torch.no_grad():
            for split in SPLITS:
                x, y = self.data["train_eval"] if split == "train" else self.data[split]
                n = x.shape[0]
                comp = torch.zeros(len(self.seeds), dtype=torch.float64, device=self.device)
                non = torch.zeros_like(comp)
                for a in range(0, n, 1024):
                    err = (self.forward(self.params, x[a:a + 1024]) - y[a:a + 1024]) ** 2
                    comp += err[..., :n_comp].sum(dim=(1, 2)).double()
                    non += err[..., n_comp:].sum(dim=(1, 2)).double()
                values = {"compositional": (comp / max(n, 1) / self.positions).cpu().numpy(),
                          "noncompositional": (non / max(n, 1) / r**2).cpu().numpy()}
                if split == "train":
                    self._check_finite(np.minimum(*values.values()), epoch)
                for part, v in values.items():
                    for k in range(len(self.seeds)):
                        self.curves[split][part][k].append(float(v[k]) if n else float("nan"))

    def train_curves(self, k: int) -> dict[str, list[float]]:
        return {p: self.curves["train"][p][k] for p in PARTS}

    # checkpoint: plain arrays only (read back with allow_pickle=False)
    def state(self) -> dict[str, np.ndarray]:
        out = {f"{self.arch}/param/{k}": v.detach().cpu().numpy() for k, v in self.params.items()}
        for k, g in enumerate(self.gens):
            out[f"{self.arch}/gen/{k}"] = g.get_state().numpy()
        out[f"{self.arch}/epochs"] = np.asarray(self.epochs, dtype=np.int64)
        for split in SPLITS:
            for part in PARTS:
                out[f"{self.arch}/curves/{split}/{part}"] = np.asarray(
                    self.curves[split][part], dtype=np.float64).reshape(len(self.seeds), -1)
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        import torch

        with torch.no_grad():
            for k, v in self.params.items():
                saved = state[f"{self.arch}/param/{k}"]
                if saved.shape != tuple(v.shape):
                    raise ValueError(f"checkpoint shape of {k}")
                v.copy_(torch.as_tensor(saved))
        for k, g in enumerate(self.gens):
            g.set_state(torch.as_tensor(state[f"{self.arch}/gen/{k}"]))
        self.epochs = [int(e) for e in state[f"{self.arch}/epochs"]]
        for split in SPLITS:
            for part in PARTS:
                self.curves[split][part] = [
                    [float(v) for v in row]
                    for row in state[f"{self.arch}/curves/{split}/{part}"]]


def data_tensors(data: CompositionalMNIST, config: CMNISTConfig, device: str) -> dict[str, Any]:
    """The dataset's images and targets as tensors resident on ``device``."""
    import torch

    def tensors(split: Any) -> tuple[Any, Any]:
        return (torch.as_tensor(split.images, device=device),
                torch.as_tensor(data.targets(split.digits), device=device))

    x_tr, y_tr = tensors(data.train)
    ev_n = min(config.eval_train, len(data.train))
    return {"train": (x_tr, y_tr), "train_eval": (x_tr[:ev_n], y_tr[:ev_n]),
            "seen": tensors(data.test_seen), "heldout": tensors(data.test_heldout),
            "r": data.r}


def seed_path(out_dir: str, arch: str, seed: int) -> str:
    return os.path.join(out_dir, "seeds", f"{arch}-seed{seed}.json")


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


def run(config: CMNISTConfig, out_dir: str,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train every (architecture, seed) together until all have plateaued; the summary.

    Resumes from ``OUT/checkpoint.npz`` or reuses ``OUT/seeds/`` written under the same
    settings (``config.run_key()``). The summary is also written to ``OUT/summary.json``.
    """
    from ..training import resolve_device

    check_budget(config)
    out = check_out(out_dir)
    dev = resolve_device(config.device)
    data = build(config.source, config.positions, config.n_train, config.n_test,
                 config.holdout, config.r, config.data_seed)
    key = config.run_key()
    say = progress or (lambda line: None)
    jobs = [(seed, arch) for seed in config.seed_list for arch in config.archs]
    done = {j: _load(seed_path(out_dir, j[1], j[0]), key) for j in jobs}
    if all(v is not None for v in done.values()):
        for seed, arch in jobs:
            say(f"{arch} seed {seed}: reused {seed_path(out_dir, arch, seed)}")
    else:
        done = _train(config, data, key, out, dev, say)
        for (seed, arch), result in done.items():
            _atomic_write(seed_path(out_dir, arch, seed), result)
        (out / CHECKPOINT).unlink(missing_ok=True)
    runs = {a: [done[(s, a)] for s in config.seed_list] for a in config.archs}
    summary = summarise(runs, config, data)
    _atomic_write(os.path.join(out_dir, "summary.json"), summary)
    return summary


def _train(config: CMNISTConfig, data: CompositionalMNIST, key: str, out: Path, dev: str,
           say: Callable[[str], None]) -> dict[tuple[int, str], dict[str, Any]]:
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


# ------------------------------------------------------------------------ summary and claim
def summarise(runs: dict[str, list[dict[str, Any]]], config: CMNISTConfig,
              data: CompositionalMNIST) -> dict[str, Any]:
    """Mean ± std over seeds of the final errors and curves, convergence, gaps, the verdict at
    the last evaluation and the claim over time."""
    out: dict[str, Any] = {"config": {k: v for k, v in asdict(config).items() if k != "extra"},
                           "data": data.describe(), "archs": {}}
    for arch, results in runs.items():
        epochs = results[0]["epochs"]
        arr = {s: {p: np.array([r["errors"][s][p] for r in results]) for p in PARTS}
               for s in SPLITS}
        gap = arr["heldout"]["compositional"] - arr["seen"]["compositional"]
        final = {s: {p: _ms(arr[s][p][:, -1]) for p in PARTS} for s in SPLITS}
        conv = [r.get("converged_epoch") for r in results]
        out["archs"][arch] = {
            "seeds": [r["seed"] for r in results],
            "final": final,
            "gap": _ms(gap[:, -1]),
            "converged_epoch_per_seed": conv,
            "converged_epoch": None if None in conv else max(conv),
            "stopped_epoch": int(epochs[-1]),
            "gap_per_seed": gap[:, -1].tolist(),
            "heldout_compositional_per_seed": arr["heldout"]["compositional"][:, -1].tolist(),
            "seen_compositional_per_seed": arr["seen"]["compositional"][:, -1].tolist(),
            "curves": {"epochs": epochs,
                       **{f"{s}/{p}": {"mean": _nan_list(arr[s][p].mean(0)),
                                       "std": _nan_list(arr[s][p].std(0))}
                          for s in SPLITS for p in PARTS},
                       "gap": {"mean": _nan_list(gap.mean(0)), "std": _nan_list(gap.std(0))}},
            "wall_s": float(max(r["wall_s"] for r in results)),
        }
    stopped = max(a["stopped_epoch"] for a in out["archs"].values())
    out["convergence"] = {
        "rule": f"a network has converged at the first evaluation at which both its "
                f"normalised training errors fell by less than {config.plateau_tol} over the "
                f"last {config.plateau_window} epochs and are at most half their initial "
                "value; training stops once every network has converged (cap "
                f"{config.epochs} epochs)",
        "stopped_epoch": stopped,
        "all_converged": all(a["converged_epoch"] is not None for a in out["archs"].values()),
        "converged_epoch": {a: v["converged_epoch"] for a, v in out["archs"].items()}}
    out["verdict"] = verdict(out["archs"], config.holdout > 0)
    out["verdict"]["epoch"] = stopped
    out["over_time"] = claim_over_time(runs, config.holdout > 0)
    return out


def _metrics(heldout: bool) -> dict[str, tuple[str, str]]:
    """Per metric: (per-seed key, description); without held-out tuples both use the test."""
    if heldout:
        return {"gap": ("gap_per_seed",
                        "systematic generalisation gap (held-out − seen compositional error)"),
                "error": ("heldout_compositional_per_seed", "held-out compositional error")}
    return {"gap": ("seen_compositional_per_seed", "compositional test error"),
            "error": ("seen_compositional_per_seed", "compositional test error")}


def _judge(d: np.ndarray) -> tuple[float, float | None, str]:
    """mean, sem (None for one seed) and status of paired differences ``d`` (last axis)."""
    mean = float(d.mean())
    if d.size < 2:
        return mean, None, "inconclusive"
    sem = float(d.std(ddof=1) / np.sqrt(d.size))
    return mean, sem, "holds" if mean > 2 * sem else "fails" if mean < -2 * sem \
        else "inconclusive"


def verdict(archs: dict[str, Any], heldout: bool) -> dict[str, Any]:
    """Does the split network generalise compositionally better than the dense one?

    Two metrics per seed, each judged on the paired differences d = dense − split over seeds:
    "holds" when mean d > 2·sem(d), "fails" when mean d < −2·sem(d), otherwise
    "inconclusive" (sem = std(ddof=1)/√n; one seed is always inconclusive):

    * ``gap``: the systematic generalisation gap, held-out − seen compositional error (with
      held-out tuples; else the compositional test error, original protocol);
    * ``error``: the compositional error itself on held-out tuples (else on the test).

    ``status`` is "holds" when both hold, "fails" when both fail, "mixed" when they disagree
    and "inconclusive" otherwise: a smaller gap with a larger error is not a better network.
    """
    claim = "split generalises compositionally better than dense"
    if "dense" not in archs or "split" not in archs:
        return {"claim": claim, "status": "not tested", "reason": "needs both architectures"}
    out: dict[str, Any] = {"claim": claim,
                           "rule": "per metric: holds if mean(dense − split) > 2·sem, fails "
                                   "if < −2·sem, else inconclusive"}
    statuses = []
    for name, (key, what) in _metrics(heldout).items():
        dense, split = np.array(archs["dense"][key]), np.array(archs["split"][key])
        n = min(dense.size, split.size)
        mean, sem, status = _judge(dense[:n] - split[:n])
        statuses.append(status)
        out[name] = {"metric": what, "dense_minus_split_mean": mean,
                     "dense_minus_split_sem": sem, "n_seeds": int(n), "status": status}
    out["status"] = _combine(statuses)
    return out


def _combine(statuses: Sequence[str]) -> str:
    if len(set(statuses)) == 1:
        return statuses[0]
    return "mixed" if set(statuses) == {"holds", "fails"} else "inconclusive"


def claim_over_time(runs: Mapping[str, Sequence[Mapping[str, Any]]],
                    heldout: bool) -> dict[str, Any]:
    """The verdict's paired differences dense − split at every evaluation epoch.

    Per metric: mean and sem over seeds against ``epochs``, the status at each epoch, and
    ``holds_from``: the first epoch from which the claim holds at every later evaluation
    (None when it does not hold at the last one). ``holds_from`` of the whole claim is the
    later of the two metrics' (None unless both hold at the end).
    """
    if "dense" not in runs or "split" not in runs:
        return {"status": "not tested", "reason": "needs both architectures"}
    epochs = [int(e) for e in runs["dense"][0]["epochs"]]

    def per_seed(arch: str, name: str) -> np.ndarray:
        e = {s: np.array([r["errors"][s]["compositional"] for r in runs[arch]], dtype=float)
             for s in ("seen", "heldout")}
        if heldout and name == "gap":
            return e["heldout"] - e["seen"]
        return e["heldout"] if heldout else e["seen"]

    out: dict[str, Any] = {"epochs": epochs}
    for name, (_, what) in _metrics(heldout).items():
        d = per_seed("dense", name) - per_seed("split", name)
        judged = [_judge(d[:, i]) for i in range(len(epochs))]
        status = [j[2] for j in judged]
        holds_from = None
        for i in range(len(epochs) - 1, -1, -1):
            if status[i] != "holds":
                break
            holds_from = epochs[i]
        out[name] = {"metric": what, "mean": [j[0] for j in judged],
                     "sem": [j[1] for j in judged], "status": status,
                     "holds_from": holds_from}
    froms = [out[n]["holds_from"] for n in ("gap", "error")]
    out["holds_from"] = None if None in froms else max(froms)
    return out


def _ms(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def _nan_list(a: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in a]


def _load(path: str, key: str) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            result = json.load(fh)
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get("run_key") == key else None


def _atomic_write(path: str, payload: Any) -> None:
    """Write ``payload`` as strict JSON atomically (a finished seed is never half-written)."""
    from ..study.report import atomic_write_text, jsonable

    atomic_write_text(Path(path), json.dumps(jsonable(payload), indent=1, allow_nan=False))
