"""Writes and checks the cache entries shipped with modspec (:mod:`modspec.theory.shipped`).

    python -m modspec.theory.ship --write     # derive the entries, write shipped_cache.json
    python -m modspec.theory.ship --check     # exit 1 when the file differs from the derivations

Each derives every shipped key afresh in its own process, through an empty temporary cache
folder and without reading the shipped file, and takes what the disk cache stored: the very
trees a first run would store.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import shipped
from .shipped import KEYS, SHIPPED, digest

__all__ = ["main"]


def _derive() -> list[dict[str, Any]]:
    """Every entry of :data:`KEYS` derived now, through a fresh temporary cache folder (what
    the disk cache would hold: the same trees)."""
    import os
    import tempfile

    shipped._READ = False
    with tempfile.TemporaryDirectory() as where:
        os.environ["MODSPEC_CACHE_DIR"] = where
        from . import cache, dynamics

        for L in (1, 2):
            dynamics.half_rise_time(L)      # derives f(a), a(t) and the half-rise time
        out = []
        for key in KEYS:
            value = cache.load(key)
            if value is None:
                raise RuntimeError(f"the derivation of {key} was not stored")
            out.append({"key": key, "sha256": digest(key, value), "value": value})
    return out


def main(argv: list[str] | None = None) -> int:
    """``--write``: derive the entries and write :data:`SHIPPED`; ``--check``: exit 1 when the
    shipped file differs from the derivations (run each in a fresh process)."""
    parser = argparse.ArgumentParser(prog="python -m modspec.theory.ship",
                                     description=main.__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="derive and write the file")
    mode.add_argument("--check", action="store_true", help="derive and compare")
    args = parser.parse_args(argv)
    text = json.dumps({"entries": _derive()}, indent=1, sort_keys=True) + "\n"
    if args.write:
        SHIPPED.write_text(text, encoding="utf-8")
        return 0
    same = SHIPPED.is_file() and SHIPPED.read_text(encoding="utf-8") == text
    print("shipped cache entries are current" if same else
          f"{SHIPPED} differs from the derivations: run python -m modspec.theory.ship --write")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
