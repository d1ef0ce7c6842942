"""The spectrum derived by the projector algebra (theory.md §3) against its oracles."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

import modspec as ms
from modspec.theory import symbols as sy

P = 2**sy.nx
A = P + sy.kx * sy.rx**2
B = P + sy.ky * sy.ry**2
ORACLE = {  # theory.md §3.2, used only to check what the library derives
    "pi1": (sp.sqrt(A * B) / P, A / P, sy.ny),
    "pi2": (sy.ry * sp.sqrt(sy.ky * A) / P, A / P, sy.nx - sy.ny),
    "pi3": (sy.rx * sy.ry * sp.sqrt(sy.kx * sy.ky) / P, sy.kx * sy.rx**2 / P, P - sy.nx),
}


def test_symbolic_spectrum_equals_the_closed_forms_of_the_theory():
    spec = symbolic_spectrum()
    assert [m.label for m in spec.modes] == ["pi1", "pi2", "pi3"]
    for m in spec.modes:
        s, lam, mult = ORACLE[m.label]
        assert sp.simplify(m.s - s) == 0
        assert sp.simplify(m.lam - lam) == 0
        assert sp.simplify(m.multiplicity - mult) == 0
        assert sp.simplify(m.fixed_point - s / lam) == 0


def test_symbolic_modes_state_when_they_exist():
    spec = symbolic_spectrum()
    cond = {m.label: m.condition for m in spec.modes}
    assert cond["pi1"] == sp.Gt(sy.ny, 0)
    assert cond["pi2"].subs({sy.ky: 0}) is sp.false
    assert cond["pi2"].subs({sy.ky: 1, sy.ry: 1, sy.nx: 3, sy.ny: 1}) is sp.true
    assert cond["pi3"].subs({sy.kx: 0}) is sp.false


def test_d0_spectrum_matches_the_reference_numbers(d0):
    spec = ms.spectrum(d0)
    np.testing.assert_allclose([float(m.s) for m in spec.modes], [1.24373, 0.41458, 0.21651],
                               atol=5e-6)
    assert [int(m.multiplicity) for m in spec.modes] == [1, 2, 5]
    np.testing.assert_allclose([float(m.lam) for m in spec.modes], [1.375, 1.375, 0.375])
    np.testing.assert_allclose([float(m.fixed_point) for m in spec.modes],
                               [0.90453, 0.30151, 0.57735], atol=5e-6)


def test_numeric_spectrum_is_exact_sympy_numbers(d0):
    spec = ms.spectrum(d0)
    assert spec.modes[2].s == sp.sqrt(3) / 8
    assert spec.modes[0].lam == sp.Rational(11, 8)


@functools.cache
def symbolic_spectrum():
    """The symbolic family's spectrum, derived once for the tests of this file (the same
    derivation each time; its values are checked by every test that uses it)."""
    return ms.spectrum(ms.CompositionalDataset.symbolic())


family = st.integers(1, 6).flatmap(
    lambda nx: st.tuples(
        st.just(nx), st.integers(0, nx), st.integers(0, 4), st.integers(0, 4),
        st.floats(0.05, 3.0), st.floats(0.05, 3.0),
    )
)


@given(family)
@example((3, 1, 3, 1, 1.0, 1.0))
@example((2, 0, 2, 1, 1.0, 1.0))   # ny = 0
@example((3, 3, 2, 2, 1.5, 0.5))   # ny = nx, rx != ry
@example((3, 1, 0, 2, 1.0, 1.0))   # kx = 0
@example((3, 1, 2, 0, 1.0, 1.0))   # ky = 0
@example((1, 1, 0, 0, 1.0, 1.0))   # no identity structure at all
def test_symbolic_spectrum_evaluated_matches_numpy_svd_and_eig(params):
    nx, ny, kx, ky, rx, ry = params
    rx, ry = sp.Rational(str(round(rx, 3))), sp.Rational(str(round(ry, 3)))
    ds = ms.CompositionalDataset(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry)
    spec = symbolic_spectrum().subs(ds.sympy_params)
    X, Y = ds.X, ds.Y
    Pn = X.shape[1]
    sxy = Y @ X.T / Pn
    sx = X @ X.T / Pn
    sv = np.linalg.svd(sxy, compute_uv=False) if sxy.size else np.zeros(0)
    sv = sv[sv > 1e-9 * max(1.0, sv.max(initial=0))]
    np.testing.assert_allclose(spec.singular_values(), sv, rtol=1e-10)
    np.testing.assert_allclose(spec.input_variances(), np.linalg.eigvalsh(sx)[::-1],
                               rtol=1e-10, atol=1e-10)


@given(family)
@example((3, 3, 2, 2, 1.5, 0.5))
@example((2, 0, 0, 1, 1.0, 1.0))
def test_analytic_vectors_reconstruct_sigma_yx_and_diagonalise_sigma_x(params):
    nx, ny, kx, ky, rx, ry = params
    ds = ms.CompositionalDataset(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry)
    spec = ms.spectrum(ds)
    X, Y = ds.X, ds.Y
    Pn = X.shape[1]
    np.testing.assert_allclose(spec.sigma_yx(), Y @ X.T / Pn, atol=1e-10)
    np.testing.assert_allclose(spec.sigma_x(), X @ X.T / Pn, atol=1e-10)
    for m in spec.modes:
        np.testing.assert_allclose(m.V.T @ m.V, np.eye(m.V.shape[1]), atol=1e-10)
        np.testing.assert_allclose(m.U.T @ m.U, np.eye(m.U.shape[1]), atol=1e-10)
        np.testing.assert_allclose(X @ X.T / Pn @ m.V, float(m.lam) * m.V, atol=1e-10)


def test_pi1_right_vectors_mix_features_with_identity_units(d0):
    v = ms.spectrum(d0).modes[0].V[:, 0]
    assert np.count_nonzero(np.abs(v[:3]) > 1e-12) == 1
    assert np.all(np.abs(v[3:]) > 1e-12)
    pi3 = ms.spectrum(d0).modes[2].V
    np.testing.assert_allclose(pi3[:3], 0, atol=1e-12)


@pytest.mark.parametrize(
    "inputs, outputs, expected",
    [
        (("Ox", "Gx"), ("Oy",), [(1.17260, 1.375, 1, 0.85280)]),
        (("Ox",), ("Oy",), [(1.0, 1.0, 1, 1.0)]),
        (("Gx",), ("Gy",), [(np.sqrt(3) / 8, 3 / 8, 8, 1 / np.sqrt(3))]),
        (("Ox", "Gx"), ("Gy",), [(np.sqrt(11) / 8, 1.375, 3, np.sqrt(1 / 11)),
                                 (np.sqrt(3) / 8, 0.375, 5, 1 / np.sqrt(3))]),
    ],
)
def test_module_spectra_of_output_split_and_segregated_modules(d0, inputs, outputs, expected):
    spec = ms.spectrum(d0, inputs, outputs)
    got = [(float(m.s), float(m.lam), int(m.multiplicity), float(m.fixed_point))
           for m in spec.modes]
    np.testing.assert_allclose(got, expected, atol=5e-6)


def test_output_split_module_b_has_pi2_type_modes_for_all_features():
    spec = ms.spectrum(ms.CompositionalDataset.symbolic(), ("Ox", "Gx"), ("Gy",))
    first = spec.modes[0]
    assert first.label == "pi1+pi2"
    assert sp.simplify(first.multiplicity - sy.nx) == 0
    assert sp.simplify(first.s - ORACLE["pi2"][0]) == 0


def test_unknown_module_block_is_rejected(d0):
    with pytest.raises(ms.ModspecError, match="^inputs='Zx'"):
        ms.spectrum(d0, ("Zx",), ("Oy",))


@pytest.mark.parametrize("exact", [False, True])
def test_general_dataset_route_agrees_with_the_walsh_route(exact):
    fam = ms.CompositionalDataset(nx=2, ny=1, kx=2, ky=1, r=1)
    gen = ms.spectrum(fam.to_dataset(), exact=exact)
    ref = ms.spectrum(fam)
    assert len(gen.modes) == len(ref.modes)
    for a, b in zip(gen.modes, ref.modes, strict=True):
        assert int(a.multiplicity) == int(b.multiplicity)
        assert abs(float(a.s) - float(b.s)) < 1e-12
        assert abs(float(a.lam) - float(b.lam)) < 1e-12
        if exact:
            assert sp.simplify(a.s - b.s) == 0
    X = fam.X
    np.testing.assert_allclose(gen.sigma_yx(), fam.Y @ X.T / 4, atol=1e-12)


def test_general_dataset_with_non_commuting_grams_is_refused():
    rng = np.random.default_rng(0)
    ds = ms.Dataset(rng.normal(size=(3, 4)), rng.normal(size=(2, 4)))
    with pytest.raises(ms.ModspecError, match="do not commute"):
        ms.spectrum(ds)


def test_spectrum_latex_names_every_mode():
    tex = symbolic_spectrum().to_latex()
    assert tex.startswith("\\begin{align*}") and tex.count("\\\\") == 2
    for k in ("\\pi_1", "\\pi_2", "\\pi_3"):
        assert k in tex


@pytest.mark.parametrize("ds", [ms.CompositionalDataset(nx=3, ny=2, kx=2, ky=1, rx=0.5, ry=2),
                                ms.CompositionalDataset(nx=2, ny=1, kx=0, ky=3, r=1)])
def test_block_gram_matrices_are_the_atom_coefficients_on_their_projectors(ds):
    """Each block's Gram matrix X_Bᵀ X_B equals Σ_g c_B(g) Π_g (the projector algebra)."""
    from modspec.theory.projectors import sample_space

    space = sample_space(ds)
    for side, blocks in ((ds.X, ds.input_blocks), (ds.Y, ds.output_blocks)):
        for name, (a, b) in blocks.items():
            np.testing.assert_allclose(space.gram_matrix(name), side[a:b].T @ side[a:b],
                                       atol=1e-12)


# ------------------------------------------------------------ distinct values (issue 23)
def _distinct(values: np.ndarray) -> list[tuple[float, int]]:
    """Values of a NumPy decomposition merged within a relative 1e-9, with their counts."""
    out: list[list[float]] = []
    for v in sorted(values, reverse=True):
        if out and abs(out[-1][0] - v) <= 1e-9 * max(abs(v), abs(out[-1][0]), 1e-300):
            out[-1][1] += 1
        else:
            out.append([float(v), 1])
    return [(v, k) for v, k in out]


@pytest.mark.parametrize("outputs, expected", [
    ([[0, 1]], [(np.sqrt(5) / 4, 3), (0.25, 1)]),
    ([[0], [0], [0, 1]], [(3 * np.sqrt(5) / 4, 1), (np.sqrt(5) / 4, 2), (0.25, 1)]),
    ([[1, 0], [0, 1]], [(0.75, 1), (np.sqrt(5) / 4, 2), (0.25, 1)]),
])
def test_distinct_singular_values_merge_modes_sharing_a_value(outputs, expected):
    # two modes of a parity dataset share s = √5/4 (different λ): one value, multiplicities
    # summed (was [(0.559, 2), (0.559, 1), (0.25, 1)])
    spec = ms.spectrum(ms.parity(2, outputs, 1, 1, 1))
    got = spec.distinct_singular_values()
    assert [k for _, k in got] == [k for _, k in expected]
    np.testing.assert_allclose([v for v, _ in got], [v for v, _ in expected], rtol=1e-12)
    values = [v for v, _ in spec.distinct_input_variances()]
    assert all(a > b for a, b in zip(values, values[1:], strict=False)), values


parity_outputs = st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
                          min_size=1, max_size=4)


@given(st.integers(2, 3), parity_outputs, st.integers(0, 2), st.integers(0, 2),
       st.sampled_from([1, 2]))
@example(2, [[0, 1]], 1, 1, 1)
@example(2, [[0], [0], [0, 1]], 1, 1, 1)
@example(2, [[0]], 0, 0, 1)          # no identity blocks
def test_distinct_values_are_those_of_numpy_with_their_counts(nx, outputs, kx, ky, r):
    outputs = [[i for i in o if i < nx] or [0] for o in outputs]
    ds = ms.parity(nx, outputs, kx, ky, r)
    spec = ms.spectrum(ds)
    X, Y = np.asarray(ds.X, dtype=float), np.asarray(ds.Y, dtype=float)
    Pn = X.shape[1]
    sv = np.linalg.svd(Y @ X.T / Pn, compute_uv=False)
    sv = sv[sv > 1e-9 * max(1.0, sv.max(initial=0))]
    got = spec.distinct_singular_values()
    want = _distinct(sv)
    assert [k for _, k in got] == [k for _, k in want]
    np.testing.assert_allclose([v for v, _ in got], [v for v, _ in want], rtol=1e-9)
    ev = np.linalg.eigvalsh(X @ X.T / Pn)
    ev = np.where(np.abs(ev) < 1e-12, 0.0, ev)
    got = spec.distinct_input_variances()
    want = _distinct(ev)
    assert [k for _, k in got] == [k for _, k in want]
    np.testing.assert_allclose([v for v, _ in got], [v for v, _ in want], rtol=1e-9, atol=1e-12)


def test_merge_equal_is_exact_for_exact_numbers_and_tolerant_for_floats():
    from modspec.theory.spectra import merge_equal

    root = sp.sqrt(5) / 4
    assert merge_equal([(root, 1), (sp.Rational(1, 4), 1), (sp.sqrt(80) / 16, 2)]) == [
        (root, 3), (sp.Rational(1, 4), 1)]
    # exact numbers 1e-15 apart are different values; floats that close are one
    tiny = sp.Rational(1, 10**15)
    assert len(merge_equal([(root, 1), (root + tiny, 1)])) == 2
    ((value, k),) = merge_equal([(sp.Float(0.5), 1), (sp.Float(0.5 + 1e-13), 2)])
    assert k == 3 and abs(value - 0.5) < 1e-12


def test_derive_json_lists_modes_sharing_s_and_lambda_once():
    # atoms with different block Grams (Ox 2, Gx 0 and Ox 0, Gx 2) but equal totals: two
    # modes with one s and one λ, so one mode of multiplicity 4 in the JSON
    from modspec.theory.architectures import Module, Network
    from modspec.theory.dataset import Dataset
    from modspec.theory.export import payload

    ds = Dataset(np.sqrt(2) * np.eye(4), np.eye(4), {"Ox": (0, 2), "Gx": (2, 4)},
                 {"Oy": (0, 4)})
    spec = ms.spectrum(ds)
    assert len(spec.modes) == 2
    assert spec.distinct_singular_values() == [(pytest.approx(np.sqrt(2) / 4), 4)]
    th = ms.derive(ds, Network((Module(("Ox", "Gx"), ("Oy",), 2, "m"),)))
    data = payload(th)
    (mode,) = data["modules"][0]["modes"]
    assert mode["multiplicity"] == 4
    assert mode["s"] == pytest.approx(np.sqrt(2) / 4)
    assert mode["lambda"] == pytest.approx(0.5)
    assert set(data["dynamics"]["m"]["half_rise"]) == {mode["label"]}
    # the parity dataset's two modes sharing s have different λ: they stay two modes
    dense = Network((Module(("Ox", "Gx"), ("Oy", "Py", "Gy"), 2, "dense"),))
    parity = ms.derive(ms.parity(2, [[0, 1]], 1, 1, 1), dense)
    modes = payload(parity)["modules"][0]["modes"]
    assert len({(m["s"], m["lambda"]) for m in modes}) == len(modes) == 3


def test_the_numeric_probe_only_ever_shows_a_difference_that_simplify_agrees_with():
    """``same`` skips ``simplify`` when one point its symbols allow already separates two
    expressions; equal expressions in different forms still go to ``simplify``, and a
    symbol whose assumptions the probe cannot meet is never probed."""
    import sympy as sp

    from modspec.theory.equality import differ_somewhere as _differ_somewhere
    from modspec.theory.equality import same as _same

    c = sp.Symbol("c", positive=True, integer=True)
    f = sp.Symbol("f", nonnegative=True)
    r = sp.Symbol("r", positive=True)
    a = sp.sqrt(f) * r * sp.sqrt(c**4 + c**3 + c**2 + c + 1) / c**4
    other = r * sp.sqrt(c**3 * f + c**2 * f + c * f + f) / c**4          # the next level
    same = sp.sqrt(f * r**2 * (c**5 - 1) / (c - 1)) / c**4                # a in another form
    assert _differ_somewhere(a, other) and not _same(a, other)
    assert sp.simplify(a - other) != 0
    assert not _differ_somewhere(a, same) and _same(a, same)
    n = sp.Symbol("n", negative=True)
    assert not _differ_somewhere(n, 2 * n) and not _same(n, 2 * n)       # simplify decides
    assert not _differ_somewhere(1 / (c - 3), 1 / (c - 4))                 # singular at c = 3
