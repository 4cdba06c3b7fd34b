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
from contextlib import contextmanager

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
        index: dict = {}  # future -> task number
        lost: dict[int, int] = {}  # task number -> times its data went with the workers that held it

        def submit(i: int):
            future = self.client.submit(func, data[0], *tasks[i], pure=False, retries=RETRIES)
            index[future] = i
            return future

        pending = as_completed([submit(i) for i in range(len(tasks))])
        self._index = index
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

    def finished(self) -> Iterator[tuple[int, object]]:
        """After an interrupt: (index, result) of the tasks that finished but were not yet taken, without waiting
        for the others (which are cancelled)."""
        index, self._index = getattr(self, "_index", {}), {}
        for future, i in list(index.items()):
            if future.status == "finished":
                try:
                    yield i, future.result(timeout=5)
                except Exception:  # noqa: BLE001 - a result that cannot be fetched now is computed by a rerun
                    continue
        self.client.cancel(list(index))

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
            raise BacktestError(
                f"cannot reach the Dask scheduler at {address}: the port answers, but not as a Dask "
                "scheduler (is it the dashboard's HTTP port? the scheduler's is usually 8786)"
            )


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
            raise BacktestError(
                f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}"
            ) from None
        return DaskExecutor(client)
    import dask

    n = workers or os.cpu_count() or 1
    # One thread a worker: the engine's kernels hold the GIL between numpy calls, processes scale. Dask's nanny
    # starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand every freed numpy temporary back to the
    # kernel and fault it in again: backtests ran 50% slower than in a plain loop (measured), so it is left unset.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), _sigint_ignored():
        # each worker ignores Ctrl-C (batch.worker): this process takes it, keeps what finished, closes the cluster
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # this machine only: ":0" would serve it on every interface
            silence_logs=40,
            preload=["qcoord.backtest.batch.worker"],
        )
    return DaskExecutor(Client(cluster), cluster)


@contextmanager
def _sigint_ignored():
    """Worker processes started in the block ignore Ctrl-C: they inherit an ignored SIGINT across exec, and Python
    leaves an ignored SIGINT ignored. A Ctrl-C in the terminal reaches the whole process group, and workers that took
    it (while still importing, or later) each printed a traceback; this process takes it instead, keeps what
    finished and closes the cluster. The price: a Ctrl-C in the seconds the cluster takes to start is not seen. Only
    the main thread may change a handler; elsewhere nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def announce(ex, stream=None, detail: str = "") -> None:
    """Where the tasks run and, for Dask, the dashboard (stderr, so stdout stays the result), wrapped to 80
    columns. The stream is looked up when called: a default bound at import kept whatever sys.stderr was then (a
    closed capture, in a test)."""
    import textwrap

    stream = stream or sys.stderr
    where = (
        "running here, one after another"
        if isinstance(ex, LocalLoop)
        else f"running on {ex.name}, {ex.workers} worker(s)"
    ) + (f": {detail}" if detail else "")
    if ex.dashboard:
        where += f"; dashboard {ex.dashboard}"
    print(
        "\n".join(textwrap.wrap(where, 80, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)),
        file=stream,
    )


CLUSTER_SECONDS = 15.0  # serial work (s) from which a local cluster pays for its start on two cores (measured)


def choose(scheduler: str | None = None, workers: int | None = None, unit: str = "job"):
    """The executor of a scan or sweep: the one asked for (``executor``), or with neither ``scheduler``, ``workers``
    nor $DASK_SCHEDULER_ADDRESS, ``Auto``: serial or a local cluster by the size of the work. Explicit choices are
    announced here (a wrong address fails before anything is written); ``Auto`` announces its own."""
    if scheduler or workers is not None or os.environ.get(ENV):
        ex = executor(scheduler, workers)
        announce(ex)
        return ex
    return Auto(unit)


class Auto:
    """Serial or a local Dask cluster, chosen by the size of the work: the first two tasks run here (the first warms
    up imports and kernels, the second is timed); when the tasks left would take more than ``CLUSTER_SECONDS`` one
    after another and the machine has more than one core, a local cluster of every core runs them, else they run
    here. The choice is announced with its reason. Results do not depend on it (tasks draw their randomness from
    their own seeds)."""

    name, dashboard = "auto", None

    def __init__(self, unit: str = "job", cores: int | None = None, threshold: float = CLUSTER_SECONDS) -> None:
        self.unit, self.threshold, self.offset = unit, threshold, 0
        self.inner: LocalLoop | DaskExecutor | None = None  # chosen after the timed task
        self.cores = (
            cores
            if cores is not None
            else len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )

    @property
    def workers(self) -> int:
        return self.inner.workers if self.inner is not None else 1

    def map(self, func: Callable, shared, tasks: list) -> Iterator[tuple[int, object]]:
        import time

        done = 0
        each = 0.0
        for k in range(min(2, len(tasks))):  # the first task warms up (imports, kernels); the second is timed
            start = time.perf_counter()
            result = func(shared, *tasks[k])
            each = time.perf_counter() - start
            done += 1
            yield k, result
        rest, self.offset = tasks[done:], done
        if not rest:
            return
        size = len(result) if isinstance(result, list) else 1  # a task is a batch of jobs (batch.jobs.run_group)
        left = len(rest) * each
        per = f"{each / size:.2g} s a {self.unit}"
        inner: LocalLoop | DaskExecutor
        if left > self.threshold and self.cores > 1:
            inner = executor(None, self.cores)
            announce(inner, detail=f"about {left:.0f} s of work left at {per}")
        else:
            inner = LocalLoop()
            why = (
                "one core"
                if self.cores <= 1
                else f"under {self.threshold:.0f} s, a local cluster would not pay for its start"
            )
            announce(inner, detail=f"about {left:.1f} s of work left at {per} ({why})")
        self.inner = inner
        for i, result in inner.map(func, shared, rest):
            yield i + done, result

    def finished(self) -> Iterator[tuple[int, object]]:
        inner = getattr(self.inner, "finished", None)
        if inner is not None:
            for i, result in inner():
                yield i + self.offset, result  # the inner executor got the tasks after those run here

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
