"""Numerical integration of the learning dynamics with ``scipy.integrate.solve_ivp``.

Two systems, both with generated right-hand sides and Jacobians:

* **Mode ODEs** (:func:`integrate_modes`) — the balanced reduction
  ``τ da/dt = L a^(2−2/L) (s − λ a)`` of :mod:`modspec.theory.dynamics` for any depth L; the
  right-hand side and its derivative ``∂f/∂a`` are SymPy expressions compiled by
  :mod:`modspec.numerics.codegen`. Many modes / parameter sets are integrated at once as one
  diagonal system (the Jacobian is a sparse diagonal). For L ≤ 2 this reproduces the closed
  forms (relative 1e-8); for L > 2 it is the independent check of the inverted implicit
  solution that the predictor uses (:mod:`modspec.numerics.implicit`).
* **The exact matrix gradient flow** (:func:`integrate_flow`) of any network, including
  coupled ones (leaky) where modules share an output block and no closed form exists:
  ``τ dW_i/dt = ∂/∂W_i tr(M_m G_mᵀ)`` (see :mod:`modspec.numerics.flow`). The Jacobian is
  assembled from SymPy-derived directional derivatives evaluated on a stacked batch of unit
  directions (one batched call, the code is batch-safe).

:func:`converged_map` integrates the matrix flow from small random weights until the gradient
vanishes and returns the network's total map — the converged map of coupled networks.

Time is in epochs of full-batch gradient descent, ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sparse
import sympy as sp
from scipy.integrate import solve_ivp

from modspec.theory import dynamics
from modspec.theory import symbols as sy
from modspec.theory.architectures import Network
from modspec.theory.defaults import HIDDEN
from modspec.theory.errors import ModspecError, bad

from . import flow
from .codegen import Generated, generate
from .flow import Layout, block, layout, module_maps, module_tangent, residual, total_map
from .record import Trajectory, heldout_curve, stack_records
from .simulate import Observer
from .starts import initial_weights

__all__ = ["CHUNK", "END_POINT_SEEDS", "FlowSystem", "IMPLICIT", "REST", "converged_map",
           "converged_weights", "end_point", "flow_system", "integrate_flow", "integrate_modes",
           "mode_functions"]

IMPLICIT = ("Radau", "BDF", "LSODA")


# ------------------------------------------------------------------------- modes
@cache
def mode_functions(depth: int) -> Generated:
    """Generated ``(f, df/da)`` of the depth-L mode ODE ``τ da/dt = f(a)``, args (a, s, λ)."""
    a = sp.Symbol("a", positive=True)
    f = dynamics.mode_rhs(depth, a)
    return generate({"f": f, "dfda": sp.diff(f, a)}, [a, sy.s, sy.lam], name="mode_rhs",
                    description=f"Right-hand side of the depth-{depth} mode ODE tau da/dt = "
                                f"{f} and its derivative in a.")


def integrate_modes(depth: int, t: Any, s: Any, lam: Any, a0: Any, tau: Any,
                    method: str = "DOP853", rtol: float = 1e-11,
                    atol: float | None = None) -> np.ndarray:
    """Mode strengths ``a(t)`` of the balanced depth-L dynamics, integrated numerically.

    ``t`` (epochs) is a 1-D array of times ≥ 0; ``s``, ``lam``, ``a0`` and ``tau`` (epochs)
    broadcast to a batch shape B. Returns ``a`` of shape ``B + t.shape``. The integration
    runs in ``u = t/τ`` (so one call serves every τ) with relative tolerance ``rtol``;
    implicit methods (Radau, BDF, LSODA) use the generated diagonal Jacobian.
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if t.ndim != 1 or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise bad("t", "array", "must be a 1-D array of finite times ≥ 0 (epochs)")
    s, lam, a0, tau = np.broadcast_arrays(*[np.asarray(v, dtype=float)
                                            for v in (s, lam, a0, tau)])
    if np.any(a0 <= 0):
        raise bad("a0", float(a0.min()), "must be > 0 for depth ≥ 2 (a = 0 is a fixed point)")
    shape = s.shape
    fn = mode_functions(depth)
    sv, lv, av, tv = (x.ravel() for x in (s, lam, a0, tau))
    u_end = float(t.max() / tv.min()) if t.max() > 0 else 0.0
    if u_end == 0.0:
        return np.broadcast_to(a0[..., None], (*shape, t.size)).copy()

    def rhs(u: float, a: np.ndarray) -> np.ndarray:
        return fn(np.maximum(a, 0.0), sv, lv)[0]

    def jac(u: float, a: np.ndarray) -> sparse.spmatrix:
        return sparse.diags(fn(np.maximum(a, 0.0), sv, lv)[1])

    atol = float(atol) if atol is not None else rtol * float(av.min()) * 1e-3
    kw: dict[str, Any] = {"jac": jac} if method in IMPLICIT else {}
    sol = solve_ivp(rhs, (0.0, u_end), av, method=method, rtol=rtol, atol=atol,
                    dense_output=True, **kw)
    if not sol.success:
        raise RuntimeError(f"mode integration failed: {sol.message}")
    u = t[None, :] / tv[:, None]                                       # (n, T)
    out = np.empty_like(u)
    for j in range(u.shape[0]):
        out[j] = sol.sol(u[j])[j]
    out[:, t == 0] = av[:, None]
    return out.reshape(*shape, t.size)


# -------------------------------------------------------------------------- flow
def _pack(weights: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    return np.concatenate([w.reshape(w.shape[0], -1) for layers in weights for w in layers],
                          axis=1)


def _unpack(lay: Layout, y: np.ndarray) -> list[list[np.ndarray]]:
    out, pos = [], 0
    n = y.shape[0]
    for ml in lay.modules:
        layers = []
        for i in range(ml.depth):
            r, c = ml.dims[i + 1], ml.dims[i]
            layers.append(y[:, pos:pos + r * c].reshape(n, r, c))
            pos += r * c
        out.append(layers)
    return out


@dataclass(frozen=True, eq=False)
class FlowSystem:
    """The matrix gradient flow of one network as ``solve_ivp`` callables.

    State: all layers of all modules flattened (one batch row). ``rhs(t, y)`` and
    ``jac(t, y)`` are in epochs (they include the 1/τ).
    """

    layout: Layout
    tau: float
    cov: Any
    size: int = field(default=0)

    def weights(self, y: np.ndarray) -> list[list[np.ndarray]]:
        return _unpack(self.layout, np.atleast_2d(y))

    def velocity(self, weights: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """``dW/dt`` for a batch of weights, packed: shape (batch, size)."""
        R = residual(total_map(self.layout, module_maps(self.layout, weights)), self.cov)
        return _pack(flow.gradients(self.layout, weights, R)) / self.tau

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.velocity(self.weights(y))[0]

    def jvp(self, y: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Jacobian–vector products for a stack of directions (k, size) → (k, size)."""
        lay = self.layout
        W = self.weights(y)
        D = _unpack(lay, directions)
        k = directions.shape[0]
        maps = module_maps(lay, W)
        R = residual(total_map(lay, maps), self.cov)
        dmaps = [module_tangent(ml.dims)[0](*[np.broadcast_to(w, (k, *w.shape[1:]))
                                              for w in Wm], *Dm)[0]
                 for ml, Wm, Dm in zip(lay.modules, W, D, strict=True)]
        dR = -(total_map(lay, dmaps).reshape(k, -1, lay.n_in) @ self.cov.sigma_x)
        out = []
        for ml, Wm, Dm in zip(lay.modules, W, D, strict=True):
            _, tgrad = module_tangent(ml.dims)
            Wb = [np.broadcast_to(w, (k, *w.shape[1:])) for w in Wm]
            G = np.broadcast_to(block(R, ml.outputs, ml.inputs), (k, ml.dims[-1], ml.dims[0]))
            out.append(tgrad(*Wb, *Dm, G, block(dR, ml.outputs, ml.inputs)))
        return _pack(out) / self.tau

    def jac(self, t: float, y: np.ndarray) -> np.ndarray:
        """Dense Jacobian ``∂(dW/dt)/∂W``: column j is the JVP along unit direction j."""
        n = y.size
        return self.jvp(y, np.eye(n)).T


def flow_system(dataset: Any, network: Network, lr: float, hidden: int = HIDDEN,
                train_objects: Sequence[int] | None = None) -> FlowSystem:
    """The matrix flow of ``network`` on ``dataset`` at learning rate ``lr`` (τ = 1/(P·lr))."""
    lay = layout(dataset, network, hidden)
    cov = flow.covariances(dataset, train_objects)
    size = sum(ml.dims[i] * ml.dims[i + 1] for ml in lay.modules for i in range(ml.depth))
    return FlowSystem(lay, flow.tau_of(cov.P, lr), cov, size)


#: A state whose velocity times τ is below this is at rest (the flow has converged; the
#: velocity's round-off floor is about 1e-11 on D0). The same threshold as
#: :func:`converged_map`'s ``gtol``.
REST = 1e-10
#: Times evaluated per call of the integrator (bounds the memory of dense states).
CHUNK = 2000
#: The first stretch of time (in τ) integrated before the rest is checked; then it doubles.
SEGMENT = 64


def _repeat(record: dict[str, Any], n: int) -> dict[str, Any]:
    """A one-time observation repeated ``n`` times."""
    out: dict[str, Any] = {g: {k: np.repeat(v, n) for k, v in record[g].items()}
                           for g in ("modes", "quadrant_norms", "loss")}
    if "heldout" in record:
        out["heldout"] = {b: np.repeat(v, n) for b, v in record["heldout"].items()}
    return out


def _concatenate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {g: {k: np.concatenate([p[g][k] for p in parts]) for k in parts[0][g]}
                           for g in ("modes", "quadrant_norms", "loss")}
    if "heldout" in parts[0]:
        out["heldout"] = {b: np.concatenate([p["heldout"][b] for p in parts])
                          for b in parts[0]["heldout"]}
    return out


def integrate_flow(dataset: Any, network: Network, t: Any, lr: float,
                   init: Sequence[Sequence[np.ndarray]], train_objects: Sequence[int] | None = None,
                   method: str = "DOP853", rtol: float = 1e-10,
                   atol: float = 1e-14) -> Trajectory:
    """Integrate ``τ dW_i/dt = ∂/∂W_i tr(M_m G_mᵀ)`` from ``init`` and record at times ``t``.

    ``init`` is a weight structure of :func:`modspec.numerics.simulate.initial_weights`
    (every seed is integrated separately). Implicit methods use the generated Jacobian.
    Times are integrated :data:`CHUNK` at a time, in stretches of at most :data:`SEGMENT` τ
    that then double; once the state is at rest (velocity ×τ below :data:`REST`) the
    remaining times record that state without more integration, so a long horizon costs no
    more than the approach to rest, however far apart the recorded times are. Returns a
    :class:`~modspec.numerics.record.Trajectory` (``kind="flow"``,
    ``time="continuous"``, arrays ``(seeds, T)``, the final weights and map).
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if t.ndim != 1 or np.any(np.diff(t) < 0) or np.any(t < 0):
        raise bad("t", "array", "must be a 1-D non-decreasing array of times ≥ 0 (epochs)")
    hid = np.asarray(init[0][0]).shape[-2] if network.modules[0].depth > 1 else 1
    system = flow_system(dataset, network, lr, hid, train_objects)
    lay = system.layout
    init = flow.check_weights(lay, init)
    n_seeds = init[0][0].shape[0]
    y0 = _pack(init)
    obs = Observer(lay, system.cov, dataset)
    kw: dict[str, Any] = {"jac": system.jac} if method in IMPLICIT else {}
    finals = []
    records: list[dict[str, Any]] = []

    def observe(ys: np.ndarray) -> dict[str, Any]:
        maps = module_maps(lay, _unpack(lay, ys))
        W = total_map(lay, maps)
        return obs(maps, W, residual(W, system.cov))

    for k in range(n_seeds):
        record, final = _integrate_seed(system, y0[k], t, observe,
                                        {"method": method, "rtol": rtol, "atol": atol, **kw})
        records.append(record)
        finals.append(final)
    stacked = stack_records(records)
    heldout = None
    if obs.record_held:
        heldout = heldout_curve({b: np.stack([r["heldout"][b] for r in records])
                                 for b in records[0]["heldout"]}, obs.held)
    weights = _unpack(lay, np.stack(finals))
    final = total_map(lay, module_maps(lay, weights))
    return Trajectory(t, heldout=heldout, seed_axis=True, kind="flow", time="continuous",
                      lr=float(lr), tau=system.tau, train_objects=None if train_objects is None
                      else system.cov.objects, init=init, weights=weights, final_map=final,
                      **stacked)


def _integrate_seed(system: Any, y: np.ndarray, t: np.ndarray,
                    observe: Callable[[np.ndarray], dict[str, Any]],
                    solver: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
    """One seed's records at times ``t`` and its final state (:func:`integrate_flow`):
    integrated to the next recorded times, but no further than a horizon that doubles, so
    that rest is checked on the way even when the records are 10⁵ epochs apart; at rest every
    later time records the same state."""
    parts, start, done = [], 0.0, 0
    while done < t.size:
        end = min(float(t[min(done + CHUNK, t.size) - 1]),
                  max(2 * start, start + SEGMENT * system.tau))
        times = t[done:done + CHUNK][t[done:done + CHUNK] <= end]
        sol = solve_ivp(system.rhs, (start, end), y, t_eval=times if times.size else [end],
                        **solver)
        if not sol.success:
            raise RuntimeError(f"flow integration failed: {sol.message}")
        if times.size:
            parts.append(observe(sol.y.T))
        y, start, done = sol.y[:, -1], end, done + times.size
        if np.max(np.abs(system.rhs(start, y))) * system.tau < REST:
            break
    if done < t.size:
        parts.append(_repeat(observe(y[None]), t.size - done))
    return _concatenate(parts), y


def converged_weights(dataset: Any, network: Network, init_std: float = 1e-3, seed: int = 0,
                      hidden: int = HIDDEN, gtol: float = 1e-10, max_time: float = 1e6,
                      train_objects: Sequence[int] | None = None, on_map: bool = False
                      ) -> tuple[Layout, list[list[np.ndarray]]]:
    """The layout and the weights (per module, per layer, ``(1, out, in)``) where the exact
    matrix gradient flow from small random weights (``N(0, init_std²)``, seeded) comes to
    rest.

    Integrates in units of τ (the end does not depend on the learning rate) in growing
    stretches until every layer's velocity is below ``gtol`` (in units of 1/τ), or with
    ``on_map`` every entry of the total map's velocity ``dW/dt = Σ J_W(w) dw/dt``. Directions
    the data do not drive decay only as ``c' = −λ c³`` from ``c ≈ init_std`` (layer velocity
    ~ init_std³, for 10⁵ τ and more) while adding ~ init_std² to the map, so the map's rest
    is the one to wait for when only the map is wanted.
    """
    init = initial_weights(dataset, network, hidden, init_std, seeds=1, seed=seed)
    P = len(flow.covariances(dataset, train_objects).objects)
    system = flow_system(dataset, network, 1.0 / P, hidden, train_objects)  # τ = 1
    y = _pack(flow.check_weights(system.layout, init))[0]
    t0, span = 0.0, 100.0
    while True:
        sol = solve_ivp(system.rhs, (t0, t0 + span), y, method="DOP853", rtol=1e-10,
                        atol=1e-14)
        if not sol.success:
            raise RuntimeError(f"flow integration failed: {sol.message}")
        y, t0 = sol.y[:, -1], t0 + span
        speed = _map_speed(system, y) if on_map else np.max(np.abs(system.rhs(t0, y)))
        if speed < gtol:
            break
        if t0 >= max_time:
            raise ModspecError(f"converged_map: the flow did not converge within {max_time:g} τ "
                               f"(velocity {speed:.2e} > gtol={gtol})")
        span *= 2
    return system.layout, system.weights(y)


def _map_speed(system: FlowSystem, y: np.ndarray) -> float:
    """``max |dW/dt|`` of the total map at the packed weights ``y``: a forward difference
    along the velocity over a step that moves no weight by more than 1e-8 (its error is that
    step times the map's curvature, far below the velocity)."""
    v = system.rhs(0.0, y)
    top = float(np.max(np.abs(v)))
    if top == 0.0:
        return 0.0
    eps = 1e-8 / top
    lay = system.layout
    at = [total_map(lay, module_maps(lay, system.weights(x)))[0] for x in (y, y + eps * v)]
    return float(np.max(np.abs(at[1] - at[0]))) / eps


def converged_map(dataset: Any, network: Network, init_std: float = 1e-3, seed: int = 0,
                  hidden: int = HIDDEN, gtol: float = 1e-10, max_time: float = 1e6,
                  train_objects: Sequence[int] | None = None) -> np.ndarray:
    """The total map (rows as ``Y``, columns as ``X``) after the exact matrix gradient flow
    from small random weights (``N(0, init_std²)``, seeded) has converged
    (:func:`converged_weights`). Works for every architecture; for coupled ones (leaky) it is
    the only route to ``W*``.
    """
    lay, weights = converged_weights(dataset, network, init_std, seed, hidden, gtol, max_time,
                                     train_objects, on_map=True)
    return total_map(lay, module_maps(lay, weights))[0]


#: Seeds of the standard starts of a coupled network's end point (its end depends on them).
END_POINT_SEEDS = 5


def end_point(dataset: Any, network: Network, train_objects: Sequence[int] | None = None
              ) -> tuple[np.ndarray, str]:
    """:func:`converged_map` from :data:`END_POINT_SEEDS` standard starts (``N(0, 1e-3²)``,
    seeds 0, 1, …), stacked ``(seeds, outputs, inputs)``, with a sentence saying how they were
    obtained: the solver modspec registers for the theory layer's coupled end points
    (:mod:`modspec.theory.endpoints`). A coupled network's end point depends on its start,
    so it is reported as mean ± std over these seeds."""
    W = np.stack([converged_map(dataset, network, init_std=1e-3, seed=seed,
                                train_objects=train_objects)
                  for seed in range(END_POINT_SEEDS)])
    return W, (f"integrated: exact coupled matrix flow from N(0, 1e-3^2) weights, seeds "
               f"0-{END_POINT_SEEDS - 1} (mean and std over seeds), until the map's velocity is "
               "below 1e-10/tau")
