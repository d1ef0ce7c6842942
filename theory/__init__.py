"""modspec.theory — SymPy derivations: datasets, spectra, architectures, dynamics, LaTeX.

Pure: imports neither :mod:`modspec.numerics` nor :mod:`modspec.validation`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> submodule (resolved on first access, PEP 562: importing one light submodule
#: such as ``modspec.theory.errors`` does not import SymPy). Note: once the submodule
#: ``modspec.theory.spectrum`` is imported, the attribute ``modspec.theory.spectrum`` is that
#: submodule; the function is ``modspec.spectrum`` (or ``modspec.theory.spectrum.spectrum``).
_LAZY = {
    "CompositionalDataset": "dataset",
    "Dataset": "dataset",
    "Derivation": "derivation",
    "derive": "derivation",
    "Module": "architectures",
    "Network": "architectures",
    "ModspecError": "errors",
    "Mode": "spectrum",
    "Spectrum": "spectrum",
    "spectrum": "spectrum",
}

__all__ = ["architectures", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "architectures":
        return importlib.import_module(".architectures", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modspec.theory' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
