"""Held-out objects (theory.md §4.5): segregation generalises, dense and split do not."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.heldout import heldout
from modspec.theory.matrix_flow import shallow_converged_map
from modspec.theory.rank import (
    full_rank_count,
    full_rank_probability,
    rank_table,
    sampled_full_rank_probability,
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
