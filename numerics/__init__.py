"""modspec.numerics — code generation, cached compiled functions, ODE integration, simulators.

Depends on :mod:`modspec.theory`; never imports PyTorch.

* :mod:`.codegen` / :mod:`.cache` — SymPy → NumPy with CSE and batch-safe matrix printing,
  stored in a content-hashed on-disk cache;
* :mod:`.stable` — overflow- and cancellation-free forms of the closed-form trajectories;
* :mod:`.predict` — ``compile(derivation)`` → :class:`~.predict.Predictor`; :mod:`.points`
  — what a point of a symbolic dataset fixes (``P``, which modes exist);
* :mod:`.flow`, :mod:`.integrate` — the exact matrix gradient flow, ``solve_ivp``;
* :mod:`.simulate` — exact full-batch gradient descent, batched over seeds, stepped on the
  exact reduced run of :mod:`.subspace`;
* :mod:`.rules` — learning rules: gradient descent plus the array code generated from a rule's
  SymPy terms; :mod:`.rule_modes` — a rule's derived per-mode dynamics for a run
  (and the predictor's strategy for a derivation with a rule);
* :mod:`.record` — :class:`~.record.Trajectory`, the one record of everything that unfolds in
  time (theory, simulation, training, flow);
* :mod:`.expectation` — the theory of a recorded run: which solution applies, from which
  start, with which end point; :mod:`.starts` — the one start policy, one function per
  situation; :mod:`.early` — the effective starts of deep modes from random weights (the
  free flow);
* :mod:`.stability` — the stability limit of gradient descent from the full Hessian of the
  loss at the fixed point;
* :mod:`.riccati`, :mod:`.any_start` — the exact two-layer flow from any λ-balanced start
  (docs/theory/any-start.md).
"""

from modspec.exports import lazy_exports

#: Public name -> submodule, resolved on first access (PEP 562): importing a light submodule
#: such as ``modspec.numerics.record`` does not import SymPy. The simulator is the function
#: ``modspec.simulate`` (defined in :mod:`.simulate`); here ``simulate`` names its module.
_LAZY = {
    "Predictor": ".predict",
    "compile": ".predict",
    "Trajectory": ".record",
    "initial_weights": ".simulate",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
