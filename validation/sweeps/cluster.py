"""The Dask executor: a sweep's bundles on a Dask distributed cluster.

:class:`Dask` connects before any work (:func:`connect`: a scheduler address, a ``Client``
used as it is, or a cluster such as ``LocalCluster``), checks that every worker runs the
client's Python packages and modspec version, submits each bundle as a task and yields its
rows as it finishes. A cluster that loses every worker stops the driver in one line after
:data:`NO_WORKERS_S` (the finished points are in the store); a bundle whose workers keep dying
is one line (Dask's ``KilledWorker``). Dask is imported only here, when the executor is used
(``pip install 'modspec[dask]'``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from modspec.theory.errors import ModspecError, bad

if TYPE_CHECKING:
    from .executors import ExecutorOptions, Rows, Task
    from .point import Point

__all__ = ["Dask", "HANDSHAKE_BYTES", "NO_WORKERS_S", "POLL_S", "connect", "modspec_version"]


def modspec_version() -> str:
    """The modspec version of the process that runs this (asked of every Dask worker)."""
    from modspec._version import __version__

    return __version__


#: The largest first message a Dask scheduler sends (its handshake: a few hundred bytes).
HANDSHAKE_BYTES = 2**20


def _probe(address: str, timeout: float) -> None:
    """Refuse in one line, within ``timeout``, a service at ``address`` that is not a Dask
    scheduler: a Dask server sends its handshake as soon as a connection opens (an 8-byte
    little-endian length, then the message), so a service that stays silent (one that accepts
    but never answers, an HTTP server) or announces an absurd length is no scheduler (Dask's
    own client would wait forever on the first, and try to allocate exabytes on the second)."""
    import socket

    host, _, port = address.partition("://")[2].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise bad("--scheduler", address, "closed the connection without the "
                              "handshake of a Dask scheduler")
                head += chunk
    except TimeoutError:
        raise bad("--scheduler", address, f"accepts connections but sent no Dask handshake "
                  f"within {timeout:g} s: not a Dask scheduler") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise bad("--scheduler", address, f"cannot connect ({reason})") from None
    size = int.from_bytes(head, "little")
    if size > HANDSHAKE_BYTES:
        raise bad("--scheduler", address, f"does not speak Dask's protocol (its first message "
                  f"announces {size} bytes)")


def connect(address: Any, timeout: float = 5.0) -> Any:
    """A Dask client of the scheduler at ``address`` (``tcp://HOST:PORT``, a ``Client``, used
    as it is, or a cluster such as ``LocalCluster``), its workers checked: Python packages as
    the client's (``get_versions(check=True)``) and the same modspec version."""
    try:
        from distributed import Client
    except ImportError:
        raise bad("--scheduler", address,
                  "needs Dask (pip install 'modspec[dask]')") from None
    if isinstance(address, Client):
        client = address
    else:
        if isinstance(address, str):
            _probe(address, timeout)
        try:
            client = Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise bad("--scheduler", address, f"cannot connect ({reason})") from None
    try:
        client.get_versions(check=True)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise bad("--scheduler", address, "has no workers") from None
        versions = client.run(modspec_version)
        mine = modspec_version()
        other = {w: v for w, v in versions.items() if v != mine}
        if other:
            worker, version = next(iter(other.items()))
            raise bad("--scheduler", address,
                      f"worker {worker} runs modspec {version}, this client {mine}")
    except ValueError as exc:           # get_versions(check=True): mismatched packages
        if client is not address:
            client.close()
        if isinstance(exc, ModspecError):
            raise
        raise bad("--scheduler", address,
                  f"versions differ ({str(exc).splitlines()[0]})") from None
    return client


#: How often the driver looks at a Dask cluster while it waits, and how long it waits on a
#: cluster that has lost every worker before it stops (its finished points are stored).
POLL_S = 1.0
NO_WORKERS_S = 30.0


def _result(future: Any) -> list[dict[str, Any]]:
    """A bundle's rows; a bundle whose workers kept dying is one line, not a traceback."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        raise bad("--scheduler", "a worker", "died each time it ran a bundle of points (Dask "
                  "KilledWorker: out of memory or killed); the finished points are in the "
                  "store") from None



class Dask:
    """Bundles on a Dask cluster (``options.scheduler``, an address ``tcp://HOST:PORT``, or
    ``options.client``: a ``Client``, left open with this sweep's futures cancelled at the
    end, or a cluster such as ``LocalCluster``, whose client the executor makes and closes).
    The cluster balances the work itself: bundles are cut as for one worker."""

    workers = 1

    def __init__(self, options: ExecutorOptions) -> None:
        scheduler, client = options.scheduler, options.client
        if scheduler is not None and not str(scheduler).startswith("tcp://"):
            raise bad("--scheduler", scheduler, "must be an address tcp://HOST:PORT")
        if scheduler is not None and client is not None:
            raise bad("client", client, "give a scheduler address or a client, not both")
        if client is not None and (isinstance(client, (str, bytes)) or
                                   not hasattr(client, "scheduler_info")):
            raise bad("client", type(client).__name__, "must be a Dask Client or a cluster "
                      "(LocalCluster); an address goes to scheduler=")
        if scheduler is None and client is None:
            raise bad("--executor", "dask", "needs a cluster: --scheduler tcp://HOST:PORT "
                      "(Python: scheduler= or client=)")
        self.client = connect(scheduler if client is None else client)
        self.own = self.client is not client

    def map(self, task: Task, work: Sequence[Sequence[Point]]) -> Iterator[Rows]:
        import time

        from distributed import wait

        client, futures = self.client, []
        try:
            futures = [client.submit(task, bundle, pure=False) for bundle in work]
            pending, idle_since = set(futures), None
            while pending:
                try:
                    done, pending = wait(pending, timeout=POLL_S,
                                         return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                for future in done:
                    yield _result(future)
                if done or client.scheduler_info().get("workers"):
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > NO_WORKERS_S:
                    raise bad("--scheduler", getattr(client, "scheduler", None) and
                              client.scheduler.address, f"has had no workers for "
                              f"{NO_WORKERS_S:g} s with {len(pending)} bundle(s) of points "
                              "left: the finished points are in the store; start workers "
                              "and run the sweep again")
        finally:
            if not self.own:
                client.cancel(futures)

    def close(self) -> None:
        """Close the client the executor made (a user's own ``Client`` stays open)."""
        if self.own:
            self.client.close()
