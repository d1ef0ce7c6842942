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
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.numerics.budget import check_memory, training_bytes
from modspec.numerics.flow import check_weights, covariances, layout
from modspec.numerics.progress import counted, epoch_bar
from modspec.numerics.record import Trajectory, Weights, heldout_curve
from modspec.numerics.rules import rule_terms
from modspec.numerics.simulate import Observer, effective_a0, initial_weights, simulate
from modspec.theory.architectures import Network
from modspec.theory.dataset import CompositionalDataset, Dataset
from modspec.theory.defaults import HIDDEN, INIT_STD
from modspec.theory.errors import ModspecError, bad
from modspec.theory.observables import loss_key

from .functional import check_nonlinearity, mlp_forward, mlp_mean_jacobian

if TYPE_CHECKING:
    from modspec.theory.rules import Rule

__all__ = ["check_backend", "cuda_index_problem", "resolve_device", "resolve_dtype", "train"]


# --------------------------------------------------------------------------- inputs
def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; other names are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise bad("device", device, "CUDA is not available here; use auto or cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise bad("device", device, "must be auto, cpu, cuda or cuda:N")
    problem = cuda_index_problem(device)
    if problem:
        raise bad("device", device, problem)
    return device


def cuda_index_problem(device: str) -> str | None:
    """What is wrong with a ``cuda:N`` device on this machine (None when it exists or
    ``device`` names no index)."""
    if not str(device).startswith("cuda:"):
        return None
    import torch

    index, count = device[5:], torch.cuda.device_count()
    if index.isdigit() and int(index) < count:
        return None
    return (f"this machine has {count} CUDA device{'' if count == 1 else 's'}"
            + (f" (cuda:0 … cuda:{count - 1})" if count else "; use auto or cpu"))


def check_backend(backend: str, dtype: str) -> None:
    """Refuse a precision the backend does not run: the NumPy simulator is float64 only."""
    if backend == "numpy" and dtype != "float64":
        raise bad("dtype", dtype, "the NumPy simulator runs float64 only; use backend "
                  "'torch' (or 'auto') for float32")


def resolve_dtype(dtype: str) -> Any:
    import torch

    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise bad("dtype", dtype, "must be float32 or float64")
    return table[dtype]


def _rows(index: slice | np.ndarray, n: int) -> np.ndarray:
    return np.arange(n)[index]


# --------------------------------------------------------------------------- training
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
    """
    if backend not in ("auto", "torch", "numpy"):
        raise bad("backend", backend, "must be auto, torch or numpy")
    for name, value, low in (("epochs", epochs, 0), ("hidden", hidden, 1), ("seeds", seeds, 1),
                             ("record_every", record_every, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise bad(name, value, f"must be an integer ≥ {low}")
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
    check_memory(training_bytes(dataset, network, hidden, seeds, epochs, record_every),
                 f"epochs={epochs}, seeds={seeds}, hidden={hidden}")
    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("training needs a numeric dataset; substitute numbers for the symbols")
    network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    check_backend(backend, dtype)
    if backend == "auto":
        backend = ("numpy" if nonlinearity is None and not bias and dtype == "float64"
                   and not str(device).startswith("cuda") else "torch")
    if backend == "numpy":
        return _numpy_backend(dataset, network, lr, epochs, hidden, init_std, seeds, seed,
                              train_objects, init, nonlinearity, bias, record_every, rule,
                              progress)

    import torch

    dev = resolve_device(device)
    previous = torch.get_num_threads()
    if threads is not None and dev == "cpu":
        torch.set_num_threads(int(threads))
    try:
        return _train_torch(dataset, network, dev, dtype, lr, epochs, hidden, init_std, seeds,
                            seed, train_objects, init, nonlinearity, bias, record_every, rule,
                            progress)
    finally:
        torch.set_num_threads(previous)


def _train_torch(dataset: CompositionalDataset | Dataset, network: Network, dev: str,
                 dtype: str, lr: float, epochs: int, hidden: int, init_std: float, seeds: int,
                 seed: int, train_objects: Sequence[int] | None, init: Weights | None,
                 nonlinearity: str | None, bias: bool, record_every: int,
                 rule: Rule, progress: bool = False) -> Trajectory:
    import torch

    tdt = resolve_dtype(dtype)
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    cov = covariances(dataset, train_objects)
    train_idx = cov.objects
    held_idx = np.setdiff1d(np.arange(X.shape[1]), train_idx)

    given = init is not None
    if init is not None:  # its shapes decide seeds and hidden width (as in the simulator)
        seeds = int(np.shape(init[0][0])[0])
        deep = [k for k, m in enumerate(network.modules) if m.depth > 1]
        if deep:
            hidden = int(np.shape(init[deep[0]][0])[1])
    lay = layout(dataset, network, hidden)
    init = check_weights(lay, init if init is not None else
                         initial_weights(dataset, network, hidden, init_std, seeds, seed))
    mods = network.modules
    in_rows = [_rows(ml.inputs, X.shape[0]) for ml in lay.modules]
    out_rows = [_rows(ml.outputs, Y.shape[0]) for ml in lay.modules]

    def tensor(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=tdt, device=dev)

    weights = [[tensor(w).clone().requires_grad_(True) for w in layers] for layers in init]
    biases = ([[torch.zeros(seeds, ml.dims[i + 1], 1, dtype=tdt, device=dev,
                            requires_grad=True) for i in range(ml.depth)]
               for ml in lay.modules] if bias else None)
    params = [w for layers in weights for w in layers] + (
        [b for layers in biases for b in layers] if biases else [])

    Xt, Yt = tensor(X), tensor(Y)
    x_mod = [Xt[torch.as_tensor(r, device=dev)] for r in in_rows]
    out_index = [torch.as_tensor(r, device=dev) for r in out_rows]
    train_t = torch.as_tensor(train_idx, device=dev)
    X_train, Y_train = Xt[:, train_t], Yt[:, train_t]
    tau = 1.0 / (train_idx.size * lr)

    def forward() -> Any:
        yhat = torch.zeros(seeds, *Yt.shape, dtype=tdt, device=dev)
        for k in range(len(mods)):
            out = mlp_forward(weights[k], biases[k] if biases else None, x_mod[k], nonlinearity)
            yhat = yhat.index_add(1, out_index[k], out)
        return yhat

    record_at = sorted(set(range(0, epochs + 1, record_every)) | {epochs})
    T = len(record_at)
    # Records stay on the device during training (no per-epoch host sync).
    err_rec: list[Any] = []     # (seeds, rows, P) squared errors
    map_rec: list[list[Any]] = [[] for _ in mods]

    def record(yhat: Any) -> None:
        with torch.no_grad():
            err_rec.append(((yhat - Yt) ** 2).detach().clone())
            for k in range(len(mods)):
                map_rec[k].append(mlp_mean_jacobian(
                    weights[k], biases[k] if biases else None, x_mod[k], nonlinearity
                ).detach().clone())

    slot = 0
    bar = epoch_bar(epochs, progress, f"train ({seeds} seed{'s' * (seeds != 1)}, {dev})")
    for epoch in counted(range(epochs + 1), bar):
        yhat = forward()
        if epoch == record_at[slot]:
            record(yhat)
            slot += 1
        if epoch == epochs:
            break
        diff = yhat[:, :, train_t] - Yt[:, train_t]
        loss = 0.5 * (diff**2).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            extra = (None if rule.is_gradient_descent  # from the weights before the update
                     else rule_terms(rule, *weights[0], X_train, Y_train, tau))
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            if extra is not None:
                for w, e in zip(weights[0], extra, strict=True):
                    w += e

    err2 = torch.stack(err_rec).cpu().numpy().astype(float)  # (T, seeds, rows, P)
    maps = [torch.stack(m).cpu().numpy().astype(float) for m in map_rec]  # (T, seeds, o, i)
    losses = {loss_key(b): err2[:, :, a:c][..., train_idx].sum(axis=2).mean(axis=2).T.copy()
              for b, (a, c) in dataset.output_blocks.items()}
    _check_bounded(record_at, losses, cov, lay, lr, rule, linear=nonlinearity is None and not bias,
                   start=("init", "the given weights") if given else ("init_std", init_std))
    heldout = None
    if held_idx.size:
        heldout = heldout_curve(
            {b: err2[:, :, a:c][..., held_idx].sum(axis=2).mean(axis=2).T.copy()
             for b, (a, c) in dataset.output_blocks.items()}, held_idx)

    # Observables of the recorded maps (mean Jacobians when non-linear), as the simulator's.
    full = np.zeros((T, seeds, Y.shape[0], X.shape[0]))
    for k in range(len(mods)):
        full[:, :, out_rows[k][:, None], in_rows[k][None, :]] += maps[k]
    obs = Observer(lay, cov, dataset)
    flat = [m.reshape(T * seeds, *m.shape[2:]) for m in maps]
    modes = {key: v.reshape(T, seeds).T.copy() for key, v in obs.modes(flat).items()}
    quads = {q: v.reshape(T, seeds).T.copy() for q, v in
             obs.quadrant_norms(full.reshape(T * seeds, *full.shape[2:])).items()}

    def to_np(ts: list[list[Any]]) -> Weights:
        return [[t.detach().cpu().numpy().astype(float) for t in layers] for layers in ts]

    meta = {"backend": "torch", "device": dev, "dtype": dtype, "lr": float(lr),
            "epochs": int(epochs), "hidden": int(hidden), "init_std": float(init_std),
            "seeds": int(seeds), "seed": int(seed), "nonlinearity": nonlinearity or "linear",
            "bias": bool(bias), "P_train": int(train_idx.size), "tau": tau,
            "architecture": network.name, "train_objects": train_idx.tolist(),
            "rule": rule.name, **rule.coefficients}
    return Trajectory(np.array(record_at, dtype=float), modes, quads, losses, heldout,
                      seed_axis=True, kind="training", time="discrete", lr=float(lr), tau=tau,
                      train_objects=None if train_objects is None else train_idx, init=init,
                      weights=to_np(weights), a0=effective_a0(lay, init),
                      final_map=full[-1].copy(), biases=to_np(biases) if biases else None,
                      meta=meta)


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
