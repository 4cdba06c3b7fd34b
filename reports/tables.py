"""Tables of a run and of several runs, from the metrics.json document (plain dicts)."""

from __future__ import annotations

import pandas as pd

from .style import ordered

SUMMARY_METRICS = ["pnl_var", "variance_share", "hedged_rate", "win_rate", "utility", "pnl_mean", "pnl_std",
                   "pnl_spread_income", "pnl_costs", "pnl_directional", "sharpe", "sharpe_directional", "sortino",
                   "max_drawdown", "max_drawdown_share", "hedging_efficiency", "bell_pairs", "quantum_share"]
COMPARE_DEFAULT = ["pnl_var", "variance_share", "hedged_rate", "win_rate", "sharpe", "quantum_share"]


def metrics_table(doc: dict, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per strategy, the chosen metrics as columns (win rate with its interval as text)."""
    metrics = metrics or SUMMARY_METRICS
    rows = {}
    for name in ordered(list(doc["strategies"])):
        m = doc["strategies"][name]
        rows[name] = {k: m.get(k) for k in metrics}
        for key in m.get("flags") or {}:  # a flagged number is not to be read plainly: mark it
            if key in rows[name] and rows[name][key] is not None:
                rows[name][key] = f"{rows[name][key]:.4g} ⚑"
        if "win_rate" in metrics and m.get("win_rate_ci95"):
            lo, hi = m["win_rate_ci95"]
            rows[name]["win_rate 95% CI"] = f"[{lo:.4f}, {hi:.4f}]"
    return pd.DataFrame.from_dict(rows, orient="index")


def comparison_table(doc: dict, which: str = "quantum_vs_best_local") -> pd.DataFrame:
    """Quantum against a classical opponent (by default the best local classical strategy) as (test, value)
    rows; falls back to quantum_vs_classical for documents that have only that."""
    comp = doc.get("comparison", {})
    c = comp.get(which) or comp.get("quantum_vs_classical")
    if not c:
        return pd.DataFrame()
    other = c.get("opponent", "classical")

    def interval(v):
        return None if not v else f"[{v[0]:.4g}, {v[1]:.4g}]"

    def p(key):
        v = c.get(key)
        return "" if v is None else f"p = {v:.3g}"

    lags = c.get("hac_lags")
    rows = [
        (f"variance ratio (quantum / {other})", c.get("variance_ratio"),
         f"95% CI {interval(c.get('variance_ratio_ci95'))}, paired HAC {p('variance_p_value')} ({lags} lags)"),
        (f"mean squared P&L difference (quantum - {other})", c.get("squared_pnl_diff"),
         f"paired HAC {p('squared_pnl_p_value')}"),
        (f"Sharpe difference (quantum - {other})", c.get("sharpe_diff"),
         f"95% CI {interval(c.get('sharpe_diff_ci95'))}, paired HAC {p('sharpe_p_value')}"),
        (f"utility difference (quantum - {other})", c.get("utility_diff"), f"paired HAC {p('utility_p_value')}"),
        (f"win-rate difference (quantum - {other})", c.get("win_rate_diff"), f"McNemar {p('mcnemar_p_value')}"),
        ("Levene's variance test (assumes independent samples: secondary)", c.get("levene_p_value"), ""),
    ]
    return pd.DataFrame(rows, columns=["comparison", "value", "test"]).set_index("comparison")


def hedge_table(doc: dict) -> pd.DataFrame:
    """The calibrated hedge game per input cell: p, co-movement (correlation) and share of opposite moves on
    the training and test windows, and the shrinkage weight. Empty when the run played a fixed game."""
    h = doc.get("hedge")
    if not h:
        return pd.DataFrame()
    rows = {}
    for cell in ("00", "01", "10", "11"):
        tr, te = h["informativeness"]["train"]["cells"][cell], h["informativeness"]["test"]["cells"][cell]
        rows[f"x={cell[0]}, y={cell[1]}"] = {
            "p (train)": tr["p"], "correlation (train)": tr["correlation"],
            "E[rX rY] (train)": tr["comove"], "E[rX rY] 95% CI": _interval(tr["comove_ci95"]),
            "opposite moves (train)": tr["negative_share"], "lift": tr["lift"],
            "correlation (test)": te["correlation"], "opposite moves (test)": te["negative_share"],
            "shrink weight": h["shrinkage"]["weights"][cell],
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "cell"
    return frame


def _interval(v) -> str | None:
    if not v or v[0] is None or v[1] is None:
        return None
    return f"[{v[0]:.3g}, {v[1]:.3g}]"


def game_table(doc: dict) -> pd.DataFrame:
    """The fitted input distribution p(x, y)."""
    p = doc["game"]["p_xy"]
    return pd.DataFrame(p, index=["x = 0", "x = 1"], columns=["y = 0", "y = 1"])


def compare_runs(docs: dict[str, dict], metrics: list[str] | None = None, strategies: list[str] | None = None) -> pd.DataFrame:
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
