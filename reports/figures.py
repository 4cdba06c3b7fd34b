"""Figures of a run, a comparison and a sweep, from plain pandas objects. Each returns a matplotlib Figure."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .style import (
    DPI,
    WIDTH,
    colour,
    house_style,
    identical_styles,
    legend_below,
    new_figure,
    ordered,
    plain_log_ticks,
    plt,
    styled,
    time_axis,
    time_values,
)


def to_png(fig) -> bytes:
    """PNG bytes of a figure (and close it)."""
    buf = io.BytesIO()
    with house_style():  # the figure's own settings, not another library's (style.house_style)
        fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@styled
def cumulative_pnl(equity: pd.DataFrame, title: str = "Cumulative book P&L"):
    """Cumulative P&L (currency) per strategy over the test window; below it, the same curves minus their
    own average drift, which is where the strategies' hedging shows (the drift is mostly spread capture)."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(WIDTH, 6.6), dpi=DPI, sharex=True, layout="constrained", height_ratios=[3, 2]
    )
    steps = np.arange(len(equity)) / max(len(equity) - 1, 1)
    names = ordered(equity.columns)
    styles = identical_styles(equity[names])
    t = time_values(equity.index)
    for name in names:
        y = equity[name].to_numpy()
        kw = dict(color=colour(name), lw=1.6 if name == "quantum" else 1.2, **styles[name])
        top.plot(t, y, **kw)
        bottom.plot(t, y - y[-1] * steps, **kw)
    top.set_title(title)
    top.set_ylabel("cumulative P&L (currency)")
    bottom.set_ylabel("minus average drift")
    bottom.set_xlabel("time")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    if isinstance(equity.index, pd.DatetimeIndex):
        time_axis(bottom)
    legend_below(fig, top, ncols=2)
    return fig


@styled
def rolling_variance(block_var: pd.DataFrame, block_rounds: int, smooth: int = 10):
    """Book P&L variance within consecutive blocks of rounds, per strategy: raw blocks faint, a centred
    moving average over ``smooth`` blocks on top."""
    fig, ax = new_figure(height=5.0)
    names = ordered(block_var.columns)
    styles = identical_styles(block_var[names])
    t = time_values(block_var.index)
    for name in names:
        s = block_var[name]
        ax.plot(t, s.to_numpy(), color=colour(name), lw=0.5, alpha=0.25)
        ax.plot(
            t,
            s.rolling(smooth, center=True, min_periods=1).mean().to_numpy(),
            color=colour(name),
            lw=1.5,
            **styles[name],
        )
    if (block_var.to_numpy() > 0).any():
        ax.set_yscale("log")
        plain_log_ticks(ax)
    ax.set_title(f"Book P&L variance per block of {block_rounds} rounds\n(line: mean of {smooth} blocks)")
    ax.set_ylabel("variance (currency² per round)")
    ax.set_xlabel("block start")
    if isinstance(block_var.index, pd.DatetimeIndex):
        time_axis(ax)
    legend_below(fig, ax, ncols=2)
    return fig


@styled
def win_rate_by_input(win_by_input: dict[str, dict]):
    """Win rate per input pair (x, y) with 95% Wilson intervals, grouped bars per strategy."""
    names = ordered(list(win_by_input))
    cells = ["00", "01", "10", "11"]
    fig, ax = new_figure(height=4.8)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        rates = [win_by_input[name][c]["win_rate"] for c in cells]
        cis = [win_by_input[name][c]["ci95"] for c in cells]
        pos = np.arange(4) + (i - (len(names) - 1) / 2) * width
        y = np.array([np.nan if r is None else r for r in rates])
        lo = np.array([np.nan if c is None else y[j] - c[0] for j, c in enumerate(cis)])
        hi = np.array([np.nan if c is None else c[1] - y[j] for j, c in enumerate(cis)])
        # Wilson bounds can sit a rounding error inside a rate of exactly 0 or 1: no negative bar lengths
        err = np.clip(np.vstack([lo, hi]), 0.0, None)
        ax.bar(pos, y, width=width, color=colour(name), label=name, yerr=err, capsize=2)
    ax.set_xticks(np.arange(4), [f"x={c[0]}, y={c[1]}" for c in cells])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("win rate (95% CI)")
    ax.set_title("Win rate by input pair")
    legend_below(fig, ax, ncols=3)
    return fig


@styled
def pnl_distribution(pnl: pd.DataFrame, bins: int = 80):
    """Distribution of the per-round book P&L per strategy (step histograms on a common grid)."""
    fig, ax = new_figure(height=5.0)
    values = pnl.to_numpy(dtype=float)
    lo, hi = np.nanpercentile(values, [0.5, 99.5])
    if not hi > lo:  # every round the same P&L (prices that do not move): one bar, no density to take a log of
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    names = ordered(pnl.columns)
    styles = identical_styles(pnl[names])
    for name in names:
        ax.hist(
            pnl[name].to_numpy(),
            bins=edges,
            histtype="step",
            density=True,
            color=colour(name),
            linestyle=styles[name]["ls"],
            label=styles[name]["label"],
            lw=1.2,
        )
    if np.ptp(values) > 0:
        ax.set_yscale("log")
        plain_log_ticks(ax)
    ax.set_title("Per-round book P&L (central 99%)")
    ax.set_xlabel("P&L per round (currency)")
    ax.set_ylabel("density")
    legend_below(fig, ax, ncols=2)
    return fig


@styled
def inventory(inv: pd.DataFrame, window: int = 300):
    """Inventory (shares) per strategy and agent: the first ``window`` kept rounds of the main strategies,
    and how often each inventory level occurs over all kept rounds."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 7.4), dpi=DPI, layout="constrained")
    names = ordered(list(dict.fromkeys(n for n, _ in inv.columns)))
    main = [n for n in ("uncoordinated", "classical", "quantum") if n in names] or names[:3]
    head = inv.iloc[:window]
    steps = np.arange(len(head))
    for name in main:
        for side, ls in (("A", "-"), ("B", "--")):
            top.step(
                steps,
                head[(name, side)].to_numpy(),
                where="post",
                color=colour(name),
                ls=ls,
                lw=1.0,
                label=f"{name} ({side})",
            )
    top.set_title(f"Inventory, first {len(head)} test rounds (A solid, B dashed)")
    top.set_xlabel("test round")
    top.set_ylabel("shares")
    top.legend(loc="upper left", bbox_to_anchor=(0.0, -0.22), ncols=3, fontsize=9, frameon=False)
    values = inv.to_numpy(dtype=float)
    edges = np.linspace(values.min() - 0.5, values.max() + 0.5, 42)
    for name in names:
        both = np.concatenate([inv[(name, "A")].to_numpy(), inv[(name, "B")].to_numpy()])
        bottom.hist(both, bins=edges, histtype="step", density=True, color=colour(name), label=name)
    bottom.set_title("Inventory levels, all kept rounds (both agents)")
    bottom.set_xlabel("shares")
    bottom.set_ylabel("density")
    legend_below(fig, bottom, ncols=3)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return fig


@styled
def overlay(curves: dict[str, pd.Series], ylabel: str = "cumulative P&L (currency)", title: str = ""):
    """Several runs' curves on one axis (compare)."""
    fig, ax = new_figure()
    for label, s in curves.items():
        ax.plot(np.arange(len(s)) / max(len(s) - 1, 1), s.to_numpy(), label=label, lw=1.0)
    ax.set_xlabel("share of the test window")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Cumulative book P&L by run")
    legend_below(fig, ax, ncols=2)
    return fig


@styled
def sweep_metric(
    table: pd.DataFrame, param: str, metric: str, crossing: float | None, ylabel: str, groups: list[str] | None = None
):
    """``metric`` against the swept ``param`` per strategy, classical drawn, the point where quantum's edge over
    the classical rule on this metric ends marked (a before-costs edge for the win rate: not "pays")."""
    fig, ax = new_figure()
    groups = groups or []
    keys = [()] if not groups else list(table.groupby(groups).groups)
    styles = ["-", "--", ":", "-."]
    for g, key in enumerate(keys):
        sub = table if not groups else table.set_index(groups).loc[key].reset_index()
        suffix = "" if not groups else " (" + ", ".join(f"{k}={v}" for k, v in zip(groups, np.atleast_1d(key))) + ")"
        for name in ordered(sub["strategy"].unique()):
            s = sub[sub["strategy"] == name].sort_values(param)
            front = name in ("classical", "quantum")  # the comparison the figure is about, drawn on top
            ax.plot(
                s[param],
                s[metric],
                marker="o",
                ms=3,
                color=colour(name),
                ls=styles[g % 4],
                lw=2.2 if name == "classical" else 1.2,
                label=name + suffix,
                zorder=3 if front else 2,
            )
            if front and f"{metric}_lo" in s and f"{metric}_hi" in s:
                ax.fill_between(
                    s[param],
                    s[f"{metric}_lo"].astype(float),
                    s[f"{metric}_hi"].astype(float),
                    color=colour(name),
                    alpha=0.15,
                    lw=0,
                )
    if crossing is not None:  # named in the legend: a label in the plot ran over the lines and off the axes
        ax.axvline(crossing, color="#d62728", ls=":", lw=1.2, label=f"quantum's edge ends: {param} = {crossing:.4g}")
    ax.set_xlabel(param)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} against {param}")
    if groups:  # many lines: a taller figure for the legend below it
        fig.set_size_inches(WIDTH, 4.4 + 0.25 * len(ax.get_legend_handles_labels()[1]) / 2)
    legend_below(fig, ax, ncols=2)
    return fig


@styled
def hedge_cells(informativeness: dict, values: dict, realised: dict):
    """The hedge game at a glance. Top: per input cell, the share of rounds whose two returns moved in opposite
    directions, training and test window, with Wilson 95% intervals and the unconditional share as a line
    (entanglement can only pay where a cell's co-movement changes sign, i.e. crosses 50% or so).
    Bottom: book variance as a share of independent coins', as the fit predicted and as the test realised.

    ``informativeness``: {"train"|"test": {"cells": {"00": {"negative_share", "negative_share_ci95"}, ...},
    "negative_share"}}; ``values``: {name: {"saved_share"}} (fitted); ``realised``: {name: variance share}.
    """
    fig, (left, right) = plt.subplots(2, 1, figsize=(WIDTH, 8.0), dpi=DPI, layout="constrained")
    cells = ["00", "01", "10", "11"]
    for k, (window, col) in enumerate((("train", "#1f77b4"), ("test", "#ff7f0e"))):
        info = informativeness[window]
        y = np.array([_nan(info["cells"][c]["negative_share"]) for c in cells])
        ci = np.array([[_nan(v) for v in info["cells"][c]["negative_share_ci95"]] for c in cells])
        err = np.clip(np.vstack([y - ci[:, 0], ci[:, 1] - y]), 0.0, None)
        pos = np.arange(4) + (k - 0.5) * 0.38
        left.bar(pos, y, width=0.38, color=col, label=f"{window} window", yerr=np.nan_to_num(err), capsize=3)
        if info.get("negative_share") is not None:
            left.axhline(info["negative_share"], color=col, lw=1, ls="--")
    left.axhline(0.5, color="#111111", lw=0.8, ls=":")
    left.set_xticks(np.arange(4), [f"x={c[0]}, y={c[1]}" for c in cells])
    left.set_ylim(0, 1)
    left.set_ylabel("opposite moves (95% CI)")
    left.set_title("Does a cell's co-movement change sign?")
    left.grid(True, alpha=0.3, axis="y")
    left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    names = [n for n in ("constant_hedge", "classical", "quantum", "oracle") if n in values]
    labels = {"constant_hedge": "always_hedge"}
    at = np.arange(len(names))
    pred = [1.0 - _nan(values[n]["saved_share"]) for n in names]
    real = [_nan(realised.get(labels.get(n, n))) for n in names]
    right.bar(at - 0.2, pred, width=0.4, color="#bbbbbb", label="predicted (fit)")
    right.bar(at + 0.2, real, width=0.4, color=[colour(labels.get(n, n)) for n in names], label="realised (test)")
    right.set_xticks(at, [labels.get(n, n) for n in names])
    right.set_ylabel("variance / coins'")
    right.set_title("Book variance: fit against test")
    right.grid(True, alpha=0.3, axis="y")
    right.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    return fig


@styled
def information_value(information: dict, values: dict, realised: dict, coins: float):
    """What each server's own past readings are worth, and whether entanglement adds to them: book variance as a
    share of independent coins' for each kind of local information, predicted by the fit on the training window
    (bars) and realised on the test window (dots) for the strategies that played.

    ``information``: metrics.json's "information" (history and levels fits and candidates); ``values``: the
    one-bit hedge game's fitted values {name: {"saved_share"}}; ``realised``: {strategy: variance share};
    ``coins``: independent coins' book variance (currency^2 per round), the unit of every saved value.
    """
    lv, mem = information.get("levels"), information.get("history")
    rows: list[tuple[str, float, str | None]] = [
        ("classical, today's reading", 1.0 - _nan(values["classical"]["saved_share"]), "classical"),
        ("quantum, today's reading", 1.0 - _nan(values["quantum"]["saved_share"]), "quantum"),
    ]
    chosen_name = (mem or {}).get("name")  # candidates are listed only where a history rule was chosen
    for name, saved in information["candidates"].get("history", {}).items():
        chosen = name == chosen_name
        rows.append(
            (f"history {name}" + (" (chosen)" if chosen else ""), 1.0 - saved / coins, "history" if chosen else None)
        )
    if lv:
        rows += [
            (f"classical, {lv['name']}", 1.0 - lv["classical_saved"] / coins, "classical_levels"),
            (f"quantum, {lv['name']}", 1.0 - lv["quantum_saved"] / coins, "quantum_levels"),
        ]
        if lv.get("tsirelson_bound") is not None:
            rows.append(
                (f"any entangled state, {lv['levels']} levels (bound)", 1.0 - lv["tsirelson_bound"] / coins, None)
            )
    rows.append(("oracle (both readings)", 1.0 - _nan(values["oracle"]["saved_share"]), "oracle"))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.4 * len(rows) + 2.2), dpi=DPI, layout="constrained")
    pos = np.arange(len(rows))[::-1]
    ax.barh(
        pos,
        [r[1] for r in rows],
        color=[colour(r[2]) if r[2] else "#dddddd" for r in rows],
        height=0.65,
        label="predicted (training window)",
    )
    shown = [(p, v) for p, r in zip(pos, rows) if r[2] and (v := realised.get(r[2])) is not None]
    if shown:
        ax.plot(
            [v for _, v in shown], [p for p, _ in shown], "o", color="#111111", ms=5, label="realised (test window)"
        )
    ax.set_yticks(pos, [r[0] for r in rows], fontsize=9)
    both = [r[1] for r in rows] + [v for _, v in shown]
    ax.set_xlim(max(0.0, min(both) - 0.03), min(1.05, max(both) + 0.03))
    ax.set_xlabel("book variance / independent coins'\n(lower is better; realised includes switching costs)")
    fig.suptitle("Own past readings, with and without entanglement")  # over the figure: long labels narrow the axes
    ax.grid(True, alpha=0.3, axis="x")
    legend_below(fig, ax, ncols=2)
    return fig


def _nan(v) -> float:
    return np.nan if v is None else float(v)


@styled
def period_ratios(periods: dict):
    """Quantum's book variance relative to the best local classical strategy, per calendar period, with paired
    95% intervals: a stable edge stays below 1 period after period. ``periods``: ``Result.periods``."""
    rows = [r for r in periods.get("rows", []) if r.get("variance_ratio") is not None]
    fig, ax = new_figure(height=4.2)
    if not rows:
        ax.text(
            0.5,
            0.5,
            "no per-period comparison (no quantum strategy or too few rounds per period)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return fig
    y = np.array([r["variance_ratio"] for r in rows])
    ci = np.array([r["variance_ratio_ci95"] or [np.nan, np.nan] for r in rows], dtype=float)
    x = np.arange(len(rows))
    below = ci[:, 1] < 1.0
    ax.errorbar(
        x,
        y,
        yerr=np.clip(np.vstack([y - ci[:, 0], ci[:, 1] - y]), 0, None),
        fmt="o",
        ms=3,
        lw=0.8,
        color=colour("quantum"),
        ecolor="#d6272880",
    )
    ax.scatter(x[below], y[below], s=12, color="#111111", zorder=3, label="interval below 1")
    ax.axhline(1.0, color="#111111", lw=0.8, ls="--")
    labels = [str(r["period"]) for r in rows]
    most = 12 if max(map(len, labels)) <= 4 else 7  # years side by side; dates, slanted, need room
    step = int(np.ceil(len(rows) / most))
    ax.set_xticks(x[::step], labels[::step], rotation=0 if most == 12 else 90)  # upright: nothing reaches left
    ax.set_ylabel(f"variance ratio quantum / {periods.get('opponent')}")
    ax.set_title(f"Per {periods.get('by')}: quantum's book variance\nagainst the best local classical strategy")
    ax.set_yscale("log")
    plain_log_ticks(ax)  # ratios read as 0.8, not 8 x 10^-1
    if below.any():
        legend_below(fig, ax)
    return fig


@styled
def horizon_value(table: pd.DataFrame):
    """What each strategy saves of independent coins' book variance against the decision horizon (seconds between
    decisions, log axis), for talk, classical and quantum: where a message beats the decision (``can_talk``) the
    horizon is shaded, and where a link ran, its pair rate meets one pair a decision at 1 / pair rate. ``table``: a
    sweep's rows (``decision_interval_s``, ``can_talk``, ``strategy``, ``variance_share``, ``pair_rate_hz``)."""
    fig, ax = new_figure(height=4.6)
    t = table.dropna(subset=["decision_interval_s"]).sort_values("decision_interval_s")
    for name in ("talk", "classical", "quantum"):
        s = t[t["strategy"] == name]
        if s.empty:
            continue
        ax.plot(
            s["decision_interval_s"],
            1.0 - s["variance_share"].astype(float),
            marker="o",
            ms=3,
            color=colour(name),
            lw=2.2 if name == "quantum" else 1.4,
            label=name,
            ls="--" if name == "talk" else "-",
            zorder=4 if name == "talk" else 3,
        )  # talk drawn over the rest
    ax.set_xscale("log")
    _seconds_axis(ax)
    talk = t.drop_duplicates("decision_interval_s")
    talk = talk[talk["can_talk"].astype(bool)]["decision_interval_s"]
    if not talk.empty:  # every horizon at which a message arrives before the decision
        ax.axvspan(
            float(talk.min()),
            float(t["decision_interval_s"].max()),
            color="#bbbbbb",
            alpha=0.25,
            lw=0,
            label="a message arrives in time: the servers can talk",
        )
    if "pair_rate_hz" in t and t["pair_rate_hz"].notna().any():
        x = 1.0 / float(t["pair_rate_hz"].dropna().iloc[0])
        ax.axvline(x, color="#d62728", ls=":", lw=1.2, label="one Bell pair a decision (1 / pair rate)")
    ax.set_xlabel("decision horizon: seconds between decisions")
    ax.set_ylabel("share of coins' variance saved")
    ax.set_title("What each strategy saves, by horizon")
    legend_below(fig, ax, ncols=2)
    return fig


def _seconds_axis(ax) -> None:
    """A log x axis of seconds labelled in the unit a person says: 10 us, 1 ms, 1 s (decades only: they fit 390 px)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def label(v, _):
        for unit, size in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
            if v >= size * (1 - 1e-9):
                return f"{v / size:g} {unit}"
        return f"{v:g} s"

    ax.xaxis.set_major_locator(LogLocator(base=10.0, numticks=8))
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.xaxis.set_minor_formatter(NullFormatter())
