"""BLAS on one thread for the batched simulators' many small matrix products."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["single_threaded_blas"]


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread (when ``threadpoolctl`` is available).

    The batched step is many small matrix products; multi-threaded BLAS only adds
    synchronisation to each of them (measured: 5× slower on a loaded 2-core machine). The
    BLAS libraries are found once per process (a scan of the loaded libraries costs about a
    millisecond, a few percent of a short run).
    """
    controller = _blas_controller()
    if controller is None:  # optional: without threadpoolctl BLAS keeps its own thread count
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now (NumPy's), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()
