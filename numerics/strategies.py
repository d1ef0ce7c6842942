"""The strategies of a :class:`~modspec.numerics.predict.Predictor`, each a small compiled object.

:class:`ModeConstants` (``s`` and ``λ`` of each mode at the parameter values),
:class:`ClosedForms` (the closed forms ``a(t)``, in a stable form), :class:`ModeSolutions` (a
per-mode solver: the inverted implicit solution or the exact per-epoch map),
:class:`Observables` (quadrant norms and losses in the mode strengths) and
:class:`CoupledDynamics` (a coupled network's integrated matrix flow). A strategy never reads
another's internals; the predictor builds each when first needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp

from modspec.theory import symbols as sy
from modspec.theory.derivation import Derivation
from modspec.theory.errors import bad

from .codegen import Generated, generate
from .record import Trajectory
from .stable import stable_form
from .starts import init_std_for

__all__ = ["MAX_COUPLED_HIDDEN", "ClosedForms", "CoupledDynamics", "ModeConstants",
           "ModeSolutions", "Observables", "Strengths", "Values", "check_coupled_hidden"]

#: The widest network a coupled prediction integrates: its cost grows with the width while
#: its answer does not (the start's effective strength a0 is fixed; a wider network only
#: samples it more finely).
MAX_COUPLED_HIDDEN = 10_000


def check_coupled_hidden(hidden: Any, name: str = "hidden") -> int:
    """The hidden width of a coupled prediction, ``1 ≤ hidden ≤ MAX_COUPLED_HIDDEN``."""
    if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) \
            or not 1 <= hidden <= MAX_COUPLED_HIDDEN:
        raise bad(name, hidden, f"must be an integer in [1, {MAX_COUPLED_HIDDEN}] for a coupled "
                  "network (a wider one costs more and predicts the same)")
    return int(hidden)

_DATASET = {"nx": sy.nx, "ny": sy.ny, "kx": sy.kx, "ky": sy.ky, "rx": sy.rx, "ry": sy.ry}
_UNITS = {"t": "epochs of full-batch GD", "tau": "epochs, tau = 1/(P*lr)",
          "a0": "initial mode strength"}

#: Mode strengths by key, each broadcast to ``B + t.shape``.
Strengths = dict[str, np.ndarray]
#: Dataset parameter symbol → its values (broadcast to the batch shape B).
Values = dict[sp.Symbol, np.ndarray]


def _times(t: Any) -> np.ndarray:
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):         # text, ragged lists, objects
        raise bad("t", type(t).__name__, "must hold finite times ≥ 0 (epochs)") from None
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


def _lift(x: np.ndarray, batch: tuple[int, ...], t_ndim: int) -> np.ndarray:
    """``x`` broadcast to the batch shape with singleton axes for the times appended."""
    return np.broadcast_to(x, batch)[(..., *(None,) * t_ndim)]


# ----------------------------------------------------------------------- strategies
class ModeConstants:
    """``s`` and ``λ`` of the given modes as generated functions of the dataset parameters."""

    def __init__(self, th: Derivation, keys: list[str], params: list[sp.Symbol],
                 use_cache: bool = True) -> None:
        modes = th.modes
        exprs = {}
        for k in keys:
            exprs[f"s:{k}"] = sp.sympify(modes[k].s)
            exprs[f"lam:{k}"] = sp.sympify(modes[k].lam)
        self.keys, self.params = keys, params
        self.code = generate(exprs, params, name="mode_constants", use_cache=use_cache,
                             description="s and lambda of the modes, in the dataset "
                                         "parameters.")

    def __call__(self, values: Values, batch: tuple[int, ...]
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = self.code.as_dict(*[np.broadcast_to(values[p], batch) for p in self.params])
        return {k: (np.broadcast_to(out[f"s:{k}"], batch), np.broadcast_to(out[f"lam:{k}"], batch))
                for k in self.keys}


class ClosedForms:
    """The stable closed forms ``a(t)`` of modes of depth ≤ 2 (:func:`~.stable.stable_form`),
    all modes in one generated function with common subexpressions shared."""

    def __init__(self, th: Derivation, keys: list[str], params: list[sp.Symbol],
                 backend: str = "numpy", use_cache: bool = True) -> None:
        starts = {k: sp.Symbol(f"a0_{i}", positive=True) for i, k in enumerate(keys)}
        exprs = {k: stable_form(th.trajectories[k]).xreplace({sy.a0: starts[k]}) for k in keys}
        self.keys, self.params = keys, params
        self.code = generate(
            exprs, [sy.t, sy.tau, *starts.values(), *params], name="trajectories",
            backend=backend, use_cache=use_cache, units=_UNITS,
            description=f"Mode strengths a(t) of the {th.network.name} network "
                        f"({', '.join(keys)}), stable closed forms.")

    def __call__(self, t: np.ndarray, tau: np.ndarray, a0s: Mapping[str, np.ndarray],
                 values: Values, batch: tuple[int, ...]) -> Strengths:
        def lift(x: np.ndarray) -> np.ndarray:
            return _lift(x, batch, t.ndim)

        out = self.code(t, lift(tau), *[lift(a0s[k]) for k in self.keys],
                        *[lift(values[p]) for p in self.params])
        return {k: np.broadcast_to(v, batch + t.shape)
                for k, v in zip(self.keys, out, strict=True)}


class ModeSolutions:
    """Each mode by a per-mode solver ``solve(depth, t, s, λ, a0, τ) -> B + t.shape`` fed with
    the compiled constants: the inverted implicit solution ``t(a)`` for depths > 2 in
    continuous time (:func:`~.implicit.mode_strengths`), or gradient descent itself, the exact
    per-epoch map of each balanced mode (:func:`~.discrete.iterate_modes`, integer epochs)."""

    def __init__(self, constants: ModeConstants, depths: Mapping[str, int],
                 solve: Callable[..., np.ndarray]) -> None:
        self.constants, self.depths, self.solve = constants, depths, solve

    def __call__(self, t: np.ndarray, tau: np.ndarray, a0s: Mapping[str, np.ndarray],
                 values: Values, batch: tuple[int, ...]) -> Strengths:
        consts = self.constants(values, batch)
        return {k: np.broadcast_to(self.solve(self.depths[k], t, s, lam,
                                              np.broadcast_to(a0s[k], batch),
                                              np.broadcast_to(tau, batch)), batch + t.shape)
                for k, (s, lam) in consts.items()}


class Observables:
    """Quadrant norms and block losses (per sample: the mean over samples of the summed
    squared error over a block's units) as one generated function of the mode strengths."""

    def __init__(self, th: Derivation, keys: list[str], params: list[sp.Symbol],
                 backend: str = "numpy", use_cache: bool = True) -> None:
        exprs = {f"{group}:{name}": sp.sympify(e)
                 for group in ("quadrant_norms", "loss")
                 for name, e in th.observables.get(group, {}).items()}
        self.keys, self.params = keys, params
        self.code: Generated | None = None
        if exprs:
            self.code = generate(
                exprs, [th.strengths[k] for k in keys] + params, name="observables",
                backend=backend, use_cache=use_cache,
                description=f"Quadrant norms and block losses (per sample: mean over samples "
                            f"of the summed squared error over a block's units) of the "
                            f"{th.network.name} network in its mode strengths.")

    def __call__(self, modes: Strengths, values: Values, batch: tuple[int, ...],
                 t_ndim: int, t_shape: tuple[int, ...] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Quadrant norms and losses, shape ``batch + t_shape`` (default: the modes' time
        axes; a dataset without modes needs ``t_shape``)."""
        quads: dict[str, np.ndarray] = {}
        loss: dict[str, np.ndarray] = {}
        if self.code is None:
            return quads, loss
        shape = batch + (tuple(t_shape) if t_shape is not None
                         else next(iter(modes.values())).shape[len(batch):])
        out = self.code.as_dict(*[modes[k] for k in self.keys],
                                *[_lift(values[p], batch, t_ndim) for p in self.params])
        for name, v in out.items():
            group, key = name.split(":", 1)
            (quads if group == "quadrant_norms" else loss)[key] = \
                np.broadcast_to(v, shape).astype(float)
        return quads, loss


class CoupledDynamics:
    """Networks whose modules share an output block (leaky): no mode-wise solution, so the
    exact matrix dynamics is run from small random weights whose effective initial strength
    is ``a0`` (``init_std = sqrt(2·a0/hidden)``): the gradient flow
    (:func:`~.integrate.integrate_flow`) in continuous time, matrix gradient descent
    (:func:`~.simulate.simulate`) in discrete time."""

    def __init__(self, th: Derivation) -> None:
        self.dataset, self.network = th.dataset, th.network

    def __call__(self, t: np.ndarray, lr: float, a0: float, hidden: int, seed: int,
                 time: str) -> Trajectory:
        from .integrate import integrate_flow
        from .simulate import simulate
        from .starts import initial_weights

        init_std = init_std_for(a0, hidden)
        init = initial_weights(self.dataset, self.network, hidden, init_std, 1, seed)
        if time == "discrete":
            run = simulate(self.dataset, self.network, lr, int(t.max()), init=init).at(t)
        else:
            run = integrate_flow(self.dataset, self.network, t, lr, init)
        return run.averaged()


# ----------------------------------------------------------------------- the front
