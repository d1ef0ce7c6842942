"""The same compositional data through every class that can hold it (the
:class:`CompositionalDataset`, its declaration :func:`families.compositional` and plain
arrays) gives the same report: ``assess`` measured the rule error for the first only, since
it asked ``hasattr(dataset, "selection")``."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.simulate import simulate
from modspec.theory import symbols as sy
from modspec.theory.architectures import architecture
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.families import compositional, hierarchical
from modspec.validation.pipeline import assess


def _report(dataset):
    net = architecture("dense")
    run = simulate(dataset, net, lr=0.05, epochs=60, hidden=8, seeds=2, seed=1,
                   progress=False)
    return assess(ms.derive(dataset, net), run).comparison


def test_every_class_of_the_compositional_data_reports_the_same_systematicity():
    family = CompositionalDataset(nx=3, ny=1, kx=1, ky=1)
    reports = [_report(ds) for ds in (family, compositional(3, 1, 1, 1), family.to_dataset())]
    first = reports[0].systematicity
    assert "rule_error" in first and first["rule_error"] > 0
    for other in reports[1:]:
        assert other.systematicity.keys() == first.keys()
        for key, value in first.items():
            assert other.systematicity[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_the_selection_of_every_class_is_the_rule():
    family = CompositionalDataset(nx=3, ny=2, kx=1, ky=2, output_features=(2, 0))
    S = family.selection
    assert np.allclose(family.to_dataset().selection, S, atol=1e-12)
    declared = compositional(3, 2, 1, 1)
    assert np.allclose(declared.selection, CompositionalDataset(3, 2, 1, 1).selection,
                       atol=1e-12)
    # no Ox/Oy blocks, or no arrays: no rule
    assert hierarchical(3, 2).selection is None
    assert compositional(sy.nx, sy.ny, sy.kx, sy.ky).selection is None
