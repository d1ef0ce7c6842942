"""modspec — exact learning dynamics of modular linear networks.

Describe a dataset family and a modular architecture; SymPy derives the spectrum, the
gradient-flow equations and their solutions; code generation compiles them to NumPy; the
validation layer trains real networks and compares.

Public names are re-exported here once; everything else is reachable by module path
(``modspec.theory``, ``modspec.numerics``, ``modspec.validation``). Importing modspec never
imports PyTorch.
"""

from modspec._version import __version__
from modspec.numerics import compile, simulate
from modspec.theory import (
    CompositionalDataset,
    Dataset,
    Derivation,
    Mode,
    ModspecError,
    Module,
    Network,
    Spectrum,
    architectures,
    derive,
    spectrum,
)

__all__ = [
    "__version__",
    "compile",
    "simulate",
    "CompositionalDataset",
    "Dataset",
    "Derivation",
    "Mode",
    "Module",
    "Network",
    "architectures",
    "derive",
    "ModspecError",
    "Spectrum",
    "spectrum",
]
