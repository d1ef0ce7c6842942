"""The reference dataset D0 and the defaults of a run, defined once for every layer.

``D0`` is the paper's dataset (docs/theory/dataset.md): ``nx = 3`` compositional input
features, ``ny = 1`` output feature, ``kx = 3`` and ``ky = 1`` identity repeats, scale
``r = 1`` (``CompositionalDataset(**D0)``, P = 8 objects). A run's defaults: ``HIDDEN = 50``
hidden units per hidden layer; ``INIT_STD = 2e-4``, a small initialisation (every mode
starts far below its fixed point); ``LR = 0.005`` gives ``τ = 1/(P·lr) = 25`` epochs on D0,
and ``EPOCHS = 2400`` bring every mode of its dense depth-2 network to its fixed point from
that start; ``SEEDS = 3`` give a standard deviation; ``SEED = 0`` the first seed.

No imports beyond the standard library, so the command line reads them without SymPy.
"""

from types import MappingProxyType

__all__ = ["D0", "EPOCHS", "HIDDEN", "INIT_STD", "LR", "SEED", "SEEDS"]

#: The reference dataset D0: keyword arguments of
#: :class:`~modspec.theory.dataset.CompositionalDataset` (read-only).
D0 = MappingProxyType({"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1})
#: Hidden units per hidden layer.
HIDDEN = 50
#: Standard deviation of the initial weights, ``N(0, INIT_STD²)``.
INIT_STD = 2e-4
#: Learning rate of full-batch gradient descent.
LR = 0.005
#: Epochs of a validation run.
EPOCHS = 2400
#: Seeds of a validation run.
SEEDS = 3
#: First seed.
SEED = 0
