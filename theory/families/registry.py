"""The family registry: every dataset family under the name a file's ``family`` key gives.

A family is one :class:`Family` record (how to build its dataset from a file's parameters,
which parameters a symbolic derivation makes symbols, where its symbolic results hold, how
values are substituted) registered with one line, ``register(Family(...))``. Everything
that used to dispatch on a family's name asks the registry (:func:`family_of` a dataset,
:func:`family` of a name) instead; ``docs/architecture.md`` says how to add one.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..errors import ModspecError, bad
from ..values import exact

__all__ = ["FAMILIES", "SYMBOLS", "Family", "domain", "family", "family_of", "from_mapping",
           "names", "register", "substitution", "substitution_of", "symbolic", "unregister"]


def _no_domain(dataset: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Family:
    """One dataset family.

    ``build(**params)`` makes its dataset from a file's parameters ``keys`` (``required``
    ones must be given); ``constructor`` is the family's public keyword constructor (default
    ``build``), listed in :data:`FAMILIES` unless ``listed`` is False. ``symbols`` maps the
    parameters a symbolic derivation makes symbols to their symbols (None: no symbolic
    derivation), ``fixed`` names the parameters that fix the blocks and stay as the file gives
    them; ``symbolic(spec)`` overrides how a file becomes the symbolic dataset. ``domain``
    gives, for a symbolic dataset, where its results hold (relations :func:`sympy.sympify`
    reads); ``substitute(dataset, values, kw)`` overrides how values replace its symbols.
    ``list_keys`` are parameters whose one value is a list (a sweep sweeps lists of them);
    ``inline`` says its parameters are the compositional ones (``nx … ry``): the presets of
    :mod:`~modspec.theory.architectures` wire it as they are, and a sweep point holds them as
    its own columns and batches them through the symbolic family;
    ``any_depth()`` gives the dense modes for any size (None: not derived).
    """

    name: str
    build: Callable[..., Any]
    keys: tuple[str, ...]
    required: tuple[str, ...] = ()
    constructor: Callable[..., Any] | None = None
    listed: bool = True
    symbols: Mapping[str, sp.Symbol] | None = None
    fixed: tuple[str, ...] = ()
    symbolic: Callable[[Mapping[str, Any]], Any] | None = None
    domain: Callable[[Any], tuple[str, ...]] = _no_domain
    substitute: Callable[[Any, Any, Mapping[str, Any]], dict[sp.Symbol, sp.Expr]] | None = None
    list_keys: tuple[str, ...] = ()
    inline: bool = False
    any_depth: Callable[[], Any] | None = None

    def from_params(self, params: Mapping[str, Any]) -> Any:
        """The dataset of ``params`` (the file's table less ``family``), keys checked."""
        unknown = set(params) - set(self.keys)
        if unknown:
            raise bad(f"{self.name} parameter", sorted(unknown)[0],
                      f"must be among {list(self.keys)}")
        missing = set(self.required) - set(params)
        if missing:
            raise bad(f"{self.name} parameter", sorted(missing)[0], "is required")
        try:
            return self.build(**params)
        except TypeError as err:
            raise ModspecError(f"{self.name}: {err}") from None

    def symbolic_dataset(self, spec: Mapping[str, Any]) -> Any:
        """The family of ``spec`` with :attr:`symbols` for its sizes and scales."""
        if self.symbolic is not None:
            return self.symbolic(spec)
        if self.symbols is None:
            raise bad("family", self.name, "a symbolic derivation takes a named family: "
                      + _or_list([f.name for f in _REGISTRY.values() if f.symbols is not None
                                  or f.symbolic is not None]))
        from_mapping(spec)   # the file itself is checked as for a numeric derivation
        fixed = {k: v for k, v in spec.items() if k in self.fixed}
        return (self.constructor or self.build)(**fixed, **self.symbols)


_REGISTRY: dict[str, Family] = {}


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def register(fam: Family) -> Family:
    """Add ``fam`` to the registry (a later one of the same name replaces it)."""
    _REGISTRY[fam.name] = fam
    return fam


def unregister(name: str) -> None:
    """Remove the family ``name`` (a test's toy family)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered family, in registration order."""
    return tuple(_REGISTRY)


def family(name: Any) -> Family:
    """The registered family ``name`` (one line naming the known ones otherwise)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise bad("family", name, f"must be one of {list(_REGISTRY)}")
    return _REGISTRY[name]


def family_of(dataset: Any) -> Family:
    """The family of a dataset (its ``family`` attribute; arrays are the compositional one's,
    whose symbols are the canonical ones)."""
    return family(getattr(dataset, "family", "compositional"))


class _View(Mapping[str, Any]):
    """A read-only view of the registry: ``name → get(family)`` for the listed families."""

    def __init__(self, get: Callable[[Family], Any]) -> None:
        self._get = get

    def _items(self) -> dict[str, Any]:
        return {n: self._get(f) for n, f in _REGISTRY.items()
                if f.listed and self._get(f) is not None}

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


#: Every named family's keyword constructor (``FAMILIES["parity"](nx=3, outputs=[[0]])``).
FAMILIES: Mapping[str, Callable[..., Any]] = _View(lambda f: f.constructor or f.build)
#: Every named family's parameters that a symbolic derivation makes symbols; the others
#: (the number of levels, the parity outputs) fix the blocks and stay as given.
SYMBOLS: Mapping[str, Mapping[str, sp.Symbol]] = _View(lambda f: f.symbols)


def from_mapping(spec: Mapping[str, Any]) -> Any:
    """A dataset from ``{"family": name, **parameters}`` (a parsed TOML file), built by the
    registered family ``name``: ``compositional`` gives a
    :class:`~modspec.theory.dataset.CompositionalDataset`, the others a declaration. Unknown
    families and keys are refused naming them."""
    if not isinstance(spec, Mapping):
        raise bad("dataset", type(spec).__name__, "must be a table of parameters")
    return family(spec.get("family")).from_params(
        {k: v for k, v in spec.items() if k != "family"})


def symbolic(spec: Mapping[str, Any]) -> Any:
    """The named family of ``spec`` (a ``--dataset`` file) with its sizes and scales as the
    family's symbols (:data:`SYMBOLS`): ``compositional`` in ``nx ny kx ky rx ry``;
    ``hierarchical`` in ``c f r`` at the file's number of ``levels``; ``parity`` in ``nx kx
    ky r`` with the file's ``outputs``; ``contexts`` in ``C r rc``. The file's values for
    those are ignored (checked all the same)."""
    name = spec.get("family") if isinstance(spec, Mapping) else None
    fam = _REGISTRY.get(name) if isinstance(name, str) else None
    if fam is None or (fam.symbols is None and fam.symbolic is None):
        raise bad("family", name, "a symbolic derivation takes a named family: " + _or_list(
            [f.name for f in _REGISTRY.values() if f.symbols is not None
             or f.symbolic is not None]))
    return fam.symbolic_dataset(spec)


def domain(dataset: Any) -> tuple[str, ...]:
    """Where a symbolic dataset's results hold, as relations :func:`sympy.sympify` reads (the
    sizes are integers): its family's domain."""
    return tuple(family_of(dataset).domain(dataset))


def substitution(dataset: Any, values: Any) -> dict[sp.Symbol, sp.Expr]:
    """Symbol → exact value for a symbolic named-family dataset: keys are the family's
    parameter names or their symbols' names (``branching`` or ``c``), values checked by
    building the family at them (one-line :class:`ModspecError` naming a bad one)."""
    if not isinstance(values, Mapping):
        raise bad("values", values, "must be a mapping of parameter names to numbers")
    params = dict(dataset.params)
    free = {k: v for k, v in params.items() if isinstance(v, sp.Symbol)}
    names_ = {**{v.name: k for k, v in free.items()}, **{k: k for k in free}}
    new: dict[str, Any] = {}
    for key, value in values.items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name not in names_:
            raise bad("parameter", name, f"must be one of {sorted(names_)} (the "
                                         f"{dataset.family} family's symbols)")
        if isinstance(value, (bool, str)) or not isinstance(value, (numbers.Real, sp.Expr)):
            raise bad(name, value, "must be a real number or a SymPy expression")
        new[names_[name]] = value
    fam = family_of(dataset)
    (fam.constructor or fam.build)(**(params | new))   # checks every value as the family does
    return {free[k]: exact(v) for k, v in new.items()}


def substitution_of(dataset: Any, values: Any, kw: Mapping[str, Any]) -> dict[sp.Symbol,
                                                                                 sp.Expr]:
    """What :meth:`Spectrum.subs <modspec.theory.spectra.Spectrum.subs>` substitutes for
    ``values`` and keywords ``kw`` in a spectrum of ``dataset`` (None: the canonical symbols),
    as the dataset's family says."""
    fam = family_of(dataset)
    if fam.substitute is not None:
        return fam.substitute(dataset, values, kw)
    merged = ({**(values or {}), **kw} if values is None or isinstance(values, Mapping)
              else values)
    return substitution(dataset, merged)
