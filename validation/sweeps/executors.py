"""Executors: what runs a sweep's bundles of points, by name.

An executor takes the task (:func:`~modspec.validation.sweeps.run.run_bundle`, a plain
importable function of a list of :class:`~modspec.validation.sweeps.point.Point`) and the
bundles, and yields each bundle's rows as it finishes, in any order; only the driver
(:func:`~modspec.validation.sweeps.run.sweep`) writes the store. :data:`EXECUTORS` names them,
as the study's ``PARTS`` names its parts: a new executor is a factory (a class or a function
of :class:`ExecutorOptions` returning an :class:`Executor`) and one line here, or
``EXECUTORS["name"] = factory`` from outside. ``modspec sweep --executor NAME`` and
``sweep(..., executor=NAME)`` look the name up; without one, the options choose as they always
have (:func:`implied`): a Dask cluster when one is given, this process for ``workers=0``, a
local process pool otherwise.

A factory is called before the store is opened, so it refuses its options (or an unreachable
cluster) before any work; :meth:`Executor.close` is called once the sweep ends, however it
ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from modspec.theory.errors import bad

from .cluster import Dask

if TYPE_CHECKING:
    from .point import Point

__all__ = ["EXECUTORS", "Executor", "ExecutorOptions", "Inline", "Pool", "Rows", "Task",
           "factory", "implied", "start"]

#: A bundle's rows (one dict per point), and the task that computes them.
Rows = list[dict[str, Any]]
Task = Callable[[Sequence["Point"]], Rows]


@dataclass(frozen=True)
class ExecutorOptions:
    """What the caller asked of the executor: ``workers`` (local processes; ``None``: the CPU
    count), a Dask ``scheduler`` address or a Dask ``client``/cluster object."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None

    def local(self, name: str) -> None:
        """Refuse a cluster given to an executor that runs on this machine."""
        if self.scheduler is not None or self.client is not None:
            given = "--scheduler" if self.scheduler is not None else "client"
            raise bad(given, self.scheduler or type(self.client).__name__,
                      f"is for the dask executor, not {name!r}")


class Executor(Protocol):
    """Runs bundles of points. ``workers``: how many bundles run at once, as the driver cuts
    the work (about four bundles each)."""

    workers: int

    def map(self, task: Task, work: Sequence[Sequence[Point]]) -> Iterator[Rows]:
        """Each bundle's rows, as it finishes."""
        ...

    def close(self) -> None:
        """Release what the executor holds (called once, at the end of the sweep)."""
        ...


class Inline:
    """Every bundle in this process, one after the other."""

    workers = 1

    def __init__(self, options: ExecutorOptions) -> None:
        options.local("inline")
        if options.workers not in (None, 0):
            raise bad("--workers", options.workers, "must be 0 (or not given) for the "
                      "inline executor, which runs in this process")

    def map(self, task: Task, work: Sequence[Sequence[Point]]) -> Iterator[Rows]:
        for bundle in work:
            yield task(bundle)

    def close(self) -> None:
        pass


class Pool:
    """A local pool of ``workers`` spawned processes (default: the CPU count); a worker
    leaves Ctrl-C to the driver and dies with it (:func:`_worker_start`)."""

    def __init__(self, options: ExecutorOptions) -> None:
        options.local("pool")
        self.workers = (os.cpu_count() or 1) if options.workers is None else options.workers
        if self.workers < 1:
            raise bad("--workers", self.workers, "must be ≥ 1 for the pool executor "
                      "(0 runs in this process: the inline executor)")

    def map(self, task: Task, work: Sequence[Sequence[Point]]) -> Iterator[Rows]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(work)) or 1,
                                   mp_context=context, initializer=_worker_start,
                                   initargs=(os.getpid(),))
        try:
            futures = [pool.submit(task, bundle) for bundle in work]
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            # Ctrl-C or a failed bundle: the bundles still running are stopped now rather
            # than waited for (their points are not stored; a rerun computes them)
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in set(multiprocessing.active_children()) - before:
                worker.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass


def _worker_start(driver: int) -> None:
    """A pool worker's start: it leaves Ctrl-C to the driver, which stops the sweep, and it
    dies with the driver, so a driver killed even by SIGKILL leaves no worker behind (nor the
    resource tracker, which ends when its last client does). On Linux the kernel sends the
    worker SIGKILL when the driver dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
    thread also checks every half second that the driver is still the worker's parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)          # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != driver:                  # the driver died before this worker started
        os._exit(1)

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="modspec-driver-watch", daemon=True).start()


#: The executors by name: in this process, a local process pool, a Dask distributed cluster.
EXECUTORS: dict[str, Callable[[ExecutorOptions], Executor]] = {
    "inline": Inline,
    "pool": Pool,
    "dask": Dask,
}


def implied(options: ExecutorOptions) -> str:
    """The executor the options choose when none is named: ``dask`` with a scheduler or a
    client, ``inline`` for ``workers=0``, ``pool`` otherwise."""
    if options.scheduler is not None or options.client is not None:
        return "dask"
    return "inline" if options.workers == 0 else "pool"


def factory(name: str) -> Callable[[ExecutorOptions], Executor]:
    """The factory registered as ``name``; an unknown name is one line listing the known."""
    if name not in EXECUTORS:
        raise bad("--executor", name, f"must be one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name]


def start(name: str | None, options: ExecutorOptions) -> Executor:
    """The executor ``name`` (:func:`implied` when ``None``) made for ``options``."""
    return factory(implied(options) if name is None else name)(options)
