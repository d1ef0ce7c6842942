"""Held-out objects: the converged map trained on a subset, and its compositional error.

docs/theory/learning-dynamics.md §8. Train on the objects (columns) ``T``; hold out the rest. From
small initialisation every decoupled module converges to its minimum-norm map on the training data,
``W_m = Y_{m,T} X_{m,T}⁺`` (the part of its first layer outside the span of the training data
never moves), and so does a depth-1 network of coupled modules (minimum *parameter* norm,
:func:`modspec.theory.matrix_flow.minimum_norm_map`). Deep coupled networks are integrated
numerically instead.

On a held-out object j the compositional error is ``‖W[Oy, :] x_j − y_j[Oy]‖²`` (summed over
the ``Oy`` units); we report the mean over the held-out objects.

Why segregation generalises: module ``Ox → Oy`` converges to ``Ωy_T Ωx_T⁺``. When the
training subset's ``Ox`` covariance ``Ωx_T Ωx_Tᵀ`` has full rank ``nx``,
``Ωx_T⁺ = Ωx_Tᵀ (Ωx_T Ωx_Tᵀ)⁻¹`` and, since ``Ωy = S Ωx``, the module is exactly ``S``: zero
error on every object. A dense or output-split module also reads the identity units; those
of a held-out object were never active, so their weights stay zero, and what remains,
``W[Ox→Oy]``, is shrunk by the identity inputs that explain part of the training outputs —
a non-zero error.

With ``exact=True`` (default for ``P ≤ 16``) everything is rational/algebraic SymPy arithmetic
through the small training Gram matrix, so "zero error" is an identity, not a tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .architectures import Network
from .dataset import CompositionalDataset, Dataset
from .errors import ModspecError, bad
from .matrix_flow import minimum_norm_map
from .observables import map_summary

__all__ = ["EXACT_MAX_P", "Heldout", "check_objects", "heldout", "heldout_map"]

EXACT_MAX_P = 16


@dataclass(frozen=True, eq=False)
class Heldout:
    """Converged map trained on ``train_objects`` and its error on ``heldout_objects``.

    ``W`` is the total map (rows as ``Y``, columns as ``X``; SymPy ``Matrix`` when exact);
    ``errors`` the per-object compositional errors (summed squared error over ``Oy`` units);
    ``compositional_error`` their mean; ``full_rank`` whether the training subset's ``Ox``
    covariance has rank ``nx`` (sufficient for the segregated module to recover ``S``);
    ``rule_in_span`` whether the rows of ``S`` lie in the span of the training objects'
    features (necessary and sufficient: with ``ny < nx`` fewer objects can do);
    ``quadrant_norms`` the Frobenius norms of ``W``'s quadrants.
    """

    train_objects: tuple[int, ...]
    heldout_objects: tuple[int, ...]
    W: Any
    errors: tuple[Any, ...]
    compositional_error: Any
    full_rank: bool
    quadrant_norms: dict[str, Any]
    exact: bool
    rule_in_span: bool | None = None
    method: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (the ``heldout`` entry of ``modspec derive`` JSON, and details)."""
        return {"compositional_error": float(self.compositional_error),
                "objects": list(self.heldout_objects),
                "train_objects": list(self.train_objects),
                "errors": [float(e) for e in self.errors],
                "ox_covariance_full_rank": self.full_rank,
                "rule_in_span": self.rule_in_span,
                "quadrant_norms": {k: float(v) for k, v in self.quadrant_norms.items()},
                "exact": self.exact}


def check_objects(objects: Iterable[Any], P: int) -> tuple[int, ...]:
    """The one check of a training subset: distinct integers in ``[0, P)``, at least one;
    returned sorted. (Booleans and non-integral numbers are refused, not rounded.)"""
    import numbers

    try:
        items = list(objects)
    except TypeError:
        raise bad("train_objects", objects, f"must be a list of integers in [0, {P})") from None
    if any(isinstance(o, bool) or not isinstance(o, numbers.Integral) for o in items):
        raise bad("train_objects", items, f"must be integers in [0, {P})")
    chosen = tuple(int(o) for o in items)
    if not chosen or len(set(chosen)) != len(chosen) or any(o < 0 or o >= P for o in chosen):
        raise bad("train_objects", list(chosen),
                  f"must be a non-empty list of distinct integers in [0, {P})")
    return tuple(sorted(chosen))


def heldout_map(dataset: CompositionalDataset | Dataset, network: Network,
                train_objects: Iterable[int], exact: bool | None = None) -> tuple[Any, str]:
    """The converged total map of ``network`` trained on ``train_objects`` only, and how it
    was obtained: the minimum-norm map, or for a deep coupled network (no closed form) the
    end point of its integrated matrix flow (:func:`~.derivation.coupled_map`)."""
    from .derivation import coupled_map

    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("held-out objects need a numeric dataset")
    P = int(dataset.P)
    objs = check_objects(train_objects, P)
    if network.coupled and any(m.depth > 1 for m in network.modules):
        return coupled_map(dataset, network, objs)
    exact = P <= EXACT_MAX_P if exact is None else exact
    return (minimum_norm_map(dataset, network, objs, exact=exact),
            "exact: minimum-norm map on the training objects")


def heldout(dataset: CompositionalDataset | Dataset, network: Network,
            train_objects: Iterable[int], exact: bool | None = None,
            W: Any = None) -> Heldout:
    """Train on ``train_objects`` (converged map) and measure the held-out compositional error.

    ``W`` may be supplied (a map obtained elsewhere); it is then only evaluated. A stack of
    maps ``(starts, outputs, inputs)`` (a deep coupled network from several starts) gives
    errors and norms averaged over the stack.
    """
    P = int(dataset.P)
    objs = check_objects(train_objects, P)
    if not {"Ox", "Gx"} <= set(dataset.input_blocks) or "Oy" not in dataset.output_blocks:
        raise ModspecError("held-out errors need the blocks Ox, Gx and Oy")
    method = "given map"
    if W is None:
        W, method = heldout_map(dataset, network, objs, exact)
    is_exact = isinstance(W, sp.MatrixBase)
    held = tuple(j for j in range(P) if j not in objs)
    X, Y = np.asarray(dataset.X), np.asarray(dataset.Y)
    oy = dataset.output_blocks["Oy"]
    errors = []
    for j in held:
        if is_exact:
            x = sp.Matrix(X[:, j].tolist()).applyfunc(sp.nsimplify)
            y = sp.Matrix(Y[oy[0]:oy[1], j].tolist()).applyfunc(sp.nsimplify)
            r = W[oy[0]:oy[1], :] * x - y
            errors.append(sp.nsimplify(sp.simplify((r.T * r)[0, 0])))
        else:  # one map, or the mean error over a stack of maps (several starts)
            r = np.asarray(W)[..., oy[0]:oy[1], :] @ X[:, j] - Y[oy[0]:oy[1], j]
            errors.append(float(np.mean(np.sum(r**2, axis=-1))))
    if held:
        mean = (sp.Add(*errors) / len(held)) if is_exact else float(np.mean(errors))
    else:
        mean = sp.Integer(0) if is_exact else 0.0
    ox = dataset.input_blocks["Ox"]
    omega = X[ox[0]:ox[1]][:, list(objs)]
    full = bool(np.linalg.matrix_rank(omega @ omega.T) == ox[1] - ox[0])
    in_span = None
    if isinstance(dataset, CompositionalDataset):
        S = dataset.selection
        in_span = bool(np.linalg.matrix_rank(np.hstack([omega, S.T]))
                       == np.linalg.matrix_rank(omega))
    if is_exact:
        norms = {}
        for q in (("Ox", "Oy"), ("Gx", "Oy"), ("Ox", "Gy"), ("Gx", "Gy")):
            (i0, i1), (o0, o1) = dataset.input_blocks[q[0]], dataset.output_blocks[q[1]]
            block = W[o0:o1, i0:i1]
            norms[f"{q[0]}->{q[1]}"] = sp.sqrt(sp.nsimplify(sum(v**2 for v in block)))
    else:
        norms = map_summary(dataset, W)["quadrant_norms"]
    return Heldout(objs, held, W, tuple(errors), mean, full, norms, is_exact, in_span, method)
