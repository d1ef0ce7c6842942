"""Derivations that used to hang (issue 24): each finishes correctly in seconds or is refused
in one line by a stated budget. Time bounds are generous multiples of a reference run on the
same machine, never a tight wall clock."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import sympy as sp


def _timed(run_cli, capsys, *argv):
    start = time.perf_counter()
    code, out, err = run_cli(capsys, *argv)
    return code, out, err, time.perf_counter() - start


# ------------------------------------------------- a rule with the output and Oja's terms
def test_the_fixed_points_of_two_terms_are_solved_piece_by_piece():
    """γ and ∇ both non-zero: the closed-form points, and the rest as the equations they solve;
    every real root of those equations is a fixed point of the system (checked numerically)."""
    from modspec.theory import alignment as al
    from modspec.theory import rules
    from modspec.theory import symbols as sy

    system = al.layer_system(2, rules.preset("hebbian", 1.0))
    given = {al.sigma_y: sy.s**2 / sy.lam}
    start = time.perf_counter()
    points = al.fixed_points(system, given)
    assert time.perf_counter() - start < 60            # sympy.solve: over ten minutes
    closed = {tuple(p.strengths) for p in points if not p.solving}
    c1, c2 = system.strengths
    assert {(1, sy.s / sy.lam), (-1, -sy.s / sy.lam), (0, 0)} <= closed
    implicit = [p for p in points if p.solving]
    assert len(implicit) == 1
    at = {sy.s: 1.5, sy.lam: 0.75, rules.P: 8, sy.tau: 2.0, rules.gamma: 1.0,
          rules.nabla: 0.5, al.sigma_y: 3.0}
    h, g1, g2 = (sp.sympify(e).subs(at) for e in implicit[0].solving)
    rhs = [sp.lambdify((c1, c2), e.xreplace(given).subs(at)) for e in system.rhs]
    roots = [x.real for x in np.roots([float(k) for k in sp.Poly(h, c1).all_coeffs()])
             if abs(x.imag) < 1e-9]
    checked = 0
    for x in roots:
        for y in np.roots([float(k) for k in sp.Poly(g2.subs(c1, x), c2).all_coeffs()]):
            if abs(y.imag) < 1e-9 and abs(float(g1.subs({c1: x, c2: y.real}))) < 1e-6:
                assert max(abs(f(x, y.real)) for f in rhs) < 1e-8
                checked += 1
    assert checked == len(roots) > 0


@pytest.mark.parametrize("gamma", ["1", "-0.5"])
def test_derive_with_gamma_and_nabla_finishes_in_seconds(run_cli, capsys, gamma):
    *_, reference = _timed(run_cli, capsys, "derive", "--rule", "hebbian", "--format", "json")
    code, out, err, took = _timed(run_cli, capsys, "derive", "--rule", "hebbian", "--gamma",
                                  gamma, "--format", "json")
    assert code == 0, err
    assert took < 10 * reference + 30                  # was over ten minutes
    points = json.loads(out)["rule"]["fixed_points"]
    assert ["1", "s/lam"] in [p["strengths"] for p in points]
    assert any(p.get("solving") for p in points)


# ------------------------------------------------------------------- hierarchical levels
def _tree(tmp_path, levels):
    path = tmp_path / f"tree{levels}.toml"
    path.write_text(f'family = "hierarchical"\nlevels = {levels}\nbranching = 2\n'
                    'features = 1\nr = 1.0\n')
    return str(path)


@pytest.mark.parametrize("levels, symbolic, names", [
    (100, False, "'100 atoms x 101 blocks'"),
    (101, True, "'101 atoms x 102 blocks'"),
    (255, True, "'255 atoms x 256 blocks'"),
])
def test_a_derivation_beyond_the_work_budget_is_refused_at_once(run_cli, capsys, tmp_path,
                                                                levels, symbolic, names):
    from test_cli_edges import assert_one_line_refusal

    argv = ("derive", "--dataset", _tree(tmp_path, levels), "--no-cache",
            *(("--symbolic",) if symbolic else ()))
    code, out, err, took = _timed(run_cli, capsys, *argv)
    assert_one_line_refusal(code, out, err, f"dataset={names}")
    assert "budgeted to" in err and ("any number of levels" in err) == symbolic
    assert took < 10                                   # measured 0.01 s; was minutes


def test_the_issues_ten_symbolic_levels_are_within_the_budget_and_finish(run_cli, capsys,
                                                                        tmp_path):
    """Issue 24: a cold symbolic hierarchy of 10 levels took minutes; now seconds (the
    level-generic route of theory/tree_levels.py), well inside its budget of 100 levels."""
    code, out, err, took = _timed(run_cli, capsys, "derive", "--symbolic", "--no-cache",
                                  "--dataset", _tree(tmp_path, 10), "--format", "json")
    assert code == 0, err
    assert took < 120                                  # measured 4.3 s; was minutes
    assert len(json.loads(out)["modules"][0]["modes"]) == 10


@pytest.mark.parametrize("levels", [40, pytest.param(100, marks=pytest.mark.slow)])
def test_a_symbolic_hierarchy_of_forty_or_a_hundred_levels_finishes_like_four(run_cli, capsys,
                                                                             tmp_path, levels):
    """Issue 24: symbolic levels 40 (51 s) and 100 (over 240 s) were refused by the budget;
    the level-generic route derives them at about the cost of 4 levels (measured 2.1 CPU s at
    4 levels, 2.6 at 40, 4.1 at 100, with the mode solution cached)."""
    argv = ("derive", "--symbolic", "--format", "json", "--dataset")
    *_, reference = _timed(run_cli, capsys, *argv, _tree(tmp_path, 4), "--no-cache")
    code, out, err, took = _timed(run_cli, capsys, *argv, _tree(tmp_path, levels), "--no-cache")
    assert code == 0, err
    assert took < 6 * reference + 20
    modes = json.loads(out)["modules"][0]["modes"]
    assert [m["label"] for m in modes] == [f"level{g}" for g in range(levels)]
    assert sp.sympify(modes[-1]["multiplicity"]) == sp.sympify(f"c**{levels - 2}*(c - 1)")


def test_the_latex_of_a_symbolic_hierarchy_beyond_twelve_levels_is_one_line(run_cli, capsys,
                                                                            tmp_path):
    """LaTeX prints the observables in the mode strengths, which keep the symbolic budget of
    12 levels (at 100 levels they ran minutes into a RecursionError)."""
    from test_cli_edges import assert_one_line_refusal

    code, out, err, took = _timed(run_cli, capsys, "derive", "--symbolic", "--no-cache",
                                  "--format", "latex", "--dataset", _tree(tmp_path, 13))
    assert_one_line_refusal(code, out, err, "dataset='13 atoms x 14 blocks'")
    assert "observables" in err and took < 60


def test_forty_levels_is_within_the_budget_and_finishes(run_cli, capsys, tmp_path):
    *_, reference = _timed(run_cli, capsys, "derive", "--dataset", _tree(tmp_path, 3),
                           "--format", "json")
    code, out, err, took = _timed(run_cli, capsys, "derive", "--dataset",
                                  _tree(tmp_path, 40), "--format", "json")
    assert code == 0, err
    assert took < 20 * reference + 60                  # measured ~8 s on a loaded core
    modes = json.loads(out)["modules"][0]["modes"]
    assert len(modes) == 40


# ------------------------------------------------------------ a coupled network's end point
def _cube4():
    from test_cli_families import DECLARED

    return DECLARED.replace("n = 3", "n = 4")


def test_the_leaky_end_point_of_a_declared_four_cube_comes_to_rest_in_seconds(tmp_path):
    """Undriven directions decay as c' = −λc³ from c ≈ 1e-3 (layer velocity ~1e-9 for 10⁵ τ):
    the end point waits for the map to rest (velocity < 1e-10/τ). The map then fits every
    object to ~1e-5: the rest of the residual is a direction rising over ~10⁶ τ, which the
    old criterion waited for (hours)."""
    import tomllib

    from modspec.numerics.integrate import converged_map
    from modspec.theory.families import family_network, from_mapping

    dataset = from_mapping(tomllib.loads(_cube4()))
    start = time.perf_counter()
    W = converged_map(dataset, family_network("leaky", dataset))
    assert time.perf_counter() - start < 60            # measured ~2 s; was over 240 s
    X, Y = np.asarray(dataset.X, dtype=float), np.asarray(dataset.Y, dtype=float)
    assert np.max(np.abs(W @ X - Y)) < 1e-4
