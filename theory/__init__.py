"""modspec.theory — SymPy derivations: datasets, spectra, architectures, dynamics, LaTeX.

Pure: imports neither :mod:`modspec.numerics` nor :mod:`modspec.validation`.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> submodule (resolved on first access, PEP 562: importing one light submodule
#: such as ``modspec.theory.errors`` does not import SymPy). The function ``spectrum`` lives
#: in the module ``spectra``, so the two names never shadow each other.
_LAZY = {
    "CompositionalDataset": ".dataset",
    "Dataset": ".dataset",
    "Derivation": ".derivation",
    "derive": ".derivation",
    "GatedNetwork": ".gated",
    "family_modes": ".gated_family",
    "load_network": ".gated_toml",
    "Module": ".architectures",
    "Network": ".architectures",
    "ModspecError": ".errors",
    "Mode": ".spectra",
    "Spectrum": ".spectra",
    "spectrum": ".spectra",
}

__all__ = ["architectures", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, ["architectures"])
