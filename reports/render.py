"""Figures drawn side by side: a run's figures as PNG bytes, on every core this process may use.

Drawing is most of a report's time (text layout and rasterising, in Python and Agg: one core each) and the figures
are independent, so each is drawn in a forked copy of this process, which already holds the data and matplotlib: no
data is sent, only the figure's name, and its PNG comes back. Where fork is not available (macOS and Windows start
processes afresh), on one core, or for a single figure, they are drawn here one after the other. The bytes do not
depend on where a figure was drawn.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable

from .figures import to_png

_JOBS: dict[str, Callable] = {}  # the figures being drawn, read by the forked children


def _draw(name: str) -> tuple[str, bytes]:
    return name, to_png(_JOBS[name]())


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pngs(jobs: dict[str, Callable], processes: int | None = None) -> dict[str, bytes]:
    """``{name: PNG bytes}`` of ``jobs`` (``{name: function returning a matplotlib Figure}``), in the order given,
    drawn on ``processes`` forked children (default: the cores, at most one per figure; 1: here)."""
    n = min(processes or _cores(), len(jobs))
    if n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: to_png(make()) for name, make in jobs.items()}
    global _JOBS
    _JOBS = dict(jobs)
    try:
        with multiprocessing.get_context("fork").Pool(n) as pool:
            drawn = dict(pool.imap_unordered(_draw, list(jobs), chunksize=1))
    finally:
        _JOBS = {}
    return {name: drawn[name] for name in jobs}
