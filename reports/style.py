"""One look for every figure: a colour per strategy (the same in every figure and report), readable axes.

Figures are drawn 6.4 inches wide at 100 dpi (640 px) with 10-12 pt text, so that on a 390 px phone, where the
report scales them to about 370 px, the smallest text is still about 8 px; legends sit below the plot, never on
the lines."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, works on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])

WIDTH, DPI = 6.4, 100  # inches, dots per inch: 640 px, see the module docstring
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


@contextmanager
def house_style():
    """Matplotlib's own defaults with STYLE on top, whatever another library in the process set globally (quantstats
    imports seaborn's theme: bigger fonts, other faces, and our legends outgrew their figures); the caller's
    settings are back afterwards."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        with matplotlib.rc_context(STYLE):
            yield


def styled(draw: F) -> F:
    """``draw`` (a function returning a figure) run in ``house_style``."""

    @functools.wraps(draw)
    def run(*args, **kwargs):
        with house_style():
            return draw(*args, **kwargs)

    return cast(F, run)


COLOURS = {
    "uncoordinated": "#9e9e9e",
    "always_hedge": "#8c564b",
    "classical": "#1f77b4",
    "history": "#9467bd",
    "classical_levels": "#17becf",
    "quantum": "#d62728",
    "quantum_levels": "#ff9896",
    "oracle": "#111111",
    "regime_oracle": "#2ca02c",
    "delayed_comm": "#ff7f0e",
    "textbook": "#e377c2",
    "follow_indicator": "#bcbd22",
}
_SPARE = ["#7f7f7f", "#aec7e8", "#ffbb78", "#c5b0d5", "#98df8a"]
ORDER = list(COLOURS)


def colour(name: str) -> str:
    """The strategy's colour (stable for unknown names too)."""
    if name in COLOURS:
        return COLOURS[name]
    return _SPARE[sum(map(ord, name)) % len(_SPARE)]


def ordered(names) -> list[str]:
    """Strategies in the report's usual order (baselines first, then quantum, then benchmarks)."""
    known = [n for n in ORDER if n in names]
    return known + [n for n in names if n not in known]


def time_axis(ax) -> None:
    """Concise date labels (no overlapping timestamps on long or intraday runs)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def new_figure(width: float = WIDTH, height: float = 4.4):
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI, layout="constrained")
    ax.grid(True, alpha=0.3)
    return fig, ax


def legend_below(fig, ax, ncols: int = 3) -> None:
    """The axes' legend below the figure, outside every plot area (it never covers a line)."""
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(ncols, len(labels)), frameon=False)


def identical_styles(frame) -> dict[str, dict]:
    """Line styles that keep identical curves visible: the k strategies of ``frame`` (columns) with exactly the same
    values are drawn as interleaved dashes (member i dashes where the others leave gaps), each labelled with the
    first of its group, so that none hides another. Others get a solid line."""
    names = list(frame.columns)
    values = {n: np.asarray(frame[n], dtype=float) for n in names}
    groups: list[list[str]] = []
    for n in names:
        for g in groups:
            if np.array_equal(values[g[0]], values[n], equal_nan=True):
                g.append(n)
                break
        else:
            groups.append([n])
    out: dict[str, dict] = {}
    dash = 5.0
    for g in groups:
        k = len(g)
        for i, n in enumerate(g):
            if k == 1:
                out[n] = {"ls": "-", "label": n}
            else:
                out[n] = {"ls": (i * dash, (dash, (k - 1) * dash)), "label": n if i == 0 else f"{n} (= {g[0]})"}
    return out


def compact(v: float) -> str:
    """A tick value in at most about five characters: 0.8, 40, 2000, 20k, 3M, 1e-05."""
    a = abs(v)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if a >= size:
            return f"{v / (size if suffix != 'k' else 1e3):g}{suffix}"
    return f"{v:g}"


def sparse_log_ticks(ax, axis: str = "y", most: int = 6) -> None:
    """A log-scaled axis labelled with at most ``most`` plain numbers (0.8, 40, 2000, 20k; never 8 x 10^-1), at the
    densest of 1, 1-3 or 1-2-5 per decade that fits, or every second or third decade over a wide range; the
    other ticks are unlabelled marks. Labels are chosen from the axis' limits when it is drawn, so a limit set
    later still gets its labels."""
    from matplotlib.ticker import FuncFormatter, Locator, LogLocator, MaxNLocator, NullFormatter

    which = ax.yaxis if axis == "y" else ax.xaxis

    class Sparse(Locator):
        def __call__(self):
            return self.tick_values(*which.get_view_interval())

        def tick_values(self, vmin, vmax):
            lo, hi = sorted((vmin, vmax))
            if not (lo > 0 and hi > lo):
                return []
            first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
            inside = [10.0**e for e in range(first, last + 1) if lo * (1 - 1e-9) <= 10.0**e <= hi * (1 + 1e-9)]
            ticks = inside[:: int(np.ceil(len(inside) / most))] if inside else []
            for mantissas in ((1, 2, 5), (1, 3), (1,)):
                some = [
                    t
                    for t in (m * 10.0**e for e in range(first, last + 1) for m in mantissas)
                    if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)
                ]
                if len(some) <= most:
                    ticks = some
                    break
            if len(ticks) < 2:  # a range narrower than 1-2-5 marks (0.8 to 1.2): evenly spaced plain numbers
                ticks = [t for t in MaxNLocator(4).tick_values(lo, hi) if lo <= t <= hi and t > 0]
            return ticks

    which.set_major_locator(Sparse())
    which.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    which.set_minor_locator(LogLocator(subs=tuple(float(k) for k in range(2, 10))))
    which.set_minor_formatter(NullFormatter())


def plain_log_ticks(ax) -> None:
    """A log-scaled y axis with sparse plain labels (``sparse_log_ticks``)."""
    sparse_log_ticks(ax, "y")


def time_values(index):
    """An index as plain numbers or numpy datetimes (the exchange's wall clock for a tz-aware index): matplotlib
    draws these without converting every timestamp through pandas, a third of a figure's time otherwise."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return (index.tz_localize(None) if index.tz is not None else index).to_numpy()
    return np.asarray(index)
