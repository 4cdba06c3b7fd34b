"""One look for every figure: a colour per strategy (the same in every figure and report), readable axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, works on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402

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


def new_figure(width: float = 8.0, height: float = 4.5):
    fig, ax = plt.subplots(figsize=(width, height), dpi=110, layout="constrained")
    ax.grid(True, alpha=0.3)
    return fig, ax
