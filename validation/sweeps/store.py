"""The result store of a sweep: JSON lines, a header, one row per finished point, one writer.

The first line is the store's header, ``{"format": "modspec-sweep-store", "schema": 1,
"grid": <grid key>, "modspec": <version>}``; the grid key (:func:`grid_key`) is the SHA-256
of the store format, the grid's dataset family and the modspec version, so a grid grown by
more values keeps its store (only the new points are computed), while a store of another
family or of another modspec version is refused rather than mixed with new rows. Each further
line is one flat JSON object: ``key`` (SHA-256 of the point's full specification and the
modspec version, :attr:`~modspec.validation.sweeps.point.Point.key`), the point's parameters
under their own names (``nx``, ``kx``, ``rx``, ``arch``, …) and the results,
``theory.<obs>``, ``simulate.<obs>``, ``simulate.<obs>.std``, ``train.<obs>`` … (``null``
where a value does not exist). :func:`load_sweep` reads the rows into a pandas DataFrame, one
row per key.

**Nothing that is not a store is written to.** :func:`open_store` refuses (one line, nothing
changed) a path that is a symbolic link (the file is opened with ``O_NOFOLLOW``), not a
regular file, or a file whose first line is not the header of a store of this grid: a text
file, a binary file, a file of NUL bytes, a store of headerless rows from an older modspec.
An empty file or a missing one becomes a new store (created atomically with its header).

**One writer.** The driver holds an exclusive lock (``flock``) on the store while it writes;
a second sweep on the same store is refused in one line. Rows are appended one line at a
time, flushed and fsync-ed, so a killed sweep (even SIGKILL) loses only what was in flight. A
line cut short by a kill has no newline: :func:`open_store` cuts it off before appending, so
every row in the store is whole and no key is written twice (finished keys are skipped). A
store that holds a key twice all the same (written by older versions without the lock) is
read with one row per key, the first, and a :class:`StoreWarning` says how many were dropped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import secrets
import stat
import warnings
from pathlib import Path
from typing import IO, Any

from modspec import _version
from modspec.theory.errors import bad

__all__ = ["FORMAT", "GROUPS", "KINDS", "SCHEMA", "TIDY", "Store", "StoreWarning", "alias",
           "export_sweep", "grid_key", "header", "load_sweep", "observable_name", "open_store",
           "read_rows", "tidy_sweep"]

#: The ``format`` of a store's header line.
FORMAT = "modspec-sweep-store"
#: The layout of a store; bump when rows change meaning.
SCHEMA = 1

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class StoreWarning(UserWarning):
    """A store is readable but not as written by this version (e.g. a key held twice)."""


def grid_key(family: str = "compositional") -> str:
    """The key of the grids whose rows one store may hold: SHA-256 of the store format and
    schema, the dataset ``family`` and the modspec version (the values swept are not part of
    it, so a grown grid resumes its store)."""
    text = json.dumps({"format": FORMAT, "schema": SCHEMA, "family": family,
                       "modspec": _version.__version__}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def header(grid: str) -> dict[str, Any]:
    """The header line of a store of the grid key ``grid``."""
    return {"format": FORMAT, "schema": SCHEMA, "grid": grid, "modspec": _version.__version__}


def _is_header(row: Any) -> bool:
    return isinstance(row, dict) and row.get("format") == FORMAT and "key" not in row


def _parse(data: bytes, where: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The header (None for an old store without one) and the whole rows of a store's bytes,
    one row per key; raises on a line that is not a row."""
    whole = data[: data.rfind(b"\n") + 1]
    head: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    dropped = 0
    for number, line in enumerate(whole.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise bad("STORE", where, f"line {number} is not a JSON row") from None
        if number == 1 and _is_header(row):
            head = row
            continue
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            raise bad("STORE", where, f"line {number} is not a sweep row (no key)")
        if row["key"] in seen:
            dropped += 1
            continue
        seen.add(row["key"])
        rows.append(row)
    if dropped:
        warnings.warn(f"STORE {where} holds {dropped} duplicate row(s) of points stored "
                      f"before; each point is read once (its first row)", StoreWarning,
                      stacklevel=3)
    return head, rows


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The whole rows of a store, one per key (a last line without its newline is left out;
    the header line is not a row)."""
    path = Path(path)
    if not path.exists():
        return []
    if not path.is_file():
        raise bad("STORE", str(path), "must be a regular file (a sweep store)")
    with open(path, "rb") as fh:
        _check_size(path, os.fstat(fh.fileno()).st_size, "STORE")
        return _parse(fh.read(), str(path))[1]


#: Bytes read to find a store's header line (a header is about 200 bytes).
HEAD_BYTES = 1 << 16
#: Memory a store's rows take when read, per byte of the file (JSON text to Python objects).
ROW_BYTES = 8


def _check_size(path: Path, size: int, name: str = "--out") -> None:
    """Refuse a store whose rows cannot be held in memory once read, before reading them."""
    from modspec.numerics.budget import check_memory

    check_memory(ROW_BYTES * size, f"{name}={str(path)!r} ({size} bytes)")


def load_sweep(path: str | Path, tidy: bool = False) -> Any:
    """A sweep's store as a pandas DataFrame: one row per point, a column per parameter
    (``nx``, ``kx``, ``arch``, …) and per result (``theory.Gx->Oy``, ``simulate.Gx->Oy``,
    ``simulate.Gx->Oy.std``, ``simulate.half_rise.pi1`` …; NaN where a value does not
    exist), in the order the points finished.

    ``tidy=True``: the long form of :func:`tidy_sweep` instead (plain column names)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise bad("STORE", str(path), "must be an existing sweep store (modspec sweep --out)")
    df = pd.DataFrame(read_rows(path))
    return tidy_sweep(df) if tidy else df


#: The result kinds of a store: the prefixes of its result columns.
KINDS = ("theory", "simulate", "train")
#: Result groups named before the observable (``theory.half_rise.pi1``, ``theory.loss.total``).
GROUPS = ("half_rise", "loss", "end")
#: The columns of :func:`tidy_sweep` after the parameters.
TIDY = ("kind", "quantity", "observable", "alias", "value", "std")


def alias(name: str) -> str:
    """The shell-safe alias of an observable name: ``Gx->Oy`` → ``Gx_Oy`` (others unchanged)."""
    return name.replace("->", "_")


def observable_name(name: str, available: Any) -> str:
    """``name`` as spelled among ``available`` observables: itself, or the observable whose
    :func:`alias` it is (``Gx_Oy`` → ``Gx->Oy``); unknown names are returned unchanged."""
    available = list(available)
    if name in available:
        return name
    matches = [a for a in available if alias(a) == name]
    return matches[0] if len(matches) == 1 else name


def _split(column: str) -> tuple[str, str, str, bool]:
    """``theory.half_rise.pi1`` → ``(theory, half_rise, pi1, False)``; ``simulate.Gx->Oy.std``
    → ``(simulate, quadrant_norm, Gx->Oy, True)``."""
    kind, rest = column.split(".", 1)
    std = rest.endswith(".std")
    rest = rest.removesuffix(".std")
    group, _, name = rest.partition(".")
    if name and group in GROUPS:
        return kind, group, name, std
    if "->" in rest:
        return kind, "quadrant_norm", rest, std
    if rest == "heldout":
        return kind, "heldout", "compositional_error", std
    return kind, "mode", rest, std


def tidy_sweep(df: Any) -> Any:
    """A store's wide rows (:func:`load_sweep`) in long ("tidy") form, one row per point, kind
    and result, with plain column names: the point's parameters (``key``, ``nx``, ``kx``,
    ``arch``, …), then ``kind`` (``theory``/``simulate``/``train``), ``quantity``
    (``quadrant_norm``, ``mode``, ``loss``, ``end`` — the converged map's quadrant norms —,
    ``half_rise``, ``heldout``), ``observable`` (``Gx->Oy``, ``pi1``, ``total`` …; its
    shell-safe :func:`alias` in ``alias``), ``value`` and ``std`` (± over seeds; NaN for the
    theory). Results that do not exist at a point (null in the store) are left out."""
    import pandas as pd

    results = [c for c in df.columns if c.split(".", 1)[0] in KINDS and "." in c]
    params = [c for c in df.columns if c not in results]
    frames = []
    for column in results:
        kind, quantity, observable, std = _split(column)
        if std:
            continue
        std_column = column + ".std"
        frame = df[params].copy()
        frame["kind"], frame["quantity"], frame["observable"] = kind, quantity, observable
        frame["alias"] = alias(observable)
        frame["value"] = pd.to_numeric(df[column], errors="coerce")
        frame["std"] = (pd.to_numeric(df[std_column], errors="coerce")
                        if std_column in df.columns else float("nan"))
        frames.append(frame[frame["value"].notna() | frame["std"].notna()])
    columns = [*params, *TIDY]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def export_sweep(path: str | Path, out: str | Path) -> Path:
    """Write a store's tidy form (:func:`tidy_sweep`) to ``out``: ``.parquet`` (needs pyarrow)
    or ``.csv``, atomically. Returns ``out``."""
    import io

    from modspec.theory.cache import atomic_write_bytes

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise bad("out", str(out), "must end in .parquet or .csv")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise bad("out", str(out), "needs pyarrow for .parquet (pip install pyarrow); "
                      "or end it in .csv") from None
    df = load_sweep(path, tidy=True)
    buffer = io.BytesIO()
    if suffix == ".parquet":
        df.to_parquet(buffer, index=False)
    else:
        buffer.write(df.to_csv(index=False).encode())
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _plain(value: Any) -> Any:
    """JSON has no NaN or Infinity: a non-finite number is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Store:
    """The one writer of a store: :meth:`append` writes one whole row, durably. The store
    stays locked until :meth:`close`."""

    def __init__(self, path: Path, fh: IO[bytes], done: set[str]) -> None:
        self.path, self._fh, self.done = path, fh, done

    def append(self, row: dict[str, Any]) -> None:
        if row["key"] in self.done:
            return
        line = json.dumps({k: _plain(v) for k, v in row.items()}, allow_nan=False)
        self._fh.write(line.encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.add(row["key"])

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _create(path: Path, grid: str) -> None:
    """A new store holding only its header, created atomically (a temporary file linked in:
    an existing file or link at ``path`` is left alone)."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(header(grid)).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass                                  # another one made it first: open that one
    finally:
        tmp.unlink(missing_ok=True)


def _refuse(path: Path, why: str) -> None:
    raise bad("--out", str(path), f"{why}; nothing was written to it: choose another STORE")


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:                           # no POSIX locks here: one writer by trust
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise bad("--out", str(path), "is being written by another sweep (the store is "
                  "locked); wait for it to finish, then run this one again") from None
    except OSError as exc:                        # a file system without locks
        raise bad("--out", str(path), f"cannot be locked for one writer ({exc.strerror}); "
                  "choose a STORE on a local file system") from None


def open_store(path: str | Path, grid: str | None = None) -> Store:
    """Open (or create) the store of the grid key ``grid`` (default :func:`grid_key`) for
    appending, locked: a truncated last line is cut off, the keys of the whole rows are the
    finished points. Refuses a symbolic link, anything but a regular file, a file that is not
    a store of this grid and a store another sweep is writing (see the module docstring)."""
    path = Path(path)
    grid = grid_key() if grid is None else grid
    if path.is_symlink():
        _refuse(path, "is a symbolic link (a store is never written through one)")
    if path.is_dir():
        raise bad("--out", str(path), "must be a file (the store), not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_APPEND | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
    try:
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            _create(path, grid)
            fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            _refuse(path, "is a symbolic link (a store is never written through one)")
        raise bad("--out", str(path), f"cannot open it ({exc.strerror})") from None
    fh = os.fdopen(fd, "ab")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            _refuse(path, "is not a regular file")
        _lock(fd, path)
        first = os.pread(fd, HEAD_BYTES, 0)       # the header first: never read a non-store
        line = json.dumps(header(grid)).encode() + b"\n"
        if line.startswith(first):                # empty, or a header cut short: nothing lost
            fh.truncate(0)
            fh.write(line)
            fh.flush()
            os.fsync(fd)
            return Store(path, fh, set())
        _check_header(path, first, grid)
        _check_size(path, os.fstat(fd).st_size)
        data = _read_all(fd)
        _, rows = _parse(data, str(path))
        if not data.endswith(b"\n"):              # a row cut short by a kill: drop it
            fh.truncate(data.rfind(b"\n") + 1)
        return Store(path, fh, {row["key"] for row in rows})
    except BaseException:
        fh.close()
        raise


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _check_header(path: Path, data: bytes, grid: str) -> None:
    """Refuse ``data`` unless its first line is the header of a store of ``grid``."""
    first, newline, _ = data.partition(b"\n")
    try:
        head = json.loads(first) if newline else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        head = None
    if isinstance(head, dict) and isinstance(head.get("key"), str):
        _refuse(path, "is a sweep store without a header (written by an older modspec), "
                      "whose rows are not reused")
    if not _is_header(head):
        _refuse(path, "is not a modspec sweep store (its first line is not a store header)")
    assert isinstance(head, dict)
    if head.get("schema") != SCHEMA or head.get("grid") != grid:
        _refuse(path, f"is a store of another grid or modspec version (modspec "
                      f"{head.get('modspec')!s:.20}, grid key {str(head.get('grid'))[:12]}; "
                      f"this sweep: modspec {_version.__version__}, grid key {grid[:12]})")
