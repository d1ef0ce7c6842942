"""Cache entries shipped with modspec: the dataset-independent derivations a first run needs.

A first ``modspec derive`` with an empty cache spends most of its time on expressions that do
not depend on the dataset: the balanced mode right-hand side ``f(a)``, the closed-form mode
strength ``a(t)`` and its half-rise time, for depths 1 and 2
(docs/theory/learning-dynamics.md). They ship in ``shipped_cache.json`` next to this module,
written by ``python -m modspec.theory.ship --write`` from the derivations themselves (in a
fresh process, with this file not read) and compared with them by the tests
(``--check``, :mod:`modspec.theory.ship`).

A shipped entry is read like an entry of the disk cache (:mod:`modspec.theory.cache`), never
run:

* its value is a JSON tree rebuilt from a whitelist of SymPy classes
  (:func:`modspec.theory.exprtree.from_tree`), never parsed or evaluated;
* it carries the SHA-256 of its key and value, recomputed on every read; an entry that does
  not match is ignored (the file ships with the code, as trusted as the code beside it: there
  is no secret to key the checksum with);
* the caller's check of a stored expression (``valid`` of
  :func:`modspec.theory.cache.cached_expr`: the mode solution solves its ODE at sample points,
  the half-rise time reaches half the fixed point, …) must hold, as for an entry read from disk;
* with the cache off (``derive --no-cache``, :func:`modspec.theory.cache.disabled`) it is not
  read. A shipped entry that passes is copied into the user's cache (signed there).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["KEYS", "SHIPPED", "digest", "entries", "lookup"]

#: The shipped entries (JSON, package data).
SHIPPED = Path(__file__).with_name("shipped_cache.json")
#: The keys shipped: the depth-1 and depth-2 derivations every cold ``derive`` of a linear
#: network of those depths needs.
KEYS: tuple[dict[str, Any], ...] = tuple(
    {"what": what, "depth": L} for what in ("balanced_mode_rhs", "mode_solution",
                                            "half_rise_time") for L in (1, 2))
#: False while the entries are derived afresh (:mod:`modspec.theory.ship`).
_READ = True


def _canonical(key: Any) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def digest(key: Any, value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``[key, value]``."""
    text = json.dumps([key, value], sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def entries() -> dict[str, Any]:
    """Canonical key → stored tree of every shipped entry whose checksum holds (empty when the
    file is missing or unreadable)."""
    try:
        with open(SHIPPED, encoding="utf-8") as fh:
            data = json.load(fh)
        out = {}
        for entry in data["entries"]:
            key, value = entry["key"], entry["value"]
            if isinstance(entry.get("sha256"), str) and entry["sha256"] == digest(key, value):
                out[_canonical(key)] = value
        return out
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def lookup(key: Any) -> Any | None:
    """The shipped tree of ``key`` (unchecked by the caller yet), or ``None``."""
    if not _READ:
        return None
    try:
        return entries().get(_canonical(key))
    except TypeError:                      # a key that is not JSON: never shipped
        return None
