"""A content-hashed on-disk cache for generated code (and other derived text).

Code generation (common-subexpression elimination, printing) is slow compared to running the
result, so every generated module is stored under a key that hashes everything it was made
from. A second process that asks for the same function reads the source back and skips code
generation.

Location: ``$MODSPEC_CACHE_DIR`` when set, else ``~/.cache/modspec``. Entries are plain text::

    # modspec-cache key=<key> sha256=<digest of the body>
    <body>

Writes are atomic (a temporary file in the same folder, then :func:`os.replace`), so a reader
never sees half an entry. A corrupt, truncated or stale entry (header or digest does not match)
is treated as missing and overwritten; an unwritable cache folder disables the disk cache
without failing. The cache never raises.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from modspec.theory.cache import atomic_write_text, cache_dir

_HEADER = "# modspec-cache key={key} sha256={digest}\n"


def content_key(*parts: str) -> str:
    """SHA-256 (hex) of the parts, separated so that ``("ab", "c") != ("a", "bc")``."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def entry_path(kind: str, key: str, suffix: str = ".py") -> Path:
    """Where the entry ``key`` of kind ``kind`` (a sub-folder name) lives."""
    return cache_dir() / kind / f"{key[:2]}" / f"{key}{suffix}"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def read(kind: str, key: str, suffix: str = ".py") -> str | None:
    """The body stored under ``key``, or ``None`` when absent, corrupt or stale."""
    path = entry_path(kind, key, suffix)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, sep, body = text.partition("\n")
    if not sep or first + "\n" != _HEADER.format(key=key, digest=_digest(body)):
        return None
    return body


def write(kind: str, key: str, body: str, suffix: str = ".py") -> Path | None:
    """Store ``body`` under ``key`` atomically; returns the path, or ``None`` if unwritable."""
    path = entry_path(kind, key, suffix)
    try:
        atomic_write_text(path, _HEADER.format(key=key, digest=_digest(body)) + body)
    except OSError:
        return None
    return path


def discard(kind: str, key: str, suffix: str = ".py") -> None:
    """Remove an entry (used when a stored body turns out not to load)."""
    try:
        entry_path(kind, key, suffix).unlink()
    except OSError:
        pass
