"""The aligned-ansatz reduction of learning rules (issue 13), derived with SymPy."""

from __future__ import annotations

import pytest
import sympy as sp

from modspec.theory import alignment as al
from modspec.theory import rules as r
from modspec.theory import symbols as sy
from modspec.theory.dynamics import mode_rhs
from modspec.theory.errors import ModspecError

s, lam, tau = sy.s, sy.lam, sy.tau
c1, c2 = al.strength(1), al.strength(2)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gradient_descent_stays_aligned_with_the_product_law_at_every_depth(depth):
    system = al.layer_system(depth)
    c = system.strengths
    prod = sp.Mul(*c)
    assert system.reducible
    for layer in range(depth):
        others = sp.Mul(*[c[k] for k in range(depth) if k != layer])
        assert sp.expand(system.scaled[layer] - others * (s - lam * prod)) == 0
        assert system.unscaled[layer] == 0


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_layer_imbalances_are_conserved_under_gradient_descent(depth):
    rates = al.conserved(al.layer_system(depth))
    assert len(rates) == depth * (depth - 1) // 2
    assert set(rates.values()) == {0}


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
def test_balanced_reduction_is_the_mode_ode_of_the_dynamics_module(depth):
    a = sp.Symbol("a", positive=True)
    typed = depth * a ** (2 - sp.Rational(2, depth)) * (s - lam * a)
    assert sp.simplify(al.balanced_rhs(depth) - typed) == 0
    assert mode_rhs(depth) == typed.xreplace({a: sy.a})


def test_ojas_term_reduces_to_nabla_p_lambda_c1_times_one_minus_c1_squared_unscaled():
    system = al.layer_system(2, r.preset("hebbian"))
    assert system.reducible
    assert sp.expand(system.unscaled[0] - r.nabla * r.P * lam * c1 * (1 - c1**2)) == 0
    assert system.unscaled[1] == 0
    assert system.scaled == al.layer_system(2).scaled


def test_output_term_reduces_with_the_output_variance_of_each_mode():
    system = al.layer_system(2, r.preset("contrastive-hebbian"))
    extra = r.gamma * r.P * (al.sigma_y - lam * c1**2 * c2**2) * c2
    assert sp.expand(system.scaled[1] - al.layer_system(2).scaled[1] - extra) == 0
    assert system.unscaled == (0, 0)


def test_anti_hebbian_row_norm_factor_does_not_stay_aligned_and_says_why():
    system = al.layer_system(2, r.preset("anti-hebbian"))
    assert not system.reducible
    assert "off-diagonal" in system.reason and "W1" in system.reason
    assert system.scaled == () and al.fixed_points(system) == ()


def test_a_user_rule_in_a_few_lines_of_sympy_reduces_weight_decay_per_mode():
    kappa = sp.Symbol("kappa")
    decay = r.Rule("weight-decay", (r.Term(1, -kappa * r.W1), r.Term(2, -kappa * r.W2)),
                   {kappa: 1e-3})
    system = al.layer_system(2, decay)
    gd = al.layer_system(2).scaled
    assert system.reducible
    extra = [sp.expand(a - b) for a, b in zip(system.scaled, gd, strict=True)]
    assert extra == [-kappa * c1, -kappa * c2]


def test_gradient_descent_fixed_points_are_the_origin_and_the_curve_c1_c2_equal_s_over_lambda():
    points = al.fixed_points(al.layer_system(2))
    maps = {sp.simplify(p.map) for p in points}
    assert maps == {0, s / lam}


def test_ojas_fixed_point_is_c1_one_with_the_map_s_over_lambda_and_is_stable():
    points = al.fixed_points(al.layer_system(2, r.preset("hebbian")))
    target = [p for p in points if p.strengths == (1, s / lam)]
    assert len(target) == 1 and sp.simplify(target[0].map - s / lam) == 0
    num = {s: sp.Rational(3, 2), lam: 2, r.nabla: sp.Rational(1, 1000), r.P: 4, tau: 25}
    assert all(complex(sp.N(e.xreplace(num))).real < 0 for e in target[0].eigenvalues)


def test_stability_is_decided_symbolically_from_the_signs_of_the_rules_coefficients():
    """With each coefficient's sign known (its value's), SymPy decides stability: Oja's
    c1 = ±1 points are stable (trace < 0, determinant 2Pλ²∇/τ > 0) and the origin is unstable
    for every rule; the output term keeps gradient descent's curve c1 c2 = s/λ (a zero
    eigenvalue along it), attracting across it for γ > 0."""
    import modspec as ms
    from modspec.theory.rule_derivation import derive_rule

    th = ms.derive(ms.CompositionalDataset(3, 1, 3, 1), ms.architectures.dense())
    hebb = {p.strengths: p.stable for p in derive_rule(th, r.preset("hebbian")).fixed_points}
    assert hebb == {(1, s / lam): True, (-1, -s / lam): True, (0, 0): False}
    for name, attracting in (("contrastive-hebbian", True), ("predictive-coding", False)):
        points = derive_rule(th, r.preset(name)).fixed_points
        assert {p.strengths: p.stable for p in points}[(0, 0)] is False
        curve = [p for p in points if p.strengths != (0, 0)]
        assert len(curve) == 1 and curve[0].stable is None
        # γ > 0: attracting across the curve c1 c2 = s/λ; γ < 0: that depends on c2
        assert curve[0].attracting_curve is attracting


def test_output_term_vanishes_at_w_star_exactly_when_sigma_y_is_s_squared_over_lambda():
    rule = r.preset("predictive-coding")
    at = al.at_optimum(al.layer_system(2, rule), rule)
    assert at[1] == 0
    assert sp.simplify(at[2].xreplace({al.sigma_y: s**2 / lam})) == 0
    assert sp.simplify(at[2].xreplace({al.sigma_y: 2 * s**2 / lam})) != 0


def test_ojas_term_vanishes_at_w_star_only_on_c1_equal_one():
    rule = r.preset("hebbian")
    at = al.at_optimum(al.layer_system(2, rule), rule)
    assert at[2] == 0
    assert sp.solve(at[1], c1) == [-1, 0, 1] or set(sp.solve(at[1], c1)) == {-1, 0, 1}


@pytest.mark.parametrize("make, words", [
    (lambda: r.Term(1, r.W2), "has shape"),
    (lambda: r.Term(3, r.W1), "must be 1 or 2"),
    (lambda: r.Term(1, r.W1 * r.X), "has shape"),
    (lambda: r.Term(1, "W1"), "matrix expression"),
    (lambda: r.Rule("x", (r.Term(1, sp.Symbol("k") * r.W1),), {}), "missing ['k']"),
    (lambda: r.Rule("x", (r.Term(1, sp.Symbol("k") * r.W1),),
                    {sp.Symbol("k"): float("inf")}), "finite"),
    (lambda: r.preset("oja"), "must be one of"),
])
def test_bad_rule_definitions_are_one_line_errors(make, words):
    with pytest.raises(ModspecError) as err:
        make()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_on_the_symbolic_compositional_family_the_output_term_vanishes_at_w_star_and_ojas_not():
    import modspec as ms
    from modspec.theory import architectures as arch
    from modspec.theory.rule_derivation import derive_rule

    th = ms.derive(ms.CompositionalDataset.symbolic(), arch.dense())
    for name in ("contrastive-hebbian", "predictive-coding"):
        rd = derive_rule(th, r.preset(name))
        assert rd.linear and rd.given == {al.sigma_y: s**2 / lam}
        assert rd.vanishes_at_optimum == {1: True, 2: True}
    rd = derive_rule(th, r.preset("hebbian"))
    assert rd.vanishes_at_optimum == {1: False, 2: True}
    assert sp.solve(rd.at_optimum[1].xreplace({c1: 1}), r.nabla) == [] \
        and rd.at_optimum[1].xreplace({c1: 1}) == 0
