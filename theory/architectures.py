"""Modular linear architectures: modules that read and write whole data blocks.

A :class:`Module` is a linear network of ``depth`` weight matrices (``depth = 1`` is a shallow
map ``W``; ``depth = 2`` is ``W2 W1``) from the concatenation of its input blocks to the
concatenation of its output blocks. A :class:`Network` sums the outputs of its modules. The
presets are the architectures of the paper (docs/theory/dataset.md):

=============  ==============================================  ==========================
preset         modules                                         systematic at convergence
=============  ==============================================  ==========================
shallow        [Ox, Gx] → [Oy, Gy], depth 1                    no
dense          [Ox, Gx] → [Oy, Gy], depth L                    no
split          [Ox, Gx] → Oy  and  [Ox, Gx] → Gy               no (split by output only)
segregated     Ox → Oy  and  Gx → Gy                           yes
leaky          Ox → Oy  and  Gx → [Oy, Gy]                     no (imperfect segregation)
=============  ==============================================  ==========================

Modules writing disjoint output blocks learn independently (their losses separate); modules
that share an output block are *coupled*.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ModspecError, bad

__all__ = ["INPUT_BLOCKS", "OUTPUT_BLOCKS", "MAX_DEPTH", "check_blocks", "Module", "Network",
           "shallow", "dense", "split", "segregated", "leaky", "PRESETS", "architecture"]

INPUT_BLOCKS = ("Ox", "Gx")
OUTPUT_BLOCKS = ("Oy", "Gy")


#: Deepest module whose mode dynamics are derived: SymPy's partial fractions of
#: ``1/(w^(L−1)(1 − w^L))`` (the implicit solution, :mod:`modspec.theory.dynamics`) take
#: seconds up to depth 6 and fail or run for minutes beyond (depth 7 and 9 fail, 11 and 100 run
#: for minutes), so deeper modules are refused before any work starts.
MAX_DEPTH = 6


def check_depth(depth: Any) -> int:
    """The depth of a module: an integer in ``[1, MAX_DEPTH]`` (``ModspecError`` otherwise)."""
    if (isinstance(depth, bool) or not isinstance(depth, numbers.Integral)
            or not 1 <= depth <= MAX_DEPTH):
        raise bad("depth", depth, f"must be an integer in [1, {MAX_DEPTH}]")
    return int(depth)


def check_blocks(name: str, value: Any) -> tuple[str, ...]:
    """A block name or a sequence of block names, as a tuple of strings."""
    blocks = (value,) if isinstance(value, str) else value
    if not isinstance(blocks, Sequence) or not all(isinstance(b, str) for b in blocks):
        raise bad(name, value, "must be a block name or a sequence of block names")
    return tuple(blocks)


@dataclass(frozen=True)
class Module:
    """A linear module ``[inputs] → [outputs]`` with ``depth`` weight matrices."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    depth: int = 2
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", check_blocks("inputs", self.inputs))
        object.__setattr__(self, "outputs", check_blocks("outputs", self.outputs))
        if not isinstance(self.name, str):
            raise bad("name", self.name, "must be a string")
        object.__setattr__(self, "depth", check_depth(self.depth))
        if not self.inputs:
            raise bad("inputs", self.inputs, "a module must read at least one block")
        if not self.outputs:
            raise bad("outputs", self.outputs, "a module must write at least one block")
        if not self.name:
            object.__setattr__(self, "name",
                               f"{'+'.join(self.inputs)}->{'+'.join(self.outputs)}")

    @property
    def label(self) -> str:
        return f"{'+'.join(self.inputs)}->{'+'.join(self.outputs)}"


@dataclass(frozen=True)
class Network:
    """Modules whose outputs add up. ``name`` is the preset name or ``custom``."""

    modules: tuple[Module, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if isinstance(self.modules, Module):
            mods: tuple[Module, ...] = (self.modules,)
        elif isinstance(self.modules, Sequence) and all(isinstance(m, Module)
                                                        for m in self.modules):
            mods = tuple(self.modules)
        else:
            raise bad("modules", self.modules, "must be a sequence of Module")
        if not mods:
            raise bad("modules", mods, "a network needs at least one module")
        names = [m.name for m in mods]
        if len(set(names)) != len(names):
            raise bad("modules", names, "module names must be distinct")
        object.__setattr__(self, "modules", mods)

    @property
    def coupled(self) -> bool:
        """True when two modules write the same output block (their dynamics couple)."""
        written = [b for m in self.modules for b in m.outputs]
        return len(written) != len(set(written))

    @property
    def depth(self) -> int:
        """The largest module depth."""
        return max(m.depth for m in self.modules)

    def writers(self, block: str) -> tuple[Module, ...]:
        """Modules that write ``block``."""
        return tuple(m for m in self.modules if block in m.outputs)

    def check(self, input_blocks: Sequence[str] = INPUT_BLOCKS,
              output_blocks: Sequence[str] = OUTPUT_BLOCKS) -> Network:
        """Reject unknown blocks and output blocks that no module writes."""
        for m in self.modules:
            for side, blocks, allowed in (("input", m.inputs, input_blocks),
                                          ("output", m.outputs, output_blocks)):
                for b in blocks:
                    if b not in allowed:
                        raise bad(f"module {m.name!r} {side}", b,
                                  f"must be one of the {side} blocks {list(allowed)}")
        for b in output_blocks:
            if not self.writers(b):
                raise ModspecError(
                    f"output block {b!r} is written by no module; every output block "
                    f"{list(output_blocks)} needs a writer"
                )
        return self


def shallow() -> Network:
    """One shallow map ``W`` from all inputs to all outputs."""
    return Network((Module(INPUT_BLOCKS, OUTPUT_BLOCKS, 1, "dense"),), "shallow")


def dense(depth: int = 2) -> Network:
    """One deep linear network from all inputs to all outputs."""
    return Network((Module(INPUT_BLOCKS, OUTPUT_BLOCKS, depth, "dense"),), "dense")


def split(depth: int = 2) -> Network:
    """Split by output only: module A writes ``Oy``, module B writes ``Gy``; both see all."""
    return Network((Module(INPUT_BLOCKS, ("Oy",), depth, "A"),
                    Module(INPUT_BLOCKS, ("Gy",), depth, "B")), "split")


def segregated(depth: int = 2) -> Network:
    """Perfect segregation: ``Ox → Oy`` and ``Gx → Gy``."""
    return Network((Module(("Ox",), ("Oy",), depth, "A"),
                    Module(("Gx",), ("Gy",), depth, "B")), "segregated")


def leaky(depth: int = 2) -> Network:
    """Imperfect segregation: ``Ox → Oy`` plus ``Gx → [Oy, Gy]`` (a path from Gx to Oy)."""
    return Network((Module(("Ox",), ("Oy",), depth, "A"),
                    Module(("Gx",), OUTPUT_BLOCKS, depth, "B")), "leaky")


PRESETS = {"shallow": shallow, "dense": dense, "split": split, "segregated": segregated,
           "leaky": leaky}


def architecture(name: str, depth: int = 2) -> Network:
    """A preset by name; ``depth`` is ignored by ``shallow``."""
    if name not in PRESETS:
        raise bad("arch", name, f"must be one of {', '.join(PRESETS)}")
    return shallow() if name == "shallow" else PRESETS[name](depth)
