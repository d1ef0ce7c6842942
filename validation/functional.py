"""Functional maps of a trained network: the weight product, or the mean Jacobian.

For a linear module the map is the product of its weights, ``M = W_L ⋯ W_1``. A non-linear
module has no single matrix, so we measure it *functionally*: its map is the mean input–output
Jacobian over a set of inputs (the dataset's objects),

    M = (1/P) Σ_p ∂f(x_p)/∂x  =  (1/P) Σ_p W_L D_{L−1}(x_p) W_{L−1} ⋯ D_1(x_p) W_1,

with ``D_l(x) = diag σ'(pre-activation of layer l)``. For a linear module this equals the
weight product, so the same observables apply to both, and the quadrant ``Gx→Oy`` is defined
for any network (it is exactly zero when no path joins ``Gx`` to ``Oy``).

The observables of such maps (quadrant norms ``‖M[i→o]‖_F`` and mode strengths
``a = mean diag(Uᵀ M V)`` on the *analytic* singular vectors) are read exactly as for the
NumPy simulator, by :class:`modspec.numerics.simulate.Observer`
(docs/theory/learning-dynamics.md, §5).

PyTorch is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from modspec.theory.errors import bad

__all__ = ["NONLINEARITIES", "activation", "autograd_mean_jacobian", "check_nonlinearity",
           "derivative", "mlp_forward", "mlp_mean_jacobian"]

NONLINEARITIES = (None, "linear", "relu", "tanh")


def check_nonlinearity(nonlinearity: str | None) -> str | None:
    """Normalise ``nonlinearity`` (``None``/"linear" → None) or raise ModspecError."""
    if nonlinearity not in NONLINEARITIES:
        raise bad("nonlinearity", nonlinearity, "must be none, linear, relu or tanh")
    return None if nonlinearity in (None, "linear") else nonlinearity


def activation(nonlinearity: str | None) -> Callable[[Any], Any]:
    """The hidden-layer activation σ as a torch function (identity when linear)."""
    import torch

    if nonlinearity is None:
        return lambda z: z
    return {"relu": torch.relu, "tanh": torch.tanh}[nonlinearity]


def derivative(nonlinearity: str | None, pre: Any) -> Any:
    """σ'(pre) elementwise (relu: 1 where pre > 0; tanh: 1 − tanh²)."""
    import torch

    if nonlinearity is None:
        return torch.ones_like(pre)
    if nonlinearity == "relu":
        return (pre > 0).to(pre.dtype)
    return 1 - torch.tanh(pre) ** 2


def _affine(w: Any, h: Any, biases: Sequence[Any] | None, l: int) -> Any:
    """Layer ``l``'s pre-activation ``W_l h (+ b_l)``."""
    pre = w @ h
    return pre if biases is None else pre + biases[l]


def mlp_forward(weights: Sequence[Any], biases: Sequence[Any] | None, x: Any,
                nonlinearity: str | None) -> Any:
    """Batched multilayer map: ``weights[l]`` is (seeds, out, in), ``x`` is (in, samples).

    Returns (seeds, out, samples). σ acts on every layer but the last.
    """
    sigma = activation(nonlinearity)
    h = x
    for l, w in enumerate(weights):
        h = _affine(w, h, biases, l)
        if l < len(weights) - 1:
            h = sigma(h)
    return h


def mlp_mean_jacobian(weights: Sequence[Any], biases: Sequence[Any] | None, x: Any,
                      nonlinearity: str | None) -> Any:
    """Mean over the columns of ``x`` of the Jacobian of :func:`mlp_forward`: (seeds, out, in).

    Propagates ``J_l = D_l(x) W_l J_{l−1}`` sample by sample (exact, no autograd). For a linear
    module it returns the weight product ``W_L ⋯ W_1``.
    """
    if nonlinearity is None:
        m = weights[0]
        for w in weights[1:]:
            m = w @ m
        return m
    h = x
    jac = None  # (seeds, samples, units, in)
    for l, w in enumerate(weights):
        pre = _affine(w, h, biases, l)
        if jac is None:
            jac = w.unsqueeze(1)  # (seeds, 1, out, in)
        else:
            jac = w.unsqueeze(1) @ jac
        if l < len(weights) - 1:
            d = derivative(nonlinearity, pre)  # (seeds, units, samples)
            jac = d.transpose(1, 2).unsqueeze(-1) * jac
            h = activation(nonlinearity)(pre)
    if jac.shape[1] == 1:  # a single layer: constant Jacobian
        return jac[:, 0]
    return jac.mean(dim=1)


def autograd_mean_jacobian(fn: Callable[[Any], Any], x: Any) -> Any:
    """Mean Jacobian of ``fn`` (one sample ``(in,)`` → ``(out,)``) over the columns of ``x``.

    A reference implementation with ``torch.func`` (used to check
    :func:`mlp_mean_jacobian`; works for any differentiable ``fn``).
    """
    import torch

    jac = torch.func.vmap(torch.func.jacrev(fn))(x.T)  # (samples, out, in)
    return jac.mean(dim=0)
