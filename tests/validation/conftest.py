"""Fixtures of the validation tests."""

from __future__ import annotations

import numpy as np
import pytest


def _expected_theory(p):
    """An oracle for a sweep point's theory, built from the public pieces alone: derive, the
    seeded initial weights a simulation of the point starts from, the expected start of each
    mode, and ``expect`` of that run under the point's rule."""
    import modspec as ms
    from modspec.numerics.expectation import expect, expected_a0
    from modspec.numerics.flow import layout
    from modspec.numerics.record import Trajectory
    from modspec.numerics.simulate import initial_weights
    from modspec.theory.rules import as_rule

    ds, net = p.dataset(), p.network()
    a0 = {k: np.array([expected_a0(ml.depth, p.hidden, p.init_std)])
          for ml in layout(ds, net, 1).modules for k in ml.keys.values()}
    run = Trajectory(np.array([float(p.epochs)]), {}, {}, {}, seed_axis=False, lr=p.lr,
                     init=initial_weights(ds, net, p.hidden, p.init_std, p.seeds, p.seed),
                     a0=a0)
    th = ms.derive(ds, net)
    return th, expect(th, run, rule=as_rule(p.rule, p.gamma, p.nabla))


@pytest.fixture
def expected_theory():
    """:func:`_expected_theory`: (derivation, expectation) of a sweep point."""
    return _expected_theory
