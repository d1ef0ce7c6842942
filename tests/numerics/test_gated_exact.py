"""Modes that several gated pathways share, solved exactly: the symmetry reduction, the
conserved levels, the one-variable solution — equal to the integrated reduced system and to
the full matrix flow, with the half-rise times the integration gave before."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from gated_cases import (
    ROUTING_SMALL,
    ROUTING_SMALL_DATA,
    SHALLOW_DEEP,
    SHALLOW_DEEP_DATA,
    modes_of,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from modspec.numerics import gated_continuous
from modspec.numerics.gated_continuous import flow_race
from modspec.numerics.gated_exact import ExactMode, exact_mode, reduction
from modspec.numerics.gated_race import mode_system
from modspec.theory.gated_data import data_for, load_data
from modspec.theory.gated_modes import aligned_weights, mode_strengths
from modspec.theory.gated_symmetry import is_symmetry
from modspec.theory.gated_toml import load_network, network_from_toml

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def routing():
    net = load_network(EXAMPLES / "routing.toml")
    return net, modes_of(net, load_data(EXAMPLES / "routing-data.toml"))[0]


@pytest.fixture(scope="module")
def two_pathways():
    net = load_network(EXAMPLES / "two-pathways.toml")
    data = data_for(tomllib.loads((EXAMPLES / "two-pathways-data.toml").read_text()), net)
    return net, *modes_of(net, data)


def _integrated(modes, start, lr, times, monkeypatch):
    """The race with every mode's reduced system integrated by DOP853 (the solution before
    the exact reductions)."""
    with monkeypatch.context() as m:
        m.setattr(gated_continuous, "exact_mode", lambda *args: "integration forced")
        return flow_race(modes, start, lr, times)


def _same_race(exact, integrated, atol=1e-8, rel=1e-8):
    for a, strengths in exact["strengths"].items():
        for e, v in strengths.items():
            np.testing.assert_allclose(v, integrated["strengths"][a][e], rtol=0, atol=atol)
        for p, t in exact["half_rise"][a].items():
            assert t == pytest.approx(integrated["half_rise"][a][p], rel=rel)
        for e, v in exact["end"][a].items():
            assert v == pytest.approx(integrated["end"][a][e], rel=1e-9)
        # the winner (alike pathways tie exactly on the symmetric start; integrated, their
        # half-rise times differ by rounding)
        first = min(t for t in integrated["half_rise"][a].values() if t is not None)
        assert exact["half_rise"][a][exact["winner"][a]] == pytest.approx(first, rel=rel)


def test_the_routing_race_is_solved_exactly_and_equals_the_integrated_system(routing,
                                                                            monkeypatch):
    net, modes = routing
    lr, c = net.training.lr, net.training.start
    start = {a: {e: c for e in es} for a, es in modes.edges.items()}
    times = np.linspace(0.0, 1000.0, 401)        # the whole race: every mode has converged
    exact = flow_race(modes, start, lr, times)
    assert set(exact["solution"].values()) == {"implicit t(a)"}
    assert set(exact["why"].values()) == {""}
    for a in modes.edges:   # the shared edge drives; every input and output edge is alike
        red = reduction(modes, a)
        assert sorted(map(len, red.symmetry.orbits)) == [1, 14]
        assert str(exact["exact"][a].variable) == "u[shared]"
        b = {e: v[-1] for e, v in exact["strengths"][a].items()}
        assert abs(b["shared"] - exact["end"][a]["shared"]) < 1e-8    # converged by then
    _same_race(exact, _integrated(modes, start, lr, times, monkeypatch))


def test_a_balanced_shared_edge_is_a_module_of_depth_3(routing, monkeypatch):
    """On the zero level set (b_shared² = 7 b_in², b_in = b_out) the product of a pathway
    obeys the depth-3 mode ODE: SymPy's implicit t(a), inverted."""
    net, modes = routing
    lr, c = net.training.lr, 0.03
    start = {a: {e: (np.sqrt(7.0) * c if e == "shared" else c) for e in es}
             for a, es in modes.edges.items()}
    tau = 1.0 / (modes.samples * lr)
    exact = exact_mode(modes, 0, start[0], tau)
    assert isinstance(exact, ExactMode) and exact.method == "implicit t(a)"
    assert str(exact.variable) == "a"
    times = np.linspace(0.0, 600.0, 241)
    _same_race(flow_race(modes, start, lr, times),
               _integrated(modes, start, lr, times, monkeypatch))


def test_the_exact_race_equals_the_full_matrix_flow_of_the_small_routing_network():
    net = network_from_toml(ROUTING_SMALL)
    modes, flow, values = modes_of(net, ROUTING_SMALL_DATA)
    lr = 0.3
    start = {a: {e: 0.1 for e in es} for a, es in modes.edges.items()}
    tau = 1.0 / (modes.samples * lr)
    times = np.linspace(0.0, 40 * tau, 81)
    exact = flow_race(modes, start, lr, times)
    assert set(exact["solution"].values()) == {"implicit t(a)"}
    _equals_the_matrix_flow(exact, modes, flow, values, start, tau, times)


def _equals_the_matrix_flow(result, modes, flow, values, start, tau, times, rtol=0.0,
                            atol=1e-8):
    """The race's strengths equal an ODE solver (DOP853) of the full matrix flow of every
    edge from the aligned start (to 1e-8 unless told)."""
    W = gated_continuous.matrix_flow(flow, values, aligned_weights(modes, start), tau, times)
    measured = mode_strengths(modes, W)
    for a, es in modes.edges.items():
        for e in es:
            np.testing.assert_allclose(result["strengths"][a][e], measured[a][e], rtol=rtol,
                                       atol=atol)


@pytest.mark.parametrize("level", ["aligned", "balanced"])
def test_two_pathways_stay_integrated_and_say_which_quantity_is_missing(two_pathways, level):
    net, modes, flow, values = two_pathways
    lr, c = net.training.lr, net.training.start
    tau = 1.0 / (modes.samples * lr)

    def strength(e):   # balanced: b_Win² = b_Wmid² + b_Wout² where both carry the mode
        return c * np.sqrt(2.0) if level == "balanced" and e == "Win" else c

    start = {a: {e: strength(e) for e in es} for a, es in modes.edges.items()}
    times = np.linspace(0.0, 100 * tau, 101)       # the whole race: 500 epochs
    result = flow_race(modes, start, lr, times)
    assert set(result["solution"].values()) == {"integrated"}
    assert all("no conserved quantity involves" in why and "S" in why
               for why in result["why"].values())
    _equals_the_matrix_flow(result, modes, flow, values, start, tau, times)
    for a, strengths in result["strengths"].items():     # ... to its end
        for e, v in strengths.items():
            assert v[-1] == pytest.approx(result["end"][a][e], abs=1e-6)


def test_a_permutation_that_is_not_a_symmetry_is_refused():
    net = network_from_toml(SHALLOW_DEEP)
    modes, _, _ = modes_of(net, SHALLOW_DEEP_DATA)
    system = modes.system(0)
    assert is_symmetry(system, modes.b, {"V": "V", "W1": "W2", "W2": "W1"})
    assert not is_symmetry(system, modes.b, {"V": "W1", "W1": "V", "W2": "W2"})
    assert reduction(modes, 0).symmetry.orbits == (("V",), ("W1", "W2"))


def _symmetric_network(modules, offsets, deep):
    """``modules`` input and output modules (2 units) around one hidden layer (or two,
    joined by a shared edge when ``deep``), input i trained to output (i + k) mod M."""
    hidden = ["h", "g"] if deep else ["h"]
    last = hidden[-1]
    layers = [f"a{i} = 2" for i in range(modules)] + [f"{h} = 3" for h in hidden] \
        + [f"b{i} = 2" for i in range(modules)]
    edges = [f'i{i} = ["a{i}", "h"]' for i in range(modules)] \
        + (['hg = ["h", "g"]'] if deep else []) \
        + [f'o{i} = ["{last}", "b{i}"]' for i in range(modules)]
    names = ", ".join(f'"{p}{i}"' for i in range(modules) for p in "a")
    outs = ", ".join(f'"b{i}"' for i in range(modules))
    return network_from_toml("[layers]\n" + "\n".join(layers) + "\n[edges]\n"
                             + "\n".join(edges) + f"\n[rule]\ninputs = [{names}]\n"
                             f"outputs = [{outs}]\noffsets = {sorted(offsets)}\n")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules=st.integers(2, 4), offsets=st.sets(st.integers(0, 3), min_size=1, max_size=3),
       deep=st.booleans(), top=st.floats(1.5, 4.0), skew=st.floats(0.0, 1.0),
       c=st.floats(0.05, 0.3))
@example(modules=2, offsets={0}, deep=False, top=3.0, skew=1.0, c=0.1)
@example(modules=3, offsets={0, 1, 2}, deep=True, top=2.0, skew=0.0, c=0.2)
def test_the_symmetry_found_is_a_symmetry_of_random_symmetric_gated_networks(
        modules, offsets, deep, top, skew, c):
    from modspec.theory.gated_data import GatedData

    offsets = {k % modules for k in offsets}
    net = _symmetric_network(modules, offsets, deep)
    Y = [[top, skew], [0.0, 1.0]]
    data = GatedData({f"a{i}": np.eye(2) for i in range(modules)},
                     {f"b{i}": Y for i in range(modules)})
    modes, _, _ = modes_of(net, data)
    rng = np.random.default_rng(0)
    tau = 1.0 / (modes.samples * 0.1)
    for a in modes.edges:
        system, red = mode_system(modes, a), reduction(modes, a)
        # every generator commutes with the compiled system at a generic point
        b = rng.uniform(0.1, 1.0, len(system.edges))
        index = {e: k for k, e in enumerate(system.edges)}
        for sigma in red.symmetry.generators:
            moved = np.empty_like(b)
            for e, k in index.items():
                moved[index[sigma[e]]] = b[k]
            f_moved, f = system(moved), system(b)
            np.testing.assert_allclose(f_moved[[index[sigma[e]] for e in system.edges]], f,
                                       rtol=1e-9, atol=1e-12)
        assert len(red.symmetry.orbits) <= 3      # inputs, shared edge, outputs at most
        on = {e: c for e in system.edges}
        y = _reduced_dop853(system, on, tau, 20 * tau)
        for orbit in red.symmetry.orbits:          # on the symmetric start: equal
            ks = [index[e] for e in orbit]
            assert np.ptp(y[ks]) <= 1e-9 * max(1.0, np.abs(y[ks]).max())
        exact = exact_mode(modes, a, on, tau)
        if isinstance(exact, ExactMode):
            np.testing.assert_allclose(exact.solve(np.array([20 * tau]))[0], y, rtol=0,
                                       atol=1e-8)
        # each orbit at its own strength: a non-zero conserved level
        level = {e: c * (1 + 0.5 * k) for k, o in enumerate(red.symmetry.orbits) for e in o}
        exact = exact_mode(modes, a, level, tau)
        if isinstance(exact, ExactMode):
            y = _reduced_dop853(system, level, tau, 20 * tau)
            np.testing.assert_allclose(exact.solve(np.array([20 * tau]))[0], y, rtol=0,
                                       atol=1e-8)
        orbit = max(red.symmetry.orbits, key=len)
        if len(orbit) > 1:                          # off it: the alike edges part
            off = {**on, orbit[0]: 1.5 * c}
            assert isinstance(exact_mode(modes, a, off, tau), str)
            y = _reduced_dop853(system, off, tau, 20 * tau)
            assert np.ptp(y[[index[e] for e in orbit]]) > 1e-6


def _reduced_dop853(system, start, tau, end):
    b0 = np.array([start[e] for e in system.edges])
    sol = solve_ivp(lambda _t, b: system(b) / tau, (0.0, end), b0, method="DOP853",
                    rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]


def test_the_printed_solutions_are_the_ones_solved(routing):
    """What derive prints — SymPy's ``a(t)`` of a module, or ``t(x)`` by partial fractions —
    evaluated, equals what the race computes."""
    import sympy as sp
    from gated_cases import SHARED_DATA, SHARED_NET

    from modspec.theory import symbols as sy

    modes, _, _ = modes_of(SHARED_NET, SHARED_DATA)
    tau, times = 2.0, np.linspace(0.0, 40.0, 81)
    exact = exact_mode(modes, 0, {e: 0.1 for e in modes.edges[0]}, tau)
    assert exact.method == "closed form" and exact.variable == sy.a
    a_t = sp.lambdify([sy.t, sy.tau, sy.a0], exact.solution)
    b = exact.solve(times)
    edges = list(mode_system(modes, 0).edges)
    product = b[:, edges.index("i0")] * b[:, edges.index("o0")]
    np.testing.assert_allclose(a_t(times, tau, 0.1 * 0.1), product, rtol=1e-10)  # 12 digits
    net, modes = routing
    tau = 1.0 / (modes.samples * net.training.lr)
    exact = exact_mode(modes, 0, {e: net.training.start for e in modes.edges[0]}, tau)
    t_x = sp.lambdify([exact.variable, sy.tau], exact.solution)
    # while x* − x is well above the printed x*'s 12 digits (the strengths end by ~90 epochs)
    times = np.linspace(0.0, 80.0, 41)
    x = exact.solve(times)[:, list(mode_system(modes, 0).edges).index("shared")]
    np.testing.assert_allclose(t_x(x, tau), times, rtol=1e-7, atol=1e-9)


@pytest.mark.slow
def test_the_exact_routing_race_is_the_full_matrix_flow_of_the_64_unit_network(routing,
                                                                                monkeypatch):
    """The whole 9024-weight matrix flow (DOP853 at its finest relative tolerance, 3e-14: at
    the default 1e-12 its error norm, a root mean square over mostly zero weights, lets the
    60 that carry the modes drift by 1e-6) equals the exact race to 1e-8 relative."""
    net, _ = routing
    modes, flow, values = modes_of(net, load_data(EXAMPLES / "routing-data.toml"))
    lr, c = net.training.lr, net.training.start
    start = {a: {e: c for e in es} for a, es in modes.edges.items()}
    tau = 1.0 / (modes.samples * lr)
    times = np.linspace(0.0, 300.0, 61)
    exact = flow_race(modes, start, lr, times)
    monkeypatch.setattr(gated_continuous, "RTOL", 3e-14)
    _equals_the_matrix_flow(exact, modes, flow, values, start, tau, times, rtol=1e-8,
                            atol=1e-10)


def test_a_start_whose_product_underflows_is_integrated_not_refused():
    """At b = 1e-200 on every edge a pathway's product (1e-600) underflows: no module form
    (its a0 would be 0), and the polynomial of the balanced level has a repeated root at 0,
    so the mode is integrated and says why."""
    modes, _, _ = modes_of(network_from_toml(ROUTING_SMALL), ROUTING_SMALL_DATA)
    start = {a: {e: 1e-200 for e in es} for a, es in modes.edges.items()}
    result = flow_race(modes, start, 0.01, np.linspace(0.0, 50.0, 11))
    assert set(result["solution"].values()) == {"integrated"}
    assert all("repeated root" in why for why in result["why"].values())
