"""``Derivation.subs``: a symbolic derivation at a point equals the numeric derivation there
(issue 23): modes, spectra, closed forms, observables, the converged map, a rule's system, for
several families, degenerate points (modes that vanish) included."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp

from modspec.theory import architectures as arch
from modspec.theory import families
from modspec.theory import symbols as sy
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive
from modspec.theory.errors import ModspecError

#: Points of the compositional family; all but the first are degenerate (issue 23's traps:
#: kx = 0, ky = 0 and rx = 0 remove modes, ny = 0 removes π1).
POINTS = [dict(nx=3, ny=1, kx=3, ky=1, r=1), dict(nx=3, ny=1, kx=0, ky=1, r=1),
          dict(nx=3, ny=1, kx=3, ky=0, r=1), dict(nx=3, ny=1, kx=3, ky=1, rx=0, ry=1),
          dict(nx=3, ny=0, kx=3, ky=1, r=1), dict(nx=2, ny=1, kx=2, ky=3, rx=0.5, ry=2)]


@functools.cache
def _symbolic(network):
    """One symbolic derivation per network for every point (its observables derived once)."""
    return derive(CompositionalDataset.symbolic(), arch.architecture(network))


def _modes(th):
    return {k: (m.s, m.lam, m.multiplicity, m.fixed_point) for k, m in th.modes.items()}


def _same_derivation(sub, num):
    assert _modes(sub) == _modes(num)
    assert sub.dataset.describe() == num.dataset.describe() and not sub.symbolic
    for md_s, md_n in zip(sub.modules, num.modules, strict=True):
        assert [m.label for m in md_s.spectrum.silent] == [m.label for m in md_n.spectrum.silent]
    values = {s: 0.3 + 0.1 * i for i, s in enumerate(num.strengths.values())}
    t = {sy.t: 7.0, sy.tau: 5.0, sy.a0: 1e-3}
    for k, e in num.trajectories.items():
        if e is not None:
            assert float(sub.trajectories[k].subs(t)) == pytest.approx(float(e.subs(t)), rel=1e-12)
    for group in ("quadrant_norms", "loss"):
        for k, e in num.observables[group].items():
            assert float(sub.observables[group][k].subs(values)) == pytest.approx(
                float(e.subs(values)), rel=1e-12, abs=1e-15), (group, k)
    for k, v in num.converged["quadrant_norms"].items():
        assert sp.simplify(sub.converged["quadrant_norms"][k] - v) == 0, k
    assert sub.converged["systematic"] == num.converged["systematic"]
    assert sub.converged["blocks"] == num.converged["blocks"]
    assert np.allclose(sub.converged_map(), num.converged_map(), atol=1e-14)


@pytest.mark.parametrize("point", POINTS, ids=str)
@pytest.mark.parametrize("network", ["dense", "split"])
def test_a_symbolic_compositional_derivation_at_a_point_is_the_numeric_one(point, network):
    _same_derivation(_symbolic(network).subs(point),
                     derive(CompositionalDataset(**point), arch.architecture(network)))


@pytest.mark.parametrize("family, spec, point", [
    ("hierarchical", {"family": "hierarchical", "levels": 2, "branching": 2},
     {"branching": 3, "features": 1, "r": 2}),
    ("hierarchical", {"family": "hierarchical", "levels": 2, "branching": 2},
     {"c": 2, "f": 0, "r": 1}),
    ("parity", {"family": "parity", "nx": 3, "outputs": [[0], [0, 1]]},
     {"nx": 3, "kx": 1, "ky": 2, "r": 1}),
    ("parity", {"family": "parity", "nx": 3, "outputs": [[0], [0, 1]]},
     {"nx": 3, "kx": 0, "ky": 0, "r": 1}),
])
def test_other_families_at_a_point_are_their_numeric_derivations(family, spec, point):
    symbolic = families.symbolic(spec)
    network = families.family_network("dense", symbolic)
    fixed = {k: v for k, v in spec.items() if k in ("levels", "outputs")}
    names = {"c": "branching", "f": "features"}   # a symbol's name or the family's, both taken
    numeric = derive(families.FAMILIES[family](**fixed, **{names.get(k, k): v
                                                           for k, v in point.items()}), network)
    sub = derive(symbolic, network).subs(point)
    assert _modes(sub) == _modes(numeric)
    assert sub.converged["blocks"] == numeric.converged["blocks"]
    assert np.allclose(sub.converged_map(), numeric.converged_map(), atol=1e-14)


def test_a_rule_is_derived_again_at_the_point():
    th = derive(CompositionalDataset.symbolic(), arch.dense(), rule="hebbian")
    point = POINTS[0]
    sub, num = th.subs(point), derive(CompositionalDataset(**point), arch.dense(),
                                      rule="hebbian")
    assert sub.rule.rule == num.rule.rule and sub.rule.linear == num.rule.linear
    assert [p.map for p in sub.rule.fixed_points] == [p.map for p in num.rule.fixed_points]


def test_bad_substitutions_are_one_line():
    th = _symbolic("dense")
    with pytest.raises(ModspecError, match="parameter.*'q'") as e:
        th.subs(q=1)
    assert "\n" not in str(e.value)
    with pytest.raises(ModspecError, match="ny"):
        th.subs(nx=2, ny=3, kx=1, ky=1, r=1)
    with pytest.raises(ModspecError, match="is numeric"):
        derive(CompositionalDataset(**POINTS[0]), arch.dense()).subs(nx=3)
