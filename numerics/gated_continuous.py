"""The race of pathways in continuous time: the per-mode ODEs under gradient flow, solved.

docs/theory/gated.md §3. Where the basis condition holds, each mode α of a gated network is
the small autonomous system ``τ db/dt = f_α(b)`` over the strengths of the edges that carry it
(:func:`modspec.theory.gated_modes.pathway_modes`), ``τ = 1/(N·lr)``, t in epochs. It is
solved exactly, mode by mode:

* **exactly** where the start is equal on the edges the mode's system treats alike (its
  symmetries) and its conserved levels leave one variable
  (:func:`modspec.numerics.gated_exact.exact_mode`): ``τ dx/dt = g(x)`` solved by separation
  of variables — SymPy's closed form of a module's mode ODE, its implicit solution ``t(a)``,
  or ``t(x)`` by partial fractions, inverted — e.g. one pathway from a balanced start, or the
  shared edge of the routing network with its alike input and output edges;
* **the integrated reduced system** otherwise (e.g. a shallow pathway beside a deep one: no
  conserved quadratic quantity ties the shallow edge to the deep ones), ``f_α`` compiled from
  SymPy, integrated by an explicit Runge–Kutta method of order 8 (DOP853) at relative
  tolerance 1e-12; the result says why (``why[α]``).

A pathway's **half-rise time** is the first time its strength on the mode (the product of its
edges' strengths) is half-way from its start to where the *flow* ends — the fixed point on the
conserved level set of the start (:func:`modspec.numerics.gated_race.end_point`), reached by
integrating until the system stops moving — found by root bracketing on the solution; the
pathway that gets there first **wins** the race in continuous time. Where the basis condition
fails, :func:`matrix_flow` integrates the exact matrix flow of every edge instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from modspec.theory.gated_data import path_label
from modspec.theory.gated_modes import PathwayModes

from .gated_exact import ExactMode, exact_mode
from .gated_race import end_point, mode_system

__all__ = ["RTOL", "MAX_HORIZON", "flow_race", "mode_flow", "matrix_flow", "crossing"]

#: Relative tolerance of the integrated reduced system (and of the matrix flow).
RTOL = 1e-12
#: Latest time (epochs, in units of τ) searched for the end of the flow.
MAX_HORIZON = 1e7


def mode_flow(modes: PathwayModes, mode: int, b0: Mapping[str, float], tau: float
              ) -> tuple[Callable[[np.ndarray], np.ndarray], tuple[str, ...], str,
                         np.ndarray | None, ExactMode | str]:
    """The solution of mode ``mode`` from ``b0``: ``(b(t) → (len(t), edges), edges,
    solution, end, exact)`` with ``solution`` "closed form", "implicit t(a)" or
    "integrated", ``end`` the strengths at t → ∞ where the solution gives them, and
    ``exact`` the :class:`~modspec.numerics.gated_exact.ExactMode` or, when integrated, the
    one-line reason there is none."""
    system = mode_system(modes, mode)
    edges = system.edges
    exact = exact_mode(modes, mode, b0, tau)
    if isinstance(exact, ExactMode):
        return exact.solve, edges, exact.method, exact.end, exact
    start = np.array([float(b0.get(e, 0.0)) for e in edges])
    solved: list[Any] = [-1.0, None]        # one dense solution, extended when asked beyond

    def integrated(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        end = float(t.max()) if t.size else 0.0
        if end > solved[0]:
            reach = max(end, 2 * solved[0])
            solved[:] = [reach, _integrate(lambda b: system(b) / tau, start, reach)]
        return solved[1](t)

    return integrated, edges, "integrated", None, exact


#: The smallest state scale the absolute tolerance is taken relative to (a zero start).
_SCALE_FLOOR = 1e-12


def _integrate(f: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, end: float
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Dense solution of ``dy/dt = f(y)`` on ``[0, end]``: ``t → (len(t), len(y0))``."""
    if end <= 0:
        return lambda t: np.repeat(y0[None], np.size(t), axis=0)
    sol = solve_ivp(lambda _t, y: f(y), (0.0, end), y0, method="DOP853", rtol=RTOL,
                    atol=RTOL * max(_SCALE_FLOOR, float(np.abs(y0).max(initial=0.0))),
                    dense_output=True)
    if not sol.success:
        raise RuntimeError(f"the reduced system could not be integrated: {sol.message}")
    return lambda t: np.asarray(sol.sol(np.asarray(t, dtype=float)), dtype=float).T


def _flow_end(modes: PathwayModes, mode: int, b0: Mapping[str, float], tau: float,
              solve: Callable[[np.ndarray], np.ndarray], horizon: float) -> np.ndarray:
    """Where the flow from ``b0`` ends: the solution followed (doubling the horizon) until
    it stops moving, polished by Newton's method on the conserved level set of the start."""
    system = mode_system(modes, mode)
    T = max(horizon, tau)
    while True:
        b = solve(np.array([T]))[0]
        if np.max(np.abs(system(b))) / tau * T < 1e-9 * max(1.0, np.abs(b).max()) \
                or T >= MAX_HORIZON * tau:
            break
        T *= 4
    end = end_point(system, dict(zip(system.edges, b, strict=True)), tau,
                    start={e: float(b0.get(e, 0.0)) for e in system.edges})
    return np.array([end.b[e] for e in system.edges])


def crossing(x: Callable[[np.ndarray], np.ndarray], level: float, sign: float, end: float
             ) -> float | None:
    """The first time in ``[0, end]`` at which ``sign·(x(t) − level) ≥ 0`` (a scalar curve
    given as a function of times), bracketed on a grid and refined by Brent's method."""
    grid = np.concatenate([[0.0], np.geomspace(max(end, 1e-300) * 1e-9, end, 4001)])
    v = sign * (x(grid) - level)
    k = int(np.argmax(v >= 0))
    if v[k] < 0:
        return None
    if k == 0:
        return 0.0
    return float(brentq(lambda s: sign * (float(x(np.array([s]))[0]) - level),
                        grid[k - 1], grid[k], xtol=1e-13 * max(1.0, grid[k]), rtol=1e-14))


def flow_race(modes: PathwayModes, start: Mapping[int, Mapping[str, float]], lr: float,
              times: np.ndarray) -> dict[str, Any]:
    """Every mode under gradient flow from ``start[α][e]``, at ``times`` (epochs).

    Returns, like :func:`modspec.numerics.gated_race.race`: ``strengths[α][e]`` and
    ``pathways[α][label]`` at ``times``, ``half_rise[α][label]`` (epochs, towards the flow's
    end; None when the pathway does not move), ``winner[α]``; ``solution[α]`` (closed form,
    implicit t(a) or integrated), ``why[α]`` (why integrated; "" when solved exactly),
    ``exact[α]`` (the :class:`~modspec.numerics.gated_exact.ExactMode`, or None) and
    ``end[α][e]`` the flow's end point.
    """
    net = modes.network
    tau = 1.0 / (modes.samples * lr)
    times = np.asarray(times, dtype=float)
    out: dict[str, Any] = {k: {} for k in ("strengths", "pathways", "half_rise", "winner",
                                           "solution", "why", "exact", "end")}
    for a in modes.edges:
        b0 = start.get(a, {})
        solve, edges, how, end, exact = mode_flow(modes, a, b0, tau)
        solved = isinstance(exact, ExactMode)
        out["why"][a], out["exact"][a] = ("", exact) if solved else (exact, None)
        if end is None:
            end = _flow_end(modes, a, b0, tau, solve, float(times.max(initial=0.0)))
        H = solve(times)
        out["strengths"][a] = {e: H[:, k] for k, e in enumerate(edges)}
        out["solution"][a], out["end"][a] = how, dict(zip(edges, end.tolist(), strict=True))
        cols = {e: k for k, e in enumerate(edges)}
        carried = [p for p in net.pathways if all(e in cols for e in p)]
        out["pathways"][a] = {path_label(p): np.prod(H[:, [cols[e] for e in p]], axis=1)
                              for p in carried}
        out["half_rise"][a] = rise = {
            path_label(p): _half_rise(solve, [cols[e] for e in p], b0, p, end, tau)
            for p in carried}
        risen = {k: v for k, v in rise.items() if v is not None}
        out["winner"][a] = min(risen, key=risen.get) if risen else None
    return out


def _half_rise(solve: Callable[[np.ndarray], np.ndarray], idx: list[int],
               b0: Mapping[str, float], path: tuple[str, ...], end: np.ndarray, tau: float
               ) -> float | None:
    """When the pathway's strength is half-way from its start to the flow's end (None when
    it does not move)."""
    first = float(np.prod([float(b0.get(e, 0.0)) for e in path]))
    last = float(np.prod(end[idx]))
    if abs(last - first) <= 1e-12 * max(1.0, abs(last)):
        return None
    return crossing(lambda t: np.prod(solve(t)[:, idx], axis=1), (first + last) / 2,
                    np.sign(last - first), _reach(solve, idx, last, tau))


def _reach(solve: Callable[[np.ndarray], np.ndarray], idx: list[int], last: float,
           tau: float) -> float:
    """A time by which the pathway's strength is within 1e-3 of its end (doubling)."""
    T = tau
    while T < MAX_HORIZON * tau:
        if abs(float(np.prod(solve(np.array([T]))[0, idx])) - last) \
                < 1e-3 * max(abs(last), 1e-300):
            return T
        T *= 2
    return T


def matrix_flow(flow: Any, values: Mapping[str, np.ndarray], init: Mapping[str, np.ndarray],
                tau: float, times: np.ndarray) -> dict[str, np.ndarray]:
    """The exact matrix flow ``τ dW_e/dt`` (:func:`modspec.theory.gated_flow.evaluate_flow`)
    integrated from ``init`` (edge → ``(out, in)``): every edge at ``times``,
    ``(len(times), out, in)``."""
    from modspec.theory.gated_flow import evaluate_flow

    names = list(init)
    shapes = [np.shape(init[e]) for e in names]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(y: np.ndarray) -> dict[str, np.ndarray]:
        parts = np.split(y, np.cumsum(sizes)[:-1])
        return {e: v.reshape(s) for e, v, s in zip(names, parts, shapes, strict=True)}

    def f(y: np.ndarray) -> np.ndarray:
        d = evaluate_flow(flow, values, unpack(y))
        return np.concatenate([d[e].ravel() for e in names]) / tau

    y0 = np.concatenate([np.asarray(init[e], dtype=float).ravel() for e in names])
    Y = _integrate(f, y0, float(np.max(times, initial=0.0)))(np.asarray(times, dtype=float))
    parts = np.split(Y, np.cumsum(sizes)[:-1], axis=1)
    return {e: v.reshape(len(Y), *s) for e, v, s in zip(names, parts, shapes, strict=True)}
