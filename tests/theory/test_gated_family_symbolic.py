"""A gated network on a dataset family of symbolic sizes (modspec.theory.gated_family,
docs/theory/gated.md §6): at numbers, the symbolic per-mode statistics, mode ODEs and fixed
points are the numeric gated derivation's on the numeric dataset (1e-10), up to the sign of
each layer's singular vectors (a numeric frame's sign is arbitrary)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.numerics.gated_race import end_point, mode_system
from modspec.numerics.gated_simulate import gated_loss
from modspec.theory.architectures import architecture
from modspec.theory.derivation import derive
from modspec.theory.errors import ModspecError
from modspec.theory.families import from_mapping, symbolic
from modspec.theory.gated import Edge, Gate, GatedNetwork, Layer, ModularRule
from modspec.theory.gated_convert import as_gated
from modspec.theory.gated_data import from_dataset, gated_statistics
from modspec.theory.gated_family import family_modes
from modspec.theory.gated_flow import gated_flow
from modspec.theory.gated_modes import aligned_weights, conserved_quantities, pathway_modes

TOL = 1e-10


def _sizes(ds):
    return {k: e - s for k, (s, e) in {**ds.input_blocks, **ds.output_blocks}.items()}


def _race_network(ds, inputs, outputs, shallow):
    """Every non-empty input block → hidden h (wide enough) → every non-empty output block,
    and a shallow edge ``shallow = (input, output)``; two contexts gate the shallow edge and
    scale the hidden layer (constant per context, exact)."""
    size = _sizes(ds)
    ins = [b for b in inputs if size[b] > 0]
    outs = [b for b in outputs if size[b] > 0]
    layers = [Layer(b, size[b]) for b in (*ins, *outs)] + [Layer("h", int(ds.P) + 2)]
    edges = [Edge(f"W_{b}", b, "h") for b in ins] + [Edge(f"V_{o}", "h", o) for o in outs]
    edges.append(Edge("S", *shallow))
    gates = (Gate("S", "context", (1, 0)), Gate("h", "context", (1, sp.Rational(1, 2))))
    return GatedNetwork(tuple(layers), tuple(edges), gates, contexts=("a", "b"), name="race")


def _gauge(net, values, sigma):
    """The statistics in frames whose port layers are flipped by ``sigma[layer]``."""
    out = {}
    for key, v in values.items():
        labels = key.name[2:-1].split("|")
        paths = [next(p for p in net.pathways if ".".join(p) == lab) for lab in labels]
        ends = ((net.target(paths[0]), net.source(paths[0])) if key.name.startswith("s[")
                else (net.source(paths[0]), net.source(paths[1])))
        out[key] = v * sigma.get(ends[0], 1) * sigma.get(ends[1], 1)
    return out


def _matches(net, num, sym):
    """A sign per port layer under which the numeric mode's statistics are the symbolic
    mode's (1e-10), or None."""
    ports = [*net.input_layers, *net.output_layers]
    for signs in itertools.product((1, -1), repeat=len(ports)):
        sigma = dict(zip(ports, signs, strict=True))
        flipped = _gauge(net, num, sigma)
        if all(abs(flipped[k] - float(sym.get(k, 0))) <= TOL * max(1, abs(flipped[k]))
               for k in flipped):
            return sigma
    return None


def _check_equations(net, data, modes, a, sym_mode, sigma, rng, generic):
    """At random strengths, the symbolic mode ODEs are the numeric ones in flipped frames,
    and the mode's loss ℓ_g is what aligned weights on one of its vectors add to the loss of
    the whole network; at generic values, the conserved quantities are the numeric mode's and,
    where SymPy solved the fixed points, the flow's end point from an aligned start lies on
    one of them."""
    num = modes.system(a)
    flip = {e: sigma.get(net.edge[e].source, 1) * sigma.get(net.edge[e].target, 1)
            for e in num}
    b = {e: rng.uniform(-1, 1) for e in num}
    at_sym = {modes.b[e]: b.get(e, 0.0) for e in sym_mode.edges}
    at_num = {modes.b[e]: flip[e] * b[e] for e in num}
    for e in num:
        want = float(num[e].xreplace(at_num))
        got = flip[e] * float(sym_mode.equations[e].xreplace(at_sym))
        assert abs(got - want) <= TOL * max(1, abs(want)), (a, e, got, want)
    W = aligned_weights(modes, {a: {e: flip[e] * b[e] for e in num}})
    added = gated_loss(net, data, W) - gated_loss(net, data, {k: 0 * w for k, w in W.items()})
    assert abs(float(sym_mode.loss.xreplace(at_sym)) - float(np.ravel(added)[0])) <= TOL
    if not generic:
        return          # conserved quantities and fixed points: for generic symbols
    laws = conserved_quantities(modes.structure(a), modes.b)
    assert sp.Matrix(laws).T == sp.Matrix(list(sym_mode.conserved)).T
    if sym_mode.fixed_points is None:
        return
    system = mode_system(modes, a)
    start = {e: 0.3 for e in system.edges}
    end = end_point(system, start, 1.0, start=start)
    if end.residual > 1e-12:
        return          # Newton stalls where the end point is degenerate (linear convergence)
    point = {modes.b[e]: flip[e] * end.b[e] for e in system.edges}
    point.update({modes.b[e]: 0.0 for e in sym_mode.edges if e not in end.b})
    assert any(all(abs(complex(v.xreplace(point)) - point[k]) <= 1e-8 * max(1, abs(point[k]))
                   for k, v in sol.items()) for sol in sym_mode.fixed_points), (a, end.b)


def _compare(net, symbolic_ds, numeric_ds, values, generic=True):
    """The symbolic result at ``values`` against the numeric derivation, mode by mode, each
    symbolic mode ``multiplicity`` times."""
    at = family_modes(net, symbolic_ds).subs(values)
    data = from_dataset(numeric_ds, net)
    stats = gated_statistics(net, data)
    modes = pathway_modes(gated_flow(net), stats)
    assert abs(float(at.loss({})) - float(sum(stats.y.values())) / 2) <= TOL
    left = {m.label: int(m.multiplicity) for m in at.modes}
    rng = np.random.default_rng(0)
    for a in modes.edges:
        num = modes.values[a]
        if all(abs(v) <= TOL for v in num.values()):
            continue                    # a mode of no statistic: not part of the race
        for m in at.modes:
            sigma = _matches(net, num, m.values) if left[m.label] else None
            if sigma is not None:
                left[m.label] -= 1
                _check_equations(net, data, modes, a, m, sigma, rng, generic)
                break
        else:
            raise AssertionError(f"numeric mode {a} {num} has no symbolic mode")
    assert all(v == 0 for v in left.values()), left
    return at


@settings(max_examples=4, deadline=None)
@given(nx=st.integers(1, 3), data=st.data(), kx=st.integers(0, 2), ky=st.integers(0, 2),
       rx=st.sampled_from([0, 1, sp.Rational(1, 2), sp.sqrt(2)]),
       ry=st.sampled_from([0, 1, sp.Rational(3, 2)]))
@example(nx=3, data=None, kx=1, ky=2, rx=sp.Rational(1, 2), ry=sp.Rational(3, 2))
@example(nx=2, data=None, kx=0, ky=1, rx=1, ry=1)
@example(nx=2, data=None, kx=1, ky=1, rx=1, ry=0)
@example(nx=1, data=None, kx=2, ky=0, rx=sp.sqrt(2), ry=1)
def test_symbolic_modes_on_the_compositional_family_equal_the_numeric_derivation(
        nx, data, kx, ky, rx, ry):
    ny = 1 if data is None else data.draw(st.integers(1, nx))
    values = dict(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry)
    numeric = from_mapping({"family": "compositional", **values})
    net = _race_network(numeric, ("Ox", "Gx"), ("Oy", "Gy"), ("Ox", "Oy"))
    sym = symbolic({"family": "compositional", "nx": 2, "ny": 1, "kx": 1, "ky": 1, "r": 1})
    _compare(net, sym, numeric, values, generic=all(v != 0 for v in values.values()))


@pytest.mark.parametrize("branching,features,r", [(2, 1, 1), (3, 2, sp.Rational(1, 2))])
def test_symbolic_modes_on_the_hierarchical_family_equal_the_numeric_derivation(
        branching, features, r):
    spec = {"family": "hierarchical", "levels": 3, "branching": branching,
            "features": features, "r": r}
    numeric = from_mapping(spec)
    net = _race_network(numeric, ("items",), ("level1", "level2"), ("items", "level2"))
    at = _compare(net, symbolic(spec), numeric,
                  {"branching": branching, "features": features, "r": r})
    assert sum(int(m.multiplicity) for m in at.modes) == int(numeric.P)


@pytest.mark.parametrize("spec,values,inputs,outputs", [
    ({"family": "parity", "nx": 3, "outputs": [[0], [0, 1]], "kx": 1, "ky": 1, "r": 1},
     {"nx": 3, "kx": 1, "ky": 1, "r": sp.Rational(1, 2)}, ("Ox", "Gx"), ("Oy", "Py", "Gy")),
    ({"family": "contexts", "C": 2, "r": 1, "rc": 2, "levels": 2},
     {"C": 3, "r": 1, "rc": 2}, ("objects", "contexts"), ("common", "specific")),
])
def test_symbolic_modes_on_other_families_equal_the_numeric_derivation(spec, values, inputs,
                                                                        outputs):
    numeric = from_mapping({**spec, **values})
    net = _race_network(numeric, inputs, outputs, (inputs[0], outputs[0]))
    _compare(net, symbolic(spec), numeric, values)


@settings(max_examples=3, deadline=None)
@given(nx=st.integers(1, 3), kx=st.integers(1, 2), ky=st.integers(1, 2),
       offsets=st.sampled_from([(0,), (1,), (0, 1)]))
@example(nx=2, kx=1, ky=1, offsets=(0, 1))
def test_the_modular_rule_on_the_symbolic_compositional_family(nx, kx, ky, offsets):
    """Input module i (Ox, Gx) feeds output module j (Oy, Gy) when (j − i) mod 2 ∈ offsets,
    through one shared hidden layer: the rule's context gates average to exact numbers."""
    values = dict(nx=nx, ny=1, kx=kx, ky=ky, rx=1, ry=sp.Rational(1, 2))
    numeric = from_mapping({"family": "compositional", **values})
    size = _sizes(numeric)
    ins, outs = ("Ox", "Gx"), ("Oy", "Gy")
    layers = [Layer(b, size[b]) for b in (*ins, *outs)] + [Layer("h", int(numeric.P) + 2),
                                                            Layer("g", int(numeric.P) + 2)]
    edges = [Edge(f"W_{b}", b, "h") for b in ins] + [Edge("H", "h", "g")] + [
        Edge(f"V_{o}", "g", o) for o in outs]
    net = GatedNetwork(tuple(layers), tuple(edges), rule=ModularRule(ins, outs, offsets),
                       name="rule")
    sym = symbolic({"family": "compositional", "nx": 2, "ny": 1, "kx": 1, "ky": 1, "r": 1})
    _compare(net, sym, numeric, values)


@pytest.mark.parametrize("arch", ["dense", "split", "segregated"])
def test_todays_wirings_declared_as_gated_have_todays_symbolic_modes(arch):
    """On the symbolic compositional family, each module's mode of today's derivation is the
    gated network's: its singular value is that of the mode's Σyx between the module's input
    and output layers, its input variance the trace of its (rank-one) Σx, its multiplicity
    the atoms', and where one pathway carries the mode, its fixed point a* the product of
    the edges' strengths at a fixed point SymPy solved (exact, in the symbols)."""
    spec = {"family": "compositional", "nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1}
    sym = symbolic(spec)
    conv = as_gated(architecture(arch, 2), from_mapping(spec), hidden=16)
    fm = family_modes(conv.network, sym)
    today = derive(sym, architecture(arch, 2))
    net = conv.network
    checked = 0
    for module in architecture(arch, 2).modules:
        tag = module.name
        for mode in today.module(tag).spectrum.modes:
            mine = [m for m in fm.modes if set(m.label.split("+")) & set(mode.atoms)]
            assert sp.simplify(sp.Add(*[m.multiplicity for m in mine])
                               - mode.multiplicity) == 0
            for m in mine:
                S, D = _module_statistics(net, m, tag, module)
                assert sp.simplify((S.T * S).trace() - mode.s ** 2) == 0
                assert sp.simplify(D.trace() - mode.lam) == 0
                if len(m.edges) == 2 and m.fixed_points:     # one pathway: a* = s/λ
                    b1, b2 = (fm.b[e] for e in m.edges)
                    products = {sp.simplify((b1 * b2).xreplace(sol)) for sol in m.fixed_points}
                    assert any(sp.simplify(p - mode.fixed_point) == 0 for p in products)
                    checked += 1
    assert checked


def _module_statistics(net, mode, tag, module):
    """The mode's Σyx between a module's input and output layers, and its Σx of the inputs
    through any output the mode reaches (every gate is 1)."""
    S = sp.Matrix([[_stat(net, mode, "s", (f"{tag}_W1_{b}", f"{tag}_W2_{o}"))
                    for b in module.inputs] for o in module.outputs])
    for o in module.outputs:
        D = sp.Matrix([[_stat(net, mode, "d", (f"{tag}_W1_{b}", f"{tag}_W2_{o}"),
                              (f"{tag}_W1_{c}", f"{tag}_W2_{o}"))
                        for c in module.inputs] for b in module.inputs])
        if D != sp.zeros(*D.shape):
            return S, D
    raise AssertionError(f"mode {mode.label} reaches no output of module {tag}")


def _stat(net, mode, kind, *paths):
    """``s[p]`` or ``d[j|p]`` of ``mode`` (pairs in either order)."""
    for order in (paths, paths[::-1]):
        key = sp.Symbol(f"{kind}[{'|'.join('.'.join(p) for p in order)}]")
        if key in mode.values:
            return mode.values[key]
    return sp.Integer(0)


def test_a_gate_per_item_is_refused_in_one_line():
    spec = {"family": "compositional", "nx": 2, "ny": 1, "kx": 1, "ky": 1, "r": 1}
    numeric = from_mapping(spec)
    net = _race_network(numeric, ("Ox", "Gx"), ("Oy", "Gy"), ("Ox", "Oy"))
    per_item = GatedNetwork(net.layers, net.edges, (Gate("S", "item", (1, 0, 1, 1)),))
    with pytest.raises(ModspecError, match="gate on S") as err:
        family_modes(per_item, symbolic(spec))
    assert "\n" not in str(err.value)


def test_a_layer_of_the_wrong_size_is_refused_where_the_block_size_is_a_number():
    spec = {"family": "hierarchical", "levels": 3, "branching": 2, "features": 1, "r": 1}
    numeric = from_mapping(spec)
    net = _race_network(numeric, ("items",), ("level1", "level2"), ("items", "level2"))
    wrong = GatedNetwork(tuple(Layer(x.name, x.size + (x.name == "level1"))
                               for x in net.layers), net.edges, net.gates, net.contexts)
    with pytest.raises(ModspecError, match=r"layer level1 size=3 is invalid: must be 2"):
        family_modes(wrong, numeric)
    assert family_modes(wrong, symbolic(spec)).modes      # symbolic: the block's size
