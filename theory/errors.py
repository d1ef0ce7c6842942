"""The one exception type for user errors."""

from __future__ import annotations

__all__ = ["ModspecError", "bad"]


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
