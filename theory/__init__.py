"""modspec.theory — SymPy derivations: datasets, spectra, architectures, dynamics, LaTeX.

Pure: imports neither :mod:`modspec.numerics` nor :mod:`modspec.validation`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> submodule (resolved on first access, PEP 562: importing one light submodule
#: such as ``modspec.theory.errors`` does not import SymPy). The function ``spectrum`` lives
#: in the module ``spectra``, so the two names never shadow each other.
_LAZY = {
    "CompositionalDataset": "dataset",
    "Dataset": "dataset",
    "Derivation": "derivation",
    "derive": "derivation",
    "Module": "architectures",
    "Network": "architectures",
    "ModspecError": "errors",
    "Mode": "spectra",
    "Spectrum": "spectra",
    "spectrum": "spectra",
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
    return sorted(__all__)
