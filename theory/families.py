"""Named dataset families as declarations, and declarations read from a mapping (TOML).

Every family is a :class:`~modspec.theory.declaration.DeclaredDataset`; the projector algebra
derives its atoms and spectra (``docs/theory/families.md``):

* :func:`compositional` ``(nx, ny, kx, ky, r)``: the paper's family on the hypercube, blocks
  ``Ox`` (all features), ``Gx`` (identity), ``Oy`` (the first ny features), ``Gy`` (identity);
  it has the spectrum of :class:`~modspec.theory.dataset.CompositionalDataset`.
* :func:`hierarchical` ``(levels, branching, features, r)``: a tree (Saxe, McClelland & Ganguli
  2019); input ``items`` (one-hot item identity, scale r), outputs ``level0 … level{D−1}`` (the
  features of every node of that level).
* :func:`parity` ``(nx, outputs, kx, ky, r)``: the hypercube with inputs ``Ox`` (features) and
  ``Gx`` (identity), outputs ``Oy`` (the requested single features), ``Py`` (the requested
  products of two or more features) and ``Gy`` (identity).
* :func:`~modspec.theory.contexts.contexts` ``(C, r, rc, variants)``: the objects of a tree
  seen in C contexts (:mod:`modspec.theory.contexts`), inputs ``objects`` and ``contexts``,
  outputs ``common`` and ``specific``.

:func:`from_mapping` reads ``{"family": name, **parameters}``; ``family = "declared"`` takes a
user's own sample space and blocks (schema in ``docs/theory/families.md``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import sympy as sp

from . import contexts as _contexts
from . import symbols as sy
from .architectures import Module, Network, architecture, check_depth
from .dataset import MAX_LOG2, exact
from .declaration import (
    Block,
    DeclaredDataset,
    Features,
    Hypercube,
    Identity,
    Parities,
    Tree,
    TreeFeatures,
)
from .errors import ModspecError, bad
from .modes import Mode, existence

__all__ = ["D", "EXPLAINED", "FAMILIES", "IDENTITY", "MEMORISED", "STRUCTURE", "SYMBOLS",
           "block_roles", "c", "compositional", "contexts", "domain", "f", "family_network",
           "from_mapping", "hierarchical", "hierarchical_levels", "parity", "substitution",
           "symbolic"]


def _params(**kw: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in kw.items() if v is not None)


def compositional(nx: Any, ny: Any, kx: Any, ky: Any, r: Any = 1, rx: Any = None,
                  ry: Any = None) -> DeclaredDataset:
    """The compositional family as a declaration (``rx``/``ry`` default to ``r``)."""
    rx = r if rx is None else rx
    ry = r if ry is None else ry
    return DeclaredDataset(
        Hypercube(nx),
        (("Ox", Features()), ("Gx", Identity(kx, rx))),
        (("Oy", Features(count=ny)), ("Gy", Identity(ky, ry))),
        "compositional", _params(nx=nx, ny=ny, kx=kx, ky=ky, rx=rx, ry=ry))


def hierarchical(levels: int, branching: Any, features: Any = 1, r: Any = 1) -> DeclaredDataset:
    """Items at the leaves of a tree with ``levels`` levels and ``branching`` children per node;
    ``features`` features per node, on for every item below it; input the items' one-hot
    identity scaled ``r``. Output block ``level{g}`` holds the features of level g."""
    space = Tree(levels, branching)
    outputs = tuple((f"level{g}", TreeFeatures(g, features)) for g in range(space.levels))
    return DeclaredDataset(space, (("items", Identity(1, r)),), outputs, "hierarchical",
                           _params(levels=levels, branching=branching, features=features, r=r))


def parity(nx: Any, outputs: Sequence[Sequence[int]], kx: Any = 0, ky: Any = 0,
           r: Any = 1) -> DeclaredDataset:
    """Features and parities on the hypercube: one output row per entry of ``outputs``, a list
    of feature indices (``[2]`` is feature 2, ``[0, 1]`` the product of features 0 and 1).
    Single features go to block ``Oy``, products to ``Py`` (each in the order given); ``kx``,
    ``ky`` identity copies of scale ``r`` form ``Gx`` and ``Gy``."""
    if isinstance(outputs, (str, bytes)) or not isinstance(outputs, Sequence):
        raise bad("outputs", outputs, "must be a list of feature-index lists")
    rows = []
    for T in outputs:
        if isinstance(T, (str, bytes)) or not isinstance(T, Sequence) or not T:
            raise bad("outputs", T, "each output must be a non-empty list of feature indices")
        rows.append(tuple(T))
    singles = tuple(T[0] for T in rows if len(T) == 1)
    products = tuple(T for T in rows if len(T) > 1)
    outs: list[tuple[str, Block]] = [("Oy", Features(singles))]
    if products:
        outs.append(("Py", Parities(products)))
    outs.append(("Gy", Identity(ky, r)))
    return DeclaredDataset(Hypercube(nx), (("Ox", Features()), ("Gx", Identity(kx, r))),
                           tuple(outs), "parity",
                           _params(nx=nx, outputs=[list(T) for T in rows], kx=kx, ky=ky, r=r))


# ------------------------------------------------------------------ symbolic parameters
#: The hierarchical family's symbols: levels ``D``, branching ``c``, features per node ``f``
#: (positive integers); its identity scale is the compositional ``r`` (≥ 0).
D = sp.Symbol("D", integer=True, positive=True)
c = sp.Symbol("c", integer=True, positive=True)
f = sp.Symbol("f", integer=True, nonnegative=True)
_TREE_SYMBOLS = (D, c, f)
#: Every named family's parameters that a symbolic derivation makes symbols; the others
#: (the number of levels, the parity outputs) fix the blocks and stay as given.
SYMBOLS = {"compositional": {"nx": sy.nx, "ny": sy.ny, "kx": sy.kx, "ky": sy.ky, "rx": sy.rx,
                             "ry": sy.ry},
           "hierarchical": {"branching": c, "features": f, "r": sy.r},
           "parity": {"nx": sy.nx, "kx": sy.kx, "ky": sy.ky, "r": sy.r}}
_DOMAINS = {"hierarchical": ("c >= 2", f"c <= 2**{MAX_LOG2}", "f >= 0", f"f <= 2**{MAX_LOG2}",
                             "r >= 0"),
            "parity": ("nx >= {top}", f"nx <= {MAX_LOG2}", "kx >= 0", f"kx <= 2**{MAX_LOG2}",
                       "ky >= 0", f"ky <= 2**{MAX_LOG2}", "r >= 0")}


def symbolic(spec: Mapping[str, Any]) -> Any:
    """The named family of ``spec`` (``{"family": name, **parameters}``, a ``--dataset`` file)
    with its sizes and scales as the symbols of :data:`SYMBOLS`: ``compositional`` in ``nx ny
    kx ky rx ry``; ``hierarchical`` in ``c f r`` at the file's number of ``levels`` (for any
    number of levels ``D`` see :func:`hierarchical_levels`); ``parity`` in ``nx kx ky r`` with
    the file's ``outputs``. The file's values for those are ignored (checked all the same).
    """
    family = spec.get("family") if isinstance(spec, Mapping) else None
    if family == "compositional":
        from .dataset import CompositionalDataset

        return CompositionalDataset.symbolic()
    if family not in ("hierarchical", "parity", "contexts"):
        raise bad("family", family, "a symbolic derivation takes a named family: compositional, "
                                    "hierarchical, parity or contexts")
    from_mapping(spec)   # the file itself is checked as for a numeric derivation
    if family == "contexts":
        fixed = {k: v for k, v in spec.items() if k in ("variants", "levels", "branching")}
        return contexts(**fixed, **SYMBOLS["contexts"])
    if family == "hierarchical":
        return hierarchical(spec["levels"], **SYMBOLS["hierarchical"])
    return parity(outputs=spec["outputs"], **SYMBOLS["parity"])


def domain(dataset: Any) -> tuple[str, ...]:
    """Where a symbolic named family's results hold, as relations :func:`sympy.sympify` reads
    (the sizes are integers)."""
    family = getattr(dataset, "family", "compositional")
    if family == "contexts":
        return _contexts.domain(dataset)
    if family == "parity":
        top = 1 + max(max(T) for T in dict(dataset.params)["outputs"])
        return tuple(d.format(top=top) for d in _DOMAINS["parity"])
    return _DOMAINS[family]


def substitution(dataset: DeclaredDataset, values: Any) -> dict[sp.Symbol, sp.Expr]:
    """Symbol → exact value for a symbolic hierarchical, parity or contexts dataset: keys are the
    family's parameter names or their symbols' names (``branching`` or ``c``), values checked by
    building the family at them (one-line :class:`ModspecError` naming a bad one)."""
    if not isinstance(values, Mapping):
        raise bad("values", values, "must be a mapping of parameter names to numbers")
    params = dict(dataset.params)
    free = {k: v for k, v in params.items() if isinstance(v, sp.Symbol)}
    names = {**{v.name: k for k, v in free.items()}, **{k: k for k in free}}
    new: dict[str, Any] = {}
    for key, value in values.items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name not in names:
            raise bad("parameter", name, f"must be one of {sorted(names)} (the "
                                         f"{dataset.family} family's symbols)")
        if isinstance(value, (bool, str)) or not isinstance(value, (numbers.Real, sp.Expr)):
            raise bad(name, value, "must be a real number or a SymPy expression")
        new[names[name]] = value
    FAMILIES[dataset.family](**(params | new))     # checks every value as the family does
    return {free[k]: exact(v) for k, v in new.items()}


def _value(param: str, value: Any) -> sp.Expr:
    """A number or SymPy expression as SymPy; text is refused, never parsed."""
    try:
        return sp.sympify(value, strict=True)
    except sp.SympifyError:
        raise bad(param, value, "must be a number or a SymPy expression") from None


def hierarchical_levels(levels: Any = None, branching: Any = None, features: Any = None,
                        r: Any = None) -> tuple[Mode, Mode]:
    """The dense spectrum of the hierarchical family for a symbolic number of levels D: the root
    mode and the mode of a generic level ``g`` (the symbol ``g``, ``1 ≤ g ≤ D − 1``).

    The same algebra as :func:`~modspec.theory.projectors.tree_sample_space`, with the level an
    index: on ``Π_g`` the level-l block has coefficient ``f r_out² c^(D−1−l)`` for ``l ≥ g``, so
    ``cy(g) = Σ_{l=g}^{D−1} f c^(D−1−l)`` (summed by SymPy), ``cx = r²`` (one-hot identity) and
    ``rank Π_g = c^g − c^(g−1)``. Two modes whatever D: the derivation's cost does not depend
    on the size. Defaults are the symbols ``D, c, f`` (:data:`D`, :data:`c`, :data:`f`) and ``r``.
    """
    D = _TREE_SYMBOLS[0] if levels is None else _value("levels", levels)
    c = _TREE_SYMBOLS[1] if branching is None else _value("branching", branching)
    f = _TREE_SYMBOLS[2] if features is None else _value("features", features)
    r = sy.r if r is None else _value("r", r)
    g, level = sp.Symbol("g", integer=True, positive=True), sp.Symbol("l", integer=True)
    P = c ** (D - 1)
    cx = r**2

    def cy(h: sp.Expr) -> sp.Expr:
        total = sp.Sum(f * c ** (D - 1 - level), (level, h, D - 1)).doit()
        # the geometric sum's branch c = 1 does not occur (c ≥ 2)
        return sp.simplify(total.replace(lambda e: isinstance(e, sp.Piecewise),
                                         lambda e: e.args[-1].expr))

    modes = []
    for label, h, rank, cond in (("level0", sp.Integer(0), sp.Integer(1), sp.true),
                                 ("level_g", g, c ** (g - 1) * sp.simplify(c**g / c ** (g - 1) - 1),
                                  sp.And(sp.Ge(g, 1), sp.Le(g, D - 1)))):
        cy_h = cy(h)
        s = sp.simplify(sp.sqrt(cx * cy_h) / P)
        lam = sp.simplify(cx / P)
        # where the mode exists: its level is one of the tree's, and cx·cy > 0; cy is f times
        # a sum of powers of c ≥ 2 over the levels from g on, so that is r > 0 and f > 0
        cond = sp.And(cond, existence(rank, cx * f, always_present=True))
        modes.append(Mode(label, s, lam, rank, sp.simplify(s / lam), {"items": cx},
                          {"levels": cy_h}, (label,), cond))
    return modes[0], modes[1]


# --------------------------------------------------------------------- from a mapping
_SPACES = {"hypercube": ("n",), "tree": ("levels", "branching")}
_BLOCK_KEYS = {"features": ("indices", "count", "scale"),
               "parities": ("subsets", "order", "scale"),
               "identity": ("copies", "scale"),
               "tree": ("level", "features", "scale")}
_BLOCK_KINDS = {"features": Features, "parities": Parities, "identity": Identity,
                "tree": TreeFeatures}


def _declared(spec: Mapping[str, Any]) -> DeclaredDataset:
    """A user's declaration: ``space = {kind = "hypercube", n = 4}`` (or ``kind = "tree"``,
    ``levels``, ``branching``), ``inputs`` and ``outputs`` lists of blocks ``{name, kind, …}``
    with the kinds of :data:`_BLOCK_KEYS`."""
    space_spec = spec.get("space")
    if not isinstance(space_spec, Mapping) or space_spec.get("kind") not in _SPACES:
        raise bad("space", space_spec, 'must be a table with kind = "hypercube" (n) or '
                                       '"tree" (levels, branching)')
    kind = space_spec["kind"]
    extra = set(space_spec) - {"kind", *_SPACES[kind]}
    if extra or not set(_SPACES[kind]) <= set(space_spec):
        raise bad("space", dict(space_spec), f"a {kind} takes exactly {list(_SPACES[kind])}")
    space = (Hypercube(space_spec["n"]) if kind == "hypercube"
             else Tree(space_spec["levels"], space_spec["branching"]))
    sides = {}
    for side in ("inputs", "outputs"):
        entries = spec.get(side)
        if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
            raise bad(side, entries, "must be a non-empty list of blocks {name, kind, ...}")
        blocks = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise bad(side, entry, "each block must be a table {name, kind, ...}")
            name = entry.get("name", "?")
            bkind = entry.get("kind")
            if bkind not in _BLOCK_KINDS:
                raise bad(f"block {name!r} kind", bkind, f"must be one of {list(_BLOCK_KINDS)}")
            unknown = set(entry) - {"name", "kind", *_BLOCK_KEYS[bkind]}
            if unknown:
                raise bad(f"block {name!r}", sorted(unknown)[0],
                          f"a {bkind} block takes {list(_BLOCK_KEYS[bkind])}")
            kw = {k: entry[k] for k in _BLOCK_KEYS[bkind] if k in entry}
            for key in ("indices",):
                if key in kw and isinstance(kw[key], list):
                    kw[key] = tuple(kw[key])
            if "subsets" in kw and isinstance(kw["subsets"], list):
                kw["subsets"] = tuple(tuple(T) if isinstance(T, list) else T
                                      for T in kw["subsets"])
            if bkind == "tree" and "level" not in kw:
                raise bad(f"block {name!r} level", None, "a tree block needs its level")
            blocks.append((name, _BLOCK_KINDS[bkind](**kw)))
        sides[side] = tuple(blocks)
    return DeclaredDataset(space, sides["inputs"], sides["outputs"], "declared",
                           tuple(spec.items()))


FAMILIES = {"compositional": compositional, "hierarchical": hierarchical, "parity": parity}
_FAMILY_KEYS = {"compositional": ("nx", "ny", "kx", "ky", "r", "rx", "ry"),
                "hierarchical": ("levels", "branching", "features", "r"),
                "parity": ("nx", "outputs", "kx", "ky", "r"),
                "declared": ("space", "inputs", "outputs")}
# the contexts family (theory/contexts.py)
contexts = _contexts.contexts
FAMILIES["contexts"], _FAMILY_KEYS["contexts"] = contexts, _contexts.KEYS
SYMBOLS["contexts"] = _contexts.SYMBOLS


def from_mapping(spec: Mapping[str, Any]) -> Any:
    """A dataset from ``{"family": name, **parameters}`` (a parsed TOML file).

    ``compositional`` gives a :class:`~modspec.theory.dataset.CompositionalDataset` (every
    existing route applies); the others a :class:`DeclaredDataset`. Unknown families and keys
    are refused naming them.
    """
    if not isinstance(spec, Mapping):
        raise bad("dataset", type(spec).__name__, "must be a table of parameters")
    family = spec.get("family")
    if family not in _FAMILY_KEYS:
        raise bad("family", family, f"must be one of {list(_FAMILY_KEYS)}")
    params = {k: v for k, v in spec.items() if k != "family"}
    unknown = set(params) - set(_FAMILY_KEYS[family])
    if unknown:
        raise bad(f"{family} parameter", sorted(unknown)[0],
                  f"must be among {list(_FAMILY_KEYS[family])}")
    if family == "declared":
        return _declared(params)
    if family == "compositional":
        from .dataset import CompositionalDataset

        missing = {"nx", "ny", "kx", "ky"} - set(params)
        if missing:
            raise bad("compositional parameter", sorted(missing)[0], "is required")
        return CompositionalDataset(**params)
    try:
        return FAMILIES[family](**params)
    except TypeError as err:
        raise ModspecError(f"{family}: {err}") from None


# --------------------------------------------------------------------- architectures
STRUCTURE, IDENTITY = "structure", "identity"
EXPLAINED, MEMORISED = "explained", "memorised"


def block_roles(dataset: Any) -> dict[str, str]:
    """The role of every block of a declared (or compositional) dataset.

    Input blocks are ``structure`` (features, parities, tree features: rows that describe an
    object by its attributes) or ``identity`` (one-hot object identity). An output block is
    ``explained`` when the structure inputs reach every atom it lives on (on every atom where
    its Gram coefficient is non-zero, some structure input's is non-zero: its correlation with
    the inputs lies in their span, so a module reading them alone can fit it and carry it to
    unseen objects), else ``memorised`` (identity outputs always are: only the objects'
    identities fit them). For the compositional family: ``Ox`` structure, ``Gx`` identity,
    ``Oy`` explained, ``Gy`` memorised; a parity of order ≥ 2 is memorised (its Walsh atom
    carries no feature coefficient).
    """
    from .dataset import CompositionalDataset
    from .projectors import sample_space

    if isinstance(dataset, CompositionalDataset):
        kinds: dict[str, Any] = {"Ox": Features(), "Gx": Identity(), "Oy": Features(),
                                 "Gy": Identity()}
    elif isinstance(dataset, DeclaredDataset):
        kinds = dataset.blocks
    else:
        raise bad("dataset", type(dataset).__name__, "block roles need a declared dataset "
                                                     "(a family or a declaration)")
    space = sample_space(dataset)
    roles = {b: IDENTITY if isinstance(kinds[b], Identity) else STRUCTURE
             for b in space.input_blocks}
    structure = [b for b in space.input_blocks if roles[b] == STRUCTURE]

    def nonzero(value: Any) -> bool:
        return sp.simplify(value) != 0

    for out in space.output_blocks:
        reached = not isinstance(kinds[out], Identity) and all(
            any(nonzero(atom.gram[i]) for i in structure)
            for atom in space.atoms if nonzero(atom.gram[out]))
        roles[out] = EXPLAINED if reached else MEMORISED
    return roles


def _by_role(name: str, dataset: Any, depth: int) -> Network:
    """``segregated``/``leaky`` from the blocks' roles (:func:`block_roles`)."""
    roles = block_roles(dataset)
    ins, outs = tuple(dataset.input_blocks), tuple(dataset.output_blocks)
    structure = tuple(b for b in ins if roles[b] == STRUCTURE)
    identity = tuple(b for b in ins if roles[b] == IDENTITY)
    explained = tuple(b for b in outs if roles[b] == EXPLAINED)
    memorised = tuple(b for b in outs if roles[b] == MEMORISED)
    if not structure:
        raise bad("arch", name, f"needs a structure input block (features, parities or tree "
                                f"features); this dataset's inputs {list(ins)} are identity "
                                f"only (use dense or split)")
    if not explained:
        raise bad("arch", name, f"needs an output block the structure inputs {list(structure)} "
                                f"explain; none of {list(outs)} is (use dense or split)")
    if (memorised or name == "leaky") and not identity:
        missing = (f"output blocks {list(memorised)} are not explained by the structure "
                   f"inputs and" if memorised else "the shared pathway needs")
        raise bad("arch", name, f"{missing} an identity input block, which this dataset "
                                f"lacks (use dense or split)")
    modules = [Module(structure, explained, depth, "A")]
    b_outs = outs if name == "leaky" else memorised
    if b_outs:
        modules.append(Module(identity, b_outs, depth, "B"))
    return Network(tuple(modules), name)


def family_network(name: str, dataset: Any, depth: int = 2) -> Network:
    """A preset wiring for any dataset, addressing its blocks by name and role.

    ``shallow``/``dense``: every input block to every output block. ``split``: every input
    block to each output block, one module per output block. ``segregated`` and ``leaky``
    follow the blocks' roles (:func:`block_roles`): module ``A`` reads the structure inputs
    and writes the outputs they explain; ``segregated`` adds module ``B`` from the identity
    inputs to the memorised outputs, ``leaky`` module ``B`` from the identity inputs to every
    output (a shared pathway). On the compositional family's blocks ``Ox, Gx, Oy, Gy`` these
    are the presets of :mod:`modspec.theory.architectures`; a dataset whose blocks lack a
    role they need (no structure input, nothing it explains, no identity input for what it
    does not) is refused in one line naming what is missing.
    """
    ins = tuple(dataset.input_blocks)
    outs = tuple(dataset.output_blocks)
    if name in ("segregated", "leaky"):
        return _by_role(name, dataset, check_depth(depth))
    if set(ins) == {"Ox", "Gx"} and set(outs) == {"Oy", "Gy"}:
        return architecture(name, depth)
    if name == "shallow":
        return Network((Module(ins, outs, 1, "dense"),), "shallow")
    depth = check_depth(depth)
    if name == "dense":
        return Network((Module(ins, outs, depth, "dense"),), "dense")
    if name == "split":
        return Network(tuple(Module(ins, (o,), depth, o) for o in outs), "split")
    return architecture(name, depth)
