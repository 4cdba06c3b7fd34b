"""Figures drawn side by side, in processes started before the figures' data exist.

Drawing is most of a report's time (text layout and rasterising, in Python and Agg: one core each), and importing
matplotlib a good part of the rest. A ``Painter`` forks its worker processes when it is created, so that their
imports (matplotlib, pandas, the figure functions) run on the idle cores while the caller computes what the figures
show; ``pngs`` then sends each figure's name and data (a ``Drawing``: a figure function of ``qcoord.reports`` by name,
and its arguments) and gets its PNG back. The caller itself never imports matplotlib. It starts one worker per idle
core (``idle_cores``); where no core is idle, where fork is not available (macOS and Windows start processes
afresh), or with ``processes=1``, figures are drawn in the calling process one after the other. The bytes do not
depend on where a figure was drawn.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Drawing:
    """One figure to draw: ``function``, the name of a figure function of ``qcoord.reports`` (``"cumulative_pnl"``),
    called with ``args`` and ``kwargs``; calling the Drawing returns the matplotlib Figure."""

    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __call__(self):
        from .. import reports

        return getattr(reports, self.function)(*self.args, **self.kwargs)


def _png(drawing: Drawing) -> bytes:
    from .figures import to_png

    return to_png(drawing())


def _ready() -> None:
    """A worker's start: it leaves Ctrl-C to the caller (which stops the pool), and imports what drawing needs."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import figures, link, scan  # noqa: F401  (matplotlib with them)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def idle_cores() -> int:
    """The cores this process may use that nothing else is using: its cores less the last minute's load average.
    Drawing side by side pays only on idle cores: on a machine whose cores are busy, the workers' own imports and
    the copying cost more than they save (measured: 4.5 s against 5.4 s for the default backtest at load 2 on two
    cores)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): assume the cores are free
        load = 0.0
    return max(0, min(_cores(), int(_cores() - load + 0.5)))


class Painter:
    """Worker processes that draw figures (module docstring); a context manager that stops them on exit."""

    def __init__(self, processes: int | None = None) -> None:
        n = idle_cores() if processes is None else processes
        self.pool = None
        if n >= 1 and processes != 1 and "fork" in multiprocessing.get_all_start_methods():
            self.pool = multiprocessing.get_context("fork").Pool(n, initializer=_ready)

    def pngs(self, drawings: dict[str, Drawing]) -> dict[str, bytes]:
        """``{name: PNG bytes}`` of ``drawings``, in the order given."""
        if self.pool is None:
            return {name: _png(d) for name, d in drawings.items()}
        pending = {name: self.pool.apply_async(_png, (d,)) for name, d in drawings.items()}
        return {name: result.get() for name, result in pending.items()}

    def close(self, failed: bool = False) -> None:
        if self.pool is not None:
            (self.pool.terminate if failed else self.pool.close)()
            self.pool.join()
            self.pool = None

    def __enter__(self) -> Painter:
        return self

    def __exit__(self, kind, *rest) -> None:
        self.close(failed=kind is not None)


def pngs(drawings: dict[str, Drawing], processes: int | None = None) -> dict[str, bytes]:
    """``{name: PNG bytes}`` of ``drawings`` (``{name: Drawing}``), drawn side by side (``Painter``)."""
    if processes == 1 or len(drawings) < 2:
        return {name: _png(d) for name, d in drawings.items()}
    with Painter(None if processes is None else min(processes, len(drawings))) as painter:
        return painter.pngs(drawings)
