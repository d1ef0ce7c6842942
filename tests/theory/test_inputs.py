"""Bad input to the theory's public API: one ModspecError naming the parameter, before any work.

Sizes are checked before anything is computed with them (no 2**nx of a huge nx, no derivation
of a depth whose implicit solution SymPy cannot find), and scales whose results would not be
finite, non-zero float64 numbers are refused.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

import modspec as ms
import modspec.theory as theory
from modspec.theory import architectures as arch
from modspec.theory import symbols as sy
from modspec.theory.dataset import MAX_LOG2

BASE = {"nx": 3, "ny": 1, "kx": 3, "ky": 1}


@pytest.mark.parametrize("param, value", [
    ("nx", True), ("ny", False), ("kx", np.bool_(True)), ("nx", 1_000_000),
    ("nx", 10_000_000_000), ("nx", 3.5), ("nx", "3"), ("nx", None), ("nx", float("inf")),
    pytest.param("kx", 10**5000, id="kx-huge"), ("ky", -1), ("r", True), ("r", "1"),
    ("r", -1), ("r", 1j), ("r", sp.I), ("r", sp.true), ("rx", float("nan")), ("ry", float("inf")),
])
def test_bad_family_parameters_are_refused_naming_the_parameter(param, value):
    start = time.perf_counter()
    with pytest.raises(ms.ModspecError, match=rf"^{param}=.* is invalid: "):
        ms.CompositionalDataset(**(BASE | {param: value}))
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("param, value, names", [
    ("r", 1e300, "kx·rx²"), ("r", 1e-300, "kx·rx²"), ("ry", 1e200, "ky·ry²"),
    ("rx", 1e-100, "kx·rx²"),
])
def test_scales_whose_results_overflow_float64_are_refused(param, value, names):
    with pytest.raises(ms.ModspecError, match=rf"^{param}=.*{names} = .* within 2\*\*±255"):
        ms.CompositionalDataset(**(BASE | {param: value}))


@given(nx=st.integers(1, MAX_LOG2), log_r=st.floats(-30, 30), kx=st.integers(0, 10**6),
       ky=st.integers(0, 10**6))
@example(nx=MAX_LOG2, log_r=-30, kx=1, ky=0)
@example(nx=1, log_r=30, kx=10**6, ky=10**6)
@example(nx=16, log_r=0.0, kx=0, ky=0)   # small X, yet a P × P basis of 4e9 entries
# integers SymPy 1.14 cannot take the square root of (its factor cache rejects a cofactor)
@example(nx=255, log_r=6.952165692086943, kx=1, ky=297479)
@example(nx=200, log_r=0.0, kx=1023, ky=491745)
def test_every_accepted_dataset_has_a_finite_spectrum(nx, log_r, kx, ky):
    """Whatever the checks accept gives finite float64 values (s, λ, a*) with positive s."""
    ds = ms.CompositionalDataset(nx=nx, ny=min(1, nx), kx=kx, ky=ky, r=10.0**log_r)
    spec = ms.spectrum(ds)
    for value, mult in spec.distinct_singular_values():
        assert np.isfinite(value) and value > 0 and mult >= 1
    for m in spec.modes:
        assert np.isfinite(float(m.lam)) and np.isfinite(float(m.fixed_point))


def test_the_largest_size_gives_exact_modes_without_building_arrays():
    """nx = 255 (P = 2**255 objects) answers through the Walsh atoms, exactly: π1 has
    s = sqrt((P + kx)(P + ky))/P, nowhere near the zero a rounded route gives."""
    start = time.perf_counter()
    ds = ms.CompositionalDataset(nx=MAX_LOG2, ny=1, kx=3, ky=1)
    pairs = ms.spectrum(ds).distinct_singular_values()
    assert time.perf_counter() - start < 5
    P = 2**MAX_LOG2
    assert [k for _, k in pairs] == [1, MAX_LOG2 - 1, P - MAX_LOG2]
    assert pairs[0][0] == pytest.approx(1.0, rel=1e-15)
    assert pairs[2][0] == pytest.approx(np.sqrt(3) / P, rel=1e-12)
    with pytest.raises(ms.ModspecError, match="distinct_singular_values"):
        ms.spectrum(ds).singular_values()


def test_values_with_multiplicities_expand_to_the_listed_values(d0):
    spec = ms.spectrum(d0)
    np.testing.assert_allclose(
        spec.singular_values(), np.repeat(*zip(*spec.distinct_singular_values(), strict=True)))
    variances = spec.distinct_input_variances()
    assert sum(k for _, k in variances) == 27 and variances[-1] == (0.0, 19)


@pytest.mark.parametrize("kw, param", [
    ({"nx": -1}, "nx"), ({"nx": 3.5}, "nx"), ({"nx": 3, "ny": 5}, "ny"), ({"r": -1}, "r"),
    ({"rx": -1}, "rx"), ({"nx": True}, "nx"), ({"r": 1e300, "kx": 3}, "r"), ({"tau": "x"}, "tau"),
    ({"zz": 1}, "parameter"),
])
def test_symbolic_spectrum_substitution_is_checked_like_the_dataset(kw, param):
    with pytest.raises(ms.ModspecError, match=rf"^{param}="):
        ms.spectrum(ms.CompositionalDataset.symbolic()).subs(**kw)


def test_symbolic_spectrum_substituted_with_r_sets_both_scales_and_keeps_singular_values_positive():
    spec = ms.spectrum(ms.CompositionalDataset.symbolic()).subs(nx=3, ny=1, kx=3, ky=1, r=2,
                                                               ry=3)
    direct = ms.spectrum(ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, rx=2, ry=3))
    assert [m.s for m in spec.modes] == [m.s for m in direct.modes]
    assert all(m.s > 0 for m in spec.modes)


@pytest.mark.parametrize("depth", [0, 7, 100, 2.0, True])
def test_depths_without_a_derivable_mode_dynamics_are_refused_at_once(depth):
    start = time.perf_counter()
    with pytest.raises(ms.ModspecError, match=rf"^depth={depth!r} is invalid: .*\[1, 6\]"):
        arch.dense(depth)
    assert time.perf_counter() - start < 0.1


@pytest.mark.parametrize("call, param", [
    (lambda: ms.Dataset("abc", np.eye(2)), "X"),
    (lambda: ms.Dataset([[1, 2], [3]], np.eye(2)), "X"),
    (lambda: ms.Dataset(np.eye(2) * 1j, np.eye(2)), "X"),
    (lambda: ms.Dataset(np.eye(2), np.eye(2), {"a": 5}), "input_blocks"),
    (lambda: ms.Dataset(np.eye(2), np.eye(2), [(0, 2)]), "input_blocks"),
    (lambda: ms.Dataset(np.eye(2), np.eye(2), None, {"a": ("0", "x")}), "output_blocks"),
    (lambda: ms.spectrum(ms.CompositionalDataset(**BASE), inputs=5), "inputs"),
    (lambda: ms.spectrum(None), "dataset"),
    (lambda: ms.spectrum(np.eye(3)), "dataset"),
    (lambda: ms.derive(None, arch.dense()), "dataset"),
    (lambda: ms.Module(3, "Oy"), "inputs"),
    (lambda: ms.Module(("Ox",), ("Oy",), 2, 5), "name"),
    (lambda: ms.Network("abc"), "modules"),
    (lambda: ms.Network(None), "modules"),
    (lambda: ms.Network((1, 2)), "modules"),
    (lambda: ms.spectrum(ms.CompositionalDataset(**BASE)).subs(5), "values"),
    (lambda: ms.CompositionalDataset(**BASE, output_features="a"), "output_features"),
])
def test_public_api_raises_modspec_error_for_bad_values(call, param):
    with pytest.raises(ms.ModspecError, match=rf"^{param}="):
        call()


def test_a_single_block_name_is_one_block():
    assert ms.Module("Ox", "Oy").inputs == ("Ox",)
    assert ms.spectrum(ms.CompositionalDataset(**BASE), inputs="Ox").inputs == ("Ox",)


def test_converged_map_of_a_symbolic_dataset_is_a_user_error():
    th = ms.derive(ms.CompositionalDataset.symbolic(), arch.segregated())
    with pytest.raises(ms.ModspecError, match="numeric dataset"):
        th.converged_map()


def test_dir_shows_public_names_only():
    for module in (ms, theory):
        names = dir(module)
        assert {"Any", "annotations", "importlib"}.isdisjoint(names)
        assert {"CompositionalDataset", "spectrum", "derive"} <= set(names)
    assert "numerics" in dir(ms) and "__version__" in dir(ms)


def test_exact_numbers_keep_the_decimal_a_user_wrote():
    spec = ms.spectrum(ms.CompositionalDataset(**BASE, r=0.1))
    assert spec.modes[0].lam == sp.Rational(803, 800)
    assert not spec.modes[0].s.has(sp.Float)
    assert sy.parse("lam") == sy.lam


def test_square_roots_sympy_1_14_cannot_take_are_taken_once_modspec_is_imported():
    """SymPy 1.14's factor cache refuses the composite cofactors its limited factorisation
    finds (sympy/sympy#28621); modspec.theory installs the upstream fix (primes only)."""
    import sympy as sp

    import modspec.theory.symbols  # noqa: F401  (installs the fix)

    product = sp.sqrt(989034254522489566) * sp.sqrt(989034254830458946) / 10**18
    assert abs(float(product) - 0.98903425467647) < 1e-12
    ds = ms.CompositionalDataset(nx=200, ny=1, kx=1023, ky=491745, r=1.0)
    assert np.isfinite(float(ms.derive(ds, ms.architectures.dense()).modes["pi1"].s))
