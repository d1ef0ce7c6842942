"""modspec.validation — training real networks (PyTorch, CPU or GPU) and comparing with theory.

PyTorch is imported lazily, inside the functions that need it, so importing this package does
not import torch.

* :func:`train` — full-batch GD of any architecture (linear, ReLU, tanh; CPU/CUDA);
* :func:`compare` — theory vs simulation: mode-aligned errors, half-rise times, verdicts;
* :func:`run_claims` — the four claims of theory.md §4.5 by trained networks;
* :func:`build_cmnist`, :func:`run_cmnist` — Compositional MNIST and dense/split CNNs.
"""

from .claims import ClaimsConfig, run_claims
from .cmnist import build as build_cmnist
from .cmnist_run import CMNISTConfig
from .cmnist_run import run as run_cmnist
from .compare import compare
from .train import Training, train

__all__ = ["CMNISTConfig", "ClaimsConfig", "Training", "build_cmnist", "compare", "run_claims",
           "run_cmnist", "train"]
