"""The report of a ``qcoord balance`` run, from its metrics.json document (plain dicts): the Pareto frontier first,
then the game's convergence, the routers' table, the paired tests and the link's chain."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .figures import to_png
from .markup import CSS, FIT_TABLES, html_table
from .markup import figure as figure_html
from .link import link_section
from .style import colour, legend_below, new_figure, styled

FAMILIES = {
    "split": "always split",
    "bunch": "always bunch",
    "random": "shared coin (oracle's bunch rate)",
    "threshold": "best threshold rule on the game",
    "one_sided": "one router's threshold",
    "weighted": "best threshold rule on the weighted game",
    "quantum_weighted": "quantum routers (weighted game)",
    "quantum": "quantum routers",
    "oracle": "oracle (knows X1 + X2)",
}
STYLE = {
    "threshold": "classical",
    "random": "uncoordinated",
    "bunch": "always_hedge",
    "split": "follow_indicator",
    "one_sided": "classical_levels",
    "weighted": "history",
    "quantum_weighted": "quantum_levels",
}
CAPTIONS = {
    "frontier": "The Pareto frontier: background throughput per server against mean waiting time, one curve per "
    "router family over the threshold t* (up and left is better; bars: 95% intervals), and the frontiers "
    "with and without entanglement (thick: the best family at each wait). Always split and always bunch "
    "end every curve; the dashed line is the QoS bound on mean waiting time. Below: the frontier with "
    "entanglement minus the one without, in % of the latter, with paired 95% intervals (filled: "
    "significantly above 0).",
    "convergence": "The routers' game as its inputs are cut into K levels: classical (best threshold rule on the "
    "levels) and quantum (Tsirelson's SDP) win probabilities, with their K -> infinity limits "
    "(dotted) and the reference figures (grey).",
}


@styled
def frontier_figure(doc: dict):
    """Top: throughput against mean wait (ms), each family's points over t*, and the frontiers with and without
    entanglement (thick: the best family at each common wait). Bottom: their difference with its paired 95%
    interval, in % of the local frontier's throughput."""
    from .style import DPI, WIDTH, plt

    fig, (ax, dx) = plt.subplots(
        2, 1, figsize=(WIDTH, 6.6), dpi=DPI, layout="constrained", sharex=True, height_ratios=(2.2, 1)
    )
    for a in (ax, dx):
        a.grid(True, alpha=0.3)
    for fam, cur in doc["frontier"].items():
        w = np.array(cur["mean_wait"], dtype=float) * 1e3
        t = np.array(cur["throughput"], dtype=float)
        order = np.argsort(w)
        lo, hi = _arr(c[0] for c in cur["throughput_ci95"]), _arr(c[1] for c in cur["throughput_ci95"])
        single = w.size == 1
        ax.errorbar(
            w[order],
            t[order],
            yerr=[t[order] - lo[order], hi[order] - t[order]],
            marker="s" if single else "o",
            ms=6 if single else 3,
            lw=0 if single else 0.9,
            alpha=0.8,
            capsize=2,
            color=colour(STYLE.get(fam, fam)),
            label=FAMILIES.get(fam, fam),
        )
    fc = doc.get("frontier_comparison") or {}
    qos = doc["settings"]["qos_wait"]
    pts = sorted((p for p in fc.get("points") or [] if p["wait"] != qos), key=lambda p: p["wait"])
    if pts:  # the two frontiers as read at common waits (on the held-out half of the blocks)
        w = np.array([p["wait"] * 1e3 for p in pts])
        ax.plot(
            w,
            [p["classical"] for p in pts],
            color=colour("classical"),
            lw=2.6,
            alpha=0.45,
            label="frontier without entanglement",
        )
        ax.plot(
            w,
            [p["quantum"] for p in pts],
            color=colour("quantum"),
            lw=2.6,
            alpha=0.45,
            label="frontier with entanglement",
        )
        base = np.array([p["classical"] for p in pts])
        rel = np.array([p["difference"] for p in pts]) / base * 100
        lo = _arr(p["difference_ci95"][0] for p in pts) / base * 100  # null (too few blocks for an interval): nan
        hi = _arr(p["difference_ci95"][1] for p in pts) / base * 100
        sig = lo > 0
        dx.errorbar(w, rel, yerr=[rel - lo, hi - rel], fmt="o", ms=3, capsize=2, color=colour("quantum"), alpha=0.8)
        dx.plot(w[sig], rel[sig], "o", ms=5, color=colour("quantum"), label="significantly above")
    dx.axhline(0, color="#555", lw=1)
    for a in (ax, dx):
        a.axvline(qos * 1e3, color="#777", ls="--", lw=1)
    ax.set_ylabel("background throughput per server")
    ax.set_title("Waiting time against background throughput")
    dx.set_xlabel("mean waiting time (ms)")
    dx.set_ylabel("with - without (%)")
    legend_below(fig, ax, ncols=2)
    return fig


@styled
def convergence_figure(doc: dict):
    g = doc["game"]
    fig, ax = new_figure(height=3.8)
    ks = g["levels"]
    ax.plot(ks, g["classical_threshold"], marker="o", color=colour("classical"), label="classical (K levels)")
    ax.plot(ks, g["quantum"], marker="o", color=colour("quantum"), label="quantum (K levels, SDP)")
    ax.axhline(g["classical_limit"], color=colour("classical"), ls=":", lw=1, label="classical limit")
    ax.axhline(g["quantum_limit"], color=colour("quantum"), ls=":", lw=1, label="quantum limit (Richardson)")
    for v in (g["reference"]["classical"], g["reference"]["quantum"]):
        ax.axhline(v, color="#aaa", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("input levels K")
    ax.set_ylabel("win probability")
    ax.set_title(f"The routers' game at C_t = {g['c_t']:.4g}")
    legend_below(fig, ax, ncols=2)
    return fig


def balance_figures(doc: dict) -> dict[str, tuple[bytes, str]]:
    return {
        "frontier": (to_png(frontier_figure(doc)), CAPTIONS["frontier"]),
        "convergence": (to_png(convergence_figure(doc)), CAPTIONS["convergence"]),
    }


def routers_table(doc: dict) -> pd.DataFrame:
    rows = {}
    for name, m in doc["metrics"].items():
        rows[name] = {
            "mean wait (ms)": m["mean_wait"] * 1e3,
            "p95 (ms)": m["p95_wait"] * 1e3,
            "p99 (ms)": m["p99_wait"] * 1e3,
            "QoS violation": m["qos_violation"],
            "throughput": m["throughput"],
            "bunched": m["bunch_rate"],
            "as the oracle": m["win_rate"],
            "what it uses": m["description"],
        }
    return pd.DataFrame(rows).T


def game_table(doc: dict) -> pd.DataFrame:
    g = doc["game"]
    return pd.DataFrame(
        {
            "classical (exhaustive)": g["classical"],
            "classical (threshold rule)": g["classical_threshold"],
            "quantum (Tsirelson SDP)": g["quantum"],
        },
        index=pd.Index(g["levels"], name="K"),
    ).T


def comparison_table(doc: dict) -> pd.DataFrame:
    fc = doc["frontier_comparison"]
    if not fc.get("available"):
        return pd.DataFrame()
    rows = {}
    for r in fc["points"]:  # where both frontiers are the same local family the difference is 0: left out
        if r["quantum_family"] == r["classical_family"] and r["wait"] != doc["settings"]["qos_wait"]:
            continue
        rows[f"{r['wait'] * 1e3:.4g} ms"] = {
            "with": r["quantum"],
            "via": r["quantum_family"],
            "without": r["classical"],
            "via ": r["classical_family"],
            "difference": r["difference"],
            "95% CI": "[" + ", ".join(_g(v) for v in r["difference_ci95"]) + "]",
            "p": r["p_value"],
        }
    return pd.DataFrame(rows).T.rename_axis("mean wait")


def balance_report(doc: dict, figs: dict[str, tuple[bytes, str]]) -> str:
    """The self-contained HTML page: verdict, frontier figure, then the rest."""
    s, g = doc["settings"], doc["game"]
    title = "qcoord balance: entangled routers for two servers"
    ref = g["reference"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title><style>{CSS}</style>"
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>rho = {s['rho']:.3g} a server; t* = {s['t_star'] * 1e3:.4g} ms (C_t = {s['c_t']:.4g}); "
        f"QoS mean wait {s['qos_wait'] * 1e3:.4g} ms; background {html.escape(s['background'])}; "
        f"qcoord {html.escape(doc['qcoord_version'])}</p>",
        f"<div class='verdict'><b>Verdict.</b> {html.escape(doc['headline'])}<details><summary>the verdict in full"
        f"</summary>{html.escape(doc['verdict'])}</details></div>",
        figure_html("frontier", *figs["frontier"]),
        "<h2>Quantum against the best local rule at common waiting times</h2>",
        html_table(comparison_table(doc), "frontier-comparison"),
        f"<p class='meta'>Waits where both frontiers are the same local family (difference 0) are left out. "
        f"{html.escape(doc['frontier_comparison'].get('rule', ''))}; paired on the same arrivals "
        "(per-block influence series of each curve's interpolation, Newey-West, fixed-b).</p>",
        "<h2>The routers at t*</h2>",
        html_table(routers_table(doc), "routers"),
        "<h2>The routers' game</h2>",
        figure_html("convergence", *figs["convergence"]),
        html_table(game_table(doc), "game"),
        f"<p>Limits: classical <b>{g['classical_limit']:.4f}</b> (the best threshold pair on the continuum), quantum "
        f"<b>{g['quantum_limit']:.4f}</b> (Richardson over K = "
        f"{', '.join(map(str, g['quantum_convergence']['levels']))}"
        f", observed order {_num(g['quantum_convergence'].get('order'))}). Reference figures (issue 46, attributed to "
        f"arXiv:2602.04588; docs/balance.md): classical {ref['classical']}, quantum {ref['quantum']} at C_t = "
        f"{ref['c_t']}.</p>",
        _at_split(g.get("at_split")),
        *link_section(doc.get("feasibility")),
        "<h2>Closed forms the simulator reproduces</h2>",
        f"<pre>{html.escape(_pretty(doc['closed_forms']))}</pre>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(_pretty(doc['config']))}</pre>",
        FIT_TABLES,
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _arr(values) -> np.ndarray:
    """Numbers from metrics.json, null (undefined) as nan."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _g(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _pretty(d) -> str:
    import json

    return json.dumps(d, indent=2)


def _at_split(a: dict | None) -> str:
    """The game at a fixed splitting probability (--split-probability), when the run asked for it."""
    if not a:
        return ""
    return (
        f"<p>With the routers' splitting probability fixed at <b>{a['split_probability']:g}</b> (the paper compares "
        f"policies at fixed p; docs/balance.md): classical <b>{a['classical_limit']:.4f}</b> (shared-coin mixtures of "
        f"threshold pairs on the continuum), quantum <b>{a['quantum_limit']:.4f}</b> (Tsirelson's SDP with P(split) "
        f"fixed, Richardson over K = {', '.join(map(str, a['quantum_convergence']['levels']))}).</p>"
    )
