"""Held-out objects: segregation generalises, dense and split do not; on any family the held-out
error of every output block is the least-squares map's on the training columns."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.declaration import (
    DeclaredDataset,
    Features,
    Hypercube,
    Identity,
    Parities,
)
from modspec.theory.errors import ModspecError
from modspec.theory.families import family_network, hierarchical, parity
from modspec.theory.heldout import heldout
from modspec.theory.matrix_flow import shallow_converged_map
from modspec.theory.rank import (
    full_rank_count,
    full_rank_probability,
    rank_table,
    sampled_full_rank_probability,
    sign_patterns,
    study_criterion_count,
    study_criterion_probability,
)

D0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
TRAIN = (0, 1, 2, 4, 7)


def test_segregated_module_generalises_to_unseen_objects_with_zero_error():
    h = heldout(D0, arch.segregated(), TRAIN)
    assert h.exact and h.full_rank
    assert h.compositional_error == 0 and all(e == 0 for e in h.errors)
    assert h.quadrant_norms["Gx->Oy"] == 0


@pytest.mark.parametrize("net", [arch.dense(), arch.shallow(), arch.split(), arch.leaky(1)],
                         ids=["dense", "shallow", "split", "leaky1"])
def test_dense_split_and_leaky_networks_do_not_generalise(net):
    h = heldout(D0, net, TRAIN)
    assert h.full_rank and h.compositional_error > sp.Rational(1, 10)
    assert h.quadrant_norms["Gx->Oy"] > 0


def test_exact_and_float_held_out_maps_agree():
    exact = heldout(D0, arch.split(), TRAIN, exact=True)
    approx = heldout(D0, arch.split(), TRAIN, exact=False)
    W = np.array(exact.W.evalf(), dtype=float)
    np.testing.assert_allclose(W, approx.W, atol=1e-12)
    assert abs(float(exact.compositional_error) - approx.compositional_error) < 1e-12


def test_held_out_error_of_dense_matches_its_trained_map_on_unseen_objects():
    """Direct check: train objects' least squares, then evaluate the held-out columns."""
    X, Y = D0.X, D0.Y
    W = Y[:, TRAIN] @ np.linalg.pinv(X[:, TRAIN])
    held = [j for j in range(8) if j not in TRAIN]
    err = np.mean([np.sum((W[:1] @ X[:, j] - Y[:1, j]) ** 2) for j in held])
    assert abs(float(heldout(D0, arch.dense(), TRAIN).compositional_error) - err) < 1e-12


@given(st.lists(st.integers(0, 7), min_size=1, max_size=8, unique=True))
@example([0, 3])          # rank 2 and S outside the span: the rule is not identified
@example([0, 1])          # rank 2 but S = e_0 in the span: zero error with fewer than nx
@example([0, 1, 2])       # the smallest full-rank subsets have nx objects
@example([5])             # one object: rank 1
@example(list(range(8)))  # every object trained: nothing held out
@settings(max_examples=20)  # 0.5 s each (an exact map per subset); the corners pinned above
def test_segregated_error_vanishes_when_the_ox_covariance_has_full_rank(objects):
    """Full rank is sufficient; exactly necessary is that S's rows lie in the span."""
    h = heldout(D0, arch.segregated(), objects)
    if h.full_rank:
        assert h.rule_in_span
    if h.heldout_objects:
        assert (h.compositional_error == 0) == h.rule_in_span
    else:
        assert h.compositional_error == 0


def test_shallow_leaky_converges_to_the_minimum_parameter_norm_map():
    """Leaky depth 1: Oy rows are the dense minimum-norm rows, Ox->Gy stays 0."""
    W = shallow_converged_map(D0, arch.leaky(1))
    dense = D0.Y @ np.linalg.pinv(D0.X)
    np.testing.assert_allclose(W[:1], dense[:1], atol=1e-12)
    assert np.all(W[1:, :3] == 0)
    assert np.linalg.norm(W[:1, 3:]) > 0.4


def test_deep_coupled_held_out_map_comes_from_the_integrated_flow_over_several_starts():
    import modspec  # noqa: F401  (the front door registers the flow integrator)
    from modspec.numerics.integrate import END_POINT_SEEDS, converged_map

    h = heldout(D0, arch.leaky(2), TRAIN)
    assert "integrated" in h.method and h.W.shape[0] == END_POINT_SEEDS
    W0 = converged_map(D0, arch.leaky(2), init_std=1e-3, seed=0, train_objects=TRAIN)
    np.testing.assert_allclose(h.W[0], W0, atol=1e-12)
    oy = D0.output_blocks["Oy"]
    held = [j for j in range(D0.P) if j not in TRAIN]
    errors = [np.mean([np.sum((W[oy[0]:oy[1]] @ D0.X[:, j] - D0.Y[oy[0]:oy[1], j]) ** 2)
                       for W in h.W]) for j in held]
    assert h.compositional_error == pytest.approx(np.mean(errors), rel=1e-12)
    assert h.compositional_error > 1e-3      # a path Gx -> Oy exists: not systematic


def test_bad_training_subsets_are_refused_with_a_clear_error():
    for objects in ([0, 0, 9], [], [True, 2], [1.5, 2]):
        with pytest.raises(ModspecError, match="train_objects"):
            heldout(D0, arch.dense(), objects)


# ------------------------------------------------------------------------------ rank view
def test_full_rank_probability_counts_d0_subsets_exactly():
    # j = 3: of C(8,3) = 56 triples the 24 holding an antipodal pair are singular
    assert full_rank_count(3, 3) == (32, 56)
    assert full_rank_probability(3, 2) == 0
    assert full_rank_probability(3, 5) == 1
    assert full_rank_probability(3, 4) == Fraction(32, 35)


def test_full_rank_probability_agrees_with_a_brute_force_rank():
    from itertools import combinations

    omega = CompositionalDataset(nx=3, ny=1, kx=0, ky=0).omega_x
    for j in range(1, 9):
        subsets = list(combinations(range(8), j))
        good = sum(np.linalg.matrix_rank(omega[:, list(s)]) == 3 for s in subsets)
        assert full_rank_probability(3, j) == Fraction(int(good), len(subsets))


def test_sampled_probability_is_seeded_and_within_four_standard_errors():
    for j in (3, 4, 5):
        p = float(full_rank_probability(3, j))
        est = sampled_full_rank_probability(3, j, samples=4000, seed=1)
        assert est == sampled_full_rank_probability(3, j, samples=4000, seed=1)
        assert abs(est - p) <= 4 * np.sqrt(max(p * (1 - p), 1e-12) / 4000) + 1e-12
    table = rank_table(3, samples=500)
    assert [row["j"] for row in table] == list(range(1, 9))
    assert all(0 <= row["sampled"] <= 1 for row in table)


def test_study_criterion_reproduces_the_published_numbers_and_differs_from_full_rank():
    # The study's det|C_T| > 0.1 (elementwise absolute value): 0.2989 at nx = 4, j = 4 and
    # 0.1143 at j = 3, where full rank is impossible.
    assert float(study_criterion_probability(4, 4)) == pytest.approx(0.2989, abs=5e-5)
    assert float(study_criterion_probability(4, 3)) == pytest.approx(0.1143, abs=5e-5)
    assert full_rank_probability(4, 3) == 0
    assert study_criterion_probability(4, 4) != full_rank_probability(4, 4)
    table = rank_table(4, samples=50)
    assert table[2]["study"] == pytest.approx(0.1143, abs=5e-5) and table[2]["probability"] == 0


def test_study_criterion_agrees_with_a_brute_force_determinant():
    omega = sign_patterns(3)
    for j in range(1, 9):
        good = 0
        for subset in itertools.combinations(range(8), j):
            c = omega[:, subset] @ omega[:, subset].T / j
            good += np.linalg.det(np.abs(c)) > 0.1
        assert study_criterion_count(3, j) == (good, math.comb(8, j))
    assert study_criterion_probability(3, 8, threshold=0) == 1   # |C| = I at j = P
    with pytest.raises(ModspecError, match="threshold"):
        study_criterion_count(3, 3, threshold=-1)


@given(nx=st.sampled_from([2, 3]), data=st.data(),
       thresholds=st.tuples(st.fractions(0, 2), st.fractions(0, 2)))
@example(nx=2, data=None, thresholds=(Fraction(0), Fraction(1, 10)))
@settings(max_examples=25, deadline=None)
def test_study_criterion_passes_fewer_subsets_at_a_higher_threshold(nx, data, thresholds):
    P = 2**nx
    j = data.draw(st.integers(1, P)) if data is not None else P
    low, high = sorted(thresholds)
    assert study_criterion_count(nx, j, low)[0] >= study_criterion_count(nx, j, high)[0]
    # every object: C = I, so det |C| = 1 passes any threshold below 1
    assert study_criterion_probability(nx, P, high) == (1 if high < 1 else 0)


# --------------------------------------------------------------- held-out objects, any family
FAMILY_FAST = dict(max_examples=12, deadline=None)
scales = st.sampled_from([0.5, 1.0, 2.0])


@st.composite
def family_member(draw):
    """A random member of the hierarchical, parity or declared family (small P)."""
    kind = draw(st.sampled_from(["hierarchical", "parity", "declared"]))
    if kind == "hierarchical":
        return hierarchical(draw(st.integers(2, 3)), draw(st.integers(2, 3)),
                            draw(st.integers(1, 2)), draw(scales))
    n = draw(st.integers(2, 4))
    subset = st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True)
    if kind == "parity":
        return parity(n, draw(st.lists(subset, min_size=1, max_size=4)),
                      draw(st.integers(0, 2)), draw(st.integers(0, 2)), draw(scales))
    return DeclaredDataset(
        Hypercube(n),
        (("x", Features(scale=draw(scales))), ("id", Identity(draw(st.integers(0, 2)),
                                                              draw(scales)))),
        (("y", Features(tuple(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2))))),
         ("p", Parities(order=draw(st.integers(1, n)))),
         ("q", Parities((tuple(draw(subset)),), scale=draw(scales)))))


def lstsq_block_errors(ds, net, train):
    """The oracle: every module's minimum-norm least-squares map on the materialised training
    columns (numpy.linalg.lstsq), its error on the held-out columns per output block."""
    from modspec.theory.dataset import block_index

    X, Y = ds.X, ds.Y
    W = np.zeros((Y.shape[0], X.shape[0]))
    for m in net.modules:
        rows = block_index(ds.output_blocks, m.outputs)
        cols = block_index(ds.input_blocks, m.inputs)
        sol = np.linalg.lstsq(X[np.ix_(cols, train)].T, Y[np.ix_(rows, train)].T,
                              rcond=None)[0]
        W[np.ix_(rows, cols)] = sol.T
    held = [j for j in range(ds.P) if j not in train]
    R = W @ X[:, held] - Y[:, held]
    return {b: float(np.mean(np.sum(R[o0:o1] ** 2, axis=0)))
            for b, (o0, o1) in ds.output_blocks.items()}


@settings(**FAMILY_FAST)
@given(ds=family_member(), arch_name=st.sampled_from(["dense", "split", "segregated"]),
       depth=st.integers(1, 2), data=st.data())
def test_held_out_error_per_block_equals_least_squares_on_the_training_columns(ds, arch_name,
                                                                             depth, data):
    try:
        net = family_network(arch_name, ds, depth)
    except ModspecError:       # segregated needs block roles this member lacks
        net = family_network("split", ds, depth)
    if net.coupled:
        return
    train = sorted(data.draw(st.lists(st.integers(0, ds.P - 1), min_size=1,
                                      max_size=ds.P - 1, unique=True)))
    h = heldout(ds, net, train, exact=False)
    want = lstsq_block_errors(ds, net, train)
    assert set(h.block_errors) == set(ds.output_blocks)
    for block, value in want.items():
        assert h.block_errors[block] == pytest.approx(value, abs=1e-10), block


@settings(**FAMILY_FAST)
@given(levels=st.integers(2, 3), c=st.integers(2, 3), f=st.integers(1, 3), r=scales,
       arch_name=st.sampled_from(["dense", "split"]), data=st.data())
def test_hierarchical_held_out_items_are_not_predicted_at_any_level(levels, c, f, r,
                                                                      arch_name, data):
    """The input is the items' identity: a held-out item's input was never active, so its
    prediction is 0 and the error of each level is its own f features (scale 1): exactly f."""
    ds = hierarchical(levels, c, f, r)
    train = data.draw(st.lists(st.integers(0, ds.P - 1), min_size=1, max_size=ds.P - 1,
                               unique=True))
    h = heldout(ds, family_network(arch_name, ds), train)
    assert h.exact
    assert h.block_errors == {f"level{g}": f for g in range(levels)}
    assert h.compositional_error is None and h.full_rank is None


def test_parity_held_out_error_equals_the_derived_map_and_is_not_zero_while_features_generalise():
    ds = parity(3, [[0], [0, 1], [1, 2]], kx=1, ky=1, r=1)
    train = [0, 1, 2, 4, 5, 6]
    h = heldout(ds, family_network("segregated", ds), train)
    assert h.exact and h.full_rank and h.rule_in_span
    # the parity rows' Walsh atoms carry no feature coefficient: learned through the identity
    # pathway only, so a held-out object's parities are predicted as 0 (error = 2 rows)
    assert h.block_errors["Py"] == 2
    assert h.block_errors["Oy"] == 0 == h.compositional_error
    assert h.quadrant_norms["Ox->Py"] == 0
    dense = heldout(ds, family_network("dense", ds), train)
    assert dense.block_errors["Py"] > 0 and dense.block_errors["Oy"] > 0
    assert dense.as_dict()["block_errors"] == {k: float(v) for k, v in
                                               dense.block_errors.items()}
