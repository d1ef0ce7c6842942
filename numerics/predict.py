"""Predictors: a derivation compiled once, evaluated cheaply at many times and parameters.

``compile(th)`` turns a :class:`~modspec.theory.derivation.Derivation` into a
:class:`Predictor`. Calling it,

    pr = f(t, lr=0.02, a0=7e-7)                       # numeric dataset
    pr = f(t, lr=0.02, a0=7e-7, nx=3, ny=1, kx=3, ky=1, r=1)   # symbolic dataset

gives every mode's trajectory, the quadrant norms and the block losses at the times ``t``
(epochs of full-batch gradient descent; ``τ = 1/(P·lr)``, P = number of samples). A symbolic
dataset of any family takes its own symbols by name (``c, f, r`` for the hierarchical one)
and its own ``P``; a mode that does not exist at a point (its condition fails: multiplicity
or a Gram coefficient 0) is 0 there and adds nothing to the observables, as in the numeric
derivation, which has no such mode.

A derivation with a learning rule (``derive(..., rule=R)``) compiles to that rule's own
per-mode system (:class:`~.rule_modes.RuleModes`, from balanced starts ``c1 = c2 = √a0``),
never to gradient descent's; a rule that does not reduce to modes is refused in one line.

Broadcasting: the parameters (``lr``, ``a0`` — a number, an array or a dict ``{key: a0}`` —
and any dataset parameters) broadcast together to a batch shape ``B``; ``t`` has shape
``T``; every result has shape ``B + T``. One call evaluates a whole sweep.

Under the hood:

* closed-form trajectories (depth ≤ 2) are rewritten by :func:`~.stable.stable_form` (no
  overflow, NaN or cancellation for t up to 1e7 epochs and a0 down to 1e-300) and compiled,
  all modes in one generated function with common subexpressions shared;
* modes without an elementary ``a(t)`` (depth > 2) come from their elementary implicit
  solution ``t(a)``, inverted by safeguarded Newton iterations (:mod:`.implicit`); the
  numerical integration of the mode ODE (:func:`~.integrate.integrate_modes`) agrees with it
  to the integrator's tolerance and is kept as the independent check;
* the observables are exact SymPy expressions in the mode strengths, compiled once;
* coupled networks (leaky) have no mode-wise closed form: their predictor integrates the
  exact matrix gradient flow (:func:`~.integrate.integrate_flow`) from small random weights
  whose effective initial strength is ``a0`` (``init_std = sqrt(2·a0/hidden)``).

``f(t, ..., time="discrete")`` predicts gradient descent itself at integer epochs ``t``: each
mode follows the exact per-epoch map of :mod:`modspec.theory.discrete` (iterated by
:mod:`.discrete`), which at a finite learning rate lags the flow; coupled networks run matrix
gradient descent from the same small start.

``compile(expr)`` of a plain SymPy expression (or a dict of them) gives a
:class:`CompiledExpression` called with keyword arguments named after its symbols.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory import symbols as sy
from modspec.theory.defaults import HIDDEN
from modspec.theory.derivation import Derivation
from modspec.theory.errors import ModspecError, bad

from .codegen import generate
from .points import DatasetPoint
from .record import Trajectory
from .stable import stable_form
from .starts import init_std_for
from .strategies import (
    _DATASET,
    _UNITS,
    MAX_COUPLED_HIDDEN,
    ClosedForms,
    CoupledDynamics,
    ModeConstants,
    ModeSolutions,
    Observables,
    Strengths,
    Values,
    _positive,
    _times,
    check_coupled_hidden,
)

#: The strategies (:mod:`.strategies`) are public here as before.
__all__ = ["MAX_COUPLED_HIDDEN", "ClosedForms", "CompiledExpression", "CoupledDynamics",
           "ModeConstants", "ModeSolutions", "Observables", "Predictor", "check_coupled_hidden",
           "compile"]

class Predictor:
    """A compiled derivation; see the module docstring. Call ``f(t, lr=..., a0=..., **params)``.

    Built once from a :class:`~modspec.theory.derivation.Derivation`; each strategy (closed
    forms, implicit solutions, discrete maps, coupled dynamics, observables) is a small
    compiled object of its own, built when first needed.
    """

    def __init__(self, th: Derivation, backend: str = "numpy", use_cache: bool = True) -> None:
        self.th = th
        self.dataset = th.dataset
        self.network = th.network
        self.coupled = bool(th.coupled)
        self.keys = list(th.strengths)
        self.depths = {md.keys[m.label]: md.module.depth
                       for md in th.modules for m in md.spectrum.modes}
        self.symbolic = bool(getattr(th.dataset, "is_symbolic", False))
        self._backend, self._use_cache = backend, use_cache
        free: set[sp.Symbol] = set()
        for e in th.trajectories.values():
            if e is not None:
                free |= e.free_symbols
        for group in ("quadrant_norms", "loss"):
            for e in th.observables.get(group, {}).values():
                free |= sp.sympify(e).free_symbols
        for m in th.modes.values():
            free |= (sp.sympify(m.s).free_symbols | sp.sympify(m.lam).free_symbols
                     | sp.sympify(m.condition).free_symbols)
        free |= sp.sympify(th.dataset.P).free_symbols
        free -= {sy.t, sy.tau, sy.a0, *th.strengths.values()}
        # the dataset's own symbols, named as the symbols (the compositional ones in their
        # usual order, then any other family's by name)
        self.params = ([s for s in _DATASET.values() if s in free]
                       + sorted(free - set(_DATASET.values()), key=lambda s: s.name))
        self._closed_keys = [k for k, e in th.trajectories.items() if e is not None]
        self._open_keys = [k for k, e in th.trajectories.items() if e is None]
        self.closed_forms = (ClosedForms(th, self._closed_keys, self.params, backend, use_cache)
                             if self._closed_keys and not self.coupled else None)
        self.observables = Observables(th, self.keys, self.params, backend, use_cache)
        self.point = DatasetPoint(th, self.params, use_cache)
        self.rule_modes = None
        if th.rule is not None and not th.rule.rule.is_gradient_descent:
            from .rule_modes import RuleModes

            self.rule_modes = RuleModes(th, self.constants, self.count)

    # ------------------------------------------------------------ lazily built strategies
    @cached_property
    def constants(self) -> ModeConstants:
        return ModeConstants(self.th, self.keys, self.params, self._use_cache)

    @cached_property
    def implicit(self) -> ModeSolutions:
        from .implicit import mode_strengths

        open_keys = ModeConstants(self.th, self._open_keys, self.params, self._use_cache)
        return ModeSolutions(open_keys, self.depths, mode_strengths)

    @cached_property
    def discrete(self) -> ModeSolutions:
        from .discrete import iterate_modes

        return ModeSolutions(self.constants, self.depths, iterate_modes)

    @cached_property
    def coupled_dynamics(self) -> CoupledDynamics:
        return CoupledDynamics(self.th)

    def count(self, values: Values, batch: tuple[int, ...]) -> np.ndarray:
        """``P`` (the dataset's number of objects) at the parameter values, shape ``batch``."""
        return self.point.count(values, batch)

    # ----------------------------------------------------------------- evaluation
    def _dataset_values(self, kw: dict[str, Any]) -> Values:
        names = {p.name for p in self.params}
        if "r" in kw and "r" not in names:
            r = kw.pop("r")
            kw.setdefault("rx", r)
            kw.setdefault("ry", r)
        if not self.symbolic and kw:
            raise bad("parameter", sorted(kw)[0],
                      "the dataset is numeric; its parameters are fixed (derive a symbolic one)")
        unknown = set(kw) - names
        if unknown:
            allowed = ["lr", "a0", *sorted(names), *(["r"] if names & {"rx", "ry"} else [])]
            raise bad("parameter", sorted(unknown)[0], f"must be one of {', '.join(allowed)}")
        values = {}
        for sym in self.params:
            if sym.name not in kw:
                raise bad(sym.name, None, "is a free parameter of this derivation: pass it")
            values[sym] = np.asarray(kw[sym.name], dtype=float)
        return values

    def _check_a0(self, key: str, value: Any) -> np.ndarray:
        """A shallow mode's a(t) is linear in a0, so any finite start is allowed (a random
        initial map projects onto a mode with either sign); deeper modes and coupled
        networks need a0 > 0 (the sigmoid grows from a positive seed)."""
        if not self.coupled and self.depths.get(key) == 1:
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)):
                raise bad(f"a0[{key}]", value, "must be finite")
            return arr
        return _positive(f"a0[{key}]", value)

    def _check_starts(self, a0s: dict[str, np.ndarray], values: Values, per_mode: bool
                      ) -> None:
        """Every start within the bound of :func:`~.discrete.check_start` (the largest
        converged strength ``s/λ`` sets the scale), before any work."""
        from .discrete import check_start, converged_scale

        if not a0s:
            return
        if self.coupled:
            a_star = converged_scale(self.th.dataset)
        else:
            batch = np.broadcast_shapes(*[v.shape for v in values.values()])
            with np.errstate(divide="ignore", invalid="ignore"):
                stars = [np.nan_to_num(np.asarray(s) / np.asarray(lam), posinf=0.0)
                         for s, lam in self.constants(values, batch).values()]
            a_star = max((float(np.max(a)) for a in stars), default=0.0)
        for key, a0 in a0s.items():
            check_start(f"a0[{key}]" if per_mode else "a0", a0.tolist(), a0, a_star)

    def __call__(self, t: Any, lr: Any = None, a0: Any = 1e-6, *, hidden: int = HIDDEN,
                 seed: int = 0, time: str = "continuous", **params: Any) -> Trajectory:
        """Predict at times ``t`` (epochs) for learning rate(s) ``lr`` and initial strength(s)
        ``a0`` (number, array, or dict ``{mode key: value}``); dataset parameters by name.

        ``time="continuous"`` (default): the gradient flow (closed forms, implicit
        solutions). ``time="discrete"``: gradient descent epoch by epoch — the exact
        per-epoch map of each balanced mode, or for coupled networks matrix gradient descent
        itself; ``t`` must then be integer epochs ≥ 0. Returns a
        :class:`~modspec.numerics.record.Trajectory` (``kind="theory"``, arrays ``B + T``).
        """
        if lr is None:
            raise bad("lr", None, "is required (τ = 1/(P·lr) sets the time scale)")
        if time not in ("continuous", "discrete"):
            raise bad("time", time, "must be 'continuous' or 'discrete'")
        if time == "discrete":
            from .discrete import epochs

            t = epochs(t)
        else:
            t = _times(t)
        lr = _positive("lr", lr)
        values = self._dataset_values(dict(params))
        if isinstance(a0, Mapping) and not all(k in a0 for k in self.keys):
            missing = [k for k in self.keys if k not in a0]
            raise bad("a0", sorted(a0), f"needs a value for every mode key; missing {missing}")
        a0s = {k: self._check_a0(k, a0[k] if isinstance(a0, Mapping) else a0)
               for k in self.keys}
        self._check_starts(a0s, values, isinstance(a0, Mapping))
        if self.coupled:
            return self._coupled(t, lr, a0s, hidden, seed, time)
        shape = np.broadcast_shapes(*[v.shape for v in values.values()])
        tau = 1.0 / (self.count(values, shape) * lr)
        if not tau.shape:
            tau = tau[()]
        batch = np.broadcast_shapes(np.shape(tau), *[a.shape for a in a0s.values()],
                                    *[v.shape for v in values.values()])
        meta: dict[str, Any] = {s.name: v for s, v in values.items()}
        if self.rule_modes is not None:
            meta |= {"rule": self.rule_modes.name,
                     **{c.name: v for c, v in self.th.rule.rule.values.items()}}
        modes = self._strengths(t, tau, a0s, values, batch, time)
        modes = self.point.absent_to_zero({k: modes[k] for k in self.keys}, values, batch,
                                          t.ndim)
        if time == "discrete" and self.rule_modes is None:
            self._check_finite(modes, t, lr, values, batch)
            self._check_stable(lr)
        with np.errstate(divide="ignore", invalid="ignore"):   # unselected Piecewise branches
            quads, loss = self.observables(modes, values, batch, t.ndim, t.shape)
        return Trajectory(t, modes, quads, loss, seed_axis=False, kind="theory", time=time,
                          lr=lr, tau=tau, meta=meta)

    def _strengths(self, t: np.ndarray, tau: Any, a0s: dict[str, np.ndarray], values: Values,
                   batch: tuple[int, ...], time: str) -> Strengths:
        """Every mode's strength: the rule's system, the per-epoch map, or the flow's closed
        forms and implicit solutions (absent modes are set to 0 by the caller)."""
        modes: Strengths = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.rule_modes is not None:
                return self.rule_modes(t, tau, a0s, values, batch, time)
            if time == "discrete":
                return self.discrete(t, tau, a0s, values, batch) if self.keys else {}
            if self.closed_forms is not None:
                modes.update(self.closed_forms(t, tau, a0s, values, batch))
            if self._open_keys:
                modes.update(self.implicit(t, tau, a0s, values, batch))
        return modes

    def _check_finite(self, modes: Strengths, t: np.ndarray, lr: np.ndarray, values: Values,
                      batch: tuple[int, ...]) -> None:
        """Gradient descent beyond its stability limit overflows: say where, and the limit."""
        bad_modes = {k: v for k, v in modes.items() if not np.all(np.isfinite(v))}
        if not bad_modes:
            return
        from .discrete import divergence_error, learning_rate_limit

        epoch = min(int(t.ravel()[np.flatnonzero(~np.isfinite(v).reshape(-1, t.size)
                                                 .any(axis=0))[0]]) for v in bad_modes.values())
        if self.symbolic:
            consts = self.constants(values, batch)
            P = float(np.min(self.count(values, batch)))
            limit = learning_rate_limit([(self.depths[k], float(np.min(s)), float(np.min(lam)))
                                         for k, (s, lam) in consts.items()], int(P))
        else:
            limit = self._lr_limit
        raise divergence_error(float(np.max(lr)), epoch, limit)

    def _check_stable(self, lr: np.ndarray) -> None:
        """Above the full-Hessian stability limit (:mod:`.stability`) the fixed point the
        discrete theory converges to repels gradient descent: no convergence to predict.
        Decided for numeric datasets (a symbolic one has no number to compare with)."""
        if self.symbolic:
            return
        from .stability import check_below_limit

        limit = check_below_limit(self.dataset, self.network, float(np.max(lr)))
        if limit is not None:
            raise bad("lr", float(np.max(lr)),
                      f"must be below the stability limit of gradient descent on these "
                      f"data, lr < {limit:.4g} (full Hessian of the loss at the fixed "
                      f"point): above it the fixed point repels gradient descent, so no "
                      f"convergence is predicted")

    @cached_property
    def _lr_limit(self) -> float:
        from .stability import stability_limit

        return stability_limit(self.dataset, self.network).lr_max

    def _coupled(self, t: np.ndarray, lr: np.ndarray, a0s: dict[str, np.ndarray],
                 hidden: int, seed: int, time: str) -> Trajectory:
        if lr.ndim or any(a.ndim for a in a0s.values()):
            raise bad("lr", lr.tolist(), "a coupled network is integrated for one lr and one a0")
        if len({float(a) for a in a0s.values()}) != 1:
            raise bad("a0", {k: float(v) for k, v in a0s.items()},
                      "a coupled network starts all modes from one a0")
        if t.ndim != 1 or np.any(np.diff(t) < 0):
            raise bad("t", "array", "must be 1-D and non-decreasing for a coupled network")
        hidden = check_coupled_hidden(hidden)
        a0 = float(next(iter(a0s.values())))
        run = self.coupled_dynamics(t, float(lr), a0, hidden, seed, time)
        return Trajectory(t, run.modes, run.quadrant_norms, run.loss, seed_axis=False,
                          kind="theory", time=time, lr=lr, tau=run.tau,
                          meta={"init_std": init_std_for(a0, hidden), "hidden": hidden,
                                "seed": seed})


class CompiledExpression:
    """A compiled SymPy expression (or dict of them), called with keyword arguments.

    Arguments are the expression's free symbols, named as the symbols (``lambda`` may also be
    given as ``lam``); they broadcast like NumPy arrays. Expressions in ``t`` are first put in
    a stable form (:func:`~.stable.stable_form`).
    """

    def __init__(self, exprs: Any, backend: str = "numpy", use_cache: bool = True) -> None:
        single = not isinstance(exprs, Mapping)
        exprs = {"value": exprs} if single else dict(exprs)
        exprs = {k: stable_form(sp.sympify(v)) for k, v in exprs.items()}
        free: set[sp.Symbol] = set()
        for e in exprs.values():
            free |= e.free_symbols
        first = [s for s in (sy.t, sy.tau) if s in free]
        self.symbols = first + sorted(free - set(first), key=lambda s: s.name)
        self.names = [s.name for s in self.symbols]
        self.single = single
        self.code = generate(exprs, self.symbols, name="expression", backend=backend,
                             use_cache=use_cache, units=_UNITS)

    @property
    def source(self) -> str:
        return self.code.source

    def __call__(self, **kwargs: Any) -> Any:
        if "lam" in kwargs and "lambda" in self.names:
            kwargs["lambda"] = kwargs.pop("lam")
        missing = [n for n in self.names if n not in kwargs]
        if missing:
            raise bad(missing[0], None, f"is required; arguments are {self.names}")
        extra = set(kwargs) - set(self.names)
        if extra:
            raise bad(sorted(extra)[0], kwargs[sorted(extra)[0]],
                      f"is not an argument; arguments are {self.names}")
        vals = [np.asarray(kwargs[n], dtype=float) for n in self.names]
        shape = np.broadcast_shapes(*[v.shape for v in vals]) if vals else ()
        out = {k: np.broadcast_to(v, shape) for k, v in self.code.as_dict(*vals).items()}
        return out["value"] if self.single else out


def compile(obj: Any, backend: str = "numpy", use_cache: bool = True) -> Any:  # noqa: A001
    """Compile a :class:`Derivation` to a :class:`Predictor`, or SymPy expression(s) to a
    :class:`CompiledExpression`. Generated code is cached on disk (:mod:`.cache`)."""
    if hasattr(obj, "trajectories") and hasattr(obj, "strengths"):
        return Predictor(obj, backend=backend, use_cache=use_cache)
    if isinstance(obj, (sp.Basic, Mapping)):
        return CompiledExpression(obj, backend=backend, use_cache=use_cache)
    raise ModspecError(f"compile: cannot compile a {type(obj).__name__}; pass a Derivation "
                       "(modspec.derive) or SymPy expression(s)")
