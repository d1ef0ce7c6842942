"""Training real networks with PyTorch: every architecture, linear or not, CPU or GPU.

Each module of a :class:`~modspec.theory.architectures.Network` becomes a multilayer network
from the concatenation of its input blocks to the concatenation of its output blocks (``depth``
weight matrices, hidden layers of width ``hidden``, optional biases, an optional ReLU/tanh on
every hidden layer); the network's output is the sum of its modules' outputs written into their
rows of ``Y``. All seeds train at once as a batch of independent networks.

Training is full-batch gradient descent on the summed squared error over the training objects

    L = ½ Σ_{p ∈ train} ‖y_p − ŷ_p‖²,        θ ← θ − η ∂L/∂θ   (all parameters at once),

which for a linear network is the covariance-form update (docs/theory/learning-dynamics.md, §1) with
``τ = 1/(P_train η)``: one update is one epoch, and times are in epochs. With float64 and the
same initial weights a linear network therefore follows the NumPy simulator to rounding error.

What is recorded (arrays of shape (seeds, T) at the epochs ``t``):

* ``modes[key]``: mode strength, the projection ``mean diag(Uᵀ M V)`` of each module's map ``M``
  on the analytic singular vectors of that module (key = label for one module, else
  ``"<module>:<label>"``). For a non-linear module ``M`` is its mean input–output Jacobian over
  all objects (see :mod:`modspec.validation.functional`).
* ``quadrant_norms[q]``: Frobenius norm of each block of the network's map (or mean Jacobian).
* ``loss["compositional"|"noncompositional"]``: mean over the training objects of the summed
  squared error over the rows of ``Oy`` / ``Gy`` (per-sample, not halved).
* ``heldout`` (only when ``train_objects`` leaves objects out): for every output block, the
  mean over the held-out objects of the summed squared error over its rows (``blocks``, the
  theory's ``block_errors``; ``compositional_error`` the ``Oy`` entry), as a curve.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.numerics.budget import check_training
from modspec.numerics.flow import check_weights, covariances, layout
from modspec.numerics.progress import counted, epoch_bar
from modspec.numerics.record import Trajectory, Weights, heldout_curve
from modspec.numerics.rules import rule_terms
from modspec.numerics.runspec import accepts_run_spec
from modspec.numerics.simulate import Observer, effective_a0, initial_weights, simulate
from modspec.theory.architectures import Network
from modspec.theory.dataset import CompositionalDataset, Dataset
from modspec.theory.defaults import HIDDEN, INIT_STD
from modspec.theory.errors import ModspecError, bad, check_integer
from modspec.theory.observables import loss_key

from .devices import check_backend, cuda_index_problem, resolve_device, resolve_dtype
from .functional import check_nonlinearity, mlp_forward, mlp_mean_jacobian

#: ``check_backend``, ``cuda_index_problem``, ``resolve_device`` and ``resolve_dtype`` are
#: :mod:`.devices`'s, under the module path they had.

if TYPE_CHECKING:
    from modspec.theory.rules import Rule

__all__ = ["check_backend", "cuda_index_problem", "resolve_device", "resolve_dtype", "train"]


# --------------------------------------------------------------------------- inputs
def _rows(index: slice | np.ndarray, n: int) -> np.ndarray:
    return np.arange(n)[index]


# --------------------------------------------------------------------------- training
@accepts_run_spec
def train(
    dataset: CompositionalDataset | Dataset,
    network: Network,
    backend: str = "torch",
    device: str = "auto",
    dtype: str = "float64",
    *,
    lr: float,
    epochs: int,
    hidden: int = HIDDEN,
    init_std: float = INIT_STD,
    seeds: int = 1,
    seed: int = 0,
    train_objects: Sequence[int] | None = None,
    init: Weights | None = None,
    nonlinearity: str | None = None,
    bias: bool = False,
    record_every: int = 1,
    threads: int | None = 1,
    rule: Rule | str | None = None,
    progress: bool = True,
) -> Trajectory:
    """Train ``seeds`` copies of ``network`` on ``dataset`` by full-batch gradient descent.

    ``lr`` is η of ``θ ← θ − η ∂L/∂θ`` with ``L = ½ Σ_{train} ‖y − ŷ‖²``, so the theory's time
    constant is ``τ = 1/(P_train · lr)`` and ``epochs`` is the number of updates (time in
    epochs). ``init`` (per module, per layer, (seeds, out, in)) defaults to the NumPy
    simulator's initial weights for ``seed``; when given, its shapes decide ``seeds`` and
    ``hidden``. Biases start at zero. ``backend="numpy"`` runs the NumPy simulator instead
    (linear networks without biases only: the same updates, equal to PyTorch in float64 to
    rounding error, without importing PyTorch); ``backend="auto"`` picks it for such networks
    unless a CUDA device is asked for, and PyTorch otherwise. Measurements every
    ``record_every`` epochs and at the end. ``threads``: torch CPU threads while training
    (default 1: these small full-batch problems run fastest on one thread, especially on a
    shared machine; None leaves torch's setting); restored afterwards. See the module
    docstring for what is recorded. ``rule`` (a
    :class:`~modspec.theory.rules.Rule` or a preset name; default gradient descent)
    adds its extra terms to every update, as the NumPy simulator does (dense two-layer linear
    networks without biases only). ``progress``: a ``tqdm.auto`` bar of the epochs once
    training has taken a few seconds (:mod:`modspec.numerics.progress`); ``False`` draws none.
    ``train(spec)`` trains a :class:`~modspec.numerics.runspec.RunSpec` (keywords beside it
    override its values).
    """
    nonlinearity, rule, backend = _checked(dataset, network, backend, device, dtype, lr,
                                           epochs, hidden, init_std, seeds, record_every,
                                           nonlinearity, bias, rule)
    if backend == "numpy":
        return _numpy_backend(dataset, network, lr, epochs, hidden, init_std, seeds, seed,
                              train_objects, init, nonlinearity, bias, record_every, rule,
                              progress)
    dev = resolve_device(device)
    with _torch_threads(threads if dev == "cpu" else None):
        return _train_torch(dataset, network, dev, dtype, lr, epochs, hidden, init_std, seeds,
                            seed, train_objects, init, nonlinearity, bias, record_every, rule,
                            progress)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """PyTorch's CPU threads set to ``threads`` (None: left as they are), restored after."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _checked(dataset: Any, network: Network, backend: str, device: str, dtype: str, lr: Any,
             epochs: Any, hidden: Any, init_std: Any, seeds: Any, record_every: Any,
             nonlinearity: Any, bias: bool, rule: Any) -> tuple[str | None, Rule, str]:
    """The arguments of :func:`train` checked before any work (one line naming a bad one):
    the non-linearity, the rule and the backend (``auto``: the NumPy simulator for a linear
    network without biases in float64 off CUDA, else PyTorch) resolved."""
    if backend not in ("auto", "torch", "numpy"):
        raise bad("backend", backend, "must be auto, torch or numpy")
    for name, value, low in (("epochs", epochs, 0), ("hidden", hidden, 1), ("seeds", seeds, 1),
                             ("record_every", record_every, 1)):
        check_integer(name, value, low)
    if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
        raise bad("lr", lr, "must be a positive number")
    if not (isinstance(init_std, numbers.Real) and init_std >= 0):
        raise bad("init_std", init_std, "must be a number ≥ 0")
    nonlinearity = check_nonlinearity(nonlinearity)
    from modspec.theory.rules import as_rule, check_network  # here: SymPy not at start-up

    rule = as_rule(rule)
    check_network(rule, network, dataset)
    if not rule.is_gradient_descent and (nonlinearity is not None or bias):
        raise bad("rule", rule.name, "runs on linear networks without biases only")
    check_training(dataset, network, hidden, seeds, epochs, record_every)
    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("training needs a numeric dataset; substitute numbers for the symbols")
    network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    check_backend(backend, dtype)
    if backend == "auto":
        backend = ("numpy" if nonlinearity is None and not bias and dtype == "float64"
                   and not str(device).startswith("cuda") else "torch")
    return nonlinearity, rule, backend


@dataclass(frozen=True)
class _Batch:
    """A batch of ``seeds`` PyTorch networks on the dataset: the trained parameters and the
    data as tensors on one device (``x_mod``: each module's input rows; ``out_index``: each
    module's output rows; ``train_t``: the training objects' columns)."""

    weights: list[list[Any]]
    biases: list[list[Any]] | None
    x_mod: list[Any]
    out_index: list[Any]
    X: Any
    Y: Any
    train_t: Any
    nonlinearity: str | None

    @property
    def params(self) -> list[Any]:
        return [w for layers in self.weights for w in layers] + (
            [b for layers in self.biases for b in layers] if self.biases else [])

    def forward(self) -> Any:
        """``ŷ`` of every seed, (seeds, outputs, P): each module's output in its rows."""
        import torch

        yhat = torch.zeros(self.weights[0][0].shape[0], *self.Y.shape, dtype=self.Y.dtype,
                           device=self.Y.device)
        for k, layers in enumerate(self.weights):
            out = mlp_forward(layers, self.biases[k] if self.biases else None, self.x_mod[k],
                              self.nonlinearity)
            yhat = yhat.index_add(1, self.out_index[k], out)
        return yhat

    def maps(self) -> list[Any]:
        """Each module's map (its mean Jacobian when non-linear), detached."""
        return [mlp_mean_jacobian(layers, self.biases[k] if self.biases else None,
                                  self.x_mod[k], self.nonlinearity).detach().clone()
                for k, layers in enumerate(self.weights)]


def _batch(lay: Any, init: Weights, X: np.ndarray, Y: np.ndarray, train_idx: np.ndarray,
           bias: bool, nonlinearity: str | None, tdt: Any, dev: str) -> _Batch:
    """The networks of ``init`` (biases at zero) and the data on the device ``dev``."""
    import torch

    def tensor(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=tdt, device=dev)

    seeds = int(np.shape(init[0][0])[0])
    weights = [[tensor(w).clone().requires_grad_(True) for w in layers] for layers in init]
    biases = ([[torch.zeros(seeds, ml.dims[i + 1], 1, dtype=tdt, device=dev,
                            requires_grad=True) for i in range(ml.depth)]
               for ml in lay.modules] if bias else None)
    Xt, Yt = tensor(X), tensor(Y)
    x_mod = [Xt[torch.as_tensor(_rows(ml.inputs, X.shape[0]), device=dev)]
             for ml in lay.modules]
    out_index = [torch.as_tensor(_rows(ml.outputs, Y.shape[0]), device=dev)
                 for ml in lay.modules]
    return _Batch(weights, biases, x_mod, out_index, Xt, Yt,
                  torch.as_tensor(train_idx, device=dev), nonlinearity)


def _descend(net: _Batch, epochs: int, record_at: list[int], lr: float, rule: Rule,
             tau: float, bar: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Full-batch gradient descent (plus the rule's terms, from the weights before each
    update) for ``epochs`` epochs; the squared errors ``(T, seeds, rows, P)`` and each
    module's map ``(T, seeds, out, in)`` at the epochs ``record_at``. The records stay on
    the device while training (no per-epoch host sync)."""
    import torch

    err_rec: list[Any] = []
    map_rec: list[list[Any]] = []
    params = net.params
    X_train, Y_train = net.X[:, net.train_t], net.Y[:, net.train_t]
    slot = 0
    for epoch in counted(range(epochs + 1), bar):
        yhat = net.forward()
        if epoch == record_at[slot]:
            with torch.no_grad():
                err_rec.append(((yhat - net.Y) ** 2).detach().clone())
                map_rec.append(net.maps())
            slot += 1
        if epoch == epochs:
            break
        loss = 0.5 * ((yhat[:, :, net.train_t] - Y_train) ** 2).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            extra = (None if rule.is_gradient_descent
                     else rule_terms(rule, *net.weights[0], X_train, Y_train, tau))
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            if extra is not None:
                for w, e in zip(net.weights[0], extra, strict=True):
                    w += e
    err2 = torch.stack(err_rec).cpu().numpy().astype(float)
    maps = [torch.stack([m[k] for m in map_rec]).cpu().numpy().astype(float)
            for k in range(len(net.weights))]
    return err2, maps


def _start(dataset: Any, network: Network, hidden: int, init_std: float, seeds: int, seed: int,
           init: Weights | None) -> tuple[Any, Weights, int, int]:
    """The layout, the checked initial weights, the seeds and the hidden width: ``init`` (its
    shapes decide seeds and the hidden width, as in the simulator) or the simulator's draw
    for ``seed``."""
    if init is not None:
        seeds = int(np.shape(init[0][0])[0])
        deep = [k for k, m in enumerate(network.modules) if m.depth > 1]
        if deep:
            hidden = int(np.shape(init[deep[0]][0])[1])
    lay = layout(dataset, network, hidden)
    return lay, check_weights(lay, init if init is not None else initial_weights(
        dataset, network, hidden, init_std, seeds, seed)), seeds, hidden


def _train_torch(dataset: CompositionalDataset | Dataset, network: Network, dev: str,
                 dtype: str, lr: float, epochs: int, hidden: int, init_std: float, seeds: int,
                 seed: int, train_objects: Sequence[int] | None, init: Weights | None,
                 nonlinearity: str | None, bias: bool, record_every: int,
                 rule: Rule, progress: bool = False) -> Trajectory:
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    cov = covariances(dataset, train_objects)
    train_idx = cov.objects
    held_idx = np.setdiff1d(np.arange(X.shape[1]), train_idx)
    given = init is not None
    lay, init, seeds, hidden = _start(dataset, network, hidden, init_std, seeds, seed, init)
    net = _batch(lay, init, X, Y, train_idx, bias, nonlinearity, resolve_dtype(dtype), dev)
    tau = 1.0 / (train_idx.size * lr)
    record_at = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    bar = epoch_bar(epochs, progress, f"train ({seeds} seed{'s' * (seeds != 1)}, {dev})")
    err2, maps = _descend(net, epochs, record_at, lr, rule, tau, bar)
    losses = {loss_key(b): err2[:, :, a:c][..., train_idx].sum(axis=2).mean(axis=2).T.copy()
              for b, (a, c) in dataset.output_blocks.items()}
    _check_bounded(record_at, losses, cov, lay, lr, rule, linear=nonlinearity is None and not bias,
                   start=("init", "the given weights") if given else ("init_std", init_std))
    heldout = None
    if held_idx.size:
        heldout = heldout_curve(
            {b: err2[:, :, a:c][..., held_idx].sum(axis=2).mean(axis=2).T.copy()
             for b, (a, c) in dataset.output_blocks.items()}, held_idx)
    modes, quads, full = _observed(dataset, lay, cov, maps, X.shape[0], Y.shape[0])
    meta = {"backend": "torch", "device": dev, "dtype": dtype, "lr": float(lr),
            "epochs": int(epochs), "hidden": int(hidden), "init_std": float(init_std),
            "seeds": int(seeds), "seed": int(seed), "nonlinearity": nonlinearity or "linear",
            "bias": bool(bias), "P_train": int(train_idx.size), "tau": tau,
            "architecture": network.name, "train_objects": train_idx.tolist(),
            "rule": rule.name, **rule.coefficients}
    return Trajectory(np.array(record_at, dtype=float), modes, quads, losses, heldout,
                      seed_axis=True, kind="training", time="discrete", lr=float(lr), tau=tau,
                      train_objects=None if train_objects is None else train_idx, init=init,
                      weights=_numpy(net.weights), a0=effective_a0(lay, init),
                      final_map=full[-1].copy(),
                      biases=_numpy(net.biases) if net.biases else None, meta=meta)


def _numpy(tensors: list[list[Any]]) -> Weights:
    return [[t.detach().cpu().numpy().astype(float) for t in layers] for layers in tensors]


def _observed(dataset: Any, lay: Any, cov: Any, maps: list[np.ndarray], n_in: int,
              n_out: int) -> tuple[dict, dict, np.ndarray]:
    """Mode strengths and quadrant norms ``(seeds, T)`` of the recorded module maps (mean
    Jacobians when non-linear), as the simulator reads them, and the total maps
    ``(T, seeds, outputs, inputs)``."""
    T, seeds = maps[0].shape[:2]
    full = np.zeros((T, seeds, n_out, n_in))
    for ml, M in zip(lay.modules, maps, strict=True):
        full[:, :, _rows(ml.outputs, n_out)[:, None], _rows(ml.inputs, n_in)[None, :]] += M
    obs = Observer(lay, cov, dataset)
    flat = [m.reshape(T * seeds, *m.shape[2:]) for m in maps]
    modes = {key: v.reshape(T, seeds).T.copy() for key, v in obs.modes(flat).items()}
    quads = {q: v.reshape(T, seeds).T.copy() for q, v in
             obs.quadrant_norms(full.reshape(T * seeds, *full.shape[2:])).items()}
    return modes, quads, full


def _check_bounded(t: Sequence[int], losses: dict[str, np.ndarray], cov: Any, lay: Any,
                   lr: float, rule: Rule, linear: bool, start: tuple[str, Any]) -> None:
    """Training whose loss left every bound (:func:`modspec.numerics.discrete.diverged_epoch`)
    is one line, as in the simulator: naming the start when it overflows or lies far beyond
    the data's scale, ``lr`` (with the derived limit of a linear network) otherwise."""
    from modspec.numerics.discrete import (
        DIVERGENCE_GROWTH,
        diverged_epoch,
        divergence_error,
        learning_rate_limit,
    )

    epoch = diverged_epoch(t, losses)
    if epoch is None:
        return
    first = sum(float(np.max(v[:, 0])) for v in losses.values())
    huge = not first <= DIVERGENCE_GROWTH**2 * max(sum(cov.trace_y.values()), 1e-300)
    blame = start if epoch == 0 or huge else None
    if not rule.is_gradient_descent and blame is None:
        raise bad("rule", rule.label, f"diverged at lr={lr:g} (by epoch {epoch}); use smaller "
                  "coefficients or lr")
    if not linear and blame is None:
        raise bad("lr", lr, f"training diverged (its loss grew without bound by epoch "
                  f"{epoch}); use a smaller lr")
    modes = [(ml.depth, m.s, m.lam) for ml in lay.modules for m in ml.spectrum.modes]
    raise divergence_error(lr, epoch, learning_rate_limit(modes, cov.P), blame)


def _numpy_backend(dataset: CompositionalDataset | Dataset, network: Network, lr: float,
                   epochs: int, hidden: int, init_std: float, seeds: int, seed: int,
                   train_objects: Sequence[int] | None, init: Weights | None,
                   nonlinearity: str | None, bias: bool, record_every: int,
                   rule: Rule, progress: bool = False) -> Trajectory:
    if nonlinearity is not None or bias:
        raise bad("backend", "numpy", "simulates linear networks without biases only; "
                  "use backend='torch' for non-linear networks or biases")
    run = simulate(dataset, network, lr=lr, epochs=epochs, hidden=hidden, init_std=init_std,
                   seeds=seeds, seed=seed, train_objects=train_objects, init=init,
                   record_every=record_every, rule=rule, progress=progress)
    meta = {"backend": "numpy", "device": "cpu", "dtype": "float64", "lr": float(lr),
            "epochs": int(epochs), "hidden": int(hidden), "init_std": float(init_std),
            "seeds": int(run.init[0][0].shape[0]), "seed": int(seed), "nonlinearity": "linear",
            "bias": False, "P_train": int(round(1 / (run.tau * lr))), "tau": run.tau,
            "architecture": network.name, "rule": rule.name, **rule.coefficients}
    return replace(run, meta=meta)
