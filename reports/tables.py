"""Tables of a run and of several runs, from the metrics.json document (plain dicts)."""

from __future__ import annotations

import pandas as pd

from .style import ordered

SUMMARY_METRICS = ["win_rate", "utility", "pnl_mean", "pnl_std", "sharpe", "sortino", "max_drawdown",
                   "max_drawdown_share", "hedging_efficiency", "bell_pairs", "quantum_share"]
COMPARE_DEFAULT = ["win_rate", "pnl_var", "sharpe", "hedging_efficiency", "quantum_share"]


def metrics_table(doc: dict, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per strategy, the chosen metrics as columns (win rate with its interval as text)."""
    metrics = metrics or SUMMARY_METRICS
    rows = {}
    for name in ordered(list(doc["strategies"])):
        m = doc["strategies"][name]
        rows[name] = {k: m.get(k) for k in metrics}
        if "win_rate" in metrics and m.get("win_rate_ci95"):
            lo, hi = m["win_rate_ci95"]
            rows[name]["win_rate 95% CI"] = f"[{lo:.4f}, {hi:.4f}]"
    return pd.DataFrame.from_dict(rows, orient="index")


def comparison_table(doc: dict) -> pd.DataFrame:
    """Quantum against classical as (test, value) rows."""
    c = doc.get("comparison", {}).get("quantum_vs_classical")
    if not c:
        return pd.DataFrame()

    def interval(v):
        return None if v is None else f"[{v[0]:.4g}, {v[1]:.4g}]"

    rows = [
        ("win-rate difference (quantum - classical)", c.get("win_rate_diff"), f"McNemar p = {c.get('p_value'):.3g}"),
        ("variance ratio (quantum / classical)", c.get("variance_ratio"),
         f"95% CI {interval(c.get('variance_ratio_ci95'))}, Levene p = {c.get('variance_p_value'):.3g}"
         if c.get("variance_p_value") is not None else ""),
        ("Sharpe difference (quantum - classical)", c.get("sharpe_diff"), f"95% CI {interval(c.get('sharpe_diff_ci95'))}"),
    ]
    return pd.DataFrame(rows, columns=["comparison", "value", "test"]).set_index("comparison")


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
