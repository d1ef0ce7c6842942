"""modspec.theory — SymPy derivations: datasets, spectra, architectures, dynamics, LaTeX.

Pure: imports neither :mod:`modspec.numerics` nor :mod:`modspec.validation`.
"""

from .dataset import CompositionalDataset, Dataset
from .errors import ModspecError
from .spectrum import Mode, Spectrum, spectrum

__all__ = ["CompositionalDataset", "Dataset", "ModspecError", "Mode", "Spectrum", "spectrum"]
