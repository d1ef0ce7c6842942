"""The theory is valid where it is printed.

Symbolic observables carry the conditions under which their modes exist, so substituting any
valid point (degenerate corners kx = 0, ky = 0, r = 0, ny = 0, ny = nx included) gives the
value of the numeric data there, checked against the map assembled from the analytic singular
vectors. Printed text reads back with plain ``sympy.sympify``; LaTeX is in the paper's notation.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.theory import architectures as arch
from modspec.theory import symbols as sy
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.derivation import derive
from modspec.theory.observables import QUADRANTS

DECOUPLED = ("dense", "split", "segregated")


@functools.cache
def symbolic(name: str, depth: int = 2):
    return derive(CompositionalDataset.symbolic(), arch.architecture(name, depth))


def _at(expr, point):
    return float(sp.sympify(expr).subs(point))


def _map_oracle(ds, th):
    """Quadrant norms, rule error and block losses of W* built from singular vectors."""
    W, X, Y = th.converged_map(), ds.X, ds.Y
    out = {}
    for i, o in QUADRANTS:
        (i0, i1), (o0, o1) = ds.input_blocks[i], ds.output_blocks[o]
        out[f"{i}->{o}"] = np.linalg.norm(W[o0:o1, i0:i1])
    (i0, i1), (o0, o1) = ds.input_blocks["Ox"], ds.output_blocks["Oy"]
    out["rule_error"] = np.linalg.norm(W[o0:o1, i0:i1] - ds.selection)
    E = Y - W @ X
    for block, name in (("Oy", "compositional"), ("Gy", "noncompositional")):
        o0, o1 = ds.output_blocks[block]
        out[name] = np.sum(E[o0:o1] ** 2) / ds.P
    return out


params = st.fixed_dictionaries({
    "nx": st.integers(1, 4), "ny_frac": st.sampled_from([0, 0.5, 1]),
    "kx": st.integers(0, 3), "ky": st.integers(0, 3),
    "rx": st.sampled_from([0, sp.Rational(1, 2), 1, 2]),
    "ry": st.sampled_from([0, sp.Rational(1, 2), 1, 3]),
})
CORNERS = [dict(nx=3, ny_frac=0.5, kx=0, ky=1, rx=1, ry=1),
           dict(nx=3, ny_frac=0.5, kx=2, ky=0, rx=1, ry=1),
           dict(nx=3, ny_frac=0.5, kx=2, ky=1, rx=0, ry=0),
           dict(nx=3, ny_frac=0, kx=3, ky=1, rx=1, ry=1),
           dict(nx=3, ny_frac=1, kx=3, ky=1, rx=1, ry=1),
           dict(nx=2, ny_frac=0, kx=0, ky=2, rx=1, ry=1)]


def _with_corners(test):
    for corner in CORNERS:
        test = example(p=corner)(test)
    return test


@pytest.mark.parametrize("name", DECOUPLED)
@settings(max_examples=12, deadline=None)
@given(p=params)
@_with_corners
def test_symbolic_converged_map_substituted_equals_the_numeric_map(name, p):
    nx = p["nx"]
    ny = int(round(p["ny_frac"] * nx))
    ds = CompositionalDataset(nx=nx, ny=ny, kx=p["kx"], ky=p["ky"], rx=p["rx"], ry=p["ry"])
    point = ds.sympy_params
    th = symbolic(name)
    numeric = derive(ds, arch.architecture(name))
    oracle = _map_oracle(ds, numeric)
    # a mode that does not exist at this point has no fixed point; its strength is immaterial
    fixed = {th.strengths[k]: m.fixed_point.subs(point) if m.condition.subs(point) else 0
             for k, m in th.modes.items()}
    for q, expr in th.converged["quadrant_norms"].items():
        assert _at(expr, point) == pytest.approx(oracle[q], abs=1e-9), q
        assert _at(expr, point) == pytest.approx(float(numeric.converged["quadrant_norms"][q]),
                                                 abs=1e-9), q
    assert _at(th.converged["report"]["rule_error"], point) == pytest.approx(
        oracle["rule_error"], abs=1e-9)
    for loss, expr in th.observables["loss"].items():
        value = _at(sp.sympify(expr).subs(fixed), point)
        assert value == pytest.approx(oracle[loss], abs=1e-9), loss


def test_gx_to_gy_at_kx_rx_zero_is_zero_not_zoo():
    norm = symbolic("dense").converged["quadrant_norms"]["Gx->Gy"]
    base = {sy.nx: 3, sy.ny: 1, sy.ky: 1, sy.ry: 1}
    for corner in ({sy.kx: 0, sy.rx: 1}, {sy.kx: 3, sy.rx: 0}):
        assert norm.subs(base | corner) == 0   # no (or only zero) Gx input: W*[Gx→·] = 0
    assert sp.simplify(norm.subs(base | {sy.kx: 3, sy.rx: 1}) - 2 * sp.sqrt(474) / 33) == 0


def test_segregated_stays_systematic_with_conditions_in_its_observables():
    assert symbolic("segregated").converged["systematic"] is True
    assert symbolic("dense").converged["systematic"] is False


def _texts(th):
    yield from (sy.to_text(md.mode_ode) for md in th.modules)
    yield from (sy.to_text(md.solution) for md in th.modules if md.solution is not None)
    yield from (sy.to_text(md.implicit) for md in th.modules if md.implicit is not None)
    yield from (sy.to_text(e) for e in th.half_rise_times.values())
    yield from (sy.to_text(eq) for odes in th.matrix_odes.values() for eq in odes)
    yield from (sy.to_text(e) for e in th.converged["quadrant_norms"].values())
    for m in th.modes.values():
        yield from (sy.to_text(e) for e in (m.s, m.lam, m.multiplicity, m.fixed_point))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_every_printed_expression_reads_back_with_plain_sympify(depth):
    th = symbolic("dense", depth)
    texts = list(_texts(th))
    assert len(texts) >= 10
    for text in texts:
        assert not re.search(r"\blambda\b", text)
        sp.sympify(text)   # plain: no locals, no keyword trouble
    exprs = [th.converged["quadrant_norms"]["Gx->Gy"],
             th.half_rise_times["pi1"],
             th.modules[0].solution if depth < 3 else th.modules[0].implicit]
    for expr in exprs:
        assert sy.parse(sy.to_text(expr)) == expr


def test_matrix_flow_text_writes_transposes_as_calls():
    text = sy.to_text(symbolic("dense").matrix_odes["dense"][0])
    assert "transpose(W_2)" in text and ".T" not in text


def test_latex_is_in_the_papers_notation():
    th = symbolic("dense", 3)
    tex = th.to_latex()
    for name in ("n_{x}", "k_{x}", "r_{x}", r"\lambda", r"\tau", "a_{0}"):
        assert name in tex, name
    assert not re.search(r"\b(nx|kx|rx|ky|ry|ny|lambda|tau|a0)\b", tex.replace(r"\lambda", "")
                         .replace(r"\tau", ""))
    assert sy.to_latex(sy.kx * sy.rx**2 / 2**sy.nx) == r"2^{- n_{x}} k_{x} r_{x}^{2}"
