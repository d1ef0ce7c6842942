"""A content-hashed on-disk cache for derivation results (JSON files).

Derivations are slow by nature (SymPy integrates and simplifies for seconds) and pure: the
same key gives the same result. Each entry is one JSON file named by the SHA-256 of the key
(canonical JSON of the key, the modspec version and a schema version), so a change of key,
version or schema never reads a stale entry. SymPy expressions are stored as ``srepr``
strings, which read back exactly (assumptions on symbols included). SymPy is imported only
when an expression is stored or read, so a warm command-line lookup stays cheap.

* Location: ``$MODSPEC_CACHE_DIR`` when set, else ``~/.cache/modspec``; created on demand.
* Writes are atomic: a temporary file in the same directory, then ``os.replace``.
* A corrupt or unreadable entry is treated as a miss (and overwritten by the next store),
  never an error. A cache directory that cannot be written is silently skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from modspec._version import __version__

#: Bump when the layout of stored values changes.
SCHEMA = 1
ENV = "MODSPEC_CACHE_DIR"


def cache_dir() -> Path:
    """``$MODSPEC_CACHE_DIR`` or ``~/.cache/modspec``."""
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "modspec"


def key_hash(key: Any) -> str:
    """SHA-256 of the canonical JSON of ``key`` with the version and schema."""
    text = json.dumps({"key": key, "version": __version__, "schema": SCHEMA},
                      sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def path_for(key: Any) -> Path:
    return cache_dir() / "derive" / f"{key_hash(key)}.json"


def load(key: Any) -> Any | None:
    """The stored value for ``key``, or ``None`` on a miss or a corrupt entry."""
    path = path_for(key)
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
        if not isinstance(entry, dict) or entry.get("hash") != key_hash(key):
            return None
        return entry["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file in the same folder (created on
    demand), flushed to disk, then ``os.replace``. A reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def store(key: Any, value: Any) -> bool:
    """Write ``value`` (JSON-serialisable) atomically; returns False if it could not."""
    try:
        atomic_write_text(path_for(key), json.dumps({"hash": key_hash(key), "value": value}))
        return True
    except (OSError, TypeError, ValueError):
        return False


def expr_to_text(expr: Any) -> str | None:
    import sympy as sp

    return None if expr is None else sp.srepr(expr)


def expr_from_text(text: str | None) -> Any:
    """Read an ``srepr`` string back; raises ``ValueError`` when it is not one."""
    import sympy as sp

    if text is None:
        return None
    try:
        return sp.sympify(text)
    except (sp.SympifyError, SyntaxError, TypeError, AttributeError, NameError) as exc:
        raise ValueError(f"not a stored expression: {exc}") from exc


def load_expr(key: Any) -> Any:
    """A stored SymPy expression, or ``None`` on a miss or anything unreadable."""
    import sympy as sp

    text = load(key)
    if not isinstance(text, str):
        return None
    try:
        expr = expr_from_text(text)
    except ValueError:
        return None
    return expr if isinstance(expr, sp.Basic) else None


def store_expr(key: Any, expr: Any) -> bool:
    return store(key, expr_to_text(expr))


def cached_expr(key: Any, compute: Any, valid: Any, use_cache: bool = True) -> Any:
    """``compute()`` through the disk cache: a stored expression is returned only when
    ``valid(expr)`` holds (a stale, corrupt or wrong entry is recomputed and overwritten);
    with ``use_cache=False`` the cache is neither read nor written."""
    if use_cache:
        hit = load_expr(key)
        if hit is not None and valid(hit):
            return hit
    expr = compute()
    if use_cache:
        store_expr(key, expr)
    return expr
