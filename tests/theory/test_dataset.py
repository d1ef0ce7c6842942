"""The compositional dataset family (theory.md §2) and general datasets."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import modspec as ms
from modspec.theory import symbols as sy


def test_d0_has_the_shapes_of_the_reference_configuration(d0):
    assert d0.X.shape == (27, 8)
    assert d0.Y.shape == (9, 8)
    assert d0.input_blocks == {"Ox": (0, 3), "Gx": (3, 27)}
    assert d0.output_blocks == {"Oy": (0, 1), "Gy": (1, 9)}


@pytest.mark.parametrize("nx", [1, 2, 3, 5])
def test_feature_rows_are_orthogonal_balanced_and_all_patterns_appear(nx):
    ds = ms.CompositionalDataset(nx=nx, ny=0, kx=1, ky=0)
    om = ds.omega_x
    P = 2**nx
    np.testing.assert_array_equal(om @ om.T, P * np.eye(nx))
    np.testing.assert_array_equal(om.sum(axis=1), np.zeros(nx))
    assert len({tuple(c) for c in om.T}) == P


def test_identity_blocks_are_stacked_scaled_one_hots():
    ds = ms.CompositionalDataset(nx=2, ny=2, kx=2, ky=3, r=1, rx=0.5, ry=2.0)
    gx = ds.X[2:]
    np.testing.assert_allclose(gx, np.vstack([0.5 * np.eye(4)] * 2))
    np.testing.assert_allclose(ds.Y[2:], np.vstack([2.0 * np.eye(4)] * 3))


def test_output_features_choose_the_rows_of_omega_y():
    ds = ms.CompositionalDataset(nx=3, ny=2, kx=0, ky=0, output_features=(2, 0))
    np.testing.assert_array_equal(ds.Y, ds.omega_x[[2, 0]])
    np.testing.assert_array_equal(ds.selection @ ds.omega_x, ds.Y)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"nx": 3, "ny": 5, "kx": 1, "ky": 1}, "ny"),
        ({"nx": 0, "ny": 0, "kx": 1, "ky": 1}, "nx"),
        ({"nx": 2, "ny": 1, "kx": -1, "ky": 1}, "kx"),
        ({"nx": 2, "ny": 1, "kx": 1, "ky": 1.5}, "ky"),
        ({"nx": 2, "ny": 1, "kx": 1, "ky": 1, "r": -1}, "r"),
        ({"nx": 2, "ny": 1, "kx": 1, "ky": 1, "ry": float("nan")}, "ry"),
        ({"nx": 2, "ny": 1, "kx": 1, "ky": 1, "output_features": (5,)}, "output_features"),
    ],
)
def test_bad_parameters_raise_an_error_naming_the_parameter(kwargs, param):
    with pytest.raises(ms.ModspecError, match=rf"^{param}="):
        ms.CompositionalDataset(**kwargs)


def test_materialising_a_huge_dataset_is_refused_and_points_to_the_symbolic_route():
    ds = ms.CompositionalDataset(nx=14, ny=1, kx=3, ky=1)
    with pytest.raises(ms.ModspecError, match="symbolic route"):
        ds.X  # noqa: B018


def test_symbolic_family_uses_the_canonical_symbols():
    sym = ms.CompositionalDataset.symbolic()
    assert sym.is_symbolic
    assert sym.P == 2**sy.nx
    assert sym.shape_x == (sy.nx + sy.kx * 2**sy.nx, 2**sy.nx)
    with pytest.raises(ms.ModspecError, match="symbolic"):
        sym.X  # noqa: B018
    assert sym.subs(nx=3, ny=1, kx=3, ky=1, r=1).X.shape == (27, 8)


def test_partially_symbolic_dataset_keeps_its_symbol():
    r = sp.Symbol("r", positive=True)
    ds = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=r)
    assert ds.is_symbolic and ds.rx == r and ds.ry == r


def test_general_dataset_checks_shapes_and_blocks():
    X = np.eye(4)
    with pytest.raises(ms.ModspecError, match="^Y="):
        ms.Dataset(X, np.ones((2, 3)))
    with pytest.raises(ms.ModspecError, match="^input_blocks="):
        ms.Dataset(X, np.ones((2, 4)), {"a": (0, 2), "b": (3, 4)})
    ds = ms.Dataset(X, np.ones((2, 4)))
    assert ds.input_blocks == {"x": (0, 4)} and ds.output_blocks == {"y": (0, 2)}
