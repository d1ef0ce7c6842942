"""A rule's derived per-mode dynamics, evaluated for one recorded run.

Where a rule keeps the aligned ansatz (:func:`modspec.theory.alignment.layer_system`), each
mode of a dense two-layer network is a pair of strengths ``(c1, c2)`` (``W1 = R diag(c1) Vᵀ``,
``W2 = U diag(c2) Rᵀ``) obeying the derived per-layer system. :func:`rule_theory` evaluates it
for a run:

* the constants of each mode: ``s, λ`` (the dataset's spectrum) and ``σy = uᵀ (Y Yᵀ/P) u``
  (the output variance along ``u``; the reduction needs ``Y Yᵀ`` diagonal in the basis ``U``,
  which is checked, not assumed);
* the start of every singular direction of every seed from the run's initial weights
  (:func:`modspec.numerics.starts.layer_starts`): ``p = W1 v``, ``q = W2ᵀ u``; an aligned
  start (``p ∥ q``) gives ``c1 = |p|``, ``c2 = p·q/|p|`` exactly; a random small start is
  given the balanced strengths ``c1 = c2 = √a0`` with the effective start
  ``a0 = |p + q|²/4`` of gradient descent's theory;
* ``time="discrete"``: the exact per-epoch map ``c ← c + scaled/τ + unscaled`` iterated from
  the start; ``time="continuous"``: ``dc/dt = scaled/τ + unscaled`` integrated (SciPy, rtol
  1e-10);
* each mode's strength ``c1 c2`` averaged over its multiplicity and the seeds; the quadrant
  norms of the map ``Σ c1 c2 u vᵀ`` of each seed, averaged over seeds; each mode's fixed point,
  the map ``c1 c2`` of the derived stable fixed point (a curve of fixed points, as under
  gradient descent, has one map ``s/λ``).

Times are epochs, ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .record import Trajectory
from .starts import ALIGNED, balanced_layers, layer_starts

#: ``ALIGNED`` is :data:`modspec.numerics.starts.ALIGNED`, under the name it had here.
__all__ = ["ALIGNED", "NOT_DIAGONAL", "RuleModes", "RuleTheory", "evolve", "output_variances",
           "rule_prediction", "rule_rhs", "rule_theory"]

#: Why an output term does not reduce on a dataset whose ``Y Yᵀ`` is not diagonal.
NOT_DIAGONAL = ("Y Yᵀ is not diagonal in the basis of Σyx's left singular vectors, so the "
                "output term does not keep the aligned ansatz on this dataset")


@dataclass(frozen=True, eq=False)
class RuleTheory:
    """The per-mode theory of a run under a rule: the trajectory (None when the rule does not
    reduce), ``method`` (what was done, or ``"not reducible: <why>"``), ``fixed_points``
    {mode: map at the derived stable fixed point}."""

    trajectory: Trajectory | None
    method: str
    fixed_points: dict[str, float] | None = None


def _not(why: str) -> RuleTheory:
    return RuleTheory(None, f"not reducible: {why}")


def rule_theory(dataset: Any, network: Any, run: Trajectory, rule: Any, time: str = "discrete",
                system: Any = None) -> RuleTheory:
    """The rule's derived per-mode dynamics from the run's start (module docstring);
    ``system`` is the rule's per-mode system when already derived (``Derivation.rule``)."""
    if run.init is None:
        return _not("the run has no initial weights to start from")
    if run.train_objects is not None and len(run.train_objects) != int(dataset.P):
        return _not("the per-mode system describes runs on every object; this run trains on "
                    "a subset")
    W1, W2 = (np.asarray(w, dtype=float) for w in run.init[0])

    def starts(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        return layer_starts(W1, W2, U, V)

    return _theory(dataset, network, rule, np.asarray(run.t, dtype=float), run.lr, time,
                   W1.shape[-2], starts, system)


def rule_prediction(dataset: Any, network: Any, rule: Any, t: Any, lr: float, a0: float,
                    time: str = "continuous") -> RuleTheory:
    """The rule's derived per-mode dynamics without a run: every mode from balanced starts
    ``c1 = c2 = √a0`` (``a0 > 0``)."""
    def starts(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        return (*balanced_layers(np.full((1, U.shape[1]), a0)), False)

    return _theory(dataset, network, rule, np.asarray(t, dtype=float), lr, time, 1, starts)


def _theory(dataset: Any, network: Any, rule: Any, t: np.ndarray, lr: float, time: str,
            hidden: int, starts: Any, system: Any = None) -> RuleTheory:

    from modspec.theory import alignment as al

    from .flow import covariances, layout, tau_of

    system = al.layer_system(2, rule) if system is None else system
    if not system.reducible:
        return _not(system.reason)
    lay = layout(dataset, network, hidden)
    cov = covariances(dataset)
    Y = np.asarray(dataset.Y, dtype=float)
    sigma_y_full = Y @ Y.T / cov.P
    tau = tau_of(cov.P, lr)

    columns = _columns(lay.modules[0].spectrum.modes, sigma_y_full, starts)
    if columns is None:
        return _not(NOT_DIAGONAL)
    s, lam, sig, c1, c2, owner, aligned = columns
    rhs, args, coefficients = rule_rhs(system, rule)
    consts = (np.stack(s, -1), np.stack(lam, -1), np.stack(sig, -1), tau, cov.P, *coefficients)
    state = np.stack([np.stack(c1, -1), np.stack(c2, -1)])          # (2, seeds, columns)
    path = evolve(rhs, state, consts, t, time)                      # (T, 2, seeds, columns)
    if not np.isfinite(path).all():
        return _not("the per-mode system diverges from this start")
    strength = path[:, 0] * path[:, 1]                              # (T, seeds, columns)

    modes: dict[str, np.ndarray] = {}
    ml = lay.modules[0]
    for mode in ml.spectrum.modes:
        cols = [i for i, (m, _) in enumerate(owner) if m is mode]
        modes[ml.keys[mode.label]] = strength[:, :, cols].mean(axis=(1, 2))
    n = strength.shape[1]
    maps = np.zeros((len(t), n, lay.n_out, lay.n_in))
    for i, (mode, j) in enumerate(owner):
        u, v = np.asarray(mode.U, dtype=float)[:, j], np.asarray(mode.V, dtype=float)[:, j]
        maps[:, :, ml.outputs, ml.inputs] += strength[:, :, i, None, None] * np.outer(u, v)
    quads = {q: np.sqrt(np.sum(maps[:, :, rows, cols] ** 2, axis=(-2, -1))).mean(axis=1)
             for q, (rows, cols) in lay.quadrants.items()}
    trajectory = Trajectory(t, modes, quads, {}, seed_axis=False, kind="theory", time=time,
                            lr=lr, tau=tau)
    fixed = _fixed_points(system, args, consts, owner, ml, modes)
    method = (f"derived per-mode system of rule {rule.name} in (c1, c2), "
              + ("exact per-epoch map" if time == "discrete" else "integrated flow")
              + (" from the run's aligned start" if aligned else
                 " from balanced starts c1 = c2 = √a0"))
    return RuleTheory(trajectory, method, fixed)


def _columns(modes: Any, sigma_y: np.ndarray, starts: Any) -> tuple | None:
    """Per singular direction (column) of every mode: ``s, λ, σy`` and the starts ``c1,
    c2`` (one entry per seed), the ``(mode, column)`` owning it, and whether every start was
    aligned; None when ``Y Yᵀ`` is not diagonal in some mode's basis."""
    s, lam, sig, c1, c2, owner = [], [], [], [], [], []
    aligned = True
    for mode in modes:
        U, V = np.asarray(mode.U, dtype=float), np.asarray(mode.V, dtype=float)
        variances = output_variances(sigma_y, U)
        if variances is None:
            return None
        start1, start2, ok = starts(U, V)
        aligned = aligned and ok
        n = start1.shape[0]
        for j in range(U.shape[1]):
            s.append(np.full(n, mode.s, dtype=float))
            lam.append(np.full(n, mode.lam, dtype=float))
            sig.append(np.full(n, variances[j]))
            c1.append(start1[:, j])
            c2.append(start2[:, j])
            owner.append((mode, j))
    return s, lam, sig, c1, c2, owner, aligned


def output_variances(sigma_y: np.ndarray, U: np.ndarray) -> np.ndarray | None:
    """``σy = uᵀ (Y Yᵀ/P) u`` of every column ``u`` of ``U``, or None when ``Y Yᵀ`` is not
    diagonal in that basis (then an output term does not keep the aligned ansatz)."""
    block = U.T @ sigma_y @ U
    resid = sigma_y @ U - U @ block
    scale = max(float(np.abs(sigma_y).max()), 1.0)
    if np.abs(resid).max(initial=0.0) > 1e-9 * scale or \
            np.abs(block - np.diag(np.diag(block))).max(initial=0.0) > 1e-9 * scale:
        return None
    return np.diag(block).copy()


def rule_rhs(system: Any, rule: Any) -> tuple[Any, tuple, tuple[float, ...]]:
    """The generated right-hand side ``dc/dt`` of a reduced per-mode ``system`` of the SymPy
    rule ``rule`` (code generator, cached), its argument symbols ``(c1, c2, s, λ, σy, τ, P,
    coefficients…)`` and the coefficients' values in that order."""
    from modspec.theory import alignment as al
    from modspec.theory import rules as theory
    from modspec.theory import symbols as sy

    from .codegen import generate

    coeffs = sorted(rule.values, key=lambda x: x.name)
    args = (*system.strengths, sy.s, sy.lam, al.sigma_y, sy.tau, theory.P, *coeffs)
    rhs = generate({f"d{c.name}": e for c, e in zip(system.strengths, system.rhs, strict=True)},
                   args, name="rule_modes",
                   description=f"Per-mode right-hand side dc/dt of rule {rule.name} "
                               "(aligned ansatz, derived)")
    return rhs, args, tuple(float(rule.values[k]) for k in coeffs)


def evolve(rhs: Any, state: np.ndarray, consts: tuple, t: np.ndarray, time: str
           ) -> np.ndarray:
    """The strengths ``state`` (``(2, …)``: c1, c2) at the sorted times ``t`` (``(T, 2, …)``):
    the per-epoch map ``c ← c + dc`` at integer epochs (``time="discrete"``), or the flow
    ``dc/dt = rhs`` integrated by SciPy (LSODA, rtol 1e-10); NaN where it fails."""
    if time == "discrete":
        steps = int(round(t[-1]))
        want = {int(round(x)) for x in t}
        out = {}
        c = state.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(steps + 1):
                if k in want:
                    out[k] = c.copy()
                if k == steps:
                    break
                d = rhs(*c, *consts)
                c = c + np.stack([np.broadcast_to(x, c[0].shape) for x in d])
        return np.stack([out[int(round(x))] for x in t])
    from scipy.integrate import solve_ivp

    shape = state.shape
    if float(t[-1]) == 0.0:
        return np.broadcast_to(state, (len(t), *shape)).copy()

    def f(_: float, y: np.ndarray) -> np.ndarray:
        c = y.reshape(shape)
        return np.stack([np.broadcast_to(x, c[0].shape) for x in rhs(*c, *consts)]).ravel()

    sol = solve_ivp(f, (0.0, float(t[-1])), state.ravel(), t_eval=t, rtol=1e-10, atol=1e-14,
                    method="LSODA")
    if not sol.success:
        return np.full((len(t), *shape), np.nan)
    return np.moveaxis(sol.y.reshape(*shape, len(t)), -1, 0)


def _fixed_points(system: Any, args: tuple, consts: tuple, owner: list, ml: Any,
                  modes: dict[str, np.ndarray]) -> dict[str, float] | None:
    """The map ``c1 c2`` of the derived fixed point (the origin excluded, not unstable) each
    mode ends nearest to, evaluated with the mode's constants. Where the outputs are linear in
    the inputs along the mode (``σy = s²/λ``) that is used symbolically (the output term's
    fixed points depend on it), otherwise the mode's ``σy`` value."""
    import sympy as sp

    from modspec.theory import alignment as al
    from modspec.theory import symbols as sy

    s, lam, sig = (np.asarray(x)[0] for x in consts[:3])
    out = {}
    for mode in ml.spectrum.modes:
        key = ml.keys[mode.label]
        i = next(k for k, (m, _) in enumerate(owner) if m is mode)
        linear = abs(sig[i] - s[i] ** 2 / lam[i]) <= 1e-9 * max(1.0, abs(sig[i]))
        given = {al.sigma_y: sy.s**2 / sy.lam if linear else sp.Float(sig[i])}
        points = [p for p in al.fixed_points(system, given) if p.map != 0
                  and p.stable is not False and not p.map.free_symbols & set(system.strengths)]
        values = []
        values_of = dict(zip(args[2:], (s[i], lam[i], sig[i], *consts[3:]), strict=True))
        for p in points:
            v = complex(p.map.subs(values_of).evalf())
            if np.isfinite(v) and abs(v.imag) < 1e-12:
                values.append(v.real)
        if values:
            out[key] = min(values, key=lambda v: abs(v - float(modes[key][-1])))
    return out or None


class RuleModes:
    """A :class:`~modspec.numerics.predict.Predictor` strategy: every mode under the
    derivation's own rule system (``Derivation.rule``, :mod:`modspec.theory.rule_derivation`)
    from balanced starts ``c1 = c2 = √a0``, its strength ``c1 c2``.

    Each mode's constants are ``s, λ`` (the compiled ``constants``) and ``σy``: ``s²/λ`` where
    the derivation found the outputs linear in the inputs, else read from a numeric dataset's
    ``Y Yᵀ`` (one value per mode). A rule that does not reduce, or that needs a ``σy`` the
    dataset does not fix, is refused in one line when the predictor is built.
    """

    def __init__(self, th: Any, constants: Any, count: Any) -> None:
        from modspec.theory import alignment as al
        from modspec.theory.errors import bad

        rd = th.rule
        self.name, self.system = rd.rule.name, rd.system
        if not self.system.reducible:
            raise bad("rule", self.name, f"has no per-mode prediction (not reducible: "
                      f"{self.system.reason}); simulate it instead (modspec simulate --rule)")
        self.constants, self.count, self.keys = constants, count, list(constants.keys)
        self.sigma_y: np.ndarray | None = None          # None: σy = s²/λ
        if any(e.has(al.sigma_y) for e in self.system.rhs) and not rd.linear:
            self.sigma_y = self._variances(th)
        self.rhs, _, self.coefficients = rule_rhs(self.system, rd.rule)

    def _variances(self, th: Any) -> np.ndarray:
        from modspec.theory.errors import bad

        if th.symbolic:
            raise bad("rule", self.name, "needs each mode's output variance σy, which a "
                      "symbolic dataset whose outputs are not linear in its inputs does not "
                      "fix; derive a numeric dataset")
        Y = np.asarray(th.dataset.Y, dtype=float)
        sigma_y = Y @ Y.T / Y.shape[1]
        out = []
        for key in self.keys:
            v = output_variances(sigma_y, np.asarray(th.modes[key].U, dtype=float))
            if v is None:
                raise bad("rule", self.name, f"has no per-mode prediction (not reducible: "
                          f"{NOT_DIAGONAL})")
            if np.ptp(v) > 1e-9 * max(1.0, float(np.abs(v).max())):
                raise bad("rule", self.name, f"has no per-mode prediction: the output "
                          f"variance differs across the directions of mode {key}")
            out.append(float(v.mean()))
        return np.asarray(out)

    def __call__(self, t: np.ndarray, tau: np.ndarray, a0s: Any, values: Any,
                 batch: tuple[int, ...], time: str) -> dict[str, np.ndarray]:
        from modspec.theory.errors import bad

        consts = self.constants(values, batch)
        s = np.stack([consts[k][0] for k in self.keys], -1).astype(float)
        lam = np.stack([consts[k][1] for k in self.keys], -1).astype(float)
        start, _ = balanced_layers(np.stack([np.broadcast_to(a0s[k], batch)
                                             for k in self.keys], -1))
        # a mode that does not exist at a point (λ = 0 or s = 0 there) is held at the origin
        # with harmless constants: the predictor reports it as 0
        absent = ~(np.isfinite(s) & np.isfinite(lam) & (lam > 0) & (s > 0))
        s, lam = np.where(absent, 0.0, s), np.where(absent, 1.0, lam)
        sig = s**2 / lam if self.sigma_y is None else np.broadcast_to(self.sigma_y, s.shape)
        start = np.where(absent, 0.0, start)
        P = np.broadcast_to(self.count(values, batch), batch)[..., None]
        consts_all = (s, lam, sig, np.broadcast_to(tau, batch)[..., None], P,
                      *self.coefficients)
        times, where = np.unique(t.ravel(), return_inverse=True)
        path = evolve(self.rhs, np.stack([start, start.copy()]), consts_all, times, time)
        if not np.isfinite(path).all():
            raise bad("lr", float(np.max(1 / (P * np.broadcast_to(tau, batch)[..., None]))),
                      f"the per-mode system of rule {self.name!r} diverges from this start; "
                      "lower the learning rate or a0")
        strength = (path[:, 0] * path[:, 1])[where]                 # (t.size, *batch, modes)
        strength = np.moveaxis(strength.reshape(*t.shape, *batch, len(self.keys)),
                               range(t.ndim), range(-t.ndim - 1, -1))
        return {k: strength[..., i] for i, k in enumerate(self.keys)}
