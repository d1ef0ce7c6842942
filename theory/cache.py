"""A checksummed on-disk cache for derivation results (JSON files), safe to read back.

Derivations are slow by nature (SymPy integrates and simplifies for seconds) and pure: the
same key gives the same result. Each entry is one JSON file named by the SHA-256 of the key
(canonical JSON of the key, the modspec version and a schema version), so a change of key,
version or schema never reads a stale entry::

    {"schema": 3, "key": <key hash>, "sha256": <HMAC-SHA-256 of key hash and value>,
     "value": ...}

* **Nothing read is run.** Values are plain JSON; SymPy expressions are stored as JSON trees
  (:mod:`modspec.theory.exprtree`) rebuilt from a whitelist of SymPy classes, never through
  ``sympify``/``eval``. (Generated NumPy code, which *is* imported, lives in the same folder;
  see :mod:`modspec.numerics.cache`.)
* **Integrity.** Every read recomputes the entry's checksum, an HMAC-SHA-256 keyed with the
  cache folder's own secret (:func:`secret`, a random key in ``secret.key``, mode 0600); an
  entry that is corrupt, edited, copied from another cache, stored under another key or
  unreadable is a miss, recomputed and overwritten — never an error and never printed as an
  answer. The key makes tampering detectable, not only damage: who cannot read the key
  cannot forge an entry.
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
import hmac
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from modspec._version import __version__

from .errors import bad

__all__ = [
    "ENV", "SCHEMA", "SECRET_FILE", "atomic_write_bytes", "atomic_write_text", "cache_dir",
    "cached_expr", "disabled", "enabled", "folder", "hash_parts", "key_hash", "load", "load_expr",
    "path_for",
    "secret", "sign", "store",
    "store_expr",
]

#: Bump when the layout of stored values changes.
SCHEMA = 3
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


#: The cache's secret key: random bytes in a file of the cache folder that only its owner
#: can read; every entry's checksum is keyed with it (:func:`sign`).
SECRET_FILE = "secret.key"
_SECRET_BYTES = 32
_secrets: dict[str, bytes] = {}


def secret() -> bytes | None:
    """The cache folder's secret key, created (mode 0600, 32 random bytes) on first use;
    ``None`` when the disk cache is off or unusable.

    Checksums keyed with it catch tampering, not only damage: an entry copied in from
    another cache, or written by a program that does not know the key, fails its check.
    A key file that is not a regular file of the user's, or that group or others can read,
    is refused (:class:`~modspec.theory.errors.ModspecError`, one line).
    """
    where = folder()
    if where is None:
        return None
    path = where / SECRET_FILE
    if str(path) in _secrets:
        return _secrets[str(path)]
    try:
        key = _read_secret(path)
        if key is None:
            key = _create_secret(path)
    except OSError:
        return None
    _secrets[str(path)] = key
    return key


def _read_secret(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if os.name == "posix" and (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()
                                   or st.st_mode & 0o077):
            raise bad("cache secret", str(path), "must be a file of yours that only you can "
                      "read (chmod 600 it, or delete it and a new one is made)")
        key = fh.read(_SECRET_BYTES + 1)
    if len(key) != _SECRET_BYTES:
        raise bad("cache secret", str(path), f"must hold {_SECRET_BYTES} bytes (delete it "
                  "and a new one is made)")
    return key


def _create_secret(path: Path) -> bytes:
    key = secrets.token_bytes(_SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except FileExistsError:  # another process made it first
        found = _read_secret(path)
        if found is None:
            raise OSError(f"cache secret {path} vanished") from None
        return found
    _write_synced(fd, key)
    return key


def _write_synced(fd: int, data: bytes) -> None:
    """Write ``data`` to the open file ``fd``, flush it to disk and close it."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def sign(*parts: str) -> str | None:
    """HMAC-SHA-256 (hex) of ``parts`` keyed with :func:`secret`, the parts length-prefixed
    so that ``("ab", "c") != ("a", "bc")``; ``None`` when there is no usable cache."""
    key = secret()
    if key is None:
        return None
    return hash_parts(hmac.new(key, digestmod=hashlib.sha256), parts)


def hash_parts(h: Any, parts: Iterable[str]) -> str:
    """Feed ``parts`` to the hash ``h`` (a :mod:`hashlib` or :mod:`hmac` object), each
    prefixed by its length so that ``("ab", "c") != ("a", "bc")``; its hex digest."""
    for part in parts:
        data = part.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _checksum(khash: str, value: Any) -> str | None:
    text = json.dumps([khash, value], sort_keys=True, separators=(",", ":"), allow_nan=False)
    return sign("modspec-derive-entry", text)


def _entry_file(key: Any) -> tuple[Path, str] | None:
    """The file of the derive entry ``key`` and its key hash; ``None`` when the cache is off."""
    where = folder("derive")
    if where is None:
        return None
    khash = key_hash(key)
    return where / f"{khash}.json", khash


def load(key: Any) -> Any | None:
    """The stored value for ``key``; ``None`` on a miss, inside :func:`disabled`, or when the
    entry is corrupt or its checksum does not match (then it is a miss)."""
    found = _entry_file(key)
    if found is None:
        return None
    path, khash = found
    try:
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
        if (not isinstance(entry, dict) or entry.get("schema") != SCHEMA
                or entry.get("key") != khash or not isinstance(entry.get("sha256"), str)):
            return None
        expected = _checksum(khash, entry["value"])
        if expected is None or not hmac.compare_digest(entry["sha256"].encode(),
                                                       expected.encode()):
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
        _write_synced(fd, data)
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
    found = _entry_file(key)
    if found is None:
        return False
    path, khash = found
    try:
        digest = _checksum(khash, value)
        if digest is None:
            return False
        entry = {"schema": SCHEMA, "key": khash, "sha256": digest, "value": value}
        atomic_write_text(path, json.dumps(entry, allow_nan=False))
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


def _shipped_expr(key: Any) -> Any:
    """The expression shipped for ``key`` (:mod:`modspec.theory.shipped`), or ``None`` (also
    inside :func:`disabled`)."""
    if not enabled():
        return None
    from .exprtree import from_tree
    from .shipped import lookup

    tree = lookup(key)
    try:
        return None if tree is None else from_tree(tree)
    except (ValueError, RecursionError):
        return None


def cached_expr(key: Any, compute: Callable[[], Any], valid: Callable[[Any], bool],
                use_cache: bool = True) -> Any:
    """``compute()`` through the disk cache: a stored expression is returned only when
    ``valid(expr)`` holds (a stale, corrupt or wrong entry is recomputed and overwritten);
    with ``use_cache=False`` (or inside :func:`disabled`) the cache is neither read nor
    written. On a miss, an entry shipped with modspec (:mod:`modspec.theory.shipped`) is
    taken under the same check, and stored."""
    if use_cache:
        hit = load_expr(key)
        if hit is not None and valid(hit):
            return hit
        hit = _shipped_expr(key)
        if hit is not None and valid(hit):
            store_expr(key, hit)
            return hit
    expr = compute()
    if use_cache:
        store_expr(key, expr)
    return expr
