"""The contexts family (:mod:`modspec.theory.contexts`) in the registry."""

from __future__ import annotations

from .. import contexts as _contexts
from .registry import Family, register

__all__ = ["contexts"]

contexts = _contexts.contexts

register(Family("contexts", contexts, _contexts.KEYS, symbols=_contexts.SYMBOLS,
                fixed=("variants", "levels", "branching"), domain=_contexts.domain,
                list_keys=("variants",)))
