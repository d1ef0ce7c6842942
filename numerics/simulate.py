"""Exact full-batch gradient descent of modular linear networks, batched over seeds.

Gradient descent in covariance form (docs/theory/learning-dynamics.md, §1): with
``R = Σyx − W Σx`` (``W`` the network's total map, covariances averaged over the training
objects) one epoch updates every layer of every module simultaneously,

    W_i ← W_i + (1/τ) ∂/∂W_i tr(M_m G_mᵀ),      G_m = R[out_m, in_m],   τ = 1/(P·lr)

(``W2 += (1/τ) R W1ᵀ``, ``W1 += (1/τ) W2ᵀ R`` for a deep module; ``W += R/τ`` for a shallow
one), where P is the number of training objects. The layer gradients are SymPy derivatives
compiled by :mod:`modspec.numerics.flow`; every seed is one slice of a stacked batch, so each
step is one stacked matrix product per layer for all seeds (and one large product for
``W Σx``). Gradient descent steps the exact reduced run of :mod:`modspec.numerics.subspace`
(the span of the training inputs and, for two-layer modules, of the initial hidden weights:
(27, 50, 9) becomes (8, 17, 9) on D0 with 50 hidden units); the full maps are rebuilt only on
recorded epochs, and the full weights at the end.

Recorded at every ``record_every``-th epoch t = 0 … epochs and at the last (before the
update of epoch t+1):

* ``modes[key]`` — the strength of each mode read on the ANALYTIC singular vectors of its
  module: ``mean diag(Uᵀ M V)`` over the mode's multiplicity (never a re-sorted SVD);
* ``quadrant_norms[q]`` — Frobenius norms of the quadrants ``Ox->Oy`` … of the total map;
* ``loss[name]`` — per sample: the mean over training samples of the summed squared error
  over the block's output units (``compositional``: ``Oy``; ``noncompositional``: ``Gy``),
  computed as ``tr Σy_o − ⟨Σyx_o + R_o, W_o⟩`` (on the reduced run's ``W̃``, ``R̃``:
  the training outputs are the same);
* ``heldout`` — when ``train_objects`` leaves objects out, for every output block ``o``
  ``blocks[o]`` (seeds, T): the mean over held-out objects j of ``‖W[o, :] x_j − y_j[o]‖²``
  (summed over the block's units; the theory's ``block_errors``,
  :func:`modspec.theory.heldout.heldout`); ``compositional_error`` is the ``Oy`` entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.theory.architectures import Network
from modspec.theory.defaults import HIDDEN, INIT_STD
from modspec.theory.errors import bad
from modspec.theory.observables import loss_key

from .blas import single_threaded_blas
from .budget import check_memory, training_bytes
from .flow import (
    Covariances,
    Layout,
    check_positive,
    check_weights,
    covariances,
    gradients,
    layout,
    module_maps,
    residual,
    tau_of,
    total_map,
)
from .progress import counted, epoch_bar
from .record import Trajectory
from .recorder import Recorder
from .rules import rule_terms
from .runspec import accepts_run_spec
from .starts import effective_a0, initial_weights
from .subspace import full_weights, reduce_run

if TYPE_CHECKING:
    from modspec.theory.rules import Rule

__all__ = ["Observer", "effective_a0", "initial_weights", "lr_limit", "simulate",
           "single_threaded_blas"]

class Observer:
    """Reads the recorded quantities off a batch of module maps (see the module docstring)."""

    def __init__(self, lay: Layout, cov: Covariances, dataset: Any) -> None:
        self.lay, self.cov = lay, cov
        self.X = np.asarray(dataset.X, dtype=float)
        self.Y = np.asarray(dataset.Y, dtype=float)
        self.held = np.setdiff1d(np.arange(int(dataset.P)), cov.objects)
        self.record_held = self.held.size > 0
        self.loss_blocks = {b: loss_key(b) for b in dataset.output_blocks}
        self.out_spans = {b: slice(*span) for b, span in dataset.output_blocks.items()}
        # a module may have no mode at all (it writes an empty block, or reads inputs that
        # carry no correlation with its outputs): its projection matrix then has no column
        self.projections = [
            (ml, np.stack([p.ravel() for p in ml.projections.values()], axis=1)
             if ml.projections else np.zeros((ml.dims[-1] * ml.dims[0], 0)))
            for ml in lay.modules]
        # each quadrant and each loss block as a 0/1 mask over the entries of the total map:
        # the sums over all of them are one matrix product for the whole batch
        self.quadrant_masks = _masks((lay.n_out, lay.n_in), lay.quadrants.values())
        self.loss_masks = _masks((lay.n_out, lay.n_in),
                                 [(self.out_spans[b], slice(None)) for b in self.loss_blocks])
        self.loss_traces = np.array([cov.trace_y[b] for b in self.loss_blocks])
        #: (group, key) of every column of :meth:`values`
        self.names = [*(("modes", k) for ml, _ in self.projections for k in ml.projections),
                      *(("quadrant_norms", q) for q in lay.quadrants),
                      *(("loss", name) for name in self.loss_blocks.values())]
        # held-out errors: the output rows summed by block (a 0/1 matrix rows × blocks)
        self.block_rows = _masks((lay.n_out, 1), [(self.out_spans[b], slice(None))
                                                 for b in self.out_spans])
        self._reduced: np.ndarray | None = None

    def modes(self, maps: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Mode strengths ``mean diag(Uᵀ M V)`` of module maps stacked over a leading axis
        (for a non-linear module, its mean Jacobian), each ``(batch,)``."""
        n = maps[0].shape[0]
        modes = {}
        for (ml, proj), M in zip(self.projections, maps, strict=True):
            vals = M.reshape(n, -1) @ proj
            for j, key in enumerate(ml.projections):
                modes[key] = vals[:, j]
        return modes

    def quadrant_norms(self, W: np.ndarray) -> dict[str, np.ndarray]:
        """Frobenius norms of the quadrants of total maps ``W`` (batch, outputs, inputs)."""
        norms = np.sqrt((W * W).reshape(*W.shape[:-2], -1) @ self.quadrant_masks)
        return {q: norms[..., j] for j, q in enumerate(self.lay.quadrants)}

    def values(self, maps: Sequence[np.ndarray], W: np.ndarray, R: np.ndarray | None,
               reduced: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
               overwrite: bool = False) -> np.ndarray:
        """Every recorded value of a batch as one array ``(batch, len(names))``, in the order
        of :attr:`names` (mode strengths, quadrant norms, block losses): a few matrix-vector
        products per group (:meth:`map_values`, :meth:`reduced_losses`).

        ``reduced = (W̃, Σ̃yx, R̃)``, a reduced run's total map, covariance and residual
        (:mod:`modspec.numerics.subspace`), gives the losses instead of the full ``R``
        (then unused). ``overwrite``: as for :meth:`map_values`."""
        if reduced is None:
            inner = _thin(((self.cov.sigma_yx + R) * W).reshape(W.shape[0], -1),
                          self.loss_masks)
            losses = self.loss_traces - inner
        else:
            losses = self.reduced_losses(*reduced)
        return np.concatenate([self.map_values(maps, W, overwrite), losses], axis=1)

    def map_values(self, maps: Sequence[np.ndarray], W: np.ndarray,
                   overwrite: bool = False) -> np.ndarray:
        """The mode strengths and quadrant norms of a batch, ``(batch, modes + quadrants)``
        in the order of :attr:`names`. ``overwrite``: ``W`` may be squared in place (after
        the modes are read from ``maps``, which may be ``W`` itself): the caller no longer
        needs it."""
        n = W.shape[0]
        parts = [_thin(M.reshape(n, -1), proj) for (_, proj), M in zip(self.projections, maps,
                                                                      strict=True)]
        squares = np.multiply(W, W, out=W if overwrite else None)
        return np.concatenate([*parts, np.sqrt(_thin(squares.reshape(n, -1),
                                                     self.quadrant_masks))], axis=1)

    def reduced_losses(self, Wr: np.ndarray, sigma_yz: np.ndarray, Rr: np.ndarray
                       ) -> np.ndarray:
        """The block losses ``(batch, blocks)`` of a reduced run's total maps ``W̃``
        (batch, outputs, reduced inputs) with covariance ``Σ̃yx`` and residuals ``R̃``: the
        training outputs are the same, ``W X = W̃ Z``, so
        ``tr Σy_o − ⟨Σyx_o + R_o, W_o⟩ = tr Σy_o − ⟨Σ̃yx_o + R̃_o, W̃_o⟩`` (equal up to
        rounding), read on the few reduced columns."""
        inner = _thin(((sigma_yz + Rr) * Wr).reshape(Wr.shape[0], -1),
                      self._reduced_masks(Wr.shape[-1]))
        return self.loss_traces - inner

    def _reduced_masks(self, n_in: int) -> np.ndarray:
        """The loss blocks as 0/1 masks over the entries of a reduced map with ``n_in``
        inputs (the rows of :attr:`block_rows`, each repeated over the inputs)."""
        if self._reduced is None or self._reduced.shape[0] != self.lay.n_out * n_in:
            self._reduced = np.repeat(self.block_rows, n_in, axis=0)
        return self._reduced

    def __call__(self, maps: Sequence[np.ndarray], W: np.ndarray, R: np.ndarray
                 ) -> dict[str, Any]:
        """``maps``, ``W``, ``R`` stacked over a leading batch axis; values are (batch,)."""
        vals = self.values(maps, W, R)
        out: dict[str, Any] = {"modes": {}, "quadrant_norms": {}, "loss": {}}
        for j, (group, key) in enumerate(self.names):
            out[group][key] = vals[..., j]
        if self.record_held:
            out["heldout"] = self.heldout(W)
        return out

    def heldout(self, W: np.ndarray) -> dict[str, np.ndarray]:
        """Per output block ``o``: the mean over held-out objects j of
        ``‖W[o, :] x_j − y_j[o]‖²`` for total maps ``W`` (batch, outputs, inputs), each
        (batch,)."""
        err = self.Y[:, self.held] - W @ self.X[:, self.held]
        per_block = (err**2).mean(axis=-1) @ self.block_rows
        return {b: per_block[..., j] for j, b in enumerate(self.out_spans)}


def _thin(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for a tall ``A`` (rows, k) and a ``B`` (k, c) of a few columns, one
    matrix-vector product per column: OpenBLAS's product with a handful of columns
    measured 3-5× slower than as many matrix-vector products (the mode projections,
    quadrant and loss masks of a batch of records)."""
    out = np.empty((B.shape[1], A.shape[0]))
    for j in range(B.shape[1]):
        np.matmul(A, B[:, j], out=out[j])
    return out.T


def _masks(shape: tuple[int, int], blocks: Any) -> np.ndarray:
    """Columns of 0/1 masks, one per ``(rows, cols)`` block of a ``shape`` matrix, raveled."""
    blocks = list(blocks)
    out = np.zeros((shape[0] * shape[1], len(blocks)))
    for j, (rows, cols) in enumerate(blocks):
        mask = np.zeros(shape)
        mask[rows, cols] = 1.0
        out[:, j] = mask.ravel()
    return out


def lr_limit(dataset: Any, network: Network, train_objects: Sequence[int] | None = None,
             hidden: int = HIDDEN) -> float:
    """The derived stability limit of gradient descent on this network and these training
    objects: the full Hessian of the loss at the fixed point
    (:func:`modspec.numerics.stability.stability_limit`, cross-mode curvature included)."""
    from .stability import stability_limit

    return stability_limit(dataset, network, hidden, train_objects).lr_max


def _diverged(dataset: Any, network: Network, lay: Layout, cov: Covariances, lr: float,
              epoch: int, rule: Rule | None = None,
              start: tuple[str, Any] | None = None) -> Exception:
    from .discrete import divergence_error

    hidden = max((ml.dims[1] for ml in lay.modules if ml.depth > 1), default=1)
    limit = lr_limit(dataset, network, cov.objects, hidden)
    if rule is None or rule.is_gradient_descent or start is not None:
        return divergence_error(lr, epoch, limit, start)
    return bad("rule", rule.label,
               f"diverged at lr={lr:g} (non-finite weights at epoch {epoch}); use smaller "
               f"coefficients or lr (gradient descent alone is stable for lr < {limit:.4g})")


@accepts_run_spec
def simulate(dataset: Any, network: Network, lr: float, epochs: int, hidden: int = HIDDEN,
             init_std: float = INIT_STD, seeds: int = 1, seed: int = 0,
             train_objects: Sequence[int] | None = None,
             init: Sequence[Sequence[np.ndarray]] | None = None,
             record_every: int = 1, rule: Rule | str | None = None,
             progress: bool = True) -> Trajectory:
    """Full-batch gradient descent for ``epochs`` epochs at learning rate ``lr``.

    ``init`` (from :func:`initial_weights`) overrides ``hidden``/``init_std``/``seeds``/``seed``
    (its shapes decide). ``train_objects`` lists the objects (columns) trained on; the others
    are held out. Time is in epochs; ``τ = 1/(P·lr)`` with P the number of training objects.
    Observables are recorded every ``record_every`` epochs and at the last one; the epochs in
    between cost only the reduced step (:mod:`modspec.numerics.subspace`).

    ``rule`` (a :class:`~modspec.theory.rules.Rule` or a preset name; default
    gradient descent) adds its extra terms to every epoch (:mod:`modspec.numerics.rules`;
    dense two-layer networks only). A run that diverges under a rule stops in the same way.

    ``progress``: a ``tqdm.auto`` bar of the epochs once the run has taken a few seconds
    (:mod:`modspec.numerics.progress`); ``False`` draws none.

    Gradient descent that diverges (weights overflow: ``lr`` beyond the stability limit
    of :func:`modspec.numerics.stability.stability_limit`, from the full Hessian) stops with a
    ``ModspecError`` saying at which epoch and what the limit is.

    ``simulate(spec)`` runs a :class:`~modspec.numerics.runspec.RunSpec` (keywords beside
    it override its values).

    Returns a :class:`~modspec.numerics.record.Trajectory` (``kind="simulation"``, arrays
    ``(seeds, T)``) carrying ``lr``, ``tau``, the initial and final weights, each mode's
    effective initial strength ``a0[key]`` (seeds,) (see :func:`effective_a0`) and the final
    total map.
    """
    check_memory(training_bytes(dataset, network, hidden, seeds, epochs, record_every),
                 f"epochs={epochs}, seeds={seeds}, hidden={hidden}")
    # overflow of a diverging run is detected (one line naming the derived lr limit), not warned
    from modspec.theory.rules import as_rule  # here: the rules' SymPy is not start-up's

    rule = as_rule(rule)
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore",
                                             divide="ignore"):
        return _simulate(dataset, network, lr, epochs, hidden, init_std, seeds, seed,
                         train_objects, init, record_every, rule, progress)


def _simulate(dataset: Any, network: Network, lr: float, epochs: int, hidden: int,
              init_std: float, seeds: int, seed: int, train_objects: Sequence[int] | None,
              init: Sequence[Sequence[np.ndarray]] | None, record_every: int,
              rule: Rule, progress: bool = False) -> Trajectory:
    epochs = check_positive("epochs", epochs, integer=True, allow_zero=True)
    record_every = check_positive("record_every", record_every, integer=True)
    given = init is not None
    lay, init = _start(dataset, network, hidden, init_std, seeds, seed, init)
    from modspec.theory.rules import check_network

    check_network(rule, network, dataset)
    cov = covariances(dataset, train_objects)
    tau = tau_of(cov.P, lr)
    X_train = np.asarray(dataset.X, dtype=float)[:, cov.objects]
    Y_train = np.asarray(dataset.Y, dtype=float)[:, cov.objects]
    record_at = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    weights = [[w.copy() for w in layers] for layers in init]
    a0 = effective_a0(lay, weights)
    # gradient descent runs on the exact reduced problem when the training inputs or the
    # hidden units have room to spare (numerics/subspace.py); a rule's extra terms see the
    # full weights
    sub = reduce_run(lay, cov, X_train, Y_train, weights) if rule.is_gradient_descent \
        else None
    run_lay, run_cov = (lay, cov) if sub is None else (sub.layout, sub.cov)
    if sub is not None:                  # from here on, the reduced weights are stepped
        weights = [[w.copy() for w in layers] for layers in sub.start]
    rec = Recorder(Observer(lay, cov, dataset), lay, sub, len(record_at), init[0][0].shape[0])
    guard = _Guard(run_cov, ("init", "the given weights") if given else ("init_std", init_std),
                   lambda step, blame: _diverged(dataset, network, lay, cov, lr, step, rule,
                                                 blame))
    slot = 0
    bar = epoch_bar(epochs, progress, f"simulate ({seeds} seed{'s' * (seeds != 1)})")
    for step in counted(range(epochs + 1), bar):
        maps = module_maps(run_lay, weights)
        W = total_map(run_lay, maps)
        R = residual(W, run_cov)
        guard.check(R, step)
        if step == record_at[slot]:
            rec.record(slot, maps, W, R, weights, run_cov)
            slot += 1
        if step < epochs:
            _epoch(run_lay, weights, R, rule, tau, X_train, Y_train)
    rec.flush()
    records, heldout = rec.curves()
    return Trajectory(np.asarray(record_at, dtype=float), heldout=heldout, seed_axis=True,
                      kind="simulation", time="discrete", lr=float(lr), tau=tau,
                      train_objects=None if train_objects is None else cov.objects,
                      init=init, weights=weights if sub is None else full_weights(sub, weights),
                      a0=a0, final_map=rec.final_map, **records,
                      meta={} if rule.is_gradient_descent else
                      {"rule": rule.name, **rule.coefficients})


def _start(dataset: Any, network: Network, hidden: int, init_std: float, seeds: int,
           seed: int, init: Sequence[Sequence[np.ndarray]] | None) -> tuple[Layout, list]:
    """The layout and the checked initial weights (drawn, or given: their shapes decide)."""
    if init is None:
        init = initial_weights(dataset, network, hidden, init_std, seeds, seed)
        lay = layout(dataset, network, hidden)
    else:
        first = np.asarray(init[0][0])
        lay = layout(dataset, network,
                     first.shape[-2] if network.modules[0].depth > 1 else hidden)
    return lay, check_weights(lay, init)


class _Guard:
    """Stops a diverging run: the residual beyond ``DIVERGENCE_GROWTH`` times the start's (or
    the data's) scale, or not finite; blames the start when it was already that large."""

    def __init__(self, cov: Covariances, start: tuple[str, Any], error: Any) -> None:
        from .discrete import DIVERGENCE_GROWTH

        self.growth, self.start, self.error = DIVERGENCE_GROWTH, start, error
        self.scale = max(np.abs(cov.sigma_yx).max(initial=0.0), np.finfo(float).tiny)
        self.bound: float | None = None
        self.blame: tuple[str, Any] | None = None

    def check(self, R: np.ndarray, step: int) -> None:
        size = np.abs(R).max(initial=0.0)
        if self.bound is None and np.isfinite(size):
            self.bound = self.growth * max(size, self.scale)
            self.blame = self.start if size > self.growth * self.scale else None
        if self.bound is None or not size <= self.bound:     # also NaN
            raise self.error(step, self.start if step == 0 else self.blame)


def _epoch(lay: Layout, weights: list, R: np.ndarray, rule: Rule, tau: float,
           X_train: np.ndarray, Y_train: np.ndarray) -> None:
    """One epoch in place: the simultaneous update of every layer (and a rule's terms, from
    the weights before the epoch)."""
    # the gradients are linear in R: scaling the small residual by 1/τ scales them all
    grads = gradients(lay, weights, R / tau)
    extra = (None if rule.is_gradient_descent
             else rule_terms(rule, *weights[0], X_train, Y_train, tau))
    for layers, g in zip(weights, grads, strict=True):
        for w, d in zip(layers, g, strict=True):
            w += d
    if extra is not None:
        for w, e in zip(weights[0], extra, strict=True):
            w += e
