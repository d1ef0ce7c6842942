"""Named configurations of the Compositional MNIST experiment (no heavy imports).

``REFERENCE`` is the protocol of the original study (theory.md §5); ``QUICK`` a configuration
that finishes in minutes on two CPU cores. Both are keyword arguments of
:class:`modspec.validation.cmnist_run.CMNISTConfig`.
"""

from __future__ import annotations

REFERENCE = {"positions": 3, "n_train": 20_000, "n_test": 3_333, "holdout": 0.0,
             "epochs": 300, "lr": 2e-3, "batch": 16, "init": "small", "seeds": 3,
             "eval_every": 1, "eval_train": 1_000, "threads": None, "workers": 1}

#: The quick configuration. The reference initialisation N(0, 0.01²) stays on a plateau for
#: many epochs at lr 2e-3 (measured while planning), so the quick run uses PyTorch's default
#: initialisation; two positions and 2,000 images keep one network near a minute on one core.
#: A fifth of the digit tuples is held out of training. Two worker processes of one thread
#: each use both cores of a two-core machine.
QUICK = {"positions": 2, "n_train": 2_000, "n_test": 500, "holdout": 0.2, "epochs": 100,
         "lr": 2e-3, "batch": 16, "init": "default", "seeds": 3, "eval_every": 5,
         "eval_train": 500, "threads": 1, "workers": 2}
