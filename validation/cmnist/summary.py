"""A Compositional MNIST run's summary: errors over seeds, convergence and the claim.

The verdict (:func:`verdict`) and the claim over time (:func:`claim_over_time`) judge the
paired differences dense − split over seeds (docs/theory/cmnist.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import CMNISTConfig
from .seeds import PARTS, SPLITS

if TYPE_CHECKING:
    from .dataset import CompositionalMNIST

__all__ = ["claim_over_time", "summarise", "verdict"]


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
