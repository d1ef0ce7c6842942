"""Dense and split CNNs for Compositional MNIST (docs/theory/cmnist.md).

The original study (28×84 images, three MNIST digits):

* dense: Conv(32, 9×27) → ReLU → Conv(32, 7×21) → ReLU → Conv(32, 5×15) → ReLU → Flatten →
  Dense(10·positions + 10**positions); VALID padding, stride 1;
* split: two independent modules, each the same conv stack with 16 channels, one ending in
  Dense(10·positions) (compositional outputs), the other in Dense(10**positions)
  (non-compositional outputs). Both see the whole image.

Kernel sizes scale with the image: kernel ``k`` of the original (9, 7, 5 at height 28) becomes
``max(1, round(k·H/28)) × max(1, round(k·W/28))`` for an H×W image, which gives exactly the
original 9×27, 7×21, 5×15 at 28×84 and, e.g., 3×8, 2×6, 1×4 for three 8×8 digits (8×24).

Initialisation: ``"small"`` is the reference N(0, 0.01²) on weights and biases; ``"default"`` is
PyTorch's default (Kaiming-uniform) initialisation; a number is used as the standard deviation
of a normal initialisation of weights and biases.

PyTorch is imported lazily, inside the functions.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from modspec.theory.errors import bad

__all__ = ["ARCHS", "BASE_KERNELS", "BASE_SIZE", "build_cnn", "check_init", "conv_stack",
           "initialise", "kernel_sizes", "parse_init"]

BASE_KERNELS = (9, 7, 5)
BASE_SIZE = 28
ARCHS = ("dense", "split")


def kernel_sizes(image_shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Kernel (height, width) of the three conv layers for an H×W image (see module doc)."""
    h, w = image_shape
    sizes = [(max(1, round(k * h / BASE_SIZE)), max(1, round(k * w / BASE_SIZE)))
             for k in BASE_KERNELS]
    oh, ow = h, w
    for kh, kw in sizes:
        oh, ow = oh - kh + 1, ow - kw + 1
    if oh < 1 or ow < 1:
        raise bad("image_shape", image_shape, "too small for three VALID convolutions")
    return sizes


def stack_sizes(image_shape: tuple[int, int], channels: int, n_out: int) -> tuple[int, int]:
    """``(parameters, largest feature map per example)`` of :func:`conv_stack`, counted
    without building it (for the memory check before any work)."""
    params, c_in, (oh, ow), widest = 0, 1, image_shape, 0
    for kh, kw in kernel_sizes(image_shape):
        params += channels * (c_in * kh * kw + 1)
        c_in, oh, ow = channels, oh - kh + 1, ow - kw + 1
        widest = max(widest, channels * oh * ow)
    return params + n_out * (channels * oh * ow + 1), widest


def network_sizes(arch: str, image_shape: tuple[int, int], positions: int) -> tuple[int, int]:
    """``(parameters, largest feature maps per example)`` of :func:`build_cnn`."""
    n_comp, n_non = 10 * positions, 10**positions
    stacks = ([(32, n_comp + n_non)] if arch == "dense" else [(16, n_comp), (16, n_non)])
    sizes = [stack_sizes(image_shape, c, n) for c, n in stacks]
    return sum(p for p, _ in sizes), sum(w for _, w in sizes)


def conv_stack(image_shape: tuple[int, int], channels: int, n_out: int) -> Any:
    """Conv → ReLU ×3 (VALID, stride 1) → Flatten → Linear(n_out)."""
    import torch.nn as nn

    layers: list[Any] = []
    c_in, (oh, ow) = 1, image_shape
    for kh, kw in kernel_sizes(image_shape):
        layers += [nn.Conv2d(c_in, channels, (kh, kw)), nn.ReLU()]
        c_in, oh, ow = channels, oh - kh + 1, ow - kw + 1
    layers += [nn.Flatten(), nn.Linear(channels * oh * ow, n_out)]
    return nn.Sequential(*layers)


def build_cnn(arch: str, image_shape: tuple[int, int], positions: int) -> Any:
    """A dense or split CNN whose output is (batch, 10·positions + 10**positions).

    The split network's output concatenates its compositional module's outputs and its
    non-compositional module's outputs, so both networks are used the same way; since the two
    modules share no parameter, training on the summed loss trains each on its own loss.
    """
    import torch
    import torch.nn as nn

    n_comp, n_non = 10 * positions, 10**positions
    if arch == "dense":
        return conv_stack(image_shape, 32, n_comp + n_non)
    if arch != "split":
        raise bad("arch", arch, "must be dense or split")

    class Split(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.compositional = conv_stack(image_shape, 16, n_comp)
            self.noncompositional = conv_stack(image_shape, 16, n_non)

        def forward(self, x: Any) -> Any:
            return torch.cat([self.compositional(x), self.noncompositional(x)], dim=1)

    return Split()


def check_init(init: str | float) -> float | None:
    """The standard deviation ``init`` asks for (None for PyTorch's default), or one line."""
    if init == "default":
        return None
    if init == "small":
        return 0.01
    if isinstance(init, numbers.Real) and not isinstance(init, bool) \
            and math.isfinite(init) and init > 0:
        return float(init)
    raise bad("init", init, "must be default, small or a finite standard deviation > 0")


def initialise(model: Any, init: str | float) -> None:
    """Apply ``init``: "default" (PyTorch's), "small" (N(0, 0.01²)) or a standard deviation."""
    import torch

    std = check_init(init)
    if std is None:
        return
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)


def parse_init(text: str) -> str | float:
    """Command-line form of ``init``: "default", "small" or a number."""
    if text in ("default", "small"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise bad("init", text, "must be default, small or a finite number > 0") from None
    check_init(value)
    return value
