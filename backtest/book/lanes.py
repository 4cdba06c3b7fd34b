"""``Lanes``: the per-strategy work of a chunk spread over threads, results in the order given.

Every strategy's work on a chunk (its decisions, its fills, its running sums) is independent of the others':
each has its own random stream and its own state, and every compiled kernel it runs releases the GIL
(``nogil=True``), as do numpy's random draws and array arithmetic. So the strategies of a chunk can run on
several cores at once, and the results are bit-identical to a serial run whatever the number of threads: each
item is computed by the same code on the same inputs, and the caller combines the results in the order of the
items. Small chunks (a daily pair is one chunk of a few thousand rounds) run in the calling thread: handing
them to a thread costs more than it saves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

PARALLEL_ROUNDS = 1 << 16  # a chunk shorter than this runs in the calling thread
MAX_THREADS = 4  # beyond this the strategies of a default run (seven to nine) no longer balance

T = TypeVar("T")  # what a started function returns

_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def default_threads() -> int:
    """Threads for a run that does not set them: the cores this process may use, at most ``MAX_THREADS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def _pool(threads: int, name: str = "lane") -> ThreadPoolExecutor:
    """One pool per name and thread count for the whole process: creating threads for every run would cost more
    than a short run's play."""
    with _POOLS_LOCK:
        pool = _POOLS.get((name, threads))
        if pool is None:
            pool = _POOLS[name, threads] = ThreadPoolExecutor(threads, thread_name_prefix=f"qcoord-{name}")
        return pool


class Lanes:
    """Run one function over the items of a chunk on up to ``threads`` threads (1: all in the calling thread)."""

    def __init__(self, threads: int | None = None):
        self.threads = default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads!r}")

    def map(self, fn: Callable, items: Sequence, rounds: int) -> list:
        """``[fn(item) for item in items]``, the items spread over the threads when the chunk has at least
        ``PARALLEL_ROUNDS`` rounds. An error in any item is raised here, as it would be in the loop (the first
        one in item order)."""
        if self.threads == 1 or len(items) < 2 or rounds < PARALLEL_ROUNDS:
            return [fn(item) for item in items]
        futures = [_pool(self.threads).submit(fn, item) for item in items]
        wait(futures)  # all of them, so that no item still runs when an error reaches the caller
        return [f.result() for f in futures]

    def start(self, fn: Callable[[], T], rounds: int) -> Callable[[], T]:
        """Start ``fn()`` on a thread (in the calling thread, now, when the chunk is small or there is one thread)
        and return a function that waits for its result. The caller must not touch what ``fn`` changes until then."""
        return self._later(fn, rounds, "lane")

    def behind(self, fn: Callable[[], T], rounds: int) -> Callable[[], T]:
        """Like ``start``, but on a thread of its own rather than the lanes' pool, for work that itself spreads over
        the lanes (a chunk's play, while the caller builds the next chunk's inputs): waiting on the pool from a
        thread of the pool could leave no thread to do the work."""
        return self._later(fn, rounds, "behind")

    def _later(self, fn: Callable[[], T], rounds: int, pool: str) -> Callable[[], T]:
        if self.threads == 1 or rounds < PARALLEL_ROUNDS:
            value = fn()
            return lambda: value
        return _pool(self.threads if pool == "lane" else 1, pool).submit(fn).result
