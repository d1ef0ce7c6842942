"""The defaults of a run, defined once for the numerics layer and every layer above it
(:mod:`modspec.validation.defaults` builds the defaults of ``modspec validate`` from these).

``HIDDEN = 50`` hidden units per hidden layer; ``INIT_STD = 2e-4``, a small initialisation
(every mode starts far below its fixed point); ``LR = 0.005`` gives ``τ = 1/(P·lr) = 25``
epochs on the paper's dataset D0 (P = 8), and ``EPOCHS = 2400`` bring every mode of its dense
depth-2 network to its fixed point from that start; ``SEEDS = 3`` give a standard deviation.
No imports, so that the command line can read them cheaply.
"""

__all__ = ["EPOCHS", "HIDDEN", "INIT_STD", "LR", "SEED", "SEEDS"]

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
