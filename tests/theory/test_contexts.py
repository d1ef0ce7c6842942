"""The contexts family: the projector algebra's spectrum equals linear algebra on the explicit
matrices for C = 2 … 5; the symbolic-in-C spectrum substituted equals the numeric one; X and Y
have the stated structure; variants keep the atoms exactly when they keep the Gram matrices."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.theory.contexts import C, ContextsDataset, contexts, rc
from modspec.theory.errors import ModspecError
from modspec.theory.families import (
    EXPLAINED,
    MEMORISED,
    STRUCTURE,
    block_roles,
    domain,
    family_network,
    from_mapping,
    symbolic,
)
from modspec.theory.projectors import sample_space
from modspec.theory.spectra import spectrum
from modspec.theory.symbols import r

FAST = settings(max_examples=12, deadline=None)
scales = st.sampled_from([0.5, 1.0, 1.1, 1.35, 2.0])


@functools.cache
def symbolic_spectrum():
    """The symbolic contexts family's spectrum, derived once for the tests of this file (the
    same derivation each time; every test that uses it checks its values)."""
    return spectrum(contexts(C, r, rc))


def tree(levels: int = 4, b: int = 2) -> np.ndarray:
    """The tree block written out: one row per node, level by level, on for its leaves."""
    N = b ** (levels - 1)
    rows = [(np.arange(N) // b ** (levels - 1 - g) == k).astype(float)
            for g in range(levels) for k in range(b**g)]
    return np.array(rows)


def expected_xy(n: int, r_: float, rc_: float, S: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """X and Y of the follow-up's construction: samples context-major, S[c] context c's rows."""
    T = tree()
    N, F = T.shape[1], T.shape[0]
    X = np.vstack([r_ * np.hstack([np.eye(N)] * n),
                   rc_ * np.vstack([np.hstack([np.ones(N) * (c == k) for k in range(n)])
                                    for c in range(n)])])
    specific = np.zeros((F * n, N * n))
    for c in range(n):
        specific[c * F:(c + 1) * F, c * N:(c + 1) * N] = S[c]
    return X, np.vstack([np.hstack([T] * n), specific])


def assert_matches_linalg(ds, atol: float = 1e-12) -> None:
    spec = spectrum(ds)
    X, Y = ds.X, ds.Y
    P = X.shape[1]
    sv = np.linalg.svd(Y @ X.T / P, compute_uv=False)
    sv = np.sort(sv[sv > 1e-9])[::-1]
    np.testing.assert_allclose(spec.singular_values(), sv, rtol=0, atol=atol)
    ev = np.sort(np.linalg.eigvalsh(X @ X.T / P))[::-1]
    np.testing.assert_allclose(spec.input_variances(), ev, rtol=0, atol=atol)


@FAST
@given(n=st.integers(2, 5), r_=scales, rc_=scales, negated=st.sets(st.integers(0, 4)))
@example(n=2, r_=1.0, rc_=1.0, negated=set())
@example(n=5, r_=1.0, rc_=1.35, negated={0, 4})
def test_spectrum_equals_linalg_of_the_explicit_matrices(n, r_, rc_, negated):
    variants = [{"context": c, "sign": -1} for c in sorted(negated) if c < n]
    ds = contexts(n, r_, rc_, variants)
    S = [-tree() if c in negated else tree() for c in range(n)]
    X, Y = expected_xy(n, r_, rc_, S)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.Y, Y)
    assert_matches_linalg(ds)
    # every block's Gram matrix is the sum of its coefficients on the product atoms
    space = sample_space(ds)
    for name, (a, b) in {**ds.input_blocks, **ds.output_blocks}.items():
        M = (X if name in ds.input_blocks else Y)[a:b]
        np.testing.assert_allclose(space.gram_matrix(name), M.T @ M, atol=1e-12)


def test_blocks_rows_and_atoms_are_as_stated():
    ds = contexts(3)
    assert ds.P == 24
    assert dict(ds.input_blocks) == {"objects": (0, 8), "contexts": (8, 11)}
    assert dict(ds.output_blocks) == {"common": (0, 15), "specific": (15, 60)}
    assert tree().shape == (15, 8) and tree().sum(axis=1).tolist() == \
        [8, 4, 4] + [2] * 4 + [1] * 8
    space = sample_space(ds)
    labels = [a.label for a in space.atoms]
    assert labels == [f"level{h}" for h in range(4)] + [f"context{h}" for h in range(4)]
    assert [int(a.rank) for a in space.atoms] == [1, 1, 2, 4, 2, 2, 4, 8]


def test_symbolic_atoms_are_products_of_tree_and_context_atoms():
    """Ranks (1, 1, 2, 4) × (1, C − 1) and coefficients in C: the tree's ``t_h`` (15, 7, 3,
    1: nodes at or below level h, weighted by their leaves) times C on the shared atoms."""
    space = sample_space(contexts(C, r, rc))
    assert sp.simplify(sum(a.rank for a in space.atoms) - 8 * C) == 0
    t = [15, 7, 3, 1]
    for h in range(4):
        shared, contrast = space.atoms[h], space.atoms[4 + h]
        assert shared.rank == [1, 1, 2, 4][h]
        assert sp.simplify(contrast.rank - [1, 1, 2, 4][h] * (C - 1)) == 0
        assert sp.simplify(shared.gram["objects"] - C * r**2) == 0
        assert contrast.gram["objects"] == 0
        assert sp.simplify(shared.gram["contexts"] - (8 * rc**2 if h == 0 else 0)) == 0
        assert sp.simplify(contrast.gram["contexts"] - (8 * rc**2 if h == 0 else 0)) == 0
        assert sp.simplify(shared.gram["common"] - C * t[h]) == 0
        assert contrast.gram["common"] == 0
        assert shared.gram["specific"] == contrast.gram["specific"] == t[h]


@FAST
@given(n=st.integers(2, 5), r_=scales, rc_=scales)
@example(n=2, r_=1.0, rc_=1.0)
def test_symbolic_spectrum_substituted_equals_numeric(n, r_, rc_):
    sym = symbolic_spectrum()
    num = spectrum(contexts(n, r_, rc_))
    values = {C: n, r: sp.Rational(repr(r_)), rc: sp.Rational(repr(rc_))}
    got = sorted(((float(m.s.subs(values)), int(m.multiplicity.subs(values)),
                   float(m.lam.subs(values))) for m in sym.modes
                  if bool(m.condition.subs(values))), reverse=True)
    want = sorted(((float(m.s), int(m.multiplicity), float(m.lam)) for m in num.modes),
                  reverse=True)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=0)
    # and Spectrum.subs takes the family's names, checked as the family checks them
    subbed = sym.subs(C=n, r=sp.Rational(repr(r_)), rc=sp.Rational(repr(rc_)))
    np.testing.assert_allclose(subbed.singular_values(), num.singular_values(), rtol=1e-12)


def test_symbolic_spectrum_in_c_is_the_stated_one():
    """Dense network (the table of docs/theory/families.md): shared levels
    ``s = r sqrt(t_h (C+1)/C)/8`` (the root with the context input too), the context mode
    ``s = rc sqrt(30)/(4C)`` of multiplicity C − 1; the context × object atoms have no input:
    not modes. With r = rc, level1 overtakes the context mode from C = 4 on."""
    sym = symbolic_spectrum()
    modes = {m.label: m for m in sym.modes}
    assert set(modes) == {"level0", "level1", "level2", "level3", "context0"}
    stated = {"level0": (sp.sqrt(15 * (C + 1) * (C * r**2 + 8 * rc**2)) / (8 * C),
                         r**2 / 8 + rc**2 / C, 1),
              "context0": (rc * sp.sqrt(30) / (4 * C), rc**2 / C, C - 1),
              **{f"level{h}": (r * sp.sqrt(t * (C + 1) / C) / 8, r**2 / 8, m)
                 for h, t, m in ((1, 7, 1), (2, 3, 2), (3, 1, 4))}}
    for label, (s, lam, mult) in stated.items():
        m = modes[label]
        assert sp.simplify(m.s - s) == 0 and sp.simplify(m.lam - lam) == 0
        assert sp.simplify(m.multiplicity - mult) == 0
    for n in range(2, 9):
        at = {C: n, r: 1, rc: 1}
        assert (modes["level1"].s.subs(at) > modes["context0"].s.subs(at)) == (n >= 4)
    with pytest.raises(ModspecError, match="C"):
        sym.subs(C=1)


def test_roles_and_presets():
    """Object and context one-hots describe a sample by its attributes (structure); the common
    tree is explained by them, the context-specific rows are not (no input on the context ×
    object atoms): memorised, and there is no identity input for them."""
    ds = contexts(3)
    assert block_roles(ds) == {"objects": STRUCTURE, "contexts": STRUCTURE,
                               "common": EXPLAINED, "specific": MEMORISED}
    with pytest.raises(ModspecError, match="identity input block"):
        family_network("segregated", ds)
    assert [m.outputs for m in family_network("split", ds).modules] == [("common",),
                                                                       ("specific",)]


def test_variants_that_keep_the_gram_keep_the_atoms():
    """A negated context, an automorphism of the tree (swap the two halves) and a matrix with
    the tree's Gram (its rows reordered) change Y but not the spectrum."""
    halves = [4, 5, 6, 7, 0, 1, 2, 3]
    rows = tree()[::-1].tolist()
    ds = contexts(4, 1, 1.1, [{"context": 1, "sign": -1}, {"context": 2, "objects": halves},
                              {"context": 3, "features": rows, "sign": -1}])
    assert ds.keeps_gram()
    X, Y = expected_xy(4, 1, 1.1, [tree(), -tree(), tree()[:, halves], -tree()[::-1]])
    np.testing.assert_array_equal(ds.Y, Y)
    np.testing.assert_array_equal(ds.X, X)
    assert [a.label for a in sample_space(ds).atoms][0] == "level0"
    assert_matches_linalg(ds)
    assert spectrum(ds).distinct_singular_values() == \
        spectrum(contexts(4, 1, 1.1)).distinct_singular_values()


def test_a_variant_with_other_structure_breaks_the_commuting_structure():
    """The follow-up's 'cross' context (level-2 pairs {0,2},{1,3},…: objects 1 and 2 swapped,
    not an automorphism): the Gram matrices no longer commute, the numeric joint
    diagonalisation says so in one line and the data still materialise."""
    ds = contexts(3, variants=[{"context": 2, "objects": [0, 2, 1, 3, 4, 6, 5, 7]}])
    assert not ds.keeps_gram()
    assert ds.Y.shape == (60, 24)
    with pytest.raises(ModspecError, match="do not commute"):
        spectrum(ds)
    graded = np.round(np.random.default_rng(0).uniform(0, 1, (15, 8)), 2).tolist()
    ring = contexts(3, variants=[{"context": 1, "features": graded}])
    assert not ring.keeps_gram()
    with pytest.raises(ModspecError, match="do not commute"):
        spectrum(ring)


def test_from_mapping_symbolic_and_domain():
    spec = {"family": "contexts", "C": 4, "r": 1.0, "rc": 1.1,
            "variants": [{"context": 3, "sign": -1}]}
    ds = from_mapping(spec)
    assert isinstance(ds, ContextsDataset) and ds.P == 32
    assert ds.describe()["variants"] == [{"context": 3, "sign": -1}]
    sym = symbolic(spec)
    assert sym.is_symbolic and sym.P == 8 * C
    where = domain(sym)
    assert where[0] == "C >= 4"   # the variant's context exists
    assert all(isinstance(sp.sympify(w), sp.core.relational.Relational) for w in where)
    assert domain(symbolic({"family": "contexts", "C": 3}))[0] == "C >= 2"


@pytest.mark.parametrize(("kw", "words"), [
    ({"C": 1}, "C"),
    ({"C": 2.5}, "C"),
    ({"C": 3, "r": -1}, "r="),
    ({"C": 3, "rc": "1"}, "rc="),
    ({"C": 3, "variants": [{"context": 3}]}, "variant context"),
    ({"C": 3, "variants": [{"context": 1}, {"context": 1}]}, "variant context"),
    ({"C": 3, "variants": [{"context": 1, "sign": 2}]}, "variant sign"),
    ({"C": 3, "variants": [{"context": 1, "sign": True}]}, "variant sign"),
    ({"C": 3, "variants": [{"context": 1, "objects": [0, 0, 1, 2, 3, 4, 5, 6]}]},
     "variant objects"),
    ({"C": 3, "variants": [{"context": 1, "features": [[1.0] * 8]}]}, "variant features"),
    ({"C": 3, "variants": [{"context": 1, "features": [[float("nan")] * 8] * 15}]},
     "variant features"),
    ({"C": 3, "variants": [{"context": 1, "colour": 2}]}, "variant"),
    ({"C": 3, "variants": "all"}, "variants"),
    ({"C": 3, "contexts": 3}, "contexts parameter"),
    ({}, "contexts"),
])
def test_bad_parameters_are_one_line_errors(kw, words):
    with pytest.raises(ModspecError, match=words) as info:
        from_mapping({"family": "contexts", **kw})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_the_linear_network_leaves_the_context_object_interactions_unfit(n):
    """The context × object atoms carry no input: the converged dense map (derived) equals the
    least-squares map ``Y X⁺`` and leaves ``Σ_{h≥1} rank Π_h · t_h · (C − 1) = 17 (C − 1)`` of
    ``‖Y‖² = 64 C`` unfit, whatever the scales."""
    from modspec.theory.derivation import derive

    ds = contexts(n, 1.0, 1.35)
    W = derive(ds, family_network("dense", ds)).converged_map()
    np.testing.assert_allclose(W, ds.Y @ np.linalg.pinv(ds.X), atol=1e-10)
    assert np.sum((ds.Y - W @ ds.X) ** 2) == pytest.approx(17 * (n - 1), abs=1e-9)
    assert np.sum(ds.Y**2) == 64 * n


def test_the_cost_does_not_depend_on_c():
    """Eight atoms whatever C: up to P = 8 C = 2**255 (C beyond a machine integer), with exact
    ranks; one more context is refused in one line."""
    n = 2**252
    spec = spectrum(contexts(n))
    modes = {m.label: m for m in spec.modes}
    assert modes["context0"].multiplicity == n - 1
    assert float(modes["context0"].s) == pytest.approx(np.sqrt(30) / (4 * n), rel=1e-12)
    with pytest.raises(ModspecError, match="P = C"):
        contexts(n + 1)
    # a symbolic tree too (a negated context keeps the Gram whatever the tree)
    b = sp.Symbol("b", integer=True, positive=True)
    space = sample_space(contexts(C, r, rc, [{"context": 1, "sign": -1}], levels=3,
                                  branching=b))
    assert sp.simplify(sum(a.rank for a in space.atoms) - C * b**2) == 0


def test_a_held_out_sample_gets_the_common_tree_from_its_object_in_other_contexts():
    """Explained means carried to unseen samples: holding out (context 2, object 7), the
    common block is predicted exactly from the object's one-hot; the context-specific rows are
    not (their error is the unexplained part)."""
    from modspec.theory.heldout import heldout

    ds = contexts(3)
    out = heldout(ds, family_network("dense", ds), [j for j in range(24) if j != 23])
    assert float(out.block_errors["common"]) == pytest.approx(0, abs=1e-12)
    assert float(out.block_errors["specific"]) > 1
