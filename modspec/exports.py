"""Public names resolved on first access (PEP 562), for the packages of modspec.

``import modspec`` (and ``modspec.theory``, ``modspec.validation``) must stay cheap — the
command line's ``--help`` and a warm ``modspec derive`` import neither SymPy nor PyTorch — so a
package lists its public names with the module that defines each, and the module is imported
when a name is first read. The value is then stored in the package, so the lookup happens once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Mapping[str, str | tuple[str, str]],
                 submodules: Iterable[str] = ()) -> tuple[Callable[[str], Any],
                                                          Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``table[name]`` is the module that
    defines ``name`` (absolute or relative to ``package``), or ``(module, attribute)`` where
    the attribute has another name there; ``submodules`` are imported by name."""
    subs = tuple(submodules)
    namespace = sys.modules[package].__dict__
    where = {name: (entry, name) if isinstance(entry, str) else entry
             for name, entry in table.items()}

    def __getattr__(name: str) -> Any:
        if name in where:
            module, attribute = where[name]
            value = getattr(importlib.import_module(module, package), attribute)
            namespace[name] = value
            return value
        if name in subs:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace.get("__all__", ()), *table, *subs})

    return __getattr__, __dir__
