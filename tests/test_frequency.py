"""Periods per year from the bar spacing, whatever the index's resolution; Sharpe on weekly and monthly data."""

from __future__ import annotations

import pandas as pd
import pytest

from qcoord import data
from qcoord.backtest import run_backtest
from qcoord.data.frequency import infer_periods_per_year


def _intraday(days: int) -> pd.DatetimeIndex:
    stamps = [
        pd.date_range(f"{d.date()} 09:30", f"{d.date()} 15:59", freq="min", tz="America/New_York")
        for d in pd.bdate_range("2024-01-02", periods=days)
    ]
    return stamps[0].append(stamps[1:])


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
@pytest.mark.parametrize(
    "index, expected",
    [
        (pd.bdate_range("2020-01-01", periods=300), 252.0),
        (pd.date_range("2015-01-02", periods=200, freq="W-FRI"), 52.0),
        (pd.date_range("2000-01-31", periods=120, freq="ME"), 12.0),
        (_intraday(5), 390.0 * 252),
    ],
)
def test_periods_per_year_at_every_resolution(index, expected, unit):
    assert infer_periods_per_year(index.as_unit(unit)) == expected


@pytest.mark.parametrize("rule, ppy", [("W-FRI", 52), ("ME", 12)])
def test_weekly_and_monthly_sharpe_matches_quantstats_and_empyrical(tmp_path, rule, ppy):
    """A weekly or monthly CSV (read by pandas 3 at microsecond resolution) annualises with 52 or 12 periods,
    and each strategy's Sharpe equals quantstats' and empyrical's mean/std x sqrt(N) on the same book returns."""
    empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded (test extra) is not installed")
    qs = pytest.importorskip("quantstats", reason="quantstats (test extra) is not installed")
    daily = data.load_sample("jpm_bac").prices
    path = tmp_path / f"panel_{rule}.csv"
    daily.resample(rule).last().dropna().rename_axis("Date").to_csv(path)
    md = data.load_csv([path])
    assert md.periods_per_year == ppy
    r = run_backtest(md, indicators="return_shock", indicator_params={"window": 12}, keep_rounds=10**7, seed=0)
    for name in ("always_hedge", "uncoordinated"):
        ours = r.metrics.loc[name, "sharpe"]
        ref = empyrical.sharpe_ratio(r.returns(name), annualization=ppy)
        assert ours == pytest.approx(ref, rel=1e-9), name
        assert ours == pytest.approx(qs.stats.sharpe(r.returns(name), periods=ppy), rel=1e-9), name
