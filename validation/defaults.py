"""The defaults of one validation run, shared by :func:`modspec.validation.pipeline.validate`
(``ms.validate``) and ``modspec validate`` (no heavy imports, so the command line can read
them without importing the library).

The run's numbers are :mod:`modspec.theory.defaults` (``lr = 0.005`` gives ``τ = 1/(P·lr) =
25`` epochs on the paper's dataset D0, P = 8; 2400 epochs bring every mode of its dense
depth-2 network to its fixed point from ``init_std = 2e-4``; three seeds give a standard
deviation). ``backend="auto"``
runs the exact NumPy simulator for linear networks without biases and PyTorch otherwise
(:func:`modspec.validation.training.train`).
"""

from __future__ import annotations

from types import MappingProxyType

from modspec.theory.defaults import EPOCHS, HIDDEN, INIT_STD, LR, SEED, SEEDS

__all__ = ["VALIDATE"]

#: Keyword arguments of :func:`~modspec.validation.training.train` that ``validate`` fills in
#: when they are not given (read-only).
VALIDATE = MappingProxyType({
    "lr": LR, "epochs": EPOCHS, "hidden": HIDDEN, "init_std": INIT_STD, "seeds": SEEDS,
    "seed": SEED,
    "backend": "auto", "device": "auto", "dtype": "float64",
})
