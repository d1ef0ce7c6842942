"""Training real networks with PyTorch: every architecture, linear or not, CPU or GPU.

Each module of a :class:`~modspec.theory.architectures.Network` becomes a multilayer network
from the concatenation of its input blocks to the concatenation of its output blocks (``depth``
weight matrices, hidden layers of width ``hidden``, optional biases, an optional ReLU/tanh on
every hidden layer); the network's output is the sum of its modules' outputs written into their
rows of ``Y``. All seeds train at once as a batch of independent networks.

Training is full-batch gradient descent on the summed squared error over the training objects

    L = ½ Σ_{p ∈ train} ‖y_p − ŷ_p‖²,        θ ← θ − η ∂L/∂θ   (all parameters at once),

which for a linear network is the covariance-form update of theory.md §4.1 with
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
* ``heldout`` (only when ``train_objects`` leaves objects out): the same compositional error
  on the held-out objects, as a curve and at the end.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modspec.numerics.simulate import seed_statistic, simulate_payload
from modspec.theory.architectures import Network
from modspec.theory.dataset import CompositionalDataset, Dataset
from modspec.theory.errors import ModspecError, bad
from modspec.theory.spectrum import module_spectra

from .functional import (
    check_nonlinearity,
    mlp_forward,
    mlp_mean_jacobian,
    mode_strength,
    quadrant_norms,
)

LOSS_BLOCKS = {"Oy": "compositional", "Gy": "noncompositional"}

Weights = list[list[np.ndarray]]


@dataclass(frozen=True, eq=False)
class Training:
    """Result of :func:`train`, with the fields of the NumPy simulator's ``Simulation``.

    ``t`` (T,) epochs; ``modes``, ``quadrant_norms``, ``loss``: {key: (seeds, T)};
    ``heldout``: None or {"compositional_error": (seeds, T), "objects": array};
    ``weights``/``init``: per module, per layer, (seeds, out, in) float64; ``a0[key]`` (seeds,)
    each mode's effective initial strength (as the simulator defines it); ``lr``; ``tau =
    1/(P_train·lr)``; ``train_objects`` (None when all objects train); ``biases`` as
    ``weights`` (None without biases); ``meta``: the settings; ``final_map`` (seeds, outputs,
    inputs): the network's final map (mean Jacobian when non-linear).
    """

    t: np.ndarray
    modes: dict[str, np.ndarray]
    quadrant_norms: dict[str, np.ndarray]
    loss: dict[str, np.ndarray]
    heldout: dict[str, Any] | None
    weights: Weights
    init: Weights
    a0: dict[str, np.ndarray] = field(default_factory=dict)
    lr: float = 0.0
    tau: float = 0.0
    train_objects: np.ndarray | None = None
    biases: Weights | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    final_map: np.ndarray | None = field(default=None, repr=False)

    def mean(self) -> dict[str, dict[str, np.ndarray]]:
        """Mean over seeds of modes, quadrant norms and losses."""
        return seed_statistic(self, np.mean)

    def std(self) -> dict[str, dict[str, np.ndarray]]:
        """Standard deviation over seeds of modes, quadrant norms and losses."""
        return seed_statistic(self, np.std)

    def payload(self) -> dict[str, Any]:
        """The ``simulate`` JSON contract of design.md (means, ``std``, ``heldout``) + meta."""
        out = simulate_payload(self)
        out["meta"] = {k: v for k, v in self.meta.items()
                       if isinstance(v, (str, int, float, bool, type(None), list))}
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.payload(), **kwargs)


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
    return device


def resolve_dtype(dtype: str) -> Any:
    import torch

    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise bad("dtype", dtype, "must be float32 or float64")
    return table[dtype]


def check_train_objects(train_objects: Sequence[int] | None, P: int) -> np.ndarray:
    """Sorted distinct object indices in [0, P); all objects when None."""
    if train_objects is None:
        return np.arange(P)
    objs = list(train_objects)
    if not objs or any(isinstance(j, bool) or not isinstance(j, numbers.Integral)
                       or not 0 <= j < P for j in objs) or len(set(objs)) != len(objs):
        raise bad("train_objects", train_objects,
                  f"must be a non-empty list of distinct object indices in [0, {P})")
    return np.array(sorted(int(j) for j in objs))


def module_rows(blocks: dict[str, tuple[int, int]], names: Sequence[str]) -> np.ndarray:
    """Row indices of the blocks ``names`` concatenated in that order."""
    return np.concatenate([np.arange(*blocks[b]) for b in names])


def layer_shapes(n_in: int, n_out: int, depth: int, hidden: int) -> list[tuple[int, int]]:
    """(out, in) of each layer of a module: depth 1 is one map; hidden layers have ``hidden``."""
    if depth == 1:
        return [(n_out, n_in)]
    return [(hidden, n_in)] + [(hidden, hidden)] * (depth - 2) + [(n_out, hidden)]


def default_init(dataset: CompositionalDataset | Dataset, network: Network, hidden: int,
                 init_std: float, seeds: int, seed: int) -> Weights:
    """Initial weights: the NumPy simulator's ``initial_weights`` when available.

    Fallback (same structure): i.i.d. N(0, init_std²) from ``numpy.random.default_rng(seed)``,
    drawn module by module, layer by layer, each layer as one (seeds, out, in) array.
    """
    try:
        from modspec.numerics.simulate import initial_weights
    except ImportError:
        initial_weights = None
    if initial_weights is not None:
        return initial_weights(dataset, network, hidden=hidden, init_std=init_std, seeds=seeds,
                               seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for m in network.modules:
        n_in = len(module_rows(dataset.input_blocks, m.inputs))
        n_out = len(module_rows(dataset.output_blocks, m.outputs))
        out.append([rng.normal(0.0, init_std, (seeds, *shape))
                    for shape in layer_shapes(n_in, n_out, m.depth, hidden)])
    return out


def _check_init(init: Weights, shapes: list[list[tuple[int, int]]], seeds: int) -> None:
    if len(init) != len(shapes):
        raise bad("init", f"{len(init)} modules", f"must give {len(shapes)} modules")
    for k, (layers, want) in enumerate(zip(init, shapes, strict=True)):
        got = [tuple(np.shape(w)) for w in layers]
        expected = [(seeds, *s) for s in want]
        if got != expected:
            raise bad(f"init[{k}]", got, f"must have layer shapes {expected}")


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
    hidden: int = 50,
    init_std: float = 2e-4,
    seeds: int = 1,
    seed: int = 0,
    train_objects: Sequence[int] | None = None,
    init: Weights | None = None,
    nonlinearity: str | None = None,
    bias: bool = False,
    record_every: int = 1,
    threads: int | None = 1,
) -> Training:
    """Train ``seeds`` copies of ``network`` on ``dataset`` by full-batch gradient descent.

    ``lr`` is η of ``θ ← θ − η ∂L/∂θ`` with ``L = ½ Σ_{train} ‖y − ŷ‖²``, so the theory's time
    constant is ``τ = 1/(P_train · lr)`` and ``epochs`` is the number of updates (time in
    epochs). ``init`` (per module, per layer, (seeds, out, in)) defaults to the NumPy
    simulator's initial weights for ``seed``; when given, its shapes decide ``seeds`` and
    ``hidden``. Biases start at zero. ``backend="numpy"`` runs the
    NumPy simulator instead (linear networks only). Measurements every ``record_every`` epochs
    and at the end. ``threads``: torch CPU threads while training (default 1: these small
    full-batch problems run fastest on one thread, especially on a shared machine; None leaves
    torch's setting); restored afterwards. See the module docstring for what is recorded.
    """
    if backend not in ("torch", "numpy"):
        raise bad("backend", backend, "must be torch or numpy")
    for name, value, low in (("epochs", epochs, 0), ("hidden", hidden, 1), ("seeds", seeds, 1),
                             ("record_every", record_every, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise bad(name, value, f"must be an integer ≥ {low}")
    if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
        raise bad("lr", lr, "must be a positive number")
    if not (isinstance(init_std, numbers.Real) and init_std >= 0):
        raise bad("init_std", init_std, "must be a number ≥ 0")
    nonlinearity = check_nonlinearity(nonlinearity)
    if getattr(dataset, "is_symbolic", False):
        raise ModspecError("training needs a numeric dataset; substitute numbers for the symbols")
    network.check(tuple(dataset.input_blocks), tuple(dataset.output_blocks))
    if backend == "numpy":
        return _numpy_backend(dataset, network, lr, epochs, hidden, init_std, seeds, seed,
                              train_objects, init, nonlinearity, bias)

    import torch

    dev = resolve_device(device)
    previous = torch.get_num_threads()
    if threads is not None and dev == "cpu":
        torch.set_num_threads(int(threads))
    try:
        return _train_torch(dataset, network, dev, dtype, lr, epochs, hidden, init_std, seeds,
                            seed, train_objects, init, nonlinearity, bias, record_every)
    finally:
        torch.set_num_threads(previous)


def _train_torch(dataset: Any, network: Network, dev: str, dtype: str, lr: float, epochs: int,
                 hidden: int, init_std: float, seeds: int, seed: int, train_objects: Any,
                 init: Weights | None, nonlinearity: str | None, bias: bool,
                 record_every: int) -> Training:
    import torch

    tdt = resolve_dtype(dtype)
    X = np.asarray(dataset.X, dtype=float)
    Y = np.asarray(dataset.Y, dtype=float)
    P = X.shape[1]
    train_idx = check_train_objects(train_objects, P)
    held_idx = np.setdiff1d(np.arange(P), train_idx)

    if init is not None:  # its shapes decide seeds and hidden width (as in the simulator)
        seeds = int(np.shape(init[0][0])[0])
        deep = [(k, m) for k, m in enumerate(network.modules) if m.depth > 1]
        if deep:
            hidden = int(np.shape(init[deep[0][0]][0])[1])
    mods = network.modules
    in_rows = [module_rows(dataset.input_blocks, m.inputs) for m in mods]
    out_rows = [module_rows(dataset.output_blocks, m.outputs) for m in mods]
    shapes = [layer_shapes(len(i), len(o), m.depth, hidden)
              for m, i, o in zip(mods, in_rows, out_rows, strict=True)]
    if init is None:
        init = default_init(dataset, network, hidden, init_std, seeds, seed)
    _check_init(init, shapes, seeds)

    def tensor(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=tdt, device=dev)

    weights = [[tensor(w).clone().requires_grad_(True) for w in layers] for layers in init]
    biases = ([[torch.zeros(seeds, s[0], 1, dtype=tdt, device=dev, requires_grad=True)
                for s in layer] for layer in shapes] if bias else None)
    params = [w for layers in weights for w in layers] + (
        [b for layers in biases for b in layers] if biases else [])

    Xt, Yt = tensor(X), tensor(Y)
    x_mod = [Xt[torch.as_tensor(r, device=dev)] for r in in_rows]
    out_index = [torch.as_tensor(r, device=dev) for r in out_rows]
    train_t = torch.as_tensor(train_idx, device=dev)

    # Read-out: analytic singular vectors of each module (full dataset).
    spectra = module_spectra(dataset, network)
    keys_modes = []
    proj = []
    for k, (m, spec) in enumerate(zip(mods, spectra, strict=True)):
        for mode in spec.modes:
            if mode.U is None or mode.V is None:
                continue
            keys_modes.append(mode.label if len(mods) == 1 else f"{m.name}:{mode.label}")
            proj.append((k, mode.U, mode.V))

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
    for epoch in range(epochs + 1):
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
            for p, g in zip(params, grads, strict=True):
                p -= lr * g

    err2 = torch.stack(err_rec).cpu().numpy().astype(float)  # (T, seeds, rows, P)
    maps = [torch.stack(m).cpu().numpy().astype(float) for m in map_rec]
    sq_blocks = {LOSS_BLOCKS.get(b, b): err2[:, :, a:c][..., train_idx].sum(axis=2).mean(axis=2)
                 for b, (a, c) in dataset.output_blocks.items()}
    held_curve = None
    if held_idx.size and "Oy" in dataset.output_blocks:
        a, c = dataset.output_blocks["Oy"]
        held_curve = err2[:, :, a:c][..., held_idx].sum(axis=2).mean(axis=2)

    # Observables from the recorded maps.
    full = np.zeros((T, seeds, Y.shape[0], X.shape[0]))
    for k in range(len(mods)):
        full[:, :, out_rows[k][:, None], in_rows[k][None, :]] += maps[k]
    quads = {q: v.T.copy() for q, v in
             quadrant_norms(full, dataset.input_blocks, dataset.output_blocks).items()}
    modes = {key: mode_strength(maps[k], U, V).T.copy()
             for key, (k, U, V) in zip(keys_modes, proj, strict=True)}
    heldout = None
    if held_curve is not None:
        heldout = {"compositional_error": held_curve.T.copy(), "objects": held_idx}

    def to_np(ts: list[list[Any]]) -> Weights:
        return [[t.detach().cpu().numpy().astype(float) for t in layers] for layers in ts]

    meta = {"backend": "torch", "device": dev, "dtype": dtype, "lr": float(lr),
            "epochs": int(epochs), "hidden": int(hidden), "init_std": float(init_std),
            "seeds": int(seeds), "seed": int(seed), "nonlinearity": nonlinearity or "linear",
            "bias": bool(bias), "P_train": int(train_idx.size),
            "tau": 1.0 / (train_idx.size * lr), "architecture": network.name,
            "train_objects": train_idx.tolist()}
    init_np = [[np.asarray(w, dtype=float) for w in ls] for ls in init]
    return Training(np.array(record_at, dtype=float), modes, quads,
                    {k: v.T.copy() for k, v in sq_blocks.items()}, heldout,
                    to_np(weights), init_np, _effective_a0(dataset, network, hidden, init_np),
                    float(lr), meta["tau"], None if train_objects is None else train_idx,
                    to_np(biases) if biases else None, meta, full[-1].copy())


def _effective_a0(dataset: Any, network: Network, hidden: int, init: Weights
                  ) -> dict[str, np.ndarray]:
    """Each mode's effective initial strength, as the NumPy simulator defines it."""
    try:
        from modspec.numerics.flow import layout
        from modspec.numerics.simulate import effective_a0
    except ImportError:
        return {}
    return effective_a0(layout(dataset, network, hidden), init)


def _numpy_backend(dataset: Any, network: Network, lr: float, epochs: int, hidden: int,
                   init_std: float, seeds: int, seed: int, train_objects: Any, init: Any,
                   nonlinearity: str | None, bias: bool) -> Any:
    if nonlinearity is not None or bias:
        raise bad("backend", "numpy", "simulates linear networks without biases only; "
                  "use backend='torch' for non-linear networks or biases")
    try:
        from modspec.numerics.simulate import simulate
    except ImportError as exc:
        raise ModspecError("backend='numpy' needs modspec.numerics.simulate") from exc
    return simulate(dataset, network, lr=lr, epochs=epochs, hidden=hidden, init_std=init_std,
                    seeds=seeds, seed=seed, train_objects=train_objects, init=init)
