"""The result store of a sweep: JSON lines, one row per finished point, one writer.

Each line is one flat JSON object: ``key`` (SHA-256 of the point's full specification,
:attr:`~modspec.validation.sweep_grid.Point.key`), the point's parameters under their own
names (``nx``, ``kx``, ``rx``, ``arch``, …) and the results, ``theory.<obs>``,
``simulate.<obs>``, ``simulate.<obs>.std``, ``train.<obs>`` … (``null`` where a value does not
exist). pandas reads a finished store in one line, ``pandas.read_json(STORE, lines=True)``;
:func:`load_sweep` does the same and also skips a truncated last line.

Only the driver writes, appending one line per finished point, flushed and fsync-ed, so a
killed sweep (even SIGKILL) loses only what was in flight. A line cut short by a kill has no
newline: :func:`open_store` cuts it off before appending, so every row in the store is whole
and no key is ever written twice (finished keys are skipped).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Any

from modspec.theory.errors import bad

__all__ = ["Store", "load_sweep", "open_store", "read_rows"]


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The whole rows of a store (a last line without its newline is left out)."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    rows = []
    for number, line in enumerate(whole.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise bad("STORE", str(path), f"line {number} is not a JSON row") from None
        if not isinstance(row, dict) or "key" not in row:
            raise bad("STORE", str(path), f"line {number} is not a sweep row (no key)")
        rows.append(row)
    return rows


def load_sweep(path: str | Path) -> Any:
    """A sweep's store as a pandas DataFrame: one row per point, a column per parameter
    (``nx``, ``kx``, ``arch``, …) and per result (``theory.Gx->Oy``, ``simulate.Gx->Oy``,
    ``simulate.Gx->Oy.std``, ``simulate.half_rise.pi1`` …; NaN where a value does not
    exist), in the order the points finished."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise bad("STORE", str(path), "must be an existing sweep store (modspec sweep --out)")
    return pd.DataFrame(read_rows(path))


def _plain(value: Any) -> Any:
    """JSON has no NaN or Infinity: a non-finite number is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Store:
    """The one writer of a store: :meth:`append` writes one whole row, durably."""

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


def open_store(path: str | Path) -> Store:
    """Open (or create) a store for appending: a truncated last line is cut off, the keys of
    the whole rows are the finished points."""
    path = Path(path)
    if path.is_dir():
        raise bad("--out", str(path), "must be a file (the store), not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {row["key"] for row in read_rows(path)}
    fh = open(path, "ab")
    size = fh.seek(0, os.SEEK_END)
    if size:
        with open(path, "rb") as check:
            check.seek(size - 1)
            last = check.read(1)
        if last != b"\n":                       # a row cut short by a kill: drop it
            data = path.read_bytes()
            fh.truncate(data.rfind(b"\n") + 1)
    return Store(path, fh, done)
