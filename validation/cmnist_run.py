"""Train dense and split CNNs on Compositional MNIST and measure systematic generalisation.

Protocol (theory.md §5, the original study): plain SGD with learning rate ``lr`` and mini-batches
of ``batch`` examples, loss = mean over the batch of the squared error *summed over outputs*;
the split network's two modules share nothing, so the summed loss trains each module on its own
part. Options cover the initialisation (see :mod:`modspec.validation.cnn`), lr, batch, epochs and
seeds; the dataset is built once from ``data_seed`` and every network seed trains on it.

Errors (normalised so that an untrained network, output 0, starts near 1):

* compositional = mean over examples of the summed squared error over the ``10·positions``
  compositional outputs, divided by ``positions`` (the original "/3");
* non-compositional = the same over the ``10**positions`` identity outputs, divided by ``r²``;

on the training set (a fixed subset of ``eval_train`` examples), on test examples of seen digit
tuples and on test examples of held-out tuples, every ``eval_every`` epochs. The systematic
generalisation gap is held-out minus seen compositional error.

Long runs never lose finished work: each finished (architecture, seed) is written to
``OUT/seeds/<arch>-seed<k>.json`` at once, and a rerun with the same settings skips it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory.errors import bad

from .cmnist import CompositionalMNIST, build
from .cnn import ARCHS, build_cnn, initialise

SPLITS = ("train", "seen", "heldout")
PARTS = ("compositional", "noncompositional")


@dataclass(frozen=True)
class CMNISTConfig:
    """Settings of a Compositional MNIST experiment (defaults: the reference protocol).

    ``init``: "small" (N(0, 0.01²), the reference), "default" (PyTorch's) or a standard
    deviation. ``seeds`` network seeds ``seed, seed+1, …``. ``holdout``: fraction of digit
    tuples never seen in training (0 = original protocol). ``workers`` > 1 trains that many
    networks at once in separate processes (each with ``threads`` torch threads); results do
    not depend on it.
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
    threads: int | None = None
    workers: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch", "seeds", "eval_every", "eval_train", "workers"):
            value = getattr(self, name)
            low = 0 if name == "epochs" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(name, value, f"must be an integer ≥ {low}")
        if not self.lr > 0:
            raise bad("lr", self.lr, "must be > 0")
        for a in self.archs:
            if a not in ARCHS:
                raise bad("arch", a, f"must be among {', '.join(ARCHS)}")

    def run_key(self) -> str:
        """Hash of the settings that change one seed's result (not seeds, device, threads)."""
        d = asdict(self)
        for k in ("seeds", "seed", "device", "threads", "workers", "archs", "extra"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[
            :16]


def errors(model: Any, images: Any, targets: Any, positions: int, r: float,
           chunk: int = 1024) -> dict[str, float]:
    """Normalised compositional (/positions) and non-compositional (/r²) errors."""
    import torch

    n = images.shape[0]
    if n == 0:
        return {"compositional": float("nan"), "noncompositional": float("nan")}
    n_comp = 10 * positions
    comp = non = 0.0
    with torch.no_grad():
        for a in range(0, n, chunk):
            err = (model(images[a:a + chunk]) - targets[a:a + chunk]) ** 2
            comp += float(err[:, :n_comp].sum())
            non += float(err[:, n_comp:].sum())
    return {"compositional": comp / n / positions, "noncompositional": non / n / r**2}


def train_one(data: CompositionalMNIST, arch: str, seed: int, config: CMNISTConfig,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train one network; returns ``{"epochs": [...], "errors": {split: {part: [...]}}, ...}``."""
    import torch

    from .training import resolve_device

    dev = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(seed)
    model = build_cnn(arch, data.image_shape, data.positions)
    initialise(model, config.init)
    model = model.to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(seed)

    def tensors(split: Any) -> tuple[Any, Any]:
        return (torch.as_tensor(split.images, device=dev),
                torch.as_tensor(data.targets(split.digits), device=dev))

    x_tr, y_tr = tensors(data.train)
    ev_n = min(config.eval_train, len(data.train))
    evals = {"train": (x_tr[:ev_n], y_tr[:ev_n]), "seen": tensors(data.test_seen),
             "heldout": tensors(data.test_heldout)}
    curves: dict[str, dict[str, list[float]]] = {s: {p: [] for p in PARTS} for s in SPLITS}
    epochs_at: list[int] = []

    def evaluate(epoch: int) -> None:
        model.eval()
        epochs_at.append(epoch)
        for split, (x, y) in evals.items():
            for part, v in errors(model, x, y, data.positions, data.r).items():
                curves[split][part].append(v)
        model.train()

    start = time.time()
    evaluate(0)
    n = x_tr.shape[0]
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(n, generator=gen).to(dev)
        for a in range(0, n, config.batch):
            idx = perm[a:a + config.batch]
            loss = ((model(x_tr[idx]) - y_tr[idx]) ** 2).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            evaluate(epoch)
            if progress:
                c = {s: curves[s]["compositional"][-1] for s in SPLITS}
                progress(f"{arch} seed {seed} epoch {epoch}/{config.epochs}: compositional "
                         f"train {c['train']:.3f} seen {c['seen']:.3f} held-out {c['heldout']:.3f}")
    return {"arch": arch, "seed": seed, "epochs": epochs_at, "errors": curves,
            "wall_s": time.time() - start, "device": dev}


def _job(data: CompositionalMNIST, arch: str, seed: int, config: CMNISTConfig,
         verbose: bool) -> dict[str, Any]:
    """One network in a worker process (progress lines go to stderr)."""
    import sys

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return train_one(data, arch, seed, config, say if verbose else None)


def seed_path(out_dir: str, arch: str, seed: int) -> str:
    return os.path.join(out_dir, "seeds", f"{arch}-seed{seed}.json")


def run(config: CMNISTConfig, out_dir: str,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every (seed, architecture), saving each as it finishes; returns the summary.

    A seed file written by an earlier run with the same settings (``config.run_key()``) is
    reused, so an interrupted run resumes where it stopped. The summary is also written to
    ``OUT/summary.json``.
    """
    os.makedirs(os.path.join(out_dir, "seeds"), exist_ok=True)
    data = build(config.source, config.positions, config.n_train, config.n_test,
                 config.holdout, config.r, config.data_seed)
    key = config.run_key()
    jobs = [(seed, arch) for seed in range(config.seed, config.seed + config.seeds)
            for arch in config.archs]
    done: dict[tuple[int, str], dict[str, Any]] = {}
    for seed, arch in jobs:
        result = _load(seed_path(out_dir, arch, seed), key)
        if result is not None:
            done[(seed, arch)] = result
            if progress:
                progress(f"{arch} seed {seed}: reused {seed_path(out_dir, arch, seed)}")
    pending = [j for j in jobs if j not in done]

    def finish(seed: int, arch: str, result: dict[str, Any]) -> None:
        result["run_key"] = key
        _atomic_write(seed_path(out_dir, arch, seed), result)  # saved as soon as it is done
        done[(seed, arch)] = result

    if config.workers > 1 and len(pending) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=ctx) as pool:
            futures = {pool.submit(_job, data, arch, seed, config, progress is not None):
                       (seed, arch) for seed, arch in pending}
            for fut in as_completed(futures):
                seed, arch = futures[fut]
                finish(seed, arch, fut.result())
    else:
        for seed, arch in pending:
            finish(seed, arch, train_one(data, arch, seed, config, progress))
    runs: dict[str, list[dict[str, Any]]] = {
        a: [done[(s, a)] for s in range(config.seed, config.seed + config.seeds)]
        for a in config.archs}
    summary = summarise(runs, config, data)
    _atomic_write(os.path.join(out_dir, "summary.json"), summary)
    return summary


def summarise(runs: dict[str, list[dict[str, Any]]], config: CMNISTConfig,
              data: CompositionalMNIST) -> dict[str, Any]:
    """Mean ± std over seeds of the final errors and curves, gaps, and the claim's verdict."""
    out: dict[str, Any] = {"config": {k: v for k, v in asdict(config).items() if k != "extra"},
                           "data": data.describe(), "archs": {}}
    for arch, results in runs.items():
        epochs = results[0]["epochs"]
        arr = {s: {p: np.array([r["errors"][s][p] for r in results]) for p in PARTS}
               for s in SPLITS}
        gap = arr["heldout"]["compositional"] - arr["seen"]["compositional"]
        final = {s: {p: _ms(arr[s][p][:, -1]) for p in PARTS} for s in SPLITS}
        out["archs"][arch] = {
            "seeds": [r["seed"] for r in results],
            "final": final,
            "gap": _ms(gap[:, -1]),
            "gap_per_seed": gap[:, -1].tolist(),
            "heldout_compositional_per_seed": arr["heldout"]["compositional"][:, -1].tolist(),
            "seen_compositional_per_seed": arr["seen"]["compositional"][:, -1].tolist(),
            "curves": {"epochs": epochs,
                       **{f"{s}/{p}": {"mean": _nan_list(arr[s][p].mean(0)),
                                       "std": _nan_list(arr[s][p].std(0))}
                          for s in SPLITS for p in PARTS},
                       "gap": {"mean": _nan_list(gap.mean(0)), "std": _nan_list(gap.std(0))}},
            "wall_s": float(sum(r["wall_s"] for r in results)),
        }
    out["verdict"] = verdict(out["archs"], config.holdout > 0)
    return out


def verdict(archs: dict[str, Any], heldout: bool) -> dict[str, Any]:
    """Does the split network generalise compositionally better than the dense one?

    Two metrics per seed, each judged on the paired differences d = dense − split over seeds:
    "holds" when mean d > 2·sem(d), "fails" when mean d < −2·sem(d), otherwise
    "inconclusive" (sem = std(ddof=1)/√n):

    * ``gap``: the systematic generalisation gap, held-out − seen compositional error (with
      held-out tuples; else the compositional test error, original protocol);
    * ``error``: the compositional error itself on held-out tuples (else on the test).

    ``status`` is "holds" when both hold, "fails" when both fail, "mixed" when they disagree
    and "inconclusive" otherwise: a smaller gap with a larger error is not a better network.
    """
    claim = "split generalises compositionally better than dense"
    if "dense" not in archs or "split" not in archs:
        return {"claim": claim, "status": "not tested", "reason": "needs both architectures"}
    metrics = {
        "gap": ("gap_per_seed" if heldout else "seen_compositional_per_seed",
                "systematic generalisation gap (held-out − seen compositional error)"
                if heldout else "compositional test error"),
        "error": ("heldout_compositional_per_seed" if heldout
                  else "seen_compositional_per_seed",
                  "held-out compositional error" if heldout else "compositional test error"),
    }
    out: dict[str, Any] = {"claim": claim,
                           "rule": "per metric: holds if mean(dense − split) > 2·sem, fails "
                                   "if < −2·sem, else inconclusive"}
    statuses = []
    for name, (key, what) in metrics.items():
        dense, split = np.array(archs["dense"][key]), np.array(archs["split"][key])
        n = min(dense.size, split.size)
        d = dense[:n] - split[:n]
        mean = float(d.mean())
        sem = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        status = "holds" if mean > 2 * sem else "fails" if mean < -2 * sem else "inconclusive"
        statuses.append(status)
        out[name] = {"metric": what, "dense_minus_split_mean": mean,
                     "dense_minus_split_sem": sem, "n_seeds": int(n), "status": status}
    if len(set(statuses)) == 1:
        out["status"] = statuses[0]
    elif set(statuses) == {"holds", "fails"}:
        out["status"] = "mixed"
    else:
        out["status"] = "inconclusive"
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
    return result if result.get("run_key") == key else None


def _atomic_write(path: str, payload: Any) -> None:
    """Write ``payload`` as JSON atomically (a finished seed is never half-written)."""
    from .report import atomic_write_text, jsonable

    atomic_write_text(Path(path), json.dumps(jsonable(payload), indent=1))
