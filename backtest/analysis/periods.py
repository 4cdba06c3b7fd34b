"""Is the edge stable? Each strategy's variance and Sharpe per calendar period, and quantum's variance ratio
against the best local classical strategy per period with its paired interval.

Periods: calendar years for daily (or slower) data; calendar days for intraday data, or months when there are
more than ``MAX_PERIODS`` days. Computed on the kept test rounds (all of them unless a streamed run kept fewer).
Per period the HAC lag window is Newey and West's rule for that period's length (the per-period samples are too
short for a data-driven window).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..stats.paired import paired_tests

MAX_PERIODS = 400
MIN_ROUNDS = 20


def period_labels(index: pd.DatetimeIndex, intraday: bool) -> tuple[str, pd.Index]:
    """(unit, label per round)."""
    if not intraday:
        return "year", pd.Index(index.year.astype(str))
    days = pd.Index(index.strftime("%Y-%m-%d"))
    if days.nunique() <= MAX_PERIODS:
        return "day", days
    return "month", pd.Index(index.strftime("%Y-%m"))


def period_table(
    pnl: pd.DataFrame,
    *,
    intraday: bool,
    periods_per_year: float,
    rf_per_period: float,
    book: float,
    quantum: str | None,
    opponent: str | None,
) -> dict:
    """Per period: rounds, variance and Sharpe per strategy, and (when both are given) the variance ratio of
    ``quantum`` to ``opponent`` with its 95% paired HAC interval. Periods with fewer than MIN_ROUNDS rounds are
    left out (and counted)."""
    if pnl.empty:
        return {"by": None, "rows": [], "skipped": 0}
    unit, labels = period_labels(pnl.index, intraday)
    rows, skipped = [], 0
    root = math.sqrt(periods_per_year)
    for label, idx in pnl.groupby(labels.to_numpy(), sort=True).indices.items():
        if idx.size < MIN_ROUNDS:
            skipped += 1
            continue
        part = pnl.iloc[idx]
        var = part.var(ddof=1)
        std = np.sqrt(var.to_numpy())
        excess = part.mean().to_numpy() / book - rf_per_period
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpe = np.where(std > 0, excess / (std / book) * root, np.nan)
        row: dict[str, Any] = {
            "period": str(label),
            "n": int(idx.size),
            "variance": dict(zip(part.columns, var.to_numpy().tolist())),
            "sharpe": dict(zip(part.columns, sharpe.tolist())),
        }
        if quantum in part and opponent in part:
            lags = int(math.floor(4.0 * (idx.size / 100.0) ** (2.0 / 9.0)))
            t = paired_tests(
                part[quantum].to_numpy(),
                part[opponent].to_numpy(),
                periods_per_year=periods_per_year,
                rf_per_period=rf_per_period,
                book=book,
                lags=lags,
            )
            row["variance_ratio"] = t.get("variance_ratio")
            row["variance_ratio_ci95"] = t.get("variance_ratio_ci95")
        rows.append(row)
    out = {"by": unit, "rows": rows, "skipped": skipped, "quantum": quantum, "opponent": opponent}
    ratios = [r["variance_ratio"] for r in rows if r.get("variance_ratio") is not None]
    if ratios:
        out["share_below_1"] = float(np.mean(np.asarray(ratios) < 1.0))
        out["share_significantly_below_1"] = float(
            np.mean([r["variance_ratio_ci95"][1] < 1.0 for r in rows if r.get("variance_ratio_ci95")])
        )
    return out
