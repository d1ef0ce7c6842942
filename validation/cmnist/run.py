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

:func:`run` is the experiment; the settings and pre-flight checks are :mod:`.config`, the
networks trained together :mod:`.seeds`, the training loop and its checkpoints :mod:`.train`,
the summary and the verdict :mod:`.summary`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import CMNISTConfig, check_budget, check_out
from .dataset import build
from .summary import summarise
from .train import CHECKPOINT, train_seeds

__all__ = ["run", "seed_path"]


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
        done = train_seeds(config, data, key, out, dev, say)
        for (seed, arch), result in done.items():
            _atomic_write(seed_path(out_dir, arch, seed), result)
        (out / CHECKPOINT).unlink(missing_ok=True)
    runs = {a: [done[(s, a)] for s in config.seed_list] for a in config.archs}
    summary = summarise(runs, config, data)
    _atomic_write(os.path.join(out_dir, "summary.json"), summary)
    return summary


def seed_path(out_dir: str, arch: str, seed: int) -> str:
    """Where the finished network ``arch`` of ``seed`` is written."""
    return os.path.join(out_dir, "seeds", f"{arch}-seed{seed}.json")


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
