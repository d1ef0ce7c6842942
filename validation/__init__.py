"""modspec.validation — training real networks (PyTorch, CPU or GPU) and comparing with theory.

PyTorch is imported lazily, inside the functions that need it, so importing this package does
not import torch; the names below are resolved on first access, so importing one light
submodule (say :mod:`.cmnist.presets`) imports nothing else.

* :func:`train` — full-batch GD of any architecture (linear, ReLU, tanh; CPU/CUDA);
* :func:`validate`, :func:`assess` — the pipeline: train, the theory of that run, compare
  (:mod:`.pipeline`);
* :func:`compare` — theory vs measurement: mode-aligned errors, half-rise times, verdicts;
* :func:`run_claims` — the four claims of docs/theory/learning-dynamics.md by trained networks;
* :func:`build_cmnist`, :func:`run_cmnist` — Compositional MNIST and dense/split CNNs.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> its submodule (or the submodule and its name there).
_LAZY = {
    "Assessment": ".pipeline",
    "CMNISTConfig": ".cmnist.config",
    "ClaimsConfig": ".study.claims_config",
    "assess": ".pipeline",
    "build_cmnist": (".cmnist.dataset", "build"),
    "compare": ".comparison",
    "run_claims": ".study.claims",
    "run_cmnist": (".cmnist.run", "run"),
    "train": ".training",
    "validate": ".pipeline",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
