"""A checksummed on-disk cache for derivation results (JSON files), safe to read back.

Derivations are slow by nature (SymPy integrates and simplifies for seconds) and pure: the
same key gives the same result. Each entry is one JSON file named by the SHA-256 of the key
(canonical JSON of the key, the modspec version and a schema version), so a change of key,
version or schema never reads a stale entry::

    {"schema": 2, "key": <key hash>, "sha256": <SHA-256 of key hash and value>, "value": ...}

* **Nothing read is run.** Values are plain JSON; SymPy expressions are stored as JSON trees
  (:mod:`modspec.theory.exprtree`) rebuilt from a whitelist of SymPy classes, never through
  ``sympify``/``eval``. (Generated NumPy code, which *is* imported, lives in the same folder;
  see :mod:`modspec.numerics.cache`.)
* **Integrity.** Every read recomputes the entry's SHA-256; an entry that is corrupt, edited,
  stored under another key or unreadable is a miss, recomputed and overwritten — never an
  error and never printed as an answer.
* **Location.** ``$MODSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/modspec`` (an absolute
  ``XDG_CACHE_HOME``), else ``~/.cache/modspec``; folders are created on demand, mode 0700.
* **A folder others can write is refused.** Generated code is imported from the cache, so the
  cache folder and its sub-folders must belong to the user and not be writable by group or
  others; otherwise :func:`folder` raises :class:`~modspec.theory.errors.ModspecError`
  (one line on the command line, exit status 2). A cache location that cannot be created (a
  file is in the way, no permission) just disables the disk cache.
* **Switching it off.** Inside ``with disabled():`` nothing is read from or written to the
  disk cache — by this module, by :func:`cached_expr` callers deep inside a derivation, or by
  the code cache — and the folder is not even checked. ``modspec derive --no-cache`` uses it.
* Writes are atomic and never go through a symbolic link (:func:`atomic_write_bytes`). SymPy
  is imported only when an expression is stored or read, so a warm command-line lookup stays
  cheap.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from modspec._version import __version__

from .errors import bad

__all__ = [
    "ENV", "SCHEMA", "atomic_write_bytes", "atomic_write_text", "cache_dir", "cached_expr",
    "disabled", "enabled", "folder", "key_hash", "load", "load_expr", "path_for", "store",
    "store_expr",
]

#: Bump when the layout of stored values changes.
SCHEMA = 2
ENV = "MODSPEC_CACHE_DIR"

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("modspec_cache", default=True)


def cache_dir() -> Path:
    """Where the cache lives: ``$MODSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/modspec`` (when
    that is an absolute path, as the XDG specification requires), else ``~/.cache/modspec``.

    Only the location; :func:`folder` checks and creates it.
    """
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "modspec"
    return Path.home() / ".cache" / "modspec"


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within this block the disk cache is neither read nor written (nor its folder checked).

    The switch is a context variable: it holds for this thread (and asyncio task); threads
    started inside the block do not inherit it.
    """
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)


def enabled() -> bool:
    """False inside :func:`disabled`."""
    return _enabled.get()


def folder(*parts: str) -> Path | None:
    """The cache folder (or its sub-folder ``parts``), created mode 0700 on demand and checked.

    Returns ``None`` when the cache is :func:`disabled` or the folder cannot be created (the
    disk cache is then skipped). Raises :class:`~modspec.theory.errors.ModspecError` when the
    cache folder or a sub-folder is not owned by the user or is writable by group or others:
    code generated into it is imported, so whoever can write there could run code as the user.
    """
    if not enabled():
        return None
    path = cache_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(path)
        for part in parts:
            path = path / part
            path.mkdir(mode=0o700, exist_ok=True)
            _check_private(path)
    except OSError:
        return None
    return path


def _check_private(path: Path) -> None:
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(path)
    if os.name != "posix":  # no POSIX owner and mode bits to check
        return
    if st.st_uid != os.getuid():
        raise bad("cache folder", str(path),
                  f"must belong to you (it belongs to user id {st.st_uid}), since generated "
                  f"code is imported from it; set {ENV} to a folder of your own")
    if st.st_mode & 0o022:
        raise bad("cache folder", str(path),
                  f"must not be writable by group or others (it is mode "
                  f"{stat.S_IMODE(st.st_mode):04o}), since generated code is imported from it; "
                  f"chmod go-w it or set {ENV}")


def key_hash(key: Any) -> str:
    """SHA-256 of the canonical JSON of ``key`` with the version and schema."""
    text = json.dumps({"key": key, "version": __version__, "schema": SCHEMA},
                      sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def path_for(key: Any) -> Path:
    """Where the entry of ``key`` lives (a location only; nothing is checked or created)."""
    return cache_dir() / "derive" / f"{key_hash(key)}.json"


def _checksum(khash: str, value: Any) -> str:
    text = json.dumps([khash, value], sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def load(key: Any) -> Any | None:
    """The stored value for ``key``; ``None`` on a miss, inside :func:`disabled`, or when the
    entry is corrupt or its checksum does not match (then it is a miss)."""
    where = folder("derive")
    if where is None:
        return None
    khash = key_hash(key)
    try:
        with open(where / f"{khash}.json", encoding="utf-8") as fh:
            entry = json.load(fh)
        if (not isinstance(entry, dict) or entry.get("schema") != SCHEMA
                or entry.get("key") != khash
                or entry.get("sha256") != _checksum(khash, entry["value"])):
            return None
        return entry["value"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a new temporary file in the same folder (created
    on demand), flushed to disk, then ``os.replace``. A reader never sees a half-written file,
    and nothing is written through a symbolic link: the temporary file is created exclusively
    (``O_EXCL | O_NOFOLLOW``) and the rename replaces a link at ``path`` itself, never its
    target.

    The file gets the mode a plain ``open(path, "w")`` gives a new file (0666 less the umask:
    0644 under umask 022), not the 0600 of :func:`tempfile.mkstemp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def store(key: Any, value: Any) -> bool:
    """Write ``value`` (JSON-serialisable, finite) atomically with its checksum; returns False
    if it could not (or inside :func:`disabled`)."""
    where = folder("derive")
    if where is None:
        return False
    khash = key_hash(key)
    try:
        entry = {"schema": SCHEMA, "key": khash, "sha256": _checksum(khash, value),
                 "value": value}
        atomic_write_text(where / f"{khash}.json", json.dumps(entry, allow_nan=False))
        return True
    except (OSError, TypeError, ValueError):
        return False


def load_expr(key: Any) -> Any:
    """A stored SymPy expression, or ``None`` on a miss or anything unreadable."""
    tree = load(key)
    if tree is None:
        return None
    from .exprtree import from_tree

    try:
        return from_tree(tree)
    except (ValueError, RecursionError):
        return None


def store_expr(key: Any, expr: Any) -> bool:
    """Store a SymPy expression as a JSON tree; False if it could not (a class the tree form
    does not cover is not stored, so it is recomputed next time)."""
    from .exprtree import to_tree

    try:
        tree = to_tree(expr)
    except TypeError:
        return False
    return store(key, tree)


def cached_expr(key: Any, compute: Callable[[], Any], valid: Callable[[Any], bool],
                use_cache: bool = True) -> Any:
    """``compute()`` through the disk cache: a stored expression is returned only when
    ``valid(expr)`` holds (a stale, corrupt or wrong entry is recomputed and overwritten);
    with ``use_cache=False`` (or inside :func:`disabled`) the cache is neither read nor
    written."""
    if use_cache:
        hit = load_expr(key)
        if hit is not None and valid(hit):
            return hit
    expr = compute()
    if use_cache:
        store_expr(key, expr)
    return expr
