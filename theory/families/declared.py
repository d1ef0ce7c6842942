"""The declared family: a user's own sample space and blocks, read from a mapping (TOML);
schema in ``docs/theory/families.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..declaration import (
    DeclaredDataset,
    Features,
    Hypercube,
    Identity,
    Parities,
    Tree,
    TreeFeatures,
)
from ..errors import bad
from .registry import Family, register

__all__: list[str] = []

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


register(Family("declared", lambda **spec: _declared(spec), ("space", "inputs", "outputs"),
                listed=False, list_keys=("inputs", "outputs")))
