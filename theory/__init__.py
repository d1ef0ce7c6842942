"""modspec.theory — SymPy derivations: datasets, spectra, architectures, dynamics, LaTeX.

Pure: imports neither :mod:`modspec.numerics` nor :mod:`modspec.validation`.
"""

from . import architectures
from .architectures import Module, Network
from .dataset import CompositionalDataset, Dataset
from .derivation import Derivation, derive
from .errors import ModspecError
from .spectrum import Mode, Spectrum, spectrum

__all__ = ["CompositionalDataset", "Dataset", "Derivation", "Module", "ModspecError", "Mode",
           "Network", "Spectrum", "architectures", "derive", "spectrum"]
