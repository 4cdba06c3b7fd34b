"""Where many backtests run: in this process, on a local Dask cluster, or on an existing one.

``executor(scheduler, workers)`` returns one of:

- ``LocalLoop``: ``workers=0``, a plain loop in this process (the baseline the benchmarks compare with);
- ``DaskExecutor`` on a ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes (default:
  the machine's cores), or on the scheduler at ``scheduler`` (``tcp://HOST:PORT``, or ``$DASK_SCHEDULER_ADDRESS``),
  whose workers must have qcoord installed.

Both take a function, one shared object (the data: scattered to every worker once, not shipped per task) and
a list of task arguments, and yield ``(index, result)`` as tasks finish. A task whose worker dies is run again
elsewhere by the scheduler; one that raises is retried ``RETRIES`` times, then its error is raised here.
Results never depend on which worker ran what: tasks draw their randomness from their own seeds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

from ..errors import BacktestError

RETRIES = 2
ENV = "DASK_SCHEDULER_ADDRESS"


class LocalLoop:
    """Tasks one after the other in this process."""

    name = "local loop"
    dashboard = None
    workers = 1

    def map(self, func: Callable, shared, tasks: list) -> Iterator[tuple[int, object]]:
        for i, args in enumerate(tasks):
            yield i, func(shared, *args)

    def close(self) -> None:
        pass


class DaskExecutor:
    """Tasks on a Dask cluster (``client``); ``cluster`` is the LocalCluster we started, closed with us."""

    def __init__(self, client, cluster=None):
        self.client, self.cluster = client, cluster
        self.name = "local Dask cluster" if cluster is not None else f"Dask scheduler {client.scheduler.address}"
        self.dashboard = client.dashboard_link

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def map(self, func: Callable, shared, tasks: list) -> Iterator[tuple[int, object]]:
        from concurrent.futures import CancelledError

        from distributed import as_completed

        # once, to every worker; tasks receive a reference. Under a fresh key (hash=False): with the content's hash,
        # a second map of the same data reused the key the first one's release was still dropping from the workers
        # ('Could not find data', then a retry)
        data = [self.client.scatter(shared, broadcast=True, hash=False)]
        index, lost = {}, {}

        def submit(i: int):
            future = self.client.submit(func, data[0], *tasks[i], pure=False, retries=RETRIES)
            index[future] = i
            return future

        pending = as_completed([submit(i) for i in range(len(tasks))])
        for future in pending:
            i = index.pop(future)
            try:
                result = future.result()
            except CancelledError:  # its data went with the workers that held it: scatter again, run it again
                lost[i] = lost.get(i, 0) + 1
                if lost[i] > RETRIES:
                    raise BacktestError(f"task {i} was cancelled {lost[i]} times (its workers keep dying?)") from None
                data[0] = self.client.scatter(shared, broadcast=True, hash=False)
                pending.add(submit(i))
                continue
            yield i, result

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


CONNECT_SECONDS = 5  # a scheduler that does not answer a Dask handshake in this time is not one


def check_scheduler(address: str, seconds: float = 3.0) -> None:
    """A scheduler address is ``tcp://HOST:PORT`` (or tls://) whose port accepts a connection within ``seconds``:
    checked before anything is written, so a wrong address is one line, not a hang or a traceback."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("tcp", "tls") or not host or not port:
        raise BacktestError(f"scheduler {address!r}: give a Dask scheduler address as tcp://HOST:PORT")
    try:
        conn = socket.create_connection((host, port), timeout=seconds)
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise BacktestError(f"cannot reach the Dask scheduler at {address}: {reason} within {seconds:g} s") from None
    with conn:
        if parts.scheme == "tcp" and not _speaks_dask(conn):
            raise BacktestError(f"cannot reach the Dask scheduler at {address}: the port answers, but not as a Dask "
                                "scheduler (is it the dashboard's HTTP port? the scheduler's is usually 8786)")


def _speaks_dask(conn) -> bool:
    """A Dask scheduler speaks first: on a new connection it sends its handshake, a message whose first 8 bytes are
    its length (little-endian). An HTTP server sends nothing until asked; other services send text."""
    head = b""
    try:
        while len(head) < 8:
            chunk = conn.recv(8 - len(head))
            if not chunk:
                return False
            head += chunk
    except OSError:  # nothing within the timeout
        return False
    return 0 < int.from_bytes(head, "little") < 1 << 24


def executor(scheduler: str | None = None, workers: int | None = None):
    """The executor for ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), else a LocalCluster of ``workers``
    processes (default: the cores), or a plain loop with ``workers=0``."""
    scheduler = scheduler or os.environ.get(ENV) or None
    if workers == 0 and scheduler is None:
        return LocalLoop()
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # a dependency: only a broken install gets here
        raise BacktestError(f"Dask is not installed ({exc}); pip install 'dask[distributed]'") from None
    if scheduler is not None:
        if workers is not None:
            raise BacktestError("--workers sizes a local cluster; with --scheduler the cluster has its own workers")
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except Exception as exc:  # noqa: BLE001 - a port that answers but is no Dask scheduler fails in many ways
            raise BacktestError(f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}") from None
        return DaskExecutor(client)
    import dask

    n = workers or os.cpu_count() or 1
    # One thread a worker: the engine's kernels hold the GIL between numpy calls, processes scale. Dask's nanny
    # starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand every freed numpy temporary back to the
    # kernel and fault it in again: backtests ran 50% slower than in a plain loop (measured), so it is left unset.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=40)
    return DaskExecutor(Client(cluster), cluster)


def announce(ex, stream=None) -> None:
    """Where the tasks run and, for Dask, the dashboard (stderr, so stdout stays the result). The stream is looked
    up when called: a default bound at import kept whatever sys.stderr was then (a closed capture, in a test)."""
    stream = stream or sys.stderr
    where = f"{ex.name}, {ex.workers} worker(s)"
    if ex.dashboard:
        where += f"; dashboard {ex.dashboard}"
    print(f"running on {where}", file=stream)
