"""Compositional MNIST and the dense/split CNNs trained on it (``modspec cmnist``).

* :mod:`.dataset` — the dataset: tuples of digit images and their compositional targets;
* :mod:`.cnn` — the networks and their initialisations;
* :mod:`.run` — training, the convergence rule, the verdict and the claim over time;
* :mod:`.presets` — the quick and reference sizes.

The names below are resolved on first access, so importing one submodule (say
:mod:`.presets`) imports nothing else.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> its submodule.
_LAZY = {
    "CMNISTConfig": ".config",
    "CompositionalMNIST": ".dataset",
    "build": ".dataset",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
