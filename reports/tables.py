"""Tables of a run and of several runs, from the metrics.json document (plain dicts)."""

from __future__ import annotations

import pandas as pd

from .markup import UNDEFINED
from .style import ordered

COMPARE_DEFAULT = ["pnl_var", "variance_share", "hedged_rate", "win_rate", "sharpe", "quantum_share"]


def _share(v):
    return f"{v:.1%}"


def metric_info(doc: dict) -> dict[str, dict]:
    """The run document's metric registry (metrics.json ``metric_info``: label, format, ... per metric, in reading
    order); a document written before the registry was carried gets each key as its own label."""
    info = doc.get("metric_info")
    if info:
        return info
    keys = dict.fromkeys(
        k for m in doc.get("strategies", {}).values() for k in m if k not in ("win_rate_by_input", "undefined", "flags")
    )
    return {k: {"label": k, "format": ".4g", "table": not k.endswith("_ci95")} for k in keys}


def metrics_table(doc: dict, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per metric (header with its unit), one column per strategy: text cells, one format per metric,
    "—" where undefined, "⚑" on a flagged value; the win rate's Wilson interval on a row of its own. Transposed so
    that seven strategies, not eighteen metrics, set the width."""
    info = metric_info(doc)
    metrics = metrics or [k for k, d in info.items() if d.get("table", True)]
    names = ordered(list(doc["strategies"]))
    rows = {}
    for key in metrics:
        d = info.get(key) or {"label": key, "format": ".4g"}
        label, spec = d["label"], d["format"]
        row = {}
        for name in names:
            m = doc["strategies"][name]
            v = m.get(key)
            text = UNDEFINED if v is None else format(v, spec)
            row[name] = text + (" ⚑" if key in (m.get("flags") or {}) and v is not None else "")
        rows[label] = row
        if key == "win_rate":
            rows["rounds won, 95% CI"] = {
                n: UNDEFINED
                if not doc["strategies"][n].get("win_rate_ci95")
                else _percent_interval(doc["strategies"][n]["win_rate_ci95"])
                for n in names
            }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "metric"
    return frame


def comparison_table(doc: dict, which: str = "quantum_vs_best_local") -> pd.DataFrame:
    """A quantum strategy against a classical opponent (by default quantum against the best local classical
    strategy; ``which`` = "<quantum player>_vs_<opponent label>") as (test, value) rows; falls back to
    quantum_vs_classical for documents that have only that."""
    comp = doc.get("comparison", {})
    c = comp.get(which) or (comp.get("quantum_vs_classical") if which.startswith("quantum_vs") else None)
    if not c:
        return pd.DataFrame()
    other = c.get("opponent", "classical")
    quantum = which.split("_vs_")[0]

    def interval(v):
        return None if not v else f"[{v[0]:.4g}, {v[1]:.4g}]"

    def p(key):
        v = c.get(key)
        return "" if v is None else f"p {pvalue(v)}"

    lags = c.get("hac_lags")
    rows = [
        (
            f"variance ratio ({quantum} / {other})",
            c.get("variance_ratio"),
            f"95% CI {interval(c.get('variance_ratio_ci95'))}, paired HAC {p('variance_p_value')} ({lags} lags)",
        ),
        (
            f"mean squared P&L difference ({quantum} - {other})",
            c.get("squared_pnl_diff"),
            f"paired HAC {p('squared_pnl_p_value')}",
        ),
        (
            f"Sharpe difference ({quantum} - {other})",
            c.get("sharpe_diff"),
            f"95% CI {interval(c.get('sharpe_diff_ci95'))}, paired HAC {p('sharpe_p_value')}",
        ),
        (f"utility difference ({quantum} - {other})", c.get("utility_diff"), f"paired HAC {p('utility_p_value')}"),
        (f"win-rate difference ({quantum} - {other})", c.get("win_rate_diff"), f"McNemar {p('mcnemar_p_value')}"),
        *(
            [
                (
                    f"certainty equivalent difference ({quantum} - {other}, currency/round)",
                    c.get("certainty_equivalent_diff"),
                    "mean - risk aversion / (2 x book) x variance",
                )
            ]
            if c.get("certainty_equivalent_diff") is not None
            else []
        ),
        *(
            [
                (
                    "break-even cost multiple",
                    c.get("break_even_cost_scale"),
                    "the certainty equivalents are equal at this multiple of the configured costs; "
                    f"{quantum} pays below it",
                )
            ]
            if c.get("break_even_cost_scale") is not None
            else []
        ),
        ("Levene's variance test (assumes independent samples: secondary)", None, p("levene_p_value")),
    ]
    return pd.DataFrame(rows, columns=["comparison", "value", "test"]).set_index("comparison")


def information_table(doc: dict) -> pd.DataFrame:
    """Each kind of local information the run fitted on its training window: the rule, the share of independent
    coins' book variance it saves (classical, and quantum for the K-level candidates), and which the run chose.
    Empty when the family did not run."""
    info = doc.get("information") or {}
    lv, mem = info.get("levels"), info.get("history")
    coins = (doc.get("hedge") or {}).get("coin_variance")
    if not (lv or mem) or not coins:
        return pd.DataFrame()
    rows = {}
    for name, saved in info["candidates"].get("history", {}).items():
        assert mem is not None  # a history candidate comes with the chosen history rule
        rows[f"history {name}"] = {
            "classical saved": _share(saved / coins),
            "quantum saved": None,
            "chosen": "history" if name == mem["name"] else "",
        }
    for name, v in info["candidates"].get("levels", {}).items():
        assert lv is not None  # a levels candidate comes with the chosen K-level indicator
        rows[f"levels {name}"] = {
            "classical saved": _share(v["classical"] / coins),
            "quantum saved": _share(v["quantum"] / coins),
            "chosen": "classical_levels, quantum_levels" if name == lv["name"] else "",
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "information (training window)"
    return frame


def pvalue(v: float) -> str:
    """'= 0.034', '= 3.2e-74', or '< 1e-300' (a p-value that underflowed is not 0)."""
    return "< 1e-300" if v < 1e-300 else f"= {v:.2g}"


def hedge_table(doc: dict) -> pd.DataFrame:
    """The fitted hedge game per input cell, short headers (``HEDGE_LEGEND`` names them): p, co-movement
    (correlation; E[rX rY] in bp², 1 bp² = 1e-8, with its 95% interval) and share of opposite moves on the training
    window, the lift, correlation and opposite moves on the test window, and the shrinkage weight. Empty when the run
    played a fixed game."""
    h = doc.get("hedge")
    if not h:
        return pd.DataFrame()
    rows = {}
    for cell in ("00", "01", "10", "11"):
        tr, te = h["informativeness"]["train"]["cells"][cell], h["informativeness"]["test"]["cells"][cell]
        rows[f"x={cell[0]}, y={cell[1]}"] = {
            "p": tr["p"],
            "corr.": tr["correlation"],
            "E[rX rY] bp²": _bp2(tr["comove"]),
            "95% CI bp²": _interval(tr["comove_ci95"]),
            "opp. moves": tr["negative_share"],
            "lift": tr["lift"],
            "corr. test": te["correlation"],
            "opp. test": te["negative_share"],
            "shrink": h["shrinkage"]["weights"][cell],
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "cell"
    return frame


HEDGE_LEGEND = (
    "Per input cell, on the training window unless marked test: p = share of rounds, corr. = "
    "correlation of the two returns, E[rX rY] = their mean product in bp² (1 bp² = 10⁻⁸) with its 95% "
    "interval, opp. moves = share of rounds the two moved in opposite directions, lift = that share over "
    "all rounds' share, shrink = the cell's weight in the shrunk fit."
)


def _percent_interval(ci) -> str:
    """A 95% interval of a share, short enough to stay on one line in a narrow column: 49.9–50.5%."""
    return f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%"


def _bp2(v):
    """A product of two returns in basis points squared (1 bp² = 1e-8): 32.6 rather than 3.26e-07."""
    return None if v is None else v * 1e8


def _interval(v) -> str | None:
    """A co-movement interval in bp², on one line."""
    if not v or v[0] is None or v[1] is None:
        return None
    lo, hi = _bp2(v[0]), _bp2(v[1])
    return f"[{lo:,.3g}, {hi:,.3g}]" if max(abs(lo), abs(hi)) < 1e4 else f"[{lo:,.0f}, {hi:,.0f}]"


def game_table(doc: dict) -> pd.DataFrame:
    """The fitted input distribution p(x, y)."""
    p = doc["game"]["p_xy"]
    return pd.DataFrame(p, index=["x = 0", "x = 1"], columns=["y = 0", "y = 1"])


def compare_runs(
    docs: dict[str, dict], metrics: list[str] | None = None, strategies: list[str] | None = None
) -> pd.DataFrame:
    """Side by side: rows (strategy, metric), one column per run."""
    metrics = metrics or COMPARE_DEFAULT
    cols = {}
    for run, doc in docs.items():
        values = {}
        for name in ordered(list(doc["strategies"])):
            if strategies and name not in strategies:
                continue
            for k in metrics:
                values[(name, k)] = doc["strategies"][name].get(k)
        cols[run] = values
    frame = pd.DataFrame(cols)
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["strategy", "metric"])
    return frame
