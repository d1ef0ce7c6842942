"""The one exception type for user errors, and the checks of plain numbers every layer
makes with it (standard library only, so any layer imports them cheaply)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["ModspecError", "bad", "check_integer", "check_number"]


class ModspecError(ValueError):
    """A user error: the message names the parameter, the value given and what is allowed.

    The command line turns it into one line on stderr and exit status 2. Internal bugs are
    never wrapped in it; they stay loud tracebacks.
    """


def bad(param: str, value: object, allowed: str) -> ModspecError:
    """Build the standard message ``<param>=<value> is invalid: <allowed>``."""
    return ModspecError(f"{param}={_show(value)} is invalid: {allowed}")


def _show(value: object) -> str:
    """``repr`` of the value, with integers too long to print in full shown by their size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<{'-' if value < 0 else ''}integer of {value.bit_length()} bits>"
    return repr(value)


def check_integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int ``low ≤ value (≤ high)``, else a ModspecError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low \
            or (high is not None and value > high):
        raise bad(name, value, f"must be an integer ≥ {low}" if high is None
                  else f"must be an integer in [{low}, {high}]")
    return int(value)


def check_number(name: str, value: Any, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float (``> low`` when strict, ``≥ low``), else a ModspecError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (low is None or (value > low if strict else value >= low))
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '≥'} {low:g}"
        raise bad(name, value, f"must be a finite number{bound}")
    return float(value)
