"""modspec — exact learning dynamics of modular linear networks.

Describe a dataset family and a modular architecture; SymPy derives the spectrum, the
gradient-flow equations and their solutions; code generation compiles them to NumPy; the
validation layer trains real networks and compares.

Public names are re-exported here once; everything else is reachable by module path
(``modspec.theory``, ``modspec.numerics``, ``modspec.validation``). Importing modspec never
imports PyTorch.
"""

from __future__ import annotations

from typing import Any

from modspec._version import __version__
from modspec.exports import lazy_exports
from modspec.theory.endpoints import register_coupled_end_point as _register_end_point

#: Public name -> module that defines it. Resolved on first access (PEP 562), so that
#: ``import modspec`` and the command line's warm paths do not pay for SymPy/SciPy imports.
_LAZY = {
    "compile": "modspec.numerics.predict",
    "simulate": "modspec.numerics.simulate",
    "RunSpec": "modspec.numerics.runspec",
    "lambda_balanced_weights": "modspec.numerics.any_start",
    "predict_balanced": "modspec.numerics.any_start",
    "solve_neuron": "modspec.numerics.neuron",
    "stability_limit": "modspec.numerics.stability",
    "load_sweep": "modspec.validation.sweeps.store",
    "tidy_sweep": "modspec.validation.sweeps.store",
    "export_sweep": "modspec.validation.sweeps.store",
    "sweep": "modspec.validation.sweeps.run",
    "validate": "modspec.validation.pipeline",
    "CompositionalDataset": "modspec.theory",
    "Dataset": "modspec.theory",
    "Derivation": "modspec.theory",
    "Mode": "modspec.theory",
    "Module": "modspec.theory",
    "Network": "modspec.theory",
    "architectures": "modspec.theory",
    "derive": "modspec.theory",
    "ModspecError": "modspec.theory",
    "Spectrum": "modspec.theory",
    "spectrum": "modspec.theory",
    "hierarchical": "modspec.theory.families",
    "parity": "modspec.theory.families",
    "contexts": "modspec.theory.families",
    "family_network": "modspec.theory.families",
}

__all__ = ["__version__", *_LAZY, "dataset_from_mapping"]


def _integrated_end_point(dataset: Any, network: Any, train_objects: Any = None) -> Any:
    """The numerics layer's integrator of deep coupled flows, imported when first used."""
    from modspec.numerics.integrate import end_point

    return end_point(dataset, network, train_objects)


# The front door wires the layers: the theory layer states coupled end points, the numerics
# layer integrates them (theory never imports numerics).
_register_end_point(_integrated_end_point)


__getattr__, __dir__ = lazy_exports(
    __name__, {**_LAZY, "dataset_from_mapping": ("modspec.theory.families", "from_mapping")},
    ["theory", "numerics", "validation"])
