"""The basis condition, the per-mode pathway system and its conserved quantities."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from gated_cases import FAILING, FAILING_DATA, ROUTING_SMALL, ROUTING_SMALL_DATA, ROUTING_SMALL_Y

from modspec.theory.gated_data import GatedData, gated_statistics
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import (
    basis_condition,
    conserved_quantities,
    pathway_modes,
)
from modspec.theory.gated_toml import network_from_toml


def test_a_shared_hidden_layer_conserves_its_strength_against_the_modules():
    net = network_from_toml(ROUTING_SMALL)
    stats = gated_statistics(net, ROUTING_SMALL_DATA)
    cond = basis_condition(stats)
    assert cond.holds and cond.reason == ""
    modes = pathway_modes(gated_flow(net), stats, cond)
    assert sorted(modes.edges) == [0, 1]
    b = modes.b
    # the mode strengths are the singular values of Y over the 12 samples (each pathway is
    # trained in one of the 6 contexts), the input covariance 1/12 on every mode
    sv = np.linalg.svd(np.array(ROUTING_SMALL_Y, float), compute_uv=False)
    for a, sigma in zip((0, 1), sv, strict=True):
        vals = modes.values[a]
        assert vals[sp.Symbol("s[i0.hg.o0]")] == pytest.approx(sigma / 12, rel=1e-12)
        assert vals[sp.Symbol("d[i0.hg.o0|i0.hg.o0]")] == pytest.approx(1 / 12, rel=1e-12)
        assert sp.Symbol("s[i0.hg.o2]") not in vals   # an untrained pair: no term
    laws = conserved_quantities(modes.system(0), b)
    span = sp.Matrix([[q.coeff(b[e] ** 2) for e in b] for q in laws])
    shared = sp.Matrix([[{"hg": 1, "i0": -1, "i1": -1, "i2": -1}.get(e, 0) for e in b]])
    outputs = sp.Matrix([[{"hg": 1, "o0": -1, "o1": -1, "o2": -1}.get(e, 0) for e in b]])
    assert span.rank() == 2
    assert span.col_join(shared).rank() == 2 and span.col_join(outputs).rank() == 2
    # on the symmetric solution (equal modules) b_hg² − M·b_in² is conserved, M = 3: the
    # shared layer learns M times faster
    rhs = modes.system(0)
    sym = {b["i1"]: b["i0"], b["i2"]: b["i0"], b["o1"]: b["o0"], b["o2"]: b["o0"]}
    assert _zero((rhs["i1"] - rhs["i0"]).xreplace(sym))
    dQ = 2 * b["hg"] * rhs["hg"] - 3 * 2 * b["i0"] * rhs["i0"]
    assert _zero(dQ.xreplace(sym))
    assert not _zero(dQ.xreplace({b["i1"]: b["i0"], b["i2"]: b["i0"]}))


def _zero(expr):
    """Every coefficient of the polynomial is zero to rounding."""
    expr = sp.expand(expr)
    return expr == 0 or max(abs(float(c)) for c in sp.Poly(expr).coeffs()) < 1e-12


def test_the_per_mode_equations_are_products_of_other_strengths_times_the_mode_error():
    net = network_from_toml(ROUTING_SMALL)
    stats = gated_statistics(net, ROUTING_SMALL_DATA)
    modes = pathway_modes(gated_flow(net), stats)
    b = modes.b
    s, d = sp.Symbol("s[i0.hg.o0]"), sp.Symbol("d[i0.hg.o0|i0.hg.o0]")
    s1, d1 = sp.Symbol("s[i0.hg.o1]"), sp.Symbol("d[i0.hg.o1|i0.hg.o1]")
    err0 = s - b["i0"] * b["hg"] * b["o0"] * d
    err1 = s1 - b["i0"] * b["hg"] * b["o1"] * d1
    want = b["hg"] * b["o0"] * err0 + b["hg"] * b["o1"] * err1
    assert sp.expand(modes.rhs["i0"] - want) == 0


def test_where_pathways_see_different_singular_vectors_the_condition_fails_in_one_line():
    net, data = network_from_toml(FAILING), FAILING_DATA
    cond = basis_condition(gated_statistics(net, data))
    assert not cond.holds
    assert "\n" not in cond.reason and "no shared basis" in cond.reason
    assert "W1.W2" in cond.reason or "A" in cond.reason
    with pytest.raises(ValueError, match="no shared basis"):
        pathway_modes(gated_flow(net), gated_statistics(net, data), cond)


def test_a_degenerate_layer_does_not_hide_the_frame_another_layer_fixes():
    # x1 → y is the identity (any frame of x1 works); x2 → y, on together with it, fixes the
    # frame: R diag(2, 1) Rᵀ with a rotation R. Searching from x1 alone picks the wrong one.
    text = """
[layers]
x1 = 2
x2 = 2
y = 2
[edges]
A = ["x1", "y"]
B = ["x2", "y"]
[gates.context]
x1 = [1, 0]
x2 = [0, 1]
"""
    net = network_from_toml(text.replace("[layers]", 'contexts = ["a", "b"]\n[layers]'))
    c, s_ = sp.Rational(3, 5), sp.Rational(4, 5)
    R = sp.Matrix([[c, -s_], [s_, c]])
    data = GatedData({"x1": sp.eye(2), "x2": R * sp.diag(2, 1) * R.T},
                     {"y": sp.eye(2)})
    stats = gated_statistics(net, data)
    cond = basis_condition(stats)
    assert cond.holds, cond.reason
    modes = pathway_modes(gated_flow(net), stats, cond)
    for a in modes.edges:     # the frame of x2 is R's columns (up to sign and order)
        v = modes.frames["x2"][a]
        cols = np.array(R.tolist(), dtype=float).T
        assert max(abs(float(v @ col)) for col in cols) == pytest.approx(1.0, abs=1e-12)
