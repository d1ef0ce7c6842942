"""Preset wirings for any dataset, from its blocks' roles (``docs/theory/families.md``)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..architectures import Module, Network, architecture, check_depth
from ..declaration import DeclaredDataset, Features, Identity
from ..errors import bad

__all__ = ["EXPLAINED", "IDENTITY", "MEMORISED", "STRUCTURE", "block_roles", "family_network"]

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
    from ..dataset import CompositionalDataset
    from ..projectors import sample_space

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
