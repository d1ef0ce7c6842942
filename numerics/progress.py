"""Progress bars of long runs (``tqdm.auto``: a widget in Jupyter, a line on stderr elsewhere).

On by default (``progress=True`` in :func:`modspec.numerics.simulate.simulate` and
:func:`modspec.validation.training.train`; ``--quiet`` on the command line turns them off) where
someone watches: in a Jupyter kernel or on a terminal (stderr a TTY), not in a log file or a
pipe. A bar appears only once a run has taken :data:`DELAY` seconds, so short runs print
nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DELAY", "counted", "epoch_bar"]

#: Seconds a run goes on before its bar appears.
DELAY = 2.0


class _Off:
    """A bar that draws nothing (``progress=False``)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _interactive() -> bool:
    """Whether someone watches: a Jupyter kernel, or stderr on a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:                  # a closed stream
        return False


def epoch_bar(epochs: int, progress: bool, desc: str) -> Any:
    """A bar of ``epochs`` epochs (``update()`` once per epoch, ``close()`` at the end), or
    one that draws nothing when ``progress`` is false or there are no epochs."""
    if not progress or epochs <= 0 or not _interactive():
        return _Off()
    import warnings

    with warnings.catch_warnings():      # tqdm.auto without ipywidgets falls back to text
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(total=int(epochs), desc=desc, unit="epoch", delay=DELAY, leave=False,
                mininterval=0.5, file=sys.stderr)


def counted(steps: Iterable[int], bar: Any) -> Iterator[int]:
    """``steps``, advancing ``bar`` by one after each step's body; closes it at the end (a
    ``break``, an exception or the last step)."""
    try:
        for step in steps:
            yield step
            bar.update(1)
    finally:
        bar.close()
