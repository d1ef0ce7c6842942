"""Winning pathways and the common pathway's plateau of a ReLU network's gated network.

Oracles: the pathway maps written out unit by unit; the loss a width-w linear network reaches
by plain gradient descent from a small start (NumPy, epoch by epoch)."""

from __future__ import annotations

import numpy as np
import pytest

from modspec.numerics.relu_gating import common_plateau, pathway_norms, relu_gated, winners


def _descend(X, Y, width, steps=20000, lr=0.02, seed=1):
    rng = np.random.default_rng(seed)
    A, B = 1e-3 * rng.normal(size=(width, X.shape[0])), 1e-3 * rng.normal(size=(Y.shape[0], width))
    for _ in range(steps):
        E = B @ A @ X - Y
        A, B = A - lr * B.T @ E @ X.T, B - lr * E @ (A @ X).T
    return float(((B @ A @ X - Y) ** 2).sum(axis=0).mean())


@pytest.mark.parametrize("width", [1, 2, 5])
def test_the_common_plateau_is_where_a_linear_network_of_its_width_stops(width):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    # all units active on every sample: one common group of `width` units
    W1 = np.ones((width, 4))
    Xp = np.abs(X)
    g = relu_gated(W1, rng.normal(size=(3, width)), Xp, Y)
    plateau = common_plateau(g)
    assert plateau["groups"] == ["g0"] and plateau["width"] == width
    assert plateau["loss"] == pytest.approx(_descend(Xp, Y, width), rel=1e-6, abs=1e-9)


def test_no_common_pathway_without_an_always_active_group():
    X = np.eye(3)
    g = relu_gated(np.eye(3), np.ones((2, 3)), X, np.ones((2, 3)))
    assert common_plateau(g) is None


def test_pathway_norms_and_winners_by_unit_groups():
    X = np.eye(4)
    W1 = np.array([[1.0, 1, -1, -1], [1, 1, -1, -1], [-1, -1, 1, 1]])
    W2 = np.array([[1.0, 2, 0], [0, 0, 3], [1, 0, 0]])
    g = relu_gated(W1, W2, X, np.zeros((3, 4)), output_blocks={"a": (0, 1), "b": (1, 3)})
    assert g.groups == ((0, 1), (2,))
    norms = pathway_norms(g, W1, W2)
    want_a0 = np.linalg.norm(W2[0:1, [0, 1]] @ W1[[0, 1]])
    assert norms["a"][0] == pytest.approx(want_a0) and norms["a"][1] == 0.0
    assert norms["b"][1] == pytest.approx(np.linalg.norm(W2[1:3, [2]] @ W1[[2]]))
    assert winners(norms) == {"a": "g0", "b": "g1"}
