"""derive(): from dataset and architecture to trajectories, observables and W* (theory.md §3–4)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from modspec.theory import architectures as arch
from modspec.theory import symbols as sy
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive, network_map
from modspec.theory.errors import ModspecError

t, tau, a0 = sy.t, sy.tau, sy.a0
D0_NORMS = [0.7273, 0.4454, 0.4454, 1.3195]
QUADS = ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")


@pytest.fixture(scope="module")
def d0():
    return CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


def _floats(d):
    return [float(d[q]) for q in QUADS]


def test_d0_dense_trajectories_equal_the_theory_sigmoids(d0):
    th = derive(d0, arch.dense())
    P, A, B = 8, 8 + 3, 8 + 1
    oracle_s = {"pi1": sp.sqrt(A * B) / P, "pi2": sp.sqrt(A) / P, "pi3": sp.sqrt(3) / P}
    oracle_l = {"pi1": sp.Rational(A, P), "pi2": sp.Rational(A, P), "pi3": sp.Rational(3, P)}
    for key, traj in th.trajectories.items():
        s, lam = oracle_s[key], oracle_l[key]
        oracle = (s / lam) / (1 - (1 - s / (lam * a0)) * sp.exp(-2 * s * t / tau))
        assert sp.simplify(traj - oracle) == 0
    fixed = [float(th.modes[k].fixed_point) for k in ("pi1", "pi2", "pi3")]
    np.testing.assert_allclose(fixed, [0.90453, 0.30151, 0.57735], atol=5e-6)
    np.testing.assert_allclose(_floats(th.converged["quadrant_norms"]), D0_NORMS, atol=5e-5)
    assert th.converged["systematic"] is False


def test_d0_split_module_a_and_converged_norms_as_dense(d0):
    th = derive(d0, arch.split())
    (mode_a,) = th.module("A").spectrum.modes
    assert abs(float(mode_a.s) - 1.17260) < 5e-6
    assert abs(float(mode_a.fixed_point) - 0.85280) < 5e-6
    np.testing.assert_allclose(_floats(th.converged["quadrant_norms"]), D0_NORMS, atol=5e-5)


def test_segregated_converges_to_the_rule_exactly_and_is_systematic(d0):
    th = derive(d0, arch.segregated())
    norms = th.converged["quadrant_norms"]
    assert norms["Gx->Oy"] == 0 and th.converged["report"]["rule_error"] == 0
    W = th.converged_map()
    ox, oy = d0.input_blocks["Ox"], d0.output_blocks["Oy"]
    np.testing.assert_allclose(W[oy[0]:oy[1], ox[0]:ox[1]], d0.selection, atol=1e-12)
    assert th.converged["systematic"] is True


def test_leaky_is_reported_coupled_without_a_closed_form(d0):
    th = derive(d0, arch.leaky())
    assert th.coupled and th.converged["coupled"] and not th.converged["closed_form"]
    assert all(v is None for v in th.trajectories.values())
    assert "quadrant_norms" not in th.observables
    assert any("Sigma_x^B,A" in str(eq) for eq in th.matrix_odes["A"])


def test_observables_at_the_fixed_points_equal_the_converged_map(d0):
    for net in (arch.dense(), arch.split(), arch.segregated(), arch.shallow()):
        th = derive(d0, net)
        values = {th.strengths[k]: m.fixed_point for k, m in th.modes.items()}
        W = th.converged_map()
        for q in QUADS:
            i, o = q.split("->")
            rows, cols = d0.output_blocks[o], d0.input_blocks[i]
            block = W[rows[0]:rows[1], cols[0]:cols[1]]
            expr = th.observables["quadrant_norms"][q].subs(values)
            assert abs(float(expr) - np.linalg.norm(block)) < 1e-10
            assert abs(float(th.converged["quadrant_norms"][q]) - np.linalg.norm(block)) < 1e-10


def test_shallow_and_deep_reach_the_same_converged_map(d0):
    deep = derive(d0, arch.dense()).converged_map()
    shallow = derive(d0, arch.shallow()).converged_map()
    minimum_norm = d0.Y @ np.linalg.pinv(d0.X)
    np.testing.assert_allclose(deep, shallow, atol=1e-12)
    np.testing.assert_allclose(deep, minimum_norm, atol=1e-12)


def test_symbolic_dense_converged_norms_match_theory_section_4_4():
    th = derive(CompositionalDataset.symbolic(), arch.dense())
    P = 2**sy.nx
    A = P + sy.kx * sy.rx**2
    gx_oy = sy.rx * sp.sqrt(sy.ny * sy.kx * P) / A
    assert sp.simplify(th.converged["quadrant_norms"]["Gx->Oy"] - gx_oy) == 0
    rule = sy.kx * sy.rx**2 * sp.sqrt(sy.ny) / A
    assert sp.simplify(th.converged["report"]["rule_error"] - rule) == 0


def _check_trajectory(traj, mode, depth):
    """ODE satisfied identically, a(0) = a0, a(∞) = s/λ."""
    a = traj
    rhs = depth * a ** (2 - sp.Rational(2, depth)) * (mode.s - mode.lam * a)
    residual = tau * sp.diff(a, t) - rhs
    assert sp.simplify(residual) == 0
    assert sp.simplify(a.subs(t, 0) - a0) == 0
    assert sp.simplify(sp.limit(a, t, sp.oo) - mode.s / mode.lam) == 0


@pytest.mark.parametrize("net", [arch.dense(), arch.shallow(), arch.split(1)],
                         ids=["dense", "shallow", "split1"])
def test_every_trajectory_solves_its_ode_from_a0_to_the_fixed_point(d0, net):
    th = derive(d0, net)
    for md in th.modules:
        for m in md.spectrum.modes:
            _check_trajectory(th.trajectories[md.keys[m.label]], m, md.module.depth)


def test_symbolic_dense_trajectories_equal_theory_section_4_2():
    th = derive(CompositionalDataset.symbolic(), arch.dense())
    P = 2**sy.nx
    A, B = P + sy.kx * sy.rx**2, P + sy.ky * sy.ry**2
    table = {"pi1": (sp.sqrt(A * B) / P, A / P),
             "pi2": (sy.ry * sp.sqrt(sy.ky * A) / P, A / P),
             "pi3": (sy.rx * sy.ry * sp.sqrt(sy.kx * sy.ky) / P, sy.kx * sy.rx**2 / P)}
    for key, (s, lam) in table.items():
        oracle = (s / lam) / (1 - (1 - s / (lam * a0)) * sp.exp(-2 * s * t / tau))
        assert sp.simplify(th.trajectories[key] - oracle) == 0, key
    shallow = derive(CompositionalDataset.symbolic(), arch.shallow())
    s, lam = table["pi3"]
    oracle = (s / lam) * (1 - sp.exp(-lam * t / tau)) + a0 * sp.exp(-lam * t / tau)
    assert sp.simplify(shallow.trajectories["pi3"] - oracle) == 0


@pytest.mark.parametrize(("rx", "ry"), [(1, 2), (sp.Rational(1, 2), 3), (2, 0), (0, 1)])
@pytest.mark.parametrize("name", ["dense", "split", "segregated"])
def test_observables_equal_block_norms_and_losses_of_the_map_for_any_strengths(name, rx, ry):
    """rx ≠ ry included: quadrant norms and block losses of W = Σ a U Vᵀ, random a."""
    ds = CompositionalDataset(nx=2, ny=1, kx=2, ky=1, rx=rx, ry=ry)
    th = derive(ds, arch.architecture(name))
    rng = np.random.default_rng(len(name))
    values = {k: float(rng.uniform(0.1, 2.0)) for k in th.strengths}
    W = network_map(th, values)
    subs = {th.strengths[k]: v for k, v in values.items()}
    X, Y = ds.X, ds.Y
    for q in QUADS:
        i, o = q.split("->")
        block = W[slice(*ds.output_blocks[o]), slice(*ds.input_blocks[i])]
        assert abs(float(th.observables["quadrant_norms"][q].subs(subs))
                   - np.linalg.norm(block)) < 1e-10
    err = Y - W @ X
    for block, name_ in (("Oy", "compositional"), ("Gy", "noncompositional")):
        rows = slice(*ds.output_blocks[block])
        per_sample = np.sum(err[rows] ** 2) / ds.P
        assert abs(float(th.observables["loss"][name_].subs(subs)) - per_sample) < 1e-10


def test_custom_network_with_a_pure_rule_module_is_systematic(d0):
    net = arch.Network((arch.Module(("Ox",), ("Oy",), 2, "rule"),
                        arch.Module(("Ox", "Gx"), ("Gy",), 1, "memory")))
    th = derive(d0, net)
    assert not th.coupled and th.converged["systematic"] is True
    assert set(th.trajectories) == {"rule:pi1", "memory:pi1+pi2", "memory:pi3"}
    W = th.converged_map()
    np.testing.assert_allclose(W[:1, :3], d0.selection, atol=1e-12)
    np.testing.assert_allclose(W[1:], (d0.Y @ np.linalg.pinv(d0.X))[1:], atol=1e-12)


def test_general_data_derive_gives_the_minimum_norm_map():
    from modspec.theory.dataset import Dataset

    X = np.array([[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]])
    ds = Dataset(X, np.ones((1, 4)))
    th = derive(ds, arch.Network((arch.Module(("x",), ("y",), 2, "m"),)))
    np.testing.assert_allclose(th.converged_map(), ds.Y @ np.linalg.pinv(ds.X), atol=1e-12)
    (traj,) = th.trajectories.values()
    assert abs(float(traj.subs({t: 0, a0: 0.25, tau: 1})) - 0.25) < 1e-12


def test_bad_network_is_rejected_with_a_clear_error(d0):
    with pytest.raises(ModspecError, match="written by no module"):
        derive(d0, arch.Network((arch.Module(("Ox",), ("Oy",), 2, "A"),)))
    with pytest.raises(ModspecError, match="network"):
        derive(d0, "dense")


def test_observables_are_derived_once_when_first_read(d0, monkeypatch):
    """``derive`` leaves the observables to their first reader (``modspec derive`` shows none
    of them): nothing is simplified until then, exactly once, and the mapping reads as the
    dict it stands for."""
    from modspec.theory import derivation

    calls = []
    real = derivation.observables_of

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(derivation, "observables_of", counted)
    th = derive(d0, arch.dense())
    assert calls == []
    norms = th.observables["quadrant_norms"]
    assert set(norms) == {"Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy"}
    assert set(th.observables) == {"quadrant_norms", "loss", "systematicity"}
    assert th.observables.get("loss") is th.observables["loss"] and bool(th.observables)
    assert calls == [1]
    assert derive(d0, arch.leaky()).observables == {}          # coupled: none at all
