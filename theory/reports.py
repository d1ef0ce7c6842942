"""The cached answer of ``modspec derive``: its key and the cache around it.

Light on purpose (neither SymPy nor the dataset is imported): a warm call reads the stored
answer (:mod:`modspec.theory.cache`, checksummed) under the key built from the options alone.
The answer itself is :func:`modspec.theory.export.render`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["PAYLOAD_VERSION", "report", "report_key"]

#: Version of what ``modspec derive`` prints, part of its cache key.
PAYLOAD_VERSION = 7


def report_key(dataset: Any, network: Any, train_objects: list[int] | None, fmt: str,
               rule: list[Any] | None = None) -> dict[str, Any]:
    """The cache key of ``modspec derive``'s answer, from what the options say (``dataset``:
    ``["symbolic", file]``, a file name or the size options; ``rule``: ``[name, γ, ∇]``
    when not plain gradient descent), so that a warm call needs neither SymPy nor the
    dataset."""
    key = {"command": "derive", "payload": PAYLOAD_VERSION, "dataset": dataset,
           "network": {"name": network.name,
                       "modules": [[m.name, list(m.inputs), list(m.outputs), m.depth]
                                   for m in network.modules]},
           "train_objects": train_objects, "format": fmt}
    if rule is not None:
        key["rule"] = rule
    return key


def report(key: dict[str, Any], answer: Callable[[], str], use_cache: bool = True) -> str:
    """The answer ``answer()`` stored under ``key`` (:func:`report_key`) in the on-disk cache
    (:mod:`modspec.theory.cache`); ``use_cache=False`` neither reads nor writes any entry,
    nor the derivation's own caches."""
    from . import cache

    if not use_cache:
        with cache.disabled():
            return answer()
    text = cache.load(key)
    if not isinstance(text, str):
        text = answer()
        cache.store(key, text)
    return text
