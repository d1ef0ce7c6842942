"""The level-generic route of a symbolic tree (theory/tree_levels.py) gives the numbers of the
explicit projector algebra at every level: modes, multiplicities, singular values, fixed points,
existence, silent directions, closed forms, half-rise times, observables and W*; its cost does
not grow with the number of levels, so the work budget lets a symbolic hierarchy of 100 levels
through."""

from __future__ import annotations

import random

import pytest
import sympy as sp

from modspec.theory import symbols as sy
from modspec.theory import tree_levels
from modspec.theory.architectures import Module, Network
from modspec.theory.derivation import derive
from modspec.theory.equality import differ_somewhere, probe, probed_apart
from modspec.theory.errors import ModspecError
from modspec.theory.families import family_network, hierarchical
from modspec.theory.families.hierarchical import c, f
from modspec.theory.work_budget import MAX_TREE_PAIRS, TREE_LEVELS, check_work

R = sy.r


def _points(n: int, seed: int) -> list[dict[sp.Symbol, sp.Expr]]:
    """Random points of the family's domain (c ≥ 2, f ≥ 1, r > 0) and of the run's symbols."""
    rng = random.Random(seed)
    return [{c: sp.Integer(rng.randint(2, 5)), f: sp.Integer(rng.randint(1, 4)),
             R: sp.Rational(rng.randint(1, 12), 4), sy.tau: sp.Rational(rng.randint(2, 9), 3),
             sy.a0: sp.Rational(1, rng.randint(50, 500)), sy.t: sp.Rational(rng.randint(1, 40))}
            for _ in range(n)]


def _close(a, b, points, what: str) -> None:
    """Equal at every point to 1e-12 relatively (both evaluated to 30 digits)."""
    for p in points:
        va, vb = (complex(sp.sympify(e).xreplace(p).evalf(30)) for e in (a, b))
        assert abs(va - vb) <= 1e-12 * max(1.0, abs(va), abs(vb)), (what, a, b, p)


def _truth(cond, p) -> bool:
    return bool(sp.sympify(cond).xreplace(p))


def _both(monkeypatch, levels: int, arch: str, depth: int = 2):
    """The derivation by the route and by the explicit algebra (the route switched off)."""
    ds = hierarchical(levels, c, f, R)
    net = family_network(arch, ds, depth)
    assert tree_levels.applies(ds, net)
    new = derive(ds, net)
    with monkeypatch.context() as m:
        m.setattr(tree_levels, "plan", lambda *args: None)
        old = derive(ds, net)
    return new, old


def _assert_same_modes(new_modes, old_modes, points) -> None:
    assert [m.label for m in new_modes] == [m.label for m in old_modes]
    for a, b in zip(new_modes, old_modes, strict=True):
        assert a.atoms == b.atoms and a.cx == b.cx and a.cy == b.cy
        assert sp.expand(a.multiplicity - b.multiplicity) == 0, (a, b)
        assert sp.simplify(a.lam - b.lam) == 0, (a, b)
        for field in ("s", "fixed_point"):
            _close(getattr(a, field), getattr(b, field), points, f"{a.label} {field}")
        assert [_truth(a.condition, p) for p in points] == \
            [_truth(b.condition, p) for p in points]


def _assert_same_derivation(new, old, seed: int) -> None:
    points = _points(4, seed)
    for a, b in zip(new.modules, old.modules, strict=True):
        _assert_same_modes(a.spectrum.modes, b.spectrum.modes, points)
        _assert_same_modes(a.spectrum.silent, b.spectrum.silent, points)
    assert new.strengths == old.strengths
    for key, traj in old.trajectories.items():
        if traj is None:
            assert new.trajectories[key] is None
        else:
            _close(new.trajectories[key], traj, points, f"a(t) of {key}")
    for key, half in old.half_rise_times.items():
        _close(new.half_rise_times[key], half, points, f"half-rise of {key}")
    at = [p | {s: sp.Rational(k + 1, 3) for k, s in enumerate(new.strengths.values())}
          for p in points]
    for kind in ("quadrant_norms", "loss"):
        assert list(new.observables[kind]) == list(old.observables[kind])
        for name, expr in old.observables[kind].items():
            _close(new.observables[kind][name], expr, at, f"{kind} {name}")
    conv_new, conv_old = new.converged, old.converged
    assert {k: v for k, v in conv_new.items() if k not in ("quadrant_norms", "blocks")} == \
        {k: v for k, v in conv_old.items() if k not in ("quadrant_norms", "blocks")}
    assert list(conv_new["quadrant_norms"]) == list(conv_old["quadrant_norms"])
    for name, norm in conv_old["quadrant_norms"].items():
        _close(conv_new["quadrant_norms"][name], norm, points, f"W* norm {name}")
    assert list(conv_new["blocks"]) == list(conv_old["blocks"])
    for name, coeffs in conv_old["blocks"].items():
        assert list(conv_new["blocks"][name]) == list(coeffs), name
        for atom, value in coeffs.items():
            _close(conv_new["blocks"][name][atom], value, points, f"W* {name} on {atom}")


@pytest.mark.parametrize("levels", [1, 3, 5])
@pytest.mark.parametrize("arch", ["dense", "split"])
def test_the_route_equals_the_explicit_algebra(monkeypatch, levels, arch):
    new, old = _both(monkeypatch, levels, arch)
    _assert_same_derivation(new, old, seed=levels)


@pytest.mark.slow
@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("arch, depth", [("dense", 2), ("split", 2), ("shallow", 1),
                                         ("dense", 1), ("split", 3)])
def test_the_route_equals_the_explicit_algebra_for_levels_one_to_six(monkeypatch, levels,
                                                                     arch, depth):
    new, old = _both(monkeypatch, levels, arch, depth)
    _assert_same_derivation(new, old, seed=10 * levels + depth)


def test_numeric_sizes_and_other_networks_keep_the_explicit_algebra():
    numeric = hierarchical(4, 2, 1, 1)
    assert not tree_levels.applies(numeric, family_network("dense", numeric))
    ds = hierarchical(4, c, f, R)
    gapped = Network((Module(("items",), ("level0", "level2"), 2, "A"),
                      Module(("items",), ("level1", "level3"), 2, "B")), "gapped")
    assert not tree_levels.applies(ds, gapped)
    assert tree_levels.applies(ds, family_network("split", ds))
    with pytest.raises(ModspecError, match="budgeted to 156"):
        check_work(hierarchical(13, c, f, R), network=Network(
            (Module(("items",), tuple(f"level{g}" for g in range(0, 13, 2)), 2, "A"),), "x"))


def test_the_budget_of_a_symbolic_tree_on_the_route():
    ds = hierarchical(TREE_LEVELS, c, f, R)
    check_work(ds, network=family_network("dense", ds))           # 100 levels: let through
    big = hierarchical(TREE_LEVELS + 1, c, f, R)
    assert (TREE_LEVELS + 1) * (TREE_LEVELS + 2) > MAX_TREE_PAIRS
    with pytest.raises(ModspecError, match=f"budgeted to {MAX_TREE_PAIRS}"):
        check_work(big, network=family_network("dense", big))


def test_forty_levels_by_the_route_match_the_closed_form_of_any_level():
    """At 40 levels (beyond the explicit algebra's budget) each mode is the dense spectrum
    for any number of levels D at D = 40 and g = its level (families.hierarchical_levels)."""
    from modspec.theory.families import hierarchical_levels
    from modspec.theory.families.hierarchical import D

    th = derive(hierarchical(40, c, f, R), family_network("dense", hierarchical(40, c, f, R)))
    root, generic = hierarchical_levels()
    g = next(s for s in generic.s.free_symbols if s.name == "g")
    modes = th.module("dense").spectrum.modes
    assert len(modes) == 40
    for level in (0, 1, 17, 39):
        want = root if level == 0 else generic
        at = {D: 40, g: level}
        mode = modes[level]
        pts = _points(2, level)
        _close(mode.s, want.s.xreplace(at), pts, "s")
        _close(mode.multiplicity, want.multiplicity.xreplace(at), pts, "multiplicity")


def test_tiny_values_are_told_apart_relatively():
    """differ_somewhere and probe compare values far below 1 (a tree's s ∝ c^−(D−1))
    relatively, never an exact zero written with radicals."""
    tiny = c ** -60
    assert differ_somewhere(tiny * sp.sqrt(c**10 - 1), tiny * sp.sqrt(c**9 - 1))
    zero = sp.sqrt(2 + sp.sqrt(3)) - (sp.sqrt(6) + sp.sqrt(2)) / 2
    assert not differ_somewhere(tiny * zero, sp.Integer(0))
    assert not differ_somewhere(tiny * (c + 1) ** 2, tiny * (c**2 + 2 * c + 1))
    u, v, w = probe([tiny * sp.sqrt(c**10 - 1), tiny * sp.sqrt(c**9 - 1), tiny * zero])
    assert probed_apart(u, v) and w is None and not probed_apart(u, w)


def test_the_observables_of_a_large_symbolic_tree_are_refused_in_one_line():
    """The modes and W* take the route; the observables in the mode strengths (sums over the
    modes, simplified by the explicit algebra when read) keep the symbolic budget of 12
    levels: reading them beyond is one ModspecError naming the size, not minutes of work."""
    ds = hierarchical(13, c, f, R)
    th = derive(ds, family_network("dense", ds))
    assert len(th.modes) == 13 and th.converged["quadrant_norms"]
    with pytest.raises(ModspecError, match="'13 atoms x 14 blocks'.*observables") as err:
        th.observables["quadrant_norms"]
    assert "\n" not in str(err.value)
