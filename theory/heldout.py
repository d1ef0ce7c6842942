"""Held-out objects: the converged map trained on a subset, and its error per output block.

docs/theory/learning-dynamics.md §8 and docs/theory/families.md. The *objects* are the columns
of ``X`` and ``Y``, the points of the dataset's sample space: for the compositional and parity
families and every hypercube declaration, object ``j`` is the corner whose feature i is
``(−1)^(bit i of j)``; for a tree, object ``j`` is the j-th leaf (item) from the left. Train on
the objects ``T``; hold out the rest. From small initialisation every decoupled module
converges to its minimum-norm map on the training data, ``W_m = Y_{m,T} X_{m,T}⁺`` (the part of
its first layer outside the span of the training data never moves), and so does a depth-1
network of coupled modules (minimum *parameter* norm,
:func:`modspec.theory.matrix_flow.minimum_norm_map`). Deep coupled networks are integrated
numerically instead (:mod:`modspec.theory.endpoints`).

On a held-out object j the error of output block ``o`` is ``‖W[o, :] x_j − y_j[o]‖²`` (summed
over the block's units); we report its mean over the held-out objects for every output block
(``block_errors``). The compositional error is that of ``Oy``, where the dataset has it.

Why segregation generalises: module ``Ox → Oy`` converges to ``Ωy_T Ωx_T⁺``. When the
training subset's ``Ox`` covariance ``Ωx_T Ωx_Tᵀ`` has full rank ``nx``,
``Ωx_T⁺ = Ωx_Tᵀ (Ωx_T Ωx_Tᵀ)⁻¹`` and, since ``Ωy = S Ωx``, the module is exactly ``S``: zero
error on every object. A dense or output-split module also reads the identity units; those
of a held-out object were never active, so their weights stay zero, and what remains,
``W[Ox→Oy]``, is shrunk by the identity inputs that explain part of the training outputs —
a non-zero error. The same argument says what is *not* predicted: a block reached only
through identity inputs (a parity of order ≥ 2, whose Walsh atom no feature row touches; every
tree level when the input is the items' identity) predicts 0 on a held-out object, so its
error there is the object's own ``‖y_j[o]‖²`` — learned by memorisation only.

With ``exact=True`` (default for ``P ≤ 16``) everything is rational/algebraic SymPy arithmetic
through the small training Gram matrix, so "zero error" is an identity, not a tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .architectures import Network
from .dataset import CompositionalDataset, Dataset
from .declaration import DeclaredDataset
from .errors import ModspecError, bad
from .matrix_flow import minimum_norm_map
from .observables import block_pairs, map_summary, quadrant_name

__all__ = ["EXACT_MAX_P", "Heldout", "check_objects", "heldout", "heldout_map"]

EXACT_MAX_P = 16


@dataclass(frozen=True, eq=False)
class Heldout:
    """Converged map trained on ``train_objects`` and its errors on ``heldout_objects``.

    ``W`` is the total map (rows as ``Y``, columns as ``X``; SymPy ``Matrix`` when exact, a
    stack ``(starts, outputs, inputs)`` for a deep coupled network); ``block_errors`` the mean
    over held-out objects of every output block's summed squared error, ``object_errors`` the
    per-object errors of every output block; ``errors`` and ``compositional_error`` those of
    ``Oy`` (``()`` and ``None`` for a dataset without it); ``full_rank`` whether the training
    subset's ``Ox`` covariance has full rank (sufficient for the segregated module to recover
    ``S``; ``None`` without ``Ox``); ``rule_in_span`` whether the rows of the rule
    ``S = Y_Oy X_Ox⁺`` lie in the span of the training objects' features (necessary and
    sufficient: with ``ny < nx`` fewer objects can do; ``None`` without ``Ox`` and ``Oy``);
    ``quadrant_norms`` the Frobenius norms of ``W``'s blocks, for every block pair.
    """

    train_objects: tuple[int, ...]
    heldout_objects: tuple[int, ...]
    W: Any
    errors: tuple[Any, ...]
    compositional_error: Any
    full_rank: bool | None
    quadrant_norms: dict[str, Any]
    exact: bool
    rule_in_span: bool | None = None
    method: str = ""
    block_errors: dict[str, Any] = field(default_factory=dict)
    object_errors: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (the ``heldout`` entry of ``modspec derive`` JSON, and details)."""
        return {"compositional_error": (None if self.compositional_error is None
                                        else float(self.compositional_error)),
                "block_errors": {k: float(v) for k, v in self.block_errors.items()},
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


def _numeric_objects(dataset: Any, train_objects: Iterable[int]) -> tuple[int, tuple[int, ...]]:
    """``(P, the checked training objects)`` of a numeric dataset (a symbolic one has no
    objects to hold out)."""
    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("held-out objects need a numeric dataset")
    P = int(dataset.P)
    return P, check_objects(train_objects, P)


def heldout_map(dataset: CompositionalDataset | DeclaredDataset | Dataset, network: Network,
                train_objects: Iterable[int], exact: bool | None = None) -> tuple[Any, str]:
    """The converged total map of ``network`` trained on ``train_objects`` only, and how it
    was obtained: the minimum-norm map, or for a deep coupled network (no closed form) the
    end point of its integrated matrix flow (:func:`~.derivation.coupled_map`)."""
    from .derivation import coupled_map

    P, objs = _numeric_objects(dataset, train_objects)
    if network.coupled and any(m.depth > 1 for m in network.modules):
        return coupled_map(dataset, network, objs)
    exact = P <= EXACT_MAX_P if exact is None else exact
    return (minimum_norm_map(dataset, network, objs, exact=exact),
            "exact: minimum-norm map on the training objects")


def heldout(dataset: CompositionalDataset | DeclaredDataset | Dataset, network: Network,
            train_objects: Iterable[int], exact: bool | None = None,
            W: Any = None) -> Heldout:
    """Train on ``train_objects`` (converged map) and measure the error on the held-out objects
    of every output block, for any dataset (see the module docstring).

    ``W`` may be supplied (a map obtained elsewhere); it is then only evaluated. A stack of
    maps ``(starts, outputs, inputs)`` (a deep coupled network from several starts) gives
    errors and norms averaged over the stack.
    """
    P, objs = _numeric_objects(dataset, train_objects)
    method = "given map"
    if W is None:
        W, method = heldout_map(dataset, network, objs, exact)
    is_exact = isinstance(W, sp.MatrixBase)
    held = tuple(j for j in range(P) if j not in objs)
    X, Y = np.asarray(dataset.X), np.asarray(dataset.Y)
    if is_exact:
        R = W * _exact_columns(X, held) - _exact_columns(Y, held)
    else:  # one map, or a stack of maps (several starts): errors averaged over the stack
        R = np.asarray(W, dtype=float) @ X[:, list(held)] - Y[:, list(held)]
    object_errors, block_errors = {}, {}
    for block, (o0, o1) in dataset.output_blocks.items():
        if is_exact:
            per = tuple(sp.nsimplify(sp.simplify(sum(v**2 for v in R[o0:o1, k])))
                        for k in range(len(held)))
            mean = sp.Add(*per) / len(held) if held else sp.Integer(0)
        else:
            per = tuple(float(np.mean(np.sum(R[..., o0:o1, k] ** 2, axis=-1)))
                        for k in range(len(held)))
            mean = float(np.mean(per)) if held else 0.0
        object_errors[block], block_errors[block] = per, mean
    full = in_span = None
    if "Ox" in dataset.input_blocks:
        ox = dataset.input_blocks["Ox"]
        omega = X[ox[0]:ox[1]][:, list(objs)]
        full = bool(np.linalg.matrix_rank(omega @ omega.T) == ox[1] - ox[0])
        if "Oy" in dataset.output_blocks:
            S = _rule(dataset)
            in_span = bool(np.linalg.matrix_rank(np.hstack([omega, S.T]))
                           == np.linalg.matrix_rank(omega))
    if is_exact:
        norms = {}
        for inp, out in block_pairs(tuple(dataset.input_blocks), tuple(dataset.output_blocks)):
            (i0, i1), (o0, o1) = dataset.input_blocks[inp], dataset.output_blocks[out]
            block = W[o0:o1, i0:i1]
            norms[quadrant_name(inp, out)] = sp.sqrt(sp.nsimplify(sum(v**2 for v in block)))
    else:
        norms = map_summary(dataset, W)["quadrant_norms"]
    return Heldout(objs, held, W, object_errors.get("Oy", ()), block_errors.get("Oy"), full,
                   norms, is_exact, in_span, method, block_errors, object_errors)


def _exact_columns(A: np.ndarray, columns: tuple[int, ...]) -> sp.Matrix:
    return sp.Matrix(A[:, list(columns)].tolist()).applyfunc(sp.nsimplify)


def _rule(dataset: Any) -> np.ndarray:
    """The compositional rule ``S``: the family's selection, else ``Y_Oy X_Ox⁺``."""
    S = getattr(dataset, "selection", None)
    if S is not None:
        return np.asarray(S, dtype=float)
    (i0, i1), (o0, o1) = dataset.input_blocks["Ox"], dataset.output_blocks["Oy"]
    return np.asarray(dataset.Y, dtype=float)[o0:o1] @ np.linalg.pinv(
        np.asarray(dataset.X, dtype=float)[i0:i1])
