"""Reading a user's input file (a ``--config``, a ``--dataset``, a sweep grid): bounded, once.

Every TOML file modspec reads from a user goes through :func:`read_toml`, which refuses what
is not an ordinary file before reading a byte (``/dev/zero``, a FIFO, a folder) and any file
larger than :data:`MAX_INPUT_BYTES`, so a wrong path is one line, never a read that fills the
memory or waits forever. Nothing read is evaluated: TOML gives plain values.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from .errors import ModspecError, bad

__all__ = ["MAX_INPUT_BYTES", "InputFileError", "read_bounded", "loads_toml", "read_toml",
           "read_utf8"]

#: The largest input file modspec reads (1 MiB): declarations, grids and configurations are
#: a few hundred bytes; anything near this size is a wrong path.
MAX_INPUT_BYTES = 1 << 20


class InputFileError(ModspecError):
    """An input file that cannot be used; :attr:`reason` is what is wrong, for a caller that
    names the option (``--config=… is invalid: <reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "something else"


def _size(n: int) -> str:
    for unit, name in ((2**20, "MiB"), (2**10, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} bytes"


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; :class:`InputFileError`
    otherwise (checked on the opened file, before reading; opened without blocking, so a
    pipe with no writer is refused rather than waited for)."""
    try:
        fd = os.open(Path(path).expanduser(), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputFileError(f"cannot read it ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(f"cannot read it: it is {_kind(info.st_mode)}, not a regular file")
        too_big = f"must be a file of at most {_size(limit)}"
        if info.st_size > limit:
            raise InputFileError(f"{too_big}; it has {info.st_size} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:                            # it grew while being read
            raise InputFileError(f"{too_big}; it has more")
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(f"cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)


def read_toml(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> dict[str, Any]:
    """The table of a TOML file read by :func:`read_bounded`; :class:`InputFileError` when
    it is not UTF-8 text or not TOML."""
    data = read_bounded(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return _parse(text)


def _parse(text: str) -> dict[str, Any]:
    """The table of the TOML ``text``; :class:`InputFileError` saying why when it is not
    TOML or nests too deeply to read."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"not valid TOML ({exc})") from None
    except RecursionError:
        raise InputFileError("not usable TOML (nested too deeply)") from None


def read_utf8(name: str, path: str | os.PathLike[str]) -> str:
    """The text of the TOML file ``path`` given as ``name`` (:func:`read_bounded`: a regular
    file of bounded size; ``/dev/zero`` or a pipe is refused, not read); a
    :class:`ModspecError` naming ``name`` and the path when it cannot be read as UTF-8."""
    try:
        return read_bounded(path).decode("utf-8")
    except (InputFileError, UnicodeDecodeError) as err:
        raise bad(name, str(path), f"must be a readable UTF-8 TOML file ({err})") from None


def loads_toml(what: str, text: str) -> dict[str, Any]:
    """The table of the TOML ``text`` declaring ``what``; a :class:`ModspecError` saying
    ``<what> TOML is invalid`` and why when it does not parse (nothing in it is evaluated)."""
    try:
        return _parse(text)
    except InputFileError as err:
        raise ModspecError(f"{what} TOML is invalid: {err}") from None
