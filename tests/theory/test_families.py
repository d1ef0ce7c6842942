"""Dataset families as declarations: spectra from the projector algebra equal linear algebra on
the materialised matrices; symbolic results substituted equal numeric ones; the parity and
hierarchical families behave as the theory says."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modspec.theory import symbols as sy
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.declaration import (
    DeclaredDataset,
    Features,
    Hypercube,
    Identity,
    Parities,
    Tree,
    TreeFeatures,
)
from modspec.theory.derivation import derive
from modspec.theory.errors import ModspecError
from modspec.theory.families import (
    compositional,
    family_network,
    from_mapping,
    hierarchical,
    hierarchical_levels,
    parity,
)
from modspec.theory.projectors import sample_space
from modspec.theory.spectra import spectrum

FAST = settings(max_examples=15, deadline=None)


def assert_spectrum_matches_linalg(ds) -> None:
    """Singular values of Σyx (with multiplicities) and eigenvalues of Σx, derived, equal
    numpy.linalg on X and Y to 1e-10."""
    spec = spectrum(ds)
    X, Y = ds.X, ds.Y
    P = X.shape[1]
    sv = np.linalg.svd(Y @ X.T / P, compute_uv=False)
    sv = np.sort(sv[sv > 1e-9])[::-1]
    np.testing.assert_allclose(spec.singular_values(), sv, rtol=0, atol=1e-10)
    ev = np.sort(np.linalg.eigvalsh(X @ X.T / P))[::-1]
    np.testing.assert_allclose(spec.input_variances(), ev, rtol=0, atol=1e-10)


scales = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0])


@FAST
@given(levels=st.integers(1, 4), c=st.integers(2, 3), f=st.integers(1, 3), r=scales)
@example(levels=1, c=2, f=1, r=1.0)
def test_hierarchical_spectrum_equals_linalg(levels, c, f, r):
    assert_spectrum_matches_linalg(hierarchical(levels, c, f, r))


subsets = st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True)


@FAST
@given(n=st.integers(2, 5), outputs=st.lists(subsets, min_size=1, max_size=5),
       kx=st.integers(0, 2), ky=st.integers(0, 2), r=scales)
@example(n=3, outputs=[[0], [0, 1]], kx=0, ky=0, r=1.0)
def test_parity_spectrum_equals_linalg(n, outputs, kx, ky, r):
    outputs = [[i % n for i in dict.fromkeys(T)] for T in outputs]
    outputs = [list(dict.fromkeys(T)) for T in outputs]
    assert_spectrum_matches_linalg(parity(n, outputs, kx, ky, r))


@FAST
@given(n=st.integers(2, 5), k=st.integers(1, 3), copies=st.integers(0, 2), r=scales,
       scale=scales)
def test_declared_hypercube_with_whole_orders_equals_linalg(n, k, copies, r, scale):
    k = min(k, n)
    ds = DeclaredDataset(Hypercube(n),
                         (("f", Features(scale=scale)), ("id", Identity(copies, r))),
                         (("p", Parities(order=k)), ("q", Parities(((0, n - 1),), scale=r)),
                          ("g", Features((0,)))))
    assert_spectrum_matches_linalg(ds)


def test_compositional_declaration_has_the_compositional_spectrum_symbolically():
    old = spectrum(CompositionalDataset.symbolic())
    new = spectrum(compositional(sy.nx, sy.ny, sy.kx, sy.ky, sy.r, sy.rx, sy.ry))
    assert [m.label for m in new.modes] == [m.label for m in old.modes] == ["pi1", "pi2", "pi3"]
    for a, b in zip(old.modes, new.modes, strict=True):
        for attr in ("s", "lam", "multiplicity", "fixed_point"):
            assert sp.simplify(getattr(a, attr) - getattr(b, attr)) == 0
        assert a.condition == b.condition


@pytest.mark.parametrize("arch", ["dense", "split", "segregated", "leaky"])
def test_compositional_declaration_derives_what_the_compositional_dataset_derives(arch):
    old_ds = CompositionalDataset(nx=3, ny=1, kx=2, ky=1, r=0.5)
    new_ds = compositional(3, 1, 2, 1, 0.5)
    assert spectrum(old_ds).distinct_singular_values() == \
        spectrum(new_ds).distinct_singular_values()
    np.testing.assert_array_equal(old_ds.X, new_ds.X)
    np.testing.assert_array_equal(old_ds.Y, new_ds.Y)
    old = derive(old_ds, family_network(arch, old_ds))
    new = derive(new_ds, family_network(arch, new_ds))
    for q, v in old.converged["quadrant_norms"].items():
        assert float(v) == pytest.approx(float(new.converged["quadrant_norms"][q]), abs=1e-12)
    if not old.coupled:
        np.testing.assert_allclose(old.converged_map(), new.converged_map(), atol=1e-12)


c_, f_, r_ = sp.symbols("c f r", positive=True)


@FAST
@given(levels=st.integers(1, 4), c=st.integers(2, 4), f=st.integers(1, 3), r=scales)
def test_symbolic_hierarchical_spectrum_substituted_equals_numeric(levels, c, f, r):
    sym = spectrum(hierarchical(levels, c_, f_, r_))
    num = spectrum(hierarchical(levels, c, f, r))
    values = {c_: c, f_: f, r_: sp.Rational(repr(r))}
    got = sorted(((float(m.s.subs(values)), int(m.multiplicity.subs(values)),
                   float(m.lam.subs(values))) for m in sym.modes), reverse=True)
    want = sorted(((float(m.s), int(m.multiplicity), float(m.lam)) for m in num.modes),
                  reverse=True)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=0)


def test_symbolic_parity_spectrum_substituted_equals_numeric():
    k, rr = sp.Symbol("k", integer=True, nonnegative=True), sp.Symbol("r", positive=True)
    outputs = [[0], [1, 2], [0, 1, 2]]
    sym = spectrum(parity(sy.nx, outputs, k, k, rr))
    for n, kk, r in ((3, 1, 1), (5, 2, 0.5), (8, 0, 2)):
        num = spectrum(parity(n, outputs, kk, kk, r)).singular_values()
        values = {sy.nx: n, k: kk, rr: sp.Rational(repr(r))}
        got = [(float(m.s.subs(values)), int(m.multiplicity.subs(values)))
               for m in sym.modes if bool(m.condition.subs(values))]
        got = np.sort(np.repeat([s for s, _ in got], [m for _, m in got]))[::-1]
        np.testing.assert_allclose(got[got > 0], num, rtol=1e-12)


def test_symbolic_hierarchical_atoms_do_not_depend_on_the_size():
    """The derivation's work is one atom per level: the same for every branching c (and so
    every P = c**(D-1)); ranks and coefficients are expressions in c, f, r."""
    space = sample_space(hierarchical(5, c_, f_, r_))
    assert [a.label for a in space.atoms] == [f"level{g}" for g in range(5)]
    assert sp.simplify(sum(a.rank for a in space.atoms) - c_**4) == 0
    # level g's output coefficient on atom h ≤ g: f c^(D−1−g)
    assert space.atoms[1].gram["level3"] == f_ * c_
    assert space.atoms[4].gram["level3"] == 0
    big = sample_space(hierarchical(5, 10**6, 3, 1))
    assert len(big.atoms) == 5 and big.atoms[4].rank == (10**6 - 1) * 10**18


@FAST
@given(levels=st.integers(1, 5), c=st.integers(2, 4), f=st.integers(1, 3), r=scales)
def test_hierarchical_spectrum_symbolic_in_the_depth_substituted_equals_numeric(levels, c, f,
                                                                                 r):
    """Two modes (root and a generic level g) for every D; at each g they are level g's mode
    of the numeric family."""
    root, generic = hierarchical_levels()
    syms = {x.name: x for x in generic.s.free_symbols | generic.multiplicity.free_symbols}
    D, cs, fs, rs, g = (syms[name] for name in ("D", "c", "f", "r", "g"))
    values = {D: levels, cs: c, fs: f, rs: sp.Rational(repr(r))}
    num = {m.label: m for m in spectrum(hierarchical(levels, c, f, r)).modes}
    for level in range(levels):
        mode, at = (root, values) if level == 0 else (generic, values | {g: level})
        want = num[f"level{level}"]
        assert bool(mode.condition.subs(at))
        assert float(mode.s.subs(at)) == pytest.approx(float(want.s), rel=1e-12)
        assert float(mode.lam.subs(at)) == pytest.approx(float(want.lam), rel=1e-12)
        assert int(mode.multiplicity.subs(at)) == int(want.multiplicity)
    assert not bool(generic.condition.subs(values | {g: levels}))


def test_symbolic_nx_parity_has_a_fixed_number_of_atoms():
    space = sample_space(parity(sy.nx, [[0], [1, 2]], 1, 1))
    assert len(space.atoms) == 4   # feature 0, other features, {1,2}, the rest
    assert sp.simplify(sum(a.rank for a in space.atoms) - 2**sy.nx) == 0


# ------------------------------------------------------------------------ parity
def test_converged_map_gives_parity_outputs_zero_weight_from_features():
    ds = parity(4, [[0], [1], [0, 1], [1, 2, 3]], kx=1, ky=1, r=1)
    th = derive(ds, family_network("dense", ds))
    assert th.converged["quadrant_norms"]["Ox->Py"] == 0
    assert th.converged["quadrant_norms"]["Gx->Py"] != 0
    W = th.converged_map()
    (o0, o1), (i0, i1) = ds.output_blocks["Py"], ds.input_blocks["Ox"]
    np.testing.assert_allclose(W[o0:o1, i0:i1], 0, atol=1e-12)
    # the parity atoms carry no feature coefficient
    for atom in th.space.atoms:
        if atom.gram["Py"] != 0:
            assert atom.gram["Ox"] == 0


def _block_error(ds, W, block, objects):
    (o0, o1) = ds.output_blocks[block]
    R = W[..., o0:o1, :] @ ds.X[:, objects] - ds.Y[o0:o1, objects]
    return float(np.mean(np.sum(R**2, axis=-2)))


def test_heldout_parity_error_equals_theory_and_is_not_zero():
    from modspec.numerics.simulate import simulate
    from modspec.theory.heldout import heldout_map

    ds = parity(3, [[0], [0, 1]], kx=1, ky=1, r=1)
    train = [0, 1, 2, 4, 5, 6]
    held = [3, 7]
    net = family_network("segregated", ds)
    W_theory, _ = heldout_map(ds, net, train, exact=False)
    theory = _block_error(ds, W_theory, "Py", held)
    assert theory > 0.5    # parities are memorised: a held-out object's parity is not known
    run = simulate(ds, net, lr=0.05, epochs=3000, init_std=1e-3, seeds=1, train_objects=train)
    assert _block_error(ds, run.final_map, "Py", held) == pytest.approx(theory, abs=1e-3)
    # compositional features still generalise under the segregated wiring
    assert _block_error(ds, W_theory, "Oy", held) == pytest.approx(0, abs=1e-12)
    assert _block_error(ds, run.final_map, "Oy", held) < 1e-4


# ------------------------------------------------------------------- hierarchical
def test_hierarchical_gradient_descent_follows_the_discrete_theory_coarse_to_fine():
    import modspec
    from modspec.numerics.simulate import simulate

    ds = hierarchical(3, 2, 1, 1)
    net = family_network("dense", ds)
    th = derive(ds, net)
    lr, epochs, a0 = 0.1, 400, 1e-4
    hidden, init_std = 50, np.sqrt(2 * a0 / 50)
    run = simulate(ds, net, lr=lr, epochs=epochs, hidden=hidden, init_std=init_std, seeds=1)
    t = np.asarray(run.t)
    pred = modspec.compile(th)(t, lr=lr, a0=run.a0 if run.a0 else a0, time="discrete")
    halves = {}
    for key, m in th.modes.items():
        sim = np.asarray(run.modes[key])[0]
        theory = np.asarray(pred.modes[key])
        assert np.max(np.abs(sim - theory)) < 0.05, key
        star = float(m.fixed_point)
        t_sim = t[np.argmax(sim >= star / 2)]
        t_th = t[np.argmax(theory >= star / 2)]
        assert abs(t_sim - t_th) <= 0.05 * t_th, key
        halves[key] = t_th
    assert halves["level0"] < halves["level1"] < halves["level2"]
    for q, v in th.converged["quadrant_norms"].items():
        assert float(np.asarray(run.quadrant_norms[q])[0, -1]) == pytest.approx(float(v),
                                                                                abs=0.01)


# ------------------------------------------------------------------ declarations
@pytest.mark.parametrize(("spec", "words"), [
    ({"family": "declared", "space": {"kind": "hypercube", "n": 3},
      "inputs": [{"name": "x", "kind": "wavelets"}],
      "outputs": [{"name": "y", "kind": "features"}]}, ["block 'x' kind", "wavelets"]),
    ({"family": "declared", "space": {"kind": "hypercube", "n": 3},
      "inputs": [{"name": "x", "kind": "features"}],
      "outputs": [{"name": "p", "kind": "parities", "subsets": [[0, 5]]}]},
     ["block 'p' subset", "[0, 3)"]),
    ({"family": "declared", "space": {"kind": "tree", "levels": 3, "branching": 2},
      "inputs": [{"name": "id", "kind": "identity", "copies": -1}],
      "outputs": [{"name": "t", "kind": "tree", "level": 1}]}, ["block 'id' copies", "-1"]),
    ({"family": "declared", "space": {"kind": "tree", "levels": 3, "branching": 2},
      "inputs": [{"name": "id", "kind": "identity"}],
      "outputs": [{"name": "t", "kind": "features"}]}, ["block 't' kind", "Tree"]),
    ({"family": "parity", "nx": 3, "outputs": [[0, 3]]}, ["block 'Py' subset", "3"]),
    ({"family": "galaxy"}, ["family", "galaxy"]),
])
def test_bad_declarations_are_refused_naming_the_block(spec, words):
    with pytest.raises(ModspecError) as err:
        from_mapping(spec)
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message


def test_an_output_block_no_module_writes_is_refused_naming_it():
    from modspec.theory.architectures import Module, Network

    ds = parity(3, [[0], [0, 1]], kx=1, ky=1)
    net = Network((Module(("Ox",), ("Oy",), 2, "A"), Module(("Gx",), ("Gy",), 2, "B")))
    with pytest.raises(ModspecError, match="'Py'"):
        derive(ds, net)


def test_block_kinds_must_fit_the_sample_space():
    with pytest.raises(ModspecError, match="block 'x' kind"):
        DeclaredDataset(Tree(2, 2), (("x", Features()),), (("y", TreeFeatures(0)),))
    with pytest.raises(ModspecError, match="block 'y' level"):
        DeclaredDataset(Tree(2, 2), (("x", Identity()),), (("y", TreeFeatures(2)),))


@pytest.mark.parametrize("family", ["hierarchical", "parity"])
def test_symbolic_family_derivation_exports_latex_with_every_block_pair(family):
    ds = (hierarchical(3, c_, f_, r_) if family == "hierarchical"
          else parity(sy.nx, [[0], [0, 1]], sy.kx, sy.ky, sy.r))
    th = derive(ds, family_network("split", ds))
    latex = th.to_latex()
    for q in th.converged["quadrant_norms"]:
        i, o = q.split("->")
        assert rf"W^*_{{\mathrm{{{i}}}\to\mathrm{{{o}}}}}" in latex
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") >= 6


# ------------------------------------------------------------ coupled networks, any family
DECLARED = DeclaredDataset(Hypercube(3),
                           (("x", Features()), ("id", Identity(1, 0.5))),
                           (("y", Features((0,))), ("xor", Parities(((0, 1),)))))


def coupled_networks(depth):
    """A coupled wiring (two modules writing one block) of each non-compositional family."""
    from modspec.theory.architectures import Module, Network

    hier = hierarchical(3, 2, 1, 1)
    return [
        (parity(3, [[0], [0, 1]], kx=1, ky=1), family_network("leaky", parity(3, [[0], [0, 1]],
                                                                               kx=1, ky=1),
                                                               depth)),
        (DECLARED, family_network("leaky", DECLARED, depth)),
        (hier, Network((Module(("items",), ("level0", "level1", "level2"), depth, "all"),
                        Module(("items",), ("level2",), depth, "fine")))),
    ]


def least_squares_minimum_parameter_norm(ds, net):
    """The oracle: the stacked module parameters θ of minimum norm among the least-squares
    fits of Y by Σ_m E_m W_m X_m (numpy.linalg.lstsq on vec(Ŷ) = Σ (X_mᵀ ⊗ E_m) vec(W_m)),
    summed into the total map."""
    from modspec.theory.dataset import block_index

    X, Y = ds.X, ds.Y
    parts, shapes = [], []
    for m in net.modules:
        rows = block_index(ds.output_blocks, m.outputs)
        cols = block_index(ds.input_blocks, m.inputs)
        E = np.zeros((Y.shape[0], len(rows)))
        E[rows, np.arange(len(rows))] = 1
        parts.append(np.kron(X[cols].T, E))   # column-major vec
        shapes.append((rows, cols))
    theta = np.linalg.lstsq(np.hstack(parts), Y.reshape(-1, order="F"), rcond=None)[0]
    W, at = np.zeros((Y.shape[0], X.shape[0])), 0
    for rows, cols in shapes:
        size = len(rows) * len(cols)
        W[np.ix_(rows, cols)] += theta[at:at + size].reshape(len(rows), len(cols), order="F")
        at += size
    return W


@pytest.mark.parametrize("case", range(3), ids=["parity-leaky", "declared-leaky",
                                                "hierarchical-shared-level"])
def test_shallow_coupled_end_point_on_any_family_is_the_least_squares_minimum_norm_map(case):
    ds, net = coupled_networks(1)[case]
    th = derive(ds, net)
    assert th.coupled and "minimum-parameter-norm" in th.converged["method"]
    want = least_squares_minimum_parameter_norm(ds, net)
    np.testing.assert_allclose(th.converged["map"], want, atol=1e-10)
    names = {f"{i}->{o}" for i in ds.input_blocks for o in ds.output_blocks}
    assert set(th.converged["quadrant_norms"]) == names
    for pair, value in th.converged["quadrant_norms"].items():
        i, o = pair.split("->")
        (i0, i1), (o0, o1) = ds.input_blocks[i], ds.output_blocks[o]
        assert value == pytest.approx(np.linalg.norm(want[o0:o1, i0:i1]), abs=1e-10)


def test_deep_coupled_end_point_on_the_parity_family_is_integrated_and_matches_descent():
    import modspec  # noqa: F401  (the front door registers the flow integrator)
    from modspec.numerics.simulate import simulate

    ds, net = coupled_networks(2)[0]
    th = derive(ds, net)
    conv = th.converged
    assert "integrated" in conv["method"] and conv["starts"] == 5
    from modspec.theory.dataset import block_index

    X, Y = ds.X, ds.Y
    for W in conv["map"]:   # every start rests where no module's gradient is left
        R = (Y - W @ X) @ X.T / ds.P
        for m in net.modules:
            rows = block_index(ds.output_blocks, m.outputs)
            cols = block_index(ds.input_blocks, m.inputs)
            assert np.max(np.abs(R[np.ix_(rows, cols)])) < 1e-6
    assert conv["quadrant_norms"]["Ox->Py"] == pytest.approx(0, abs=1e-6)   # not written
    assert conv["quadrant_norms"]["Ox->Gy"] == 0.0
    run = simulate(ds, net, lr=0.05, epochs=4000, init_std=1e-3, seeds=1)
    for pair, value in conv["quadrant_norms"].items():
        measured = float(np.asarray(run.quadrant_norms[pair])[0, -1])
        assert measured == pytest.approx(value, abs=0.01 + 3 * conv["quadrant_norms_std"][pair])


# ----------------------------------------------------------------- presets by block roles
@FAST
@given(nx=st.integers(1, 4), data=st.data(), kx=st.integers(0, 3), ky=st.integers(0, 2),
       depth=st.integers(1, 3), arch=st.sampled_from(["segregated", "leaky"]))
def test_role_presets_on_the_compositional_blocks_are_the_paper_presets(nx, data, kx, ky,
                                                                       depth, arch):
    from modspec.theory.architectures import architecture

    ny = data.draw(st.integers(0, nx))
    for ds in (compositional(nx, ny, kx, ky, 0.5), CompositionalDataset(nx, ny, kx, ky, r=0.5)):
        assert family_network(arch, ds, depth) == architecture(arch, depth)


def test_block_roles_follow_the_atoms_structure_explains():
    from modspec.theory.families import block_roles

    ds = parity(3, [[0], [0, 1]], kx=1, ky=1)
    assert block_roles(ds) == {"Ox": "structure", "Gx": "identity", "Oy": "explained",
                               "Py": "memorised", "Gy": "memorised"}
    net = family_network("segregated", ds)
    assert [(m.inputs, m.outputs) for m in net.modules] == [(("Ox",), ("Oy",)),
                                                            (("Gx",), ("Py", "Gy"))]
    assert not net.coupled
    leaky = family_network("leaky", ds)
    assert leaky.modules[1].outputs == ("Oy", "Py", "Gy") and leaky.coupled
    # a tree: a coarse-level input explains its own level and the root, not the finer level
    tree = DeclaredDataset(Tree(3, 2), (("coarse", TreeFeatures(1)), ("id", Identity())),
                           (("root", TreeFeatures(0)), ("mid", TreeFeatures(1)),
                            ("fine", TreeFeatures(2))))
    seg = family_network("segregated", tree)
    assert [(m.inputs, m.outputs) for m in seg.modules] == [(("coarse",), ("root", "mid")),
                                                            (("id",), ("fine",))]
    assert derive(tree, seg).converged["quadrant_norms"]["coarse->mid"] > 0


@pytest.mark.parametrize(("ds", "words"), [
    (hierarchical(3, 2), "structure input block"),
    (DeclaredDataset(Hypercube(3), (("x", Features((0,))),),
                     (("y", Features((1,))),)), "explain"),
    (DeclaredDataset(Hypercube(3), (("x", Features()),),
                     (("y", Features((0,))), ("xor", Parities(((0, 1),))))),
     "['xor'] are not explained"),
])
def test_role_presets_refuse_datasets_without_the_roles_in_one_line(ds, words):
    for arch in ("segregated", "leaky"):
        with pytest.raises(ModspecError) as err:
            family_network(arch, ds)
        assert words in str(err.value) and "\n" not in str(err.value)
        assert "arch" in str(err.value)


# ------------------------------------------------------------ symbolic named families
@functools.cache
def symbolic_spectrum(family: str, levels: int | None = None):
    """A named family's symbolic spectrum, derived once per family (and depth) for the
    hypothesis examples below (the same derivation each time; each example checks it)."""
    from modspec.theory.families import symbolic

    if family == "hierarchical":
        return spectrum(symbolic({"family": "hierarchical", "levels": levels, "branching": 2,
                                  "features": 1, "r": 1}))
    return spectrum(symbolic({"family": "parity", "nx": 2, "outputs": [[0], [1], [0, 1]]}))


@FAST
@given(levels=st.integers(1, 4), c=st.integers(2, 4), f=st.integers(1, 3), r=scales,
       names=st.sampled_from([("c", "f", "r"), ("branching", "features", "r")]))
def test_symbolic_hierarchical_spectrum_subs_takes_the_family_parameters(levels, c, f, r,
                                                                         names):
    spec = symbolic_spectrum("hierarchical", levels)
    got = spec.subs(dict(zip(names, (c, f, r), strict=True)))
    want = spectrum(hierarchical(levels, c, f, r))
    np.testing.assert_allclose(got.singular_values(), want.singular_values(), rtol=1e-12)
    np.testing.assert_allclose(got.input_variances(), want.input_variances(), rtol=1e-12)


@FAST
@given(n=st.integers(2, 5), kx=st.integers(0, 2), ky=st.integers(0, 2), r=scales)
def test_symbolic_parity_spectrum_subs_takes_the_family_parameters(n, kx, ky, r):
    outputs = [[0], [1], [0, 1]]
    spec = symbolic_spectrum("parity")
    got = spec.subs(nx=n, kx=kx, ky=ky, r=r)
    want = spectrum(parity(n, outputs, kx, ky, r))
    np.testing.assert_allclose(got.singular_values(), want.singular_values(), rtol=1e-12)


@pytest.mark.parametrize(("family", "values", "words"), [
    ("hierarchical", {"c": 1}, "branching=1"),
    ("hierarchical", {"branching": 2.5}, "branching=2.5"),
    ("hierarchical", {"f": -1}, "features=-1"),
    ("hierarchical", {"r": -1}, "scale=-1"),
    ("hierarchical", {"nx": 3}, "parameter='nx'"),
    ("hierarchical", {"c": True}, "c=True"),
    ("parity", {"nx": 1}, "[0, 1)"),
    ("parity", {"kx": -1}, "copies=-1"),
    ("parity", {"c": 2}, "parameter='c'"),
])
def test_bad_values_for_a_symbolic_family_spectrum_are_one_line(family, values, words):
    from modspec.theory.families import symbolic

    spec = spectrum(symbolic({"family": family, "levels": 3, "branching": 2} if
                             family == "hierarchical" else
                             {"family": family, "nx": 2, "outputs": [[0, 1]]}))
    with pytest.raises(ModspecError) as err:
        spec.subs(values)
    assert words in str(err.value) and "\n" not in str(err.value)
