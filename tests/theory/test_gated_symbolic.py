"""Symbolic per-mode statistics: the routing example with symbolic feature scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from gated_cases import CHAIN_DATA, chain

from modspec.theory.errors import ModspecError
from modspec.theory.gated_data import GatedData, gated_statistics, load_data
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import pathway_modes
from modspec.theory.gated_symbolic import symbolic_modes
from modspec.theory.gated_toml import load_network, network_from_toml

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
a, b, c = sp.symbols("a b c", positive=True)


def _routing_data(scale_a, scale_b, scale_c):
    Y = sp.Matrix([[scale_a] * 4, [scale_b, scale_b, 0, 0], [0, 0, scale_b, scale_b]]
                  ).col_join(scale_c * sp.eye(4))
    return GatedData({f"x{i}": sp.eye(4) for i in range(7)}, {f"y{j}": Y for j in range(7)})


def test_routing_with_symbolic_feature_scales_has_symbolic_singular_values_and_odes():
    net = load_network(EXAMPLES / "routing.toml")
    sym = symbolic_modes(net, _routing_data(a, b, c))
    assert sym.symbols == (a, b, c)
    # the pathway in0 → out0, in its one context of N = 112 samples: the singular values of
    # Y (the first two from (1,1,1,1)/2 and (1,1,−1,−1)/2, then c twice) over N
    s = sp.Symbol("s[in0.shared.out0]")
    want = [sp.sqrt(4 * a**2 + 2 * b**2 + c**2), sp.sqrt(2 * b**2 + c**2), c, c]
    for mode, w in enumerate(want):
        assert sp.simplify(sp.Abs(sym.values[mode][s]) - w / 112) == 0
    # substituted, they are the numeric derivation of the shipped example (a, b, c = 6, 4, 3)
    data = load_data(EXAMPLES / "routing-data.toml")
    modes = pathway_modes(gated_flow(net), gated_statistics(net, data))
    point = {a: 6, b: 4, c: 3}
    for mode, vals in sym.values.items():
        for key, expr in vals.items():
            assert abs(float(expr.subs(point))) == pytest.approx(
                abs(modes.values[mode][key]), rel=1e-12, abs=1e-15)
        system = sym.system(mode)
        for e, rhs in system.items():    # the per-mode ODEs, up to the frames' signs
            flip = {modes.b[x]: modes.b[x] * _sign(sym, modes, mode, x) for x in system}
            got = sp.expand(rhs.subs(point).xreplace(flip)) * _sign(sym, modes, mode, e)
            diff = sp.expand(sp.N(got) - modes.system(mode)[e])
            assert diff == 0 or max(abs(float(k)) for k in sp.Poly(diff).coeffs()) < 1e-12
    assert a in sym.system(0)["in0"].free_symbols


def _sign(sym, modes, mode, edge):
    """The frames of the two derivations agree up to the sign of each vector."""
    e = modes.network.edge[edge]
    sign = 1.0
    for layer in (e.source, e.target):
        u, v = sym.modes.frames[layer][mode], modes.frames[layer][mode]
        sign *= float(np.sign(u @ v))
    return sign


def test_symbols_that_move_the_singular_vectors_are_refused_in_one_line():
    k = sp.Symbol("k", positive=True)
    data = GatedData({"x": sp.eye(2)}, {"y": sp.Matrix([[3, k], [0, 1]])})
    with pytest.raises(ModspecError, match="move the shared singular vectors") as err:
        symbolic_modes(network_from_toml(chain(2)), data)
    assert "\n" not in str(err.value)
    with pytest.raises(ModspecError, match="no symbols"):
        symbolic_modes(network_from_toml(chain(2)), CHAIN_DATA)
