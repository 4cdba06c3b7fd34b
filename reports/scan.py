"""The scan's figures and HTML: a heat map over tickers, the distribution of variance ratios with their intervals,
the top pairs' equity curves, and the ranking table. Plain pandas/dicts in (``qcoord scan``'s table and
scan.json document), matplotlib figures and HTML out."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

from .markup import CSS, FIT_TABLES, html_table
from .style import DPI, WIDTH, colour, legend_below, plt, sparse_log_ticks, styled


def uses_entanglement(table: pd.DataFrame) -> pd.Series:
    """Per row of a scan table: whether the pair's fitted quantum strategy uses entanglement (a missing value is
    no; a table without the column, from a caller that does not record it, counts every row as yes)."""
    if "uses_entanglement" not in table:
        return pd.Series(True, index=table.index)
    return table["uses_entanglement"].fillna(False).astype(bool)


@styled
def scan_heatmap(table: pd.DataFrame, tickers: list[str]):
    """Tickers x tickers. Where some pair's quantum strategy differs from its opponent: quantum's variance ratio to
    the best local classical strategy (log colour scale centred on 1; blue = quantum lower; dots: significant after
    FDR). Where no pair uses entanglement at all, the ratio is 1 everywhere and says nothing: the map shows instead how
    far each pair's co-movement is from where entanglement would pay (``move_needed``; lighter = closer). A pair whose
    quantum strategy is a classical rule has no quantum ratio to show; pairs that did not run are hatched grey."""
    n = len(tickers)
    pos = {t: i for i, t in enumerate(tickers)}
    ran = _ran(table)
    uses = uses_entanglement(ran)
    ratios = ran["variance_ratio"].astype(float).where(uses)
    informative = bool((ratios.notna() & (ratios != 1.0)).any())
    if informative:
        ran = ran[uses]
    column = "variance_ratio" if informative else "move_needed"
    m = np.full((n, n), np.nan)
    sig = np.zeros((n, n), dtype=bool)
    for r in ran.to_dict("records"):
        v = r.get(column)
        if v is None or v != v or (informative and v <= 0):
            continue
        i, j = pos[r["a"]], pos[r["b"]]
        m[i, j] = m[j, i] = np.log(v) if informative else v
        sig[i, j] = sig[j, i] = bool(r.get("significant"))
    size = min(max(4.5, 0.45 * n + 2.0), WIDTH - 0.6)
    fig, ax = plt.subplots(figsize=(size + 0.6, size + 0.4), dpi=DPI, layout="constrained")
    ax.add_patch(plt.Rectangle((-0.5, -0.5), n, n, facecolor="#eeeeee", hatch="///", edgecolor="#cccccc", zorder=0))
    if informative:
        span = max(float(np.nanmax(np.abs(m))), 0.01)
        im = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-span, vmax=span, zorder=1)
        ii, jj = np.nonzero(sig)
        ax.plot(jj, ii, "o", color="#111111", ms=4, zorder=2)
        bar = fig.colorbar(im, ax=ax, shrink=0.8, location="bottom")
        ticks = np.linspace(-span, span, 5)
        bar.set_ticks(ticks.tolist(), labels=[f"{np.exp(t) - 1:+.1%}" for t in ticks])
        bar.set_label("quantum's book variance vs best local (test)")
        ax.set_title("Where entanglement pays\n(dots: significant after FDR)")
    else:
        im = ax.imshow(np.ma.masked_invalid(m), cmap="viridis_r", zorder=1)
        bar = fig.colorbar(im, ax=ax, shrink=0.8, location="bottom")
        bar.set_label("correlation change one input cell needs to pay")
        ax.set_title("No pair uses entanglement:\nhow far each is from paying")
    ax.set_xticks(range(n), tickers, rotation=90, fontsize=9 if n <= 15 else 7)
    ax.set_yticks(range(n), tickers, fontsize=9 if n <= 15 else 7)
    return fig


@styled
def scan_distribution(table: pd.DataFrame):
    """Every pair's variance ratio (quantum / best local) with its paired 95% interval, sorted; filled markers are
    significant after Benjamini-Hochberg, the dashed line is no difference. When no pair uses entanglement (every
    ratio 1), the distance of each pair from paying instead. Only pairs that ran and whose quantum strategy uses
    entanglement have a quantum ratio."""
    ran = _ran(table)
    ran = ran[uses_entanglement(ran)]
    ran = ran[ran["variance_ratio"].notna()].sort_values("variance_ratio")
    if not (ran["variance_ratio"].astype(float) != 1.0).any() and "move_needed" in table:
        return _distance_to_paying(_ran(table))
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4), dpi=DPI, layout="constrained")
    x = np.arange(len(ran))
    y = ran["variance_ratio"].astype(float).to_numpy()
    lo = ran["variance_ratio_lo"].astype(float).to_numpy()
    hi = ran["variance_ratio_hi"].astype(float).to_numpy()
    err = np.nan_to_num(np.vstack([y - lo, hi - y]), nan=0.0).clip(min=0)
    sig = ran["significant"].astype(bool).to_numpy()
    ax.errorbar(x, y, yerr=err, fmt="none", ecolor="#999999", lw=0.8)
    ax.plot(x[~sig], y[~sig], "o", mfc="white", mec=colour("quantum"), ms=4, label="not significant")
    ax.plot(x[sig], y[sig], "o", color=colour("quantum"), ms=5, label="significant (BH)")
    ax.axhline(1.0, color="#111111", ls="--", lw=0.8)
    ax.set_yscale("log")
    sparse_log_ticks(ax, "y")
    ax.set_xlabel("pairs, sorted by variance ratio")
    ax.set_ylabel("quantum / best local book variance")
    ax.set_title(f"Variance ratios of {len(ran)} pairs\n(95% paired HAC intervals)")
    ax.grid(True, alpha=0.3, axis="y")
    legend_below(fig, ax, ncols=2)
    return fig


def _ran(table: pd.DataFrame) -> pd.DataFrame:
    """The pairs that ran (failed pairs are counted and listed apart, never drawn)."""
    return table[table["error"].isna()] if "error" in table else table


@styled
def _distance_to_paying(table: pd.DataFrame):
    """When no pair uses entanglement every variance ratio is 1: show instead, per pair, how far one input cell's
    return correlation would have to move for entanglement to pay (sorted; pairs where no single cell would do are
    left out and counted in the title)."""
    d = table[table["move_needed"].notna()].sort_values("move_needed")
    missing = int(table["move_needed"].isna().sum())
    show = d.head(DISTANCE_BARS)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.28 * len(show) + 1.6), dpi=DPI, layout="constrained")
    y = np.arange(len(show))[::-1]
    ax.barh(y, show["move_needed"].astype(float), color=colour("classical"), height=0.7)
    ax.set_yticks(y, [f"{a}/{b}" for a, b in zip(show["a"], show["b"])], fontsize=9)
    ax.set_xlabel("correlation change needed in one cell")
    shown = (
        f"closest {len(show)} of {len(d)} pairs"
        if len(d) > len(show)
        else f"all {len(d)} pairs"
        if len(d) != 1
        else "1 pair"
    )
    ax.set_title(
        f"No pair uses entanglement: how far from paying\n({shown}"
        + (f"; {missing} where no single cell would do)" if missing else ")")
    )
    ax.grid(True, alpha=0.3, axis="y")
    return fig


DISTANCE_BARS = 20  # pairs drawn in the distance-to-paying figure (the closest; all are in the table and scan.csv)


@styled
def scan_curves(curves: dict[str, dict]):
    """Cumulative book P&L of quantum and of the best local classical strategy for a few pairs (one panel each)."""
    n = len(curves)
    fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 2.4 * n + 0.8), dpi=DPI, layout="constrained", squeeze=False)
    for ax, (pair, c) in zip(axes[:, 0], curves.items()):
        t = pd.to_datetime(c["time"])
        ax.plot(t, c["best_local"], color=colour("classical"), lw=1.1, label="best local classical")
        ax.plot(t, c["quantum"], color=colour("quantum"), lw=1.1, label="quantum")
        ax.set_title(pair, loc="left")
        ax.set_ylabel("cum. P&L")
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes[0, 0], ncols=2)
    return fig


def _pct(v) -> str | None:
    return None if v is None or v != v else f"{v:.1%}"


def _shown(shown: int, total: int) -> str:
    """The honest row count of a ranking."""
    if shown < total:
        return f"Top {shown} of {total} ranked pairs (every pair is in scan.csv)."
    return f"All {total} ranked pairs."


def ranking_table(ranked: pd.DataFrame, grid: list[str], top: int = 30) -> pd.DataFrame:
    """The report's ranking: pair, grid values, the test-window variance ratio with its interval and q-value, the
    training-window shares saved, whether entanglement is used, and how far from paying it is."""
    rows = {}
    for i, r in enumerate(ranked.head(top).to_dict("records"), 1):
        lo, hi = r.get("variance_ratio_lo"), r.get("variance_ratio_hi")
        uses = bool(r.get("uses_entanglement"))
        if not uses:  # quantum plays the classical rule there: its ratio is a classical comparison, not quantum's
            lo = hi = None
        rows[str(i)] = {
            "pair": f"{r['a']}/{r['b']}",
            **{g: r.get(g) for g in grid},
            "rounds": r.get("rounds"),
            "best local": r.get("best_local"),
            "variance ratio": r.get("variance_ratio") if uses else None,
            "95% CI": None if lo is None or lo != lo else f"[{lo:.3f}, {hi:.3f}]",
            "q": r.get("q_value"),
            "saved, classical": _pct(r.get("saved_classical")),
            "saved, quantum": _pct(r.get("saved_quantum")),
            "entanglement": "yes" if uses else "no (classical rule)",
            "move needed": r.get("move_needed"),
            "history rule": r.get("history_rule"),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "rank"
    if not frame.empty and not uses_entanglement(ranked.head(top)).any():
        # quantum is a classical rule in every listed pair: its ratio, interval and q-value say nothing
        frame = frame.drop(columns=["variance ratio", "95% CI", "q", "entanglement"])
    return frame.dropna(axis=1, how="all")


def scan_report(
    doc: dict, ranked: pd.DataFrame, figures: dict[str, tuple[bytes, str]], omitted: tuple[str, ...] = ()
) -> str:
    """HTML of a scan: the headline, the ranking table (its row count stated), the figures (``omitted``: a sentence
    per figure left out for want of data), filters and configuration."""
    tickers = doc["universe"]["tickers"]
    table = ranking_table(ranked, list(doc["grid"]))
    figs = "".join(
        f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        for name, (png, cap) in figures.items()
    )
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in doc["skipped"].items())
    errors = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in doc["errors"].items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>qcoord scan</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>qcoord scan: {html.escape(', '.join(tickers))}</h1>",
        f"<p class='verdict'>{html.escape(doc['headline'])}</p>",
        "<h2>Ranking</h2>",
        "<p>Variance ratio: quantum's book variance over the best local classical strategy's (chosen on each pair's "
        "training window, history rules included) on the test window, with its paired 95% HAC interval; q: the "
        "Benjamini-Hochberg q-value of the one-sided test (quantum must beat both the best local classical strategy "
        "and the strongest one on the test window); saved: share of independent coins' book variance the "
        "fitted classical and quantum strategies save on the training window; move needed: where entanglement does not "
        "help at all, how far one input cell's return correlation would have to move for it to beat the best "
        "classical rule by 1% of book variance (smaller is closer).</p>",
        f"<p class='meta'>{_shown(len(table), len(ranked))}</p>",
        html_table(table, "ranking"),
        "<h2>Figures</h2>",
        figs,
        *(f"<p>{html.escape(text)}</p>" for text in omitted),
        f"<h2>Pairs not scanned</h2><ul>{skipped or '<li>none</li>'}</ul>",
        f"<h2>Pairs that could not run</h2><ul>{errors or '<li>none</li>'}</ul>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(pd.Series(doc['config']).to_json(indent=2))}</pre>",
        FIT_TABLES,
        "</body></html>",
    ]
    return "\n".join(parts)
