"""The defaults of one validation run, shared by :func:`modspec.validation.pipeline.validate`
(``ms.validate``) and ``modspec validate`` (no heavy imports, so the command line can read
them without importing the library).

``lr = 0.005`` gives ``τ = 1/(P·lr) = 25`` epochs on the paper's dataset D0 (P = 8), and
2400 epochs bring every mode of its dense depth-2 network to its fixed point from the small
initialisation ``init_std = 2e-4``; three seeds give a standard deviation. ``backend="auto"``
runs the exact NumPy simulator for linear networks without biases and PyTorch otherwise
(:func:`modspec.validation.training.train`).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["VALIDATE"]

#: Keyword arguments of :func:`~modspec.validation.training.train` that ``validate`` fills in
#: when they are not given (read-only).
VALIDATE = MappingProxyType({
    "lr": 0.005, "epochs": 2400, "hidden": 50, "init_std": 2e-4, "seeds": 3, "seed": 0,
    "backend": "auto", "device": "auto", "dtype": "float64",
})
