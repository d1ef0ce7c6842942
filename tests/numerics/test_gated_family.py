"""A gated network on any dataset family: its layers bound to the family's blocks by name
(:func:`modspec.theory.gated_data.from_dataset`, docs/theory/gated.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.numerics.gated_predict import aligned_start, gated_theory, run_record
from modspec.numerics.gated_simulate import gated_simulate
from modspec.numerics.simulate import simulate
from modspec.theory.architectures import architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.families import from_mapping
from modspec.theory.gated_convert import as_gated, edge_weights
from modspec.theory.gated_data import data_for, from_dataset
from modspec.theory.gated_toml import network_from_toml
from modspec.theory.observables import loss_key

D0 = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)

#: docs/examples/two-pathways.toml: a deep pathway (through h) and a shallow one (S) race for
#: level2, and h also feeds level1, on the hierarchical family (4 items).
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
TREE = (EXAMPLES / "two-pathways.toml").read_text()
TREE_DATA = tomllib.loads((EXAMPLES / "two-pathways-data.toml").read_text())


@pytest.mark.parametrize("arch,depth", [("dense", 2), ("split", 2), ("segregated", 2),
                                        ("dense", 3)])
def test_a_wiring_on_the_compositional_family_is_todays_network(arch, depth):
    """The blocks bound by name are the converted wiring's data exactly, and gradient descent
    from the same start is today's, epoch by epoch (1e-10)."""
    conv = as_gated(architecture(arch, depth), D0, hidden=5)
    data = from_dataset(D0, conv.network)
    for side in ("inputs", "targets"):
        mine, theirs = getattr(data, side), getattr(conv.data, side)
        assert set(mine) == set(theirs)
        assert all(mine[k] == theirs[k] for k in mine)
    today = simulate(D0, architecture(arch, depth), lr=0.05, epochs=40, hidden=5,
                     init_std=0.1, seeds=2)
    run = gated_simulate(conv.network, data, 0.05, 40, init=edge_weights(conv, today.init),
                         keep_weights=True)
    record = run_record(gated_theory(conv.network, data), run)
    for block in ("Oy", "Gy"):
        np.testing.assert_allclose(record.loss[block], today.loss[loss_key(block)],
                                   rtol=1e-10, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(["1", "sqrt(2)", "1/10", "3/2", "0"]))
@example("sqrt(2)")
@example("0")
def test_the_blocks_are_exact_as_the_family_gives_them(r):
    """``Gx = r·[I; …]`` with ``r`` exact (a square root stays one), ``Ox`` the ±1 signs."""
    scale = sp.sympify(r)
    ds = CompositionalDataset(nx=2, ny=1, kx=1, ky=1, r=scale)
    net = network_from_toml("[layers]\nOx = 2\nGx = 4\nOy = 1\n"
                            "[edges]\nA = ['Ox', 'Oy']\nB = ['Gx', 'Oy']\n")
    data = from_dataset(ds, net)
    assert data.inputs["Gx"] == scale * sp.eye(4)
    assert data.inputs["Ox"] == sp.Matrix(ds.omega_x.astype(int).tolist())
    assert data.targets["Oy"] == sp.Matrix([list(ds.omega_x[0].astype(int))])


@pytest.mark.parametrize("spec,toml", [
    (TREE_DATA, TREE),
    ({"family": "parity", "nx": 2, "outputs": [[0], [0, 1]], "kx": 1, "ky": 0, "r": 1},
     "[layers]\nOx = 2\nGx = 4\nh = 4\nPy = 1\nOy = 1\n[edges]\nA = ['Ox', 'h']\n"
     "B = ['Gx', 'h']\nCp = ['h', 'Py']\nCo = ['h', 'Oy']\n"
     "[gates.item]\nB = [1, 1, 0, 0]\n"),      # the identity pathway on for 2 items only
    ({"family": "contexts", "C": 2, "r": 1, "rc": 1},
     "[layers]\nobjects = 8\ncontexts = 2\nh = 8\ncommon = 15\nspecific = 30\n[edges]\n"
     "A = ['objects', 'h']\nB = ['contexts', 'h']\nC = ['h', 'common']\n"
     "D = ['h', 'specific']\n")])
def test_the_race_on_a_family_is_gradient_descent_on_the_whole_network(spec, toml):
    """From an aligned start, the race's per-epoch map equals gradient descent on the whole
    network (gates applied per sample), every epoch (1e-8)."""
    net = network_from_toml(toml)
    theory = gated_theory(net, data_for(spec, net))
    assert theory.modes is not None          # the statistics share singular vectors
    from modspec.numerics.gated_predict import gated_prediction

    pred = gated_prediction(theory, 0.05, 60, 0.05)
    run = gated_simulate(net, theory.data, 0.05, 60, init=aligned_start(theory, 0.05),
                         keep_weights=True)
    sim = run_record(theory, run)
    assert set(pred.modes) == set(sim.modes) and pred.modes
    for k, v in pred.modes.items():      # every pathway's strength on every mode
        np.testing.assert_allclose(np.asarray(sim.modes[k])[0], v, rtol=1e-8, atol=1e-12)
    for k, v in pred.loss.items():
        np.testing.assert_allclose(np.asarray(sim.loss[k])[0], v, rtol=1e-8, atol=1e-12)
        assert v[-1] < v[0]


def test_a_layer_that_is_no_block_is_refused_naming_the_blocks():
    net = network_from_toml(TREE.replace("level1", "levelX"))
    with pytest.raises(ModspecError, match=r"levelX.*must be an output block of the "
                                           r"hierarchical dataset: level0, level1, level2"):
        from_dataset(from_mapping(TREE_DATA), net)


def test_a_layer_of_the_wrong_size_is_refused():
    net = network_from_toml(TREE.replace("level1 = 2", "level1 = 3"))
    with pytest.raises(ModspecError, match=r"targets\[level1\].*must have 3 rows"):
        data_for(TREE_DATA, net)


def test_a_symbolic_dataset_is_refused_it_needs_numbers():
    net = network_from_toml("[layers]\nOx = 2\nOy = 1\n[edges]\nA = ['Ox', 'Oy']\n")
    with pytest.raises(ModspecError, match="symbolic: a gated network needs numeric"):
        from_dataset(CompositionalDataset.symbolic(), net)
