"""Predictors: a derivation compiled once, evaluated cheaply at many times and parameters.

``compile(th)`` turns a :class:`~modspec.theory.derivation.Derivation` into a
:class:`Predictor`. Calling it,

    pr = f(t, lr=0.02, a0=7e-7)                       # numeric dataset
    pr = f(t, lr=0.02, a0=7e-7, nx=3, ny=1, kx=3, ky=1, r=1)   # symbolic dataset

gives every mode's trajectory, the quadrant norms and the block losses at the times ``t``
(epochs of full-batch gradient descent; ``τ = 1/(P·lr)``, P = number of samples).

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

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError, bad

from .codegen import Generated, generate
from .stable import stable_form

_DATASET = {"nx": sy.nx, "ny": sy.ny, "kx": sy.kx, "ky": sy.ky, "rx": sy.rx, "ry": sy.ry}
_UNITS = {"t": "epochs of full-batch GD", "tau": "epochs, tau = 1/(P*lr)",
          "a0": "initial mode strength"}


def _tolist(value: Any) -> Any:
    arr = np.asarray(value)
    return arr.tolist()


@dataclass(frozen=True, eq=False)
class Prediction:
    """Predicted trajectories; arrays have shape ``B + T`` (batch of parameters, times)."""

    t: np.ndarray
    modes: dict[str, np.ndarray]
    quadrant_norms: dict[str, np.ndarray]
    loss: dict[str, np.ndarray]
    params: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The JSON contract of ``modspec predict`` (design.md) as plain Python."""
        return {"t": _tolist(self.t),
                "modes": {k: _tolist(v) for k, v in self.modes.items()},
                "quadrant_norms": {k: _tolist(v) for k, v in self.quadrant_norms.items()},
                "loss": {k: _tolist(v) for k, v in self.loss.items()}}

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`payload` as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.payload(), **kwargs)


def _times(t: Any) -> np.ndarray:
    arr = np.asarray(t, dtype=float)
    if arr.ndim == 0:
        arr = arr[None]
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise bad("t", "array", "must hold finite times ≥ 0 (epochs)")
    return arr


def _positive(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise bad(name, value, "must be a positive number or array") from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise bad(name, value, "must be positive and finite")
    return arr


class Predictor:
    """A compiled derivation; see the module docstring. Call ``f(t, lr=..., a0=..., **params)``."""

    def __init__(self, th: Any, backend: str = "numpy", use_cache: bool = True) -> None:
        self.th = th
        self.dataset = th.dataset
        self.network = th.network
        self.coupled = bool(th.coupled)
        self.keys = list(th.strengths)
        self._depth = {key: md.module.depth for md in th.modules for key in md.keys.values()}
        self.symbolic = bool(getattr(th.dataset, "is_symbolic", False))
        free: set[sp.Symbol] = set()
        for e in th.trajectories.values():
            if e is not None:
                free |= e.free_symbols
        for group in ("quadrant_norms", "loss"):
            for e in th.observables.get(group, {}).values():
                free |= sp.sympify(e).free_symbols
        for md in th.modules:
            for m in md.spectrum.modes:
                free |= sp.sympify(m.s).free_symbols | sp.sympify(m.lam).free_symbols
        self.params = [s for s in _DATASET.values() if s in free]
        P = th.dataset.P
        self._P = sp.sympify(P)
        self._closed = {k: e for k, e in th.trajectories.items() if e is not None}
        self._open = [k for k, e in th.trajectories.items() if e is None]
        self._a0 = {k: sp.Symbol(f"a0_{i}", positive=True) for i, k in enumerate(self.keys)}
        self.trajectory_code: Generated | None = None
        if self._closed and not self.coupled:
            exprs = {k: stable_form(e).xreplace({sy.a0: self._a0[k]})
                     for k, e in self._closed.items()}
            args = [sy.t, sy.tau, *[self._a0[k] for k in self._closed], *self.params]
            self.trajectory_code = generate(
                exprs, args, name="trajectories", backend=backend, use_cache=use_cache,
                units=_UNITS,
                description=f"Mode strengths a(t) of the {th.network.name} network "
                            f"({', '.join(self._closed)}), stable closed forms.")
        self.mode_code: Generated | None = None
        if self._open and not self.coupled:
            modes = th.modes
            exprs = {}
            for k in self._open:
                exprs[f"s:{k}"] = sp.sympify(modes[k].s)
                exprs[f"lam:{k}"] = sp.sympify(modes[k].lam)
            self.mode_code = generate(exprs, self.params, name="mode_constants",
                                      use_cache=use_cache,
                                      description="s and lambda of modes without closed form.")
        self.observable_code: Generated | None = None
        obs = {}
        for group in ("quadrant_norms", "loss"):
            for name, e in th.observables.get(group, {}).items():
                obs[f"{group}:{name}"] = sp.sympify(e)
        if obs:
            args = [th.strengths[k] for k in self.keys] + self.params
            self.observable_code = generate(
                obs, args, name="observables", backend=backend, use_cache=use_cache,
                description=f"Quadrant norms and block losses (per sample: mean over samples "
                            f"of the summed squared error over a block's units) of the "
                            f"{th.network.name} network in its mode strengths.")
        self.depths = {md.keys[m.label]: md.module.depth
                       for md in th.modules for m in md.spectrum.modes}

    # ----------------------------------------------------------------- evaluation
    def _dataset_values(self, kw: dict[str, Any]) -> dict[sp.Symbol, np.ndarray]:
        if "r" in kw:
            r = kw.pop("r")
            kw.setdefault("rx", r)
            kw.setdefault("ry", r)
        unknown = set(kw) - set(_DATASET)
        if unknown:
            raise bad("parameter", sorted(unknown)[0],
                      "must be one of lr, a0, nx, ny, kx, ky, r, rx, ry")
        if not self.symbolic and kw:
            raise bad("parameter", sorted(kw)[0],
                      "the dataset is numeric; its parameters are fixed (derive a symbolic one)")
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
        if not self.coupled and self._depth.get(key) == 1:
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)):
                raise bad(f"a0[{key}]", value, "must be finite")
            return arr
        return _positive(f"a0[{key}]", value)

    def __call__(self, t: Any, lr: Any = None, a0: Any = 1e-6, *, hidden: int = 50,
                 seed: int = 0, time: str = "continuous", **params: Any) -> Prediction:
        """Predict at times ``t`` (epochs) for learning rate(s) ``lr`` and initial strength(s)
        ``a0`` (number, array, or dict ``{mode key: value}``); dataset parameters by name.

        ``time="continuous"`` (default): the gradient flow (closed forms / integrated ODEs).
        ``time="discrete"``: gradient descent epoch by epoch — the exact per-epoch map of each
        balanced mode (:mod:`.discrete`), or for coupled networks matrix gradient descent
        itself; ``t`` must then be integer epochs ≥ 0.
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
        if self.coupled:
            return self._coupled(t, lr, a0s, hidden, seed, time)
        P = np.asarray(float(self._P) if not self._P.free_symbols
                       else 2.0 ** values[sy.nx], dtype=float)
        tau = 1.0 / (P * lr)
        batch = np.broadcast_shapes(tau.shape, *[a.shape for a in a0s.values()],
                                    *[v.shape for v in values.values()])
        extra = (None,) * t.ndim

        def lift(x: np.ndarray) -> np.ndarray:
            return np.broadcast_to(x, batch)[(..., *extra)]

        shape = batch + t.shape
        modes: dict[str, np.ndarray] = {}
        if time == "discrete":
            from .discrete import predict_modes

            modes = predict_modes(self, t, tau, a0s, values, batch)
        elif self.trajectory_code is not None:
            out = self.trajectory_code(
                t, lift(tau), *[lift(a0s[k]) for k in self._closed],
                *[lift(values[s]) for s in self.params])
            for k, v in zip(self._closed, out, strict=True):
                modes[k] = np.broadcast_to(v, shape)
        if self._open and time == "continuous":
            consts = self.mode_code.as_dict(*[np.broadcast_to(values[s], batch)
                                              for s in self.params])
            from .implicit import mode_strengths

            for k in self._open:
                modes[k] = np.broadcast_to(mode_strengths(
                    self.depths[k], t, consts[f"s:{k}"], consts[f"lam:{k}"], a0s[k], tau),
                    shape)
        modes = {k: modes[k] for k in self.keys}
        quads: dict[str, np.ndarray] = {}
        loss: dict[str, np.ndarray] = {}
        if self.observable_code is not None:
            out = self.observable_code.as_dict(*[modes[k] for k in self.keys],
                                               *[lift(values[s]) for s in self.params])
            for name, v in out.items():
                group, key = name.split(":", 1)
                target = quads if group == "quadrant_norms" else loss
                target[key] = np.broadcast_to(v, shape).astype(float)
        return Prediction(t, modes, quads, loss,
                          {"lr": lr, "tau": tau, "time": time,
                           **{s.name: v for s, v in values.items()}})

    def _coupled(self, t: np.ndarray, lr: np.ndarray, a0s: dict[str, np.ndarray],
                 hidden: int, seed: int, time: str = "continuous") -> Prediction:
        from .integrate import integrate_flow
        from .simulate import initial_weights

        if lr.ndim or any(a.ndim for a in a0s.values()):
            raise bad("lr", lr.tolist(), "a coupled network is integrated for one lr and one a0")
        if len({float(a) for a in a0s.values()}) != 1:
            raise bad("a0", {k: float(v) for k, v in a0s.items()},
                      "a coupled network starts all modes from one a0")
        if t.ndim != 1 or np.any(np.diff(t) < 0):
            raise bad("t", "array", "must be 1-D and non-decreasing for a coupled network")
        a0 = float(next(iter(a0s.values())))
        init_std = float(np.sqrt(2 * a0 / hidden))
        init = initial_weights(self.dataset, self.network, hidden, init_std, 1, seed)
        if time == "discrete":  # exact discrete dynamics = matrix gradient descent
            from .discrete import coupled_gd

            gd = coupled_gd(self.dataset, self.network, t, float(lr), init)
            return Prediction(t, gd["modes"], gd["quadrant_norms"], gd["loss"],
                              {"lr": lr, "init_std": init_std, "hidden": hidden,
                               "seed": seed, "time": time})
        traj = integrate_flow(self.dataset, self.network, t, float(lr), init)
        return Prediction(t, {k: v[0] for k, v in traj.modes.items()},
                          {k: v[0] for k, v in traj.quadrant_norms.items()},
                          {k: v[0] for k, v in traj.loss.items()},
                          {"lr": lr, "init_std": init_std, "hidden": hidden, "seed": seed})


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
