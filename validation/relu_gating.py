"""A trained two-layer ReLU network against the gated network of its gating (PyTorch training).

docs/theory/relu-gating.md. The ReLU network is one dense depth-2 module over all the
dataset's blocks (no biases), trained with PyTorch by full-batch gradient descent on
``½ Σ_s ‖y_s − W2 relu(W1 x_s)‖²`` (on ``device``: the time per epoch, weights recorded,
is reported) from :func:`modspec.numerics.simulate.initial_weights` —
the updates of :func:`modspec.validation.training.train` with ``nonlinearity="relu"`` (the
same weights, to rounding: a test), with the weights kept at every recorded epoch.

**Gating instability.** At every recorded epoch the hidden units' patterns over the samples
(active iff the pre-activation is > 0) are read off ``W1``; the instability *from* epoch t is
the fraction of units whose pattern at some later recorded epoch differs from theirs at t
(with ``record_every = 1``, every epoch: no flip is missed). The gating is *stable from* the
first recorded epoch (before the last) whose instability is at most ``threshold`` (default
0.05); where there is none, nothing is predicted and the result says "not applicable", with the
smallest instability measured.

**Predictions** (:mod:`modspec.numerics.relu_gating`), both gradient descent of the gated
network with the gates frozen at the stable epoch's pattern
(:func:`~modspec.numerics.gated_simulate.gated_simulate`, its exact dynamics):

* ``from_stable``: from the trained weights at the stable epoch, over the rest of the run —
  where no unit changes pattern this *is* the ReLU network's gradient descent;
* ``from_start``: from the initial weights over the whole run — the gating of the start differs
  from the stable one by the measured start instability; it is claimed only where that
  instability is at most the threshold too.

Compared: the loss (mean over samples of the squared error summed over outputs, as the
training record's, summed over output blocks) and the module norms (Frobenius norms of the
blocks of the mean input–output Jacobian, the record's ``quadrant_norms``), as the largest
absolute difference over the compared epochs relative to the trained loss at the first of them
(to the largest trained norm for the norms). A claimed prediction *agrees* when both errors are
at most ``tolerance`` (default 0.05).
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modspec.numerics.budget import check_memory
from modspec.numerics.flow import layout
from modspec.numerics.gated_simulate import gated_simulate
from modspec.numerics.relu_gating import (
    common_plateau,
    pathway_norms,
    relu_gated,
    relu_weights,
    winners,
)
from modspec.theory.architectures import Module, Network
from modspec.theory.errors import bad, check_integer

__all__ = ["ReluComparison", "relu_network", "train_relu", "compare_relu_gating",
           "instability_curve"]


def relu_network(dataset: Any) -> Network:
    """One dense depth-2 module from every input block to every output block."""
    return Network((Module(tuple(dataset.input_blocks), tuple(dataset.output_blocks), 2,
                           "dense"),), "dense")


@dataclass(frozen=True, eq=False)
class ReluComparison:
    """What :func:`compare_relu_gating` measured (``entries``: the fraction of gates, unit ×
    sample, that differ from the last epoch's, for information): the recorded epochs ``t``, the
    ``instability`` from each (see the module docstring), ``stable_epoch`` (None: not
    applicable), the start's instability relative to the stable gating,
    the trained ``t``/``loss``/``norms``, and per prediction (``from_stable``,
    ``from_start``) its epochs, curves, errors and whether it is claimed."""

    settings: dict[str, Any]
    instability: np.ndarray
    stable_epoch: int | None
    start_instability: float | None
    groups: dict[str, Any] | None
    t: np.ndarray
    loss: np.ndarray
    norms: dict[str, np.ndarray]
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: np.ndarray | None = None

    @property
    def applicable(self) -> bool:
        return self.stable_epoch is not None

    def payload(self) -> dict[str, Any]:
        """JSON-ready summary (curves as lists)."""
        preds = {k: {kk: (vv.tolist() if isinstance(vv, np.ndarray) else
                          {q: x.tolist() for q, x in vv.items()} if isinstance(vv, dict)
                          else vv) for kk, vv in p.items()}
                 for k, p in self.predictions.items()}
        return {"settings": self.settings, "applicable": self.applicable,
                "threshold": self.settings["threshold"],
                "instability": self.instability.tolist(),
                "gates_differing_from_end": (None if self.entries is None
                                             else self.entries.tolist()),
                "stable_epoch": self.stable_epoch,
                "start_instability": self.start_instability, "groups": self.groups,
                "trained": {"t": self.t.tolist(), "loss": self.loss.tolist(),
                            "norms": {q: v.tolist() for q, v in self.norms.items()}},
                "predictions": preds}

    def summary(self) -> str:
        """A few lines of text."""
        s = self.settings
        marks = np.linspace(0, len(self.t) - 1, min(len(self.t), 9)).round().astype(int)
        head = (f"ReLU network, hidden {s['hidden']}, lr {s['lr']:g}, {s['epochs']} epochs, "
                f"seed {s['seed']} ({s['device']}, {s['seconds_per_epoch'] * 1e3:.3g} ms per "
                f"epoch): gating instability from epoch "
                + ", ".join(f"{self.t[k]:g}: {self.instability[k]:.2f}" for k in marks)
                + f" (threshold {s['threshold']:g})")
        if not self.applicable:
            low = float(self.instability[:-1].min()) if len(self.t) > 1 else 1.0
            return head + (f"\nnot applicable: the gating is not stable (smallest instability "
                           f"before the end {low:.2f} > {s['threshold']:g}); nothing is "
                           "predicted")
        g = self.groups or {}
        race = g.get("race", {})
        race_text = ("the race reduction holds" if race.get("holds") else
                     race.get("reason", "") if race.get("checked") else
                     f"basis condition not checked: {race.get('reason', '')}")
        lines = [head, f"stable from epoch {self.stable_epoch}: {g.get('groups')} pathway groups "
                 f"of sizes {g.get('sizes')} ({g.get('dead')} dead units); {race_text}"]
        lines += _pathway_lines(g)
        for name, p in self.predictions.items():
            if p["claimed"]:
                lines.append(f"{name}: epochs {p['t'][0]:g}-{p['t'][-1]:g}, loss error "
                             f"{p['loss_error']:.2e}, norm error {p['norm_error']:.2e}: "
                             + ("agrees" if p["agrees"] else "differs")
                             + f" (tolerance {s['tolerance']:g})")
            else:
                lines.append(f"{name}: not applicable (the start's gating differs from the "
                             f"stable one: instability {self.start_instability:.2f})")
        return "\n".join(lines)


def _pathways(gating: Any, predicted: tuple[np.ndarray, np.ndarray],
              trained: tuple[np.ndarray, np.ndarray], loss: np.ndarray, p_loss: np.ndarray,
              tolerance: float) -> dict[str, Any]:
    """Winning pathway per output block and the common pathway's plateau, from the
    prediction from the stable epoch and from training (both at the end; ``loss`` and
    ``p_loss`` from the stable epoch on). The plateau is judged only when the trained loss at
    the stable epoch is still above it (the gating settled before the plateau); then the
    trained loss at the epoch where the prediction comes nearest the plateau is compared."""
    p_norms = pathway_norms(gating, *predicted)
    t_norms = pathway_norms(gating, *trained)
    win = {"predicted": winners(p_norms), "trained": winners(t_norms)}
    win["agree"] = win["predicted"] == win["trained"]
    plateau = common_plateau(gating)
    if plateau is not None:
        judged = bool(loss[0] > plateau["loss"] * (1 + tolerance))
        plateau["judged"] = judged
        if judged:
            k = int(np.argmin(np.abs(p_loss - plateau["loss"])))
            plateau["trained"] = float(loss[k])
            plateau["agrees"] = bool(abs(loss[k] - plateau["loss"])
                                     <= tolerance * loss[0])
        else:
            plateau["reason"] = (f"the gating settles after the plateau (trained loss "
                                 f"{loss[0]:.3g} at the stable epoch ≤ plateau "
                                 f"{plateau['loss']:.3g})")
    return {"winners": win, "pathway_norms": {"predicted": p_norms, "trained": t_norms},
            "common_plateau": plateau}


def _pathway_lines(g: dict[str, Any]) -> list[str]:
    win, plateau = g.get("winners"), g.get("common_plateau")
    out = []
    if win:
        out.append("winning pathways (per output block, at the end): predicted "
                   f"{win['predicted']}, trained {win['trained']}: "
                   + ("agree" if win["agree"] else "differ"))
    if plateau is None:
        out.append("common pathway: no group is active on every sample")
    elif plateau["judged"]:
        out.append(f"common pathway {plateau['groups']} (width {plateau['width']}): plateau "
                   f"predicted {plateau['loss']:.4g}, trained {plateau['trained']:.4g}: "
                   + ("agrees" if plateau["agrees"] else "differs"))
    else:
        out.append(f"common pathway {plateau['groups']} plateau {plateau['loss']:.4g}: not "
                   f"judged: {plateau['reason']}")
    return out


def _norms(quads: dict[str, tuple[slice, slice]], J: np.ndarray) -> dict[str, np.ndarray]:
    return {q: np.sqrt((J[..., r, c] ** 2).sum(axis=(-2, -1))) for q, (r, c) in quads.items()}


def _mean_jacobian(W1: np.ndarray, W2: np.ndarray, pats: np.ndarray) -> np.ndarray:
    """``W2 diag(mean_s g(s)) W1``: the mean over samples of ``W2 D_s W1``."""
    return W2 @ (pats.mean(axis=-1)[..., :, None] * W1)


#: The most pathway groups whose basis condition (exact statistics) is checked.
RACE_GROUPS = 4


def _race_condition(gating: Any) -> dict[str, Any]:
    """Whether the per-mode race applies to the gated network (its basis condition,
    docs/theory/gated.md §3), checked for at most :data:`RACE_GROUPS` groups."""
    from modspec.theory.gated_data import gated_statistics
    from modspec.theory.gated_modes import basis_condition

    n = len(gating.groups)
    if n > RACE_GROUPS:
        return {"checked": False, "reason": f"{n} pathway groups (checked up to {RACE_GROUPS})"}
    cond = basis_condition(gated_statistics(gating.network, gating.data))
    return {"checked": True, "holds": cond.holds, "reason": cond.reason}


def instability_curve(patterns: np.ndarray) -> np.ndarray:
    """From recorded gatings ``patterns`` (T, hidden, samples): at each record, the fraction
    of hidden units whose pattern at some later record differs (module docstring)."""
    flips = np.any(patterns[1:] != patterns[:-1], axis=2)     # (T-1, hidden)
    # the last record index at which each unit's pattern changed (0: never)
    last = np.where(flips.any(axis=0), flips.shape[0] - np.argmax(flips[::-1], axis=0), 0)
    return np.array([float(np.mean(last > i)) for i in range(patterns.shape[0])])


def train_relu(dataset: Any, *, hidden: int, lr: float, epochs: int, seed: int = 0,
               init_std: float = 1e-3, record_every: int = 1, device: str = "cpu"
               ) -> dict[str, np.ndarray]:
    """Full-batch gradient descent of the ReLU network (module docstring) with PyTorch in
    float64; ``t`` the recorded epochs, ``W1`` (T, hidden, in), ``W2`` (T, out, hidden)."""
    import torch

    from modspec.numerics.simulate import initial_weights

    from .training import resolve_device

    dev = resolve_device(device)
    init = initial_weights(dataset, relu_network(dataset), hidden, init_std, 1, seed)[0]
    X = torch.as_tensor(np.asarray(dataset.X, dtype=float), device=dev)
    Y = torch.as_tensor(np.asarray(dataset.Y, dtype=float), device=dev)
    W1 = torch.as_tensor(init[0][0], device=dev).clone().requires_grad_(True)
    W2 = torch.as_tensor(init[1][0], device=dev).clone().requires_grad_(True)
    at = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    rec1, rec2 = [], []
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for epoch in range(epochs + 1):
            if epoch in at:
                rec1.append(W1.detach().clone())
                rec2.append(W2.detach().clone())
            if epoch == epochs:
                break
            loss = 0.5 * ((W2 @ torch.relu(W1 @ X) - Y) ** 2).sum()
            g1, g2 = torch.autograd.grad(loss, (W1, W2))
            with torch.no_grad():
                W1 -= lr * g1
                W2 -= lr * g2
    finally:
        torch.set_num_threads(previous)
    W1s, W2s = torch.stack(rec1).cpu().numpy(), torch.stack(rec2).cpu().numpy()
    return {"t": np.array(at, dtype=float), "W1": W1s, "W2": W2s,
            "seconds_per_epoch": (time.perf_counter() - start) / max(epochs, 1)}


#: The real settings of :func:`compare_relu_gating`: (test, the allowed range in words).
_REALS = {"lr": (lambda x: x > 0, "a number > 0"), "init_std": (lambda x: x >= 0, "a number ≥ 0"),
          "threshold": (lambda x: 0 <= x < 1, "a number in [0, 1)"),
          "tolerance": (lambda x: x > 0, "a number > 0")}


def _check_reals(**values: Any) -> None:
    for name, v in values.items():
        ok, allowed = _REALS[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) \
                or not ok(v):
            raise bad(name, v, f"must be {allowed}")


def compare_relu_gating(dataset: Any, *, hidden: int = 16, lr: float = 0.02,
                        epochs: int = 400, seed: int = 0, init_std: float = 1e-3,
                        threshold: float = 0.05, tolerance: float = 0.05,
                        record_every: int = 1,
                        device: str = "cpu") -> ReluComparison:
    """Train the ReLU network (module docstring), measure its gating instability and, where
    the gating is stable, compare it with the gated network's gradient descent."""
    hidden = check_integer("hidden", hidden, 1)
    epochs = check_integer("epochs", epochs, 1)
    record_every = check_integer("record_every", record_every, 1)
    check_integer("seed", seed, 0)
    _check_reals(lr=lr, init_std=init_std, threshold=threshold, tolerance=tolerance)
    if getattr(dataset, "is_symbolic", False):
        raise bad("dataset", "symbolic", "must be numeric (substitute numbers for symbols)")
    net = relu_network(dataset)
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    records = epochs // record_every + 2
    check_memory(8 * records * hidden * (X.shape[0] + 2 * Y.shape[0] + 2 * X.shape[1]),
                 f"epochs={epochs}, hidden={hidden}, record_every={record_every}")
    run = train_relu(dataset, hidden=hidden, lr=lr, epochs=epochs, seed=seed,
                     init_std=init_std, record_every=record_every, device=device)
    t, W1, W2 = run["t"], run["W1"], run["W2"]
    with np.errstate(over="ignore", invalid="ignore"):       # a diverged run: refused below
        err = (W2 @ np.maximum(W1 @ X, 0.0) - Y) ** 2
    _check_finite((W1, W2, err), lr, init_std)
    pats = (W1 @ X) > 0                                      # (T, hidden, samples)
    loss = err.sum(axis=1).mean(axis=1)
    quads = layout(dataset, net, hidden).quadrants
    trained_norms = _norms(quads, _mean_jacobian(W1, W2, pats))
    inst = instability_curve(pats)
    entries = np.mean(pats != pats[-1], axis=(1, 2))           # informative only
    settings = {"hidden": hidden, "lr": float(lr), "epochs": epochs, "seed": int(seed),
                "init_std": float(init_std), "threshold": float(threshold),
                "tolerance": float(tolerance),
                "record_every": record_every, "samples": int(X.shape[1]), "device": device,
                "seconds_per_epoch": float(run["seconds_per_epoch"])}
    stable = next((i for i in range(len(t) - 1) if inst[i] <= threshold), None)
    if stable is None:
        return ReluComparison(settings, inst, None, None, None, t, loss, trained_norms,
                              entries=entries)
    gates = pats[stable]
    start_inst = float(np.mean(np.any(pats[0] != gates, axis=1)))
    trained = {"t": t, "loss": loss, "norms": trained_norms, "W1": W1, "W2": W2}
    preds, groups = {}, None
    for name, at in (("from_stable", stable), ("from_start", 0)):
        g, A, B, preds[name] = _gated_from(dataset, trained, X, Y, gates, at, quads, lr=lr,
                                           epochs=epochs, record_every=record_every,
                                           tolerance=tolerance,
                                           claimed=(name == "from_stable"
                                                    or start_inst <= threshold))
        if groups is None:
            groups = {**g.summary(), "race": _race_condition(g),
                      **_pathways(g, (A[-1], B[-1]), (W1[-1], W2[-1]), loss[stable:],
                                  preds[name]["loss"], tolerance)}
    return ReluComparison(settings, inst, int(t[stable]), start_inst, groups, t, loss,
                          trained_norms, preds, entries)


def _check_finite(arrays: tuple[np.ndarray, ...], lr: float, init_std: float) -> None:
    """A run whose weights or loss leave float64 is refused in one line: its start (blame
    ``init_std``) or its descent (blame ``lr``)."""
    if all(np.all(np.isfinite(a)) for a in arrays):
        return
    if not all(np.all(np.isfinite(a[0])) for a in arrays):
        raise bad("init_std", init_std, "gives a start whose loss leaves float64; use a "
                  "smaller init_std")
    raise bad("lr", lr, "gradient descent diverged (its weights or loss leave float64); "
              "use a smaller lr")


def _gated_from(dataset: Any, trained: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                gates: np.ndarray, at: int, quads: Any, *, lr: float, epochs: int,
                record_every: int, tolerance: float, claimed: bool
                ) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """The gated network of the ReLU weights at record ``at`` with the gating ``gates``,
    trained by gradient descent to the end: ``(gated network, W1, W2 histories, prediction)``,
    the prediction's loss and norms with their largest errors relative to the ReLU run's."""
    t, loss, trained_norms = trained["t"], trained["loss"], trained["norms"]
    g = relu_gated(trained["W1"][at], trained["W2"][at], X, Y, dataset.input_blocks,
                   dataset.output_blocks, patterns=gates)
    sim = gated_simulate(g.network, g.data, lr, epochs - int(t[at]), init=g.weights,
                         record_every=record_every, keep_weights=True)
    A, B = relu_weights(g, {e: w[0] for e, w in sim.history.items()})
    on = slice(at, None)
    p_loss = 2 * sim.loss[0]
    p_norms = _norms(quads, _mean_jacobian(A, B, gates))
    scale = max(max(float(v[on].max()) for v in trained_norms.values()), 1e-300)
    pred = {
        "t": sim.t + t[at], "loss": p_loss, "norms": p_norms,
        "loss_error": float(np.max(np.abs(p_loss - loss[on])) / max(loss[at], 1e-300)),
        "norm_error": float(max(np.max(np.abs(p_norms[q] - trained_norms[q][on]))
                                for q in p_norms) / scale),
        "claimed": claimed}
    pred["agrees"] = (pred["claimed"] and pred["loss_error"] <= tolerance
                      and pred["norm_error"] <= tolerance)
    return g, A, B, pred
