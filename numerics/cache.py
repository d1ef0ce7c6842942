"""A checksummed on-disk cache for generated code (and other derived text).

Code generation (common-subexpression elimination, printing) is slow compared to running the
result, so every generated module is stored under a key that hashes everything it was made
from. A second process that asks for the same function reads the source back and skips code
generation.

Entries live in the cache folder of :mod:`modspec.theory.cache` (``$MODSPEC_CACHE_DIR``, else
``$XDG_CACHE_HOME/modspec``, else ``~/.cache/modspec``) and are plain text::

    # modspec-cache key=<key> sha256=<HMAC-SHA-256 of the key and the body>
    <body>

Generated source is imported, so what is read must be exactly what was written:

* every read recomputes the checksum of key and body — an HMAC-SHA-256 keyed with the cache
  folder's secret (:func:`modspec.theory.cache.secret`) — and compares it with the header; an
  entry that is corrupt, truncated, edited, planted without the key or stored under another
  key is a miss (and overwritten);
* the folders are checked by :func:`modspec.theory.cache.folder`: a cache folder others can
  write is refused with :class:`~modspec.theory.errors.ModspecError`, since anyone who can
  write there could otherwise have their code imported;
* inside :func:`modspec.theory.cache.disabled` nothing is read or written.

Writes are atomic (a temporary file in the same folder, then :func:`os.replace`), so a reader
never sees half an entry. An unwritable cache folder disables the disk cache without failing.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from modspec.theory.cache import atomic_write_text, cache_dir, folder, hash_parts, sign

__all__ = ["content_key", "discard", "entry_path", "read", "write"]

_HEADER = "# modspec-cache key={key} sha256={digest}\n"


def content_key(*parts: str) -> str:
    """SHA-256 (hex) of the parts, separated so that ``("ab", "c") != ("a", "bc")``."""
    return hash_parts(hashlib.sha256(), parts)


def entry_path(kind: str, key: str, suffix: str = ".py") -> Path:
    """Where the entry ``key`` of kind ``kind`` (a sub-folder name) lives (a location only)."""
    return cache_dir() / kind / key[:2] / f"{key}{suffix}"


def _digest(key: str, body: str) -> str | None:
    return sign("modspec-cache-entry", key, body)


def _file(kind: str, key: str, suffix: str) -> Path | None:
    """The checked entry path, or ``None`` when the disk cache is off or unusable."""
    if not key or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"cache keys are hexadecimal digests, not {key!r}")
    where = folder(kind, key[:2])
    return None if where is None else where / f"{key}{suffix}"


def read(kind: str, key: str, suffix: str = ".py") -> str | None:
    """The body stored under ``key``; ``None`` when absent, corrupt, edited (checksum), stale,
    or when the cache is disabled."""
    path = _file(kind, key, suffix)
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, sep, body = text.partition("\n")
    digest = _digest(key, body)
    if digest is None or not sep:
        return None
    if not hmac.compare_digest((first + "\n").encode(),
                               _HEADER.format(key=key, digest=digest).encode()):
        return None
    return body


def write(kind: str, key: str, body: str, suffix: str = ".py") -> Path | None:
    """Store ``body`` under ``key`` atomically; returns the path, or ``None`` if unwritable
    or disabled."""
    path = _file(kind, key, suffix)
    digest = None if path is None else _digest(key, body)
    if path is None or digest is None:
        return None
    try:
        atomic_write_text(path, _HEADER.format(key=key, digest=digest) + body)
    except OSError:
        return None
    return path


def discard(kind: str, key: str, suffix: str = ".py") -> None:
    """Remove an entry (used when a stored body turns out not to load)."""
    path = _file(kind, key, suffix)
    try:
        if path is not None:
            path.unlink(missing_ok=True)
    except OSError:
        pass
