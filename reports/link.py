"""The quantum link in the report: its feasibility chain as a table, the fidelity-rate frontier, and a sweep's
distance frontier. Plain dicts and DataFrames in (metrics.json ``link``, sweep tables), figures and HTML out."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from .markup import html_table
from .style import WIDTH, legend_below, new_figure, sparse_log_ticks, styled


def link_table(doc: dict) -> pd.DataFrame:
    """One row per stage of the chain: pass/FAIL/n/a and what was measured against what was needed."""
    frame = pd.DataFrame(
        {"result": [s["result"] for s in doc["stages"]], "numbers": [s["text"] for s in doc["stages"]]},
        index=pd.Index([s["stage"] for s in doc["stages"]], name="stage"),
    )
    return frame


@styled
def link_frontier(doc: dict):
    """Fidelity against Bell-pair rate: the least rate at which the advantage is detectable within the market's
    stationary window for each fidelity (the rest of the link as it is), the link's own point marked."""
    fr = doc.get("frontier") or {}
    fig, ax = new_figure(height=4.2)
    f = np.asarray(fr.get("fidelity") or [], dtype=float)
    r = np.array([np.nan if v is None else v for v in fr.get("min_pair_rate_hz") or []], dtype=float)
    ok = np.isfinite(r) & (r > 0)
    if ok.any():
        ax.plot(r[ok], f[ok], color="#d62728", lw=2, label="least rate for detection in the window")
        top = max(r[ok].max(), fr["decision_rate_hz"]) * 10
        ax.fill_betweenx(f[ok], r[ok], top, color="#2ca02c", alpha=0.12, lw=0, label="advantage detectable")
    ax.axvline(fr.get("decision_rate_hz", math.nan), color="#7f7f7f", ls="--", lw=1, label="one pair a decision")
    lr, lf = fr.get("link_pair_rate_hz"), fr.get("link_fidelity")
    if lr and lf:
        ax.plot(
            [lr],
            [lf],
            marker="*",
            ms=14,
            color="#111111",
            ls="none",
            label=f"this link ({doc.get('preset') or 'custom'})",
        )
    ax.set_xscale("log")
    sparse_log_ticks(ax, "x")
    ax.set_xlabel("Bell pairs per second")
    ax.set_ylabel("fidelity to |Φ+⟩, as measured")
    ax.set_title("Where the advantage is detectable in time")
    legend_below(fig, ax, ncols=2)
    return fig


def link_section(doc: dict | None, figure_html: str = "") -> list[str]:
    """The report's section on the link: what it is, its chain, and its frontier figure."""
    if not doc:
        return []

    return [
        f"<h2>The quantum link{': ' + html.escape(doc['preset']) if doc.get('preset') else ''}</h2>",
        f"<p>{html.escape(doc['description'])}.</p>",
        f"<p class='verdict'>{html.escape(doc['sentence'])}</p>",
        html_table(link_table(doc), "link"),
        "<p class='meta'>Stages in the order a pair lives through them; each adds its imperfection to the ones "
        "before. Formulas and sources: docs/link.md.</p>",
        figure_html,
    ]


@styled
def distance_frontier(
    table: pd.DataFrame,
    param: str,
    rate_frontier: float | None = None,
    fidelity_frontier: float | None = None,
    li_rate_frontier: float | None = None,
):
    """Along a swept link parameter, two panels sharing the axis: the link's Bell-pair rate against the market's
    decision rate, and (when the table has it) the fidelity as measured against the game's threshold. Each point is
    marked by whether every stage of the chain passes (else the stage that stops it); the largest values at which
    the advantage is detectable in the stationary window and pays after costs are drawn, and between the grid
    points where the pair rate meets the decision rate (``rate_frontier``) or the fidelity meets the game's
    threshold (``fidelity_frontier``). Li et al.'s criterion beside ours: the pairs a second its certification rounds
    need within the window, and where the pair rate meets it (``li_rate_frontier``)."""
    import matplotlib.pyplot as plt

    from .style import DPI

    t = table.drop_duplicates(param).sort_values(param)
    two = "fidelity" in t and t["fidelity"].notna().any()
    if two:
        fig, (ax, fx) = plt.subplots(
            2, 1, sharex=True, figsize=(WIDTH, 6.2), dpi=DPI, layout="constrained", height_ratios=(3, 2)
        )
        for a in (ax, fx):
            a.grid(True, alpha=0.3)
    else:
        (fig, ax), fx = new_figure(height=4.6), None
    good = t["link_passes"].astype(bool)
    ax.plot(t[param], t["pair_rate_hz"], color="#7f7f7f", lw=1.2, zorder=1)
    ax.scatter(t[param][good], t["pair_rate_hz"][good], color="#2ca02c", s=36, zorder=3, label="every stage passes")
    ax.scatter(
        t[param][~good],
        t["pair_rate_hz"][~good],
        color="#d62728",
        marker="x",
        s=40,
        zorder=3,
        label="a stage fails (named)",
    )
    decisions = t["decision_rate_hz"].astype(float)
    if decisions.nunique() > 1:  # the swept parameter moves the decision rate itself
        ax.plot(t[param], decisions, color="#111111", ls="--", lw=1, label="decisions per second")
    else:
        ax.axhline(float(decisions.iloc[0]), color="#111111", ls="--", lw=1, label="decisions per second")
    for column, colour, ls, words in (
        ("link_detectable", "#1f77b4", "--", "detectable in the window"),
        ("pays" if "pays" in t else "link_passes", "#2ca02c", ":", "pays after costs"),
    ):
        ok = t[t[column].astype(bool)][param]
        if not ok.empty:
            for a in (ax, fx) if fx is not None else (ax,):
                a.axvline(
                    ok.max(), color=colour, ls=ls, lw=1.5, label=f"{words} up to {ok.max():g}" if a is ax else None
                )
    if rate_frontier is not None:
        ax.plot(
            [rate_frontier],
            [float(t["decision_rate_hz"].iloc[0])],
            marker="D",
            ms=7,
            color="#111111",
            ls="none",
            label=f"pair rate = decision rate at {rate_frontier:.4g}",
        )
    if "li_required_rate_hz" in t and np.isfinite(t["li_required_rate_hz"].astype(float)).any():
        ax.plot(
            t[param],
            t["li_required_rate_hz"].astype(float),
            color="#ff7f0e",
            ls="-.",
            lw=1,
            label="Li et al.'s need: n_req / T_env",
        )
    if li_rate_frontier is not None:
        need = float(np.interp(li_rate_frontier, t[param].astype(float), t["li_required_rate_hz"].astype(float)))
        ax.plot(
            [li_rate_frontier],
            [need],
            marker="D",
            ms=7,
            color="#ff7f0e",
            ls="none",
            label=f"pair rate = Li et al.'s need at {li_rate_frontier:.4g}",
        )
    if fx is not None:
        fx.plot(t[param], t["fidelity"], color="#7f7f7f", lw=1.2, marker="o", ms=4, zorder=2)
        if "fidelity_threshold" in t and t["fidelity_threshold"].notna().any():
            fx.plot(
                t[param], t["fidelity_threshold"], color="#9467bd", ls="--", lw=1, label="the game's fidelity threshold"
            )
        fx.set_ylabel("fidelity, as measured")
        fx.set_xlabel(param)
    if fidelity_frontier is not None:
        for a in (ax, fx) if fx is not None else (ax,):
            a.axvline(
                fidelity_frontier,
                color="#9467bd",
                ls="-.",
                lw=1.5,
                label=f"fidelity = threshold at {fidelity_frontier:.4g}" if a is ax else None,
            )
    lo, hi = float(t[param].min()), float(t[param].max())
    for x, y, stage in zip(t[param], t["pair_rate_hz"], t["first_failing"]):
        if isinstance(stage, str) and stage:  # names near the right edge go to the left of their point
            right = hi > lo and (x - lo) / (hi - lo) > 0.85
            ax.annotate(
                stage,
                (x, y),
                xytext=(-4 if right else 4, 4),
                textcoords="offset points",
                fontsize=8,
                color="#555555",
                ha="right" if right else "left",
            )
    ax.set_yscale("log")
    sparse_log_ticks(ax, "y")
    ax.margins(y=0.15)  # room for the stage names above the top points
    if fx is None:
        ax.set_xlabel(param)
    ax.set_ylabel("Bell pairs per second")
    ax.set_title(f"Where the link still pays, along {param}")
    handles, labels = ax.get_legend_handles_labels()
    if fx is not None:
        more = fx.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig
