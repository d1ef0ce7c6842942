"""Where a learning rule's extra terms are defined: one dense two-layer module.

A rule's terms (:mod:`modspec.theory.rules`) act on the rows of ``X`` and ``Y`` as they are,
so a rule other than gradient descent runs on one module of depth 2 that reads every input
block and writes every output block, in the dataset's order; gradient descent runs on every
network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import bad

if TYPE_CHECKING:
    from .rules import Rule

__all__ = ["check_network", "dense_two_layer"]


def dense_two_layer(network: Any, dataset: Any) -> bool:
    """True when ``network`` is one module of depth 2 from every input block of ``dataset``
    to every output block, in the dataset's order: where a rule's terms are defined."""
    mods = network.modules
    return (len(mods) == 1 and mods[0].depth == 2
            and tuple(mods[0].inputs) == tuple(dataset.input_blocks)
            and tuple(mods[0].outputs) == tuple(dataset.output_blocks))


def check_network(rule: Rule, network: Any, dataset: Any) -> None:
    """Refuse a rule beyond gradient descent on anything but one two-layer module reading
    every input block and writing every output block, in the dataset's order (so that its
    layers act on the rows of ``X`` and ``Y`` as they are)."""
    if not rule.is_gradient_descent and not dense_two_layer(network, dataset):
        raise bad("rule", rule.name, "runs on dense two-layer networks only (one module of "
                  "depth 2 from every input to every output); gradient-descent runs on all")
