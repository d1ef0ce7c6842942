"""Symbolic predictors of every family equal the numeric derivation at the same point, modes
that do not exist at a point included (issue 19: P and the symbols from the dataset; issue 23:
no NaN, no trace of absent modes)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import modspec as ms
from modspec.theory import architectures as arch
from modspec.theory import families as fam
from modspec.theory.derivation import validity
from modspec.theory.errors import ModspecError

T = np.array([0.0, 30.0, 300.0, 1e5])
LR, A0 = 0.02, 1e-3


@pytest.fixture(scope="module")
def compositional():
    return ms.compile(ms.derive(ms.CompositionalDataset.symbolic(), arch.dense()))


def _numeric(dataset, network=None):
    network = network or ms.family_network("dense", dataset)
    return ms.compile(ms.derive(dataset, network))(T, lr=LR, a0=A0)


def _assert_same(symbolic, numeric):
    """Every observable equal; every mode the numeric derivation has equal, every other one 0
    (it does not exist at this point)."""
    for group in ("quadrant_norms", "loss"):
        want, got = getattr(numeric, group), getattr(symbolic, group)
        assert set(got) == set(want)
        for k, v in want.items():
            assert np.all(np.isfinite(got[k])), (group, k)
            np.testing.assert_allclose(got[k], v, rtol=1e-9, atol=1e-12, err_msg=f"{group} {k}")
    for k, v in symbolic.modes.items():
        assert np.all(np.isfinite(v)), k
        want = numeric.modes.get(k, np.zeros_like(T))
        np.testing.assert_allclose(v, want, rtol=1e-9, atol=1e-15, err_msg=f"mode {k}")
    np.testing.assert_allclose(symbolic.tau, numeric.tau, rtol=1e-14)


SIZES = st.integers(1, 3).flatmap(lambda nx: st.tuples(
    st.just(nx), st.integers(0, nx), st.integers(0, 3), st.integers(0, 3),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.sampled_from([0.0, 0.5, 1.0, 2.0])))


@settings(max_examples=10, deadline=None)
@given(SIZES)
@example((3, 1, 0, 1, 1.0, 1.0))   # kx = 0: no π3 (it was NaN, Gx→Gy NaN, loss NaN)
@example((3, 1, 3, 0, 1.0, 1.0))   # ky = 0: no π2, π3 (Ox→Gy was NaN)
@example((3, 1, 3, 1, 0.0, 1.0))   # rx = 0: no π3 (Gx→Gy kept its start)
@example((3, 1, 3, 1, 1.0, 0.0))   # ry = 0
@example((2, 2, 2, 2, 1.0, 1.0))   # ny = nx: no π2
@example((1, 0, 0, 0, 0.0, 0.0))   # nothing but the features
def test_the_symbolic_compositional_predictor_equals_the_numeric_derivation(compositional,
                                                                           point):
    nx, ny, kx, ky, rx, ry = point
    got = compositional(T, lr=LR, a0=A0, nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry)
    _assert_same(got, _numeric(ms.CompositionalDataset(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx,
                                                       ry=ry), arch.dense()))


def test_the_degenerate_points_of_the_issue_give_the_numeric_values(compositional):
    end = compositional(np.array([1e5]), lr=LR, a0=A0, nx=3, ny=1, kx=0, ky=1, r=1)
    assert end.modes["pi3"][-1] == 0.0 and end.quadrant_norms["Gx->Gy"][-1] == 0.0
    assert end.loss["noncompositional"][-1] == pytest.approx(0.625, rel=1e-12)
    end = compositional(np.array([1e5]), lr=LR, a0=A0, nx=3, ny=1, kx=3, ky=0, r=1)
    assert end.quadrant_norms["Ox->Gy"][-1] == 0.0
    end = compositional(np.array([1e5]), lr=LR, a0=A0, nx=3, ny=1, kx=3, ky=1, rx=0, ry=1)
    assert end.quadrant_norms["Gx->Gy"][-1] == 0.0


def test_a_batch_mixing_present_and_absent_modes_is_finite_and_exact(compositional):
    kx = np.array([0.0, 1.0, 3.0])
    pr = compositional(T, lr=LR, a0=A0, nx=3, ny=1, kx=kx, ky=1, r=1)
    assert pr.modes["pi3"].shape == (3, len(T))
    for i, k in enumerate(kx):
        one = compositional(T, lr=LR, a0=A0, nx=3, ny=1, kx=k, ky=1, r=1)
        for key, v in one.modes.items():
            np.testing.assert_allclose(pr.modes[key][i], v, rtol=1e-12, atol=0)
    assert np.all(pr.modes["pi3"][0] == 0) and np.all(pr.modes["pi3"][1:, 1:] > A0)


@pytest.mark.parametrize("spec, points", [
    ({"family": "hierarchical", "levels": 3, "branching": 2, "features": 1, "r": 1},
     [{"c": 2, "f": 1, "r": 1.0}, {"c": 3, "f": 2, "r": 0.5}, {"c": 2, "f": 0, "r": 1.0},
      {"c": 2, "f": 1, "r": 0.0}]),
    ({"family": "parity", "nx": 3, "outputs": [[0], [0, 1]], "kx": 1, "ky": 1, "r": 1},
     [{"nx": 3, "kx": 2, "ky": 1, "r": 0.7}, {"nx": 2, "kx": 0, "ky": 1, "r": 1.0},
      {"nx": 3, "kx": 1, "ky": 0, "r": 1.0}, {"nx": 3, "kx": 1, "ky": 1, "r": 0.0}]),
])
def test_symbolic_compile_of_every_family_equals_its_numeric_derivation(spec, points):
    symbolic = fam.symbolic(spec)
    f = ms.compile(ms.derive(symbolic, ms.family_network("dense", symbolic)))
    names = {v.name: k for k, v in dict(symbolic.params).items() if isinstance(v, sp.Symbol)}
    assert {p.name for p in f.params} == set(names)      # the dataset's own symbols
    params = {k: v for k, v in spec.items() if k != "family"}
    for point in points:
        numeric = fam.FAMILIES[spec["family"]](**(params | {names[k]: v
                                                            for k, v in point.items()}))
        _assert_same(f(T, lr=LR, a0=A0, **point), _numeric(numeric))


def test_a_parameter_not_of_the_family_is_refused_naming_the_familys_own():
    symbolic = fam.symbolic({"family": "hierarchical", "levels": 3, "branching": 2,
                             "features": 1, "r": 1})
    f = ms.compile(ms.derive(symbolic, ms.family_network("dense", symbolic)))
    with pytest.raises(ModspecError, match=r"parameter='nx'.*lr, a0, c, f, r$") as err:
        f(T, lr=LR, a0=A0, c=2, f=1, r=1, nx=3)
    assert "\n" not in str(err.value)
    with pytest.raises(ModspecError, match="'f'|f="):
        f(T, lr=LR, a0=A0, c=2, r=1)


def test_hierarchical_modes_exist_only_with_features_and_a_scale():
    symbolic = fam.symbolic({"family": "hierarchical", "levels": 3, "branching": 2,
                             "features": 1, "r": 1})
    th = ms.derive(symbolic, ms.family_network("dense", symbolic))
    assert "f >= 0" in validity(th)["domain"]
    for cond in validity(th)["modes"].values():
        assert "f > 0" in cond and "r > 0" in cond
    for mode in fam.hierarchical_levels():          # any number of levels D
        args = set(sp.And.make_args(mode.condition))
        assert sp.Gt(fam.f, 0) in args and sp.Gt(ms.theory.symbols.r, 0) in args
    root, level = fam.hierarchical_levels(3, 2, 0, 1)
    assert root.condition == sp.false and level.condition == sp.false


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_deep_symbolic_modes_absent_at_a_point_are_zero_there(time):
    """Depth 3 (implicit solutions, exact per-epoch maps): the same at a degenerate point."""
    f = ms.compile(ms.derive(ms.CompositionalDataset.symbolic(), arch.dense(3)))
    numeric = ms.compile(ms.derive(ms.CompositionalDataset(nx=3, ny=1, kx=0, ky=1, r=1),
                                   arch.dense(3)))
    t = np.array([0.0, 100.0, 1000.0])
    got = f(t, lr=LR, a0=A0, time=time, nx=3, ny=1, kx=0, ky=1, r=1)
    want = numeric(t, lr=LR, a0=A0, time=time)
    assert np.all(got.modes["pi3"] == 0)
    for k, v in want.modes.items():
        np.testing.assert_allclose(got.modes[k], v, rtol=1e-8)
    for group in ("quadrant_norms", "loss"):
        for k, v in getattr(want, group).items():
            np.testing.assert_allclose(getattr(got, group)[k], v, rtol=1e-8, atol=1e-12)
