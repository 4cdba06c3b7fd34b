"""What each worker of a local Dask cluster loads first (``cluster.executor`` passes it as the workers' preload):
the worker ignores Ctrl-C.

A Ctrl-C in the terminal reaches the whole process group, workers included; each worker that took it printed a
traceback. The scan's or sweep's own process handles the interrupt: it keeps the jobs that finished and closes the
cluster, which stops the workers.
"""

from __future__ import annotations


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload hook
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():  # only the main thread may set a handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)
