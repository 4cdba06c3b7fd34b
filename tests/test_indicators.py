"""Indicators: local views, built-ins, thresholds fitted on training, and the causality checker."""

from __future__ import annotations

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import (
    BacktestError,
    Divergence,
    Indicator,
    NoisyRegime,
    NoisySignal,
    RollingCorrelation,
    VolumeSpike,
    check_causality,
    make_indicator,
    run_backtest,
)
from qcoord.backtest.feed.views import make_views
from tests.conftest import shared_file, z_tolerance


def _views(md: data.MarketData, latency: int = 1, seeds=(1, 2)):
    truth = md.truth
    signals = None if truth is None or "signal_a" not in truth else truth[["signal_a", "signal_b"]].to_numpy()
    regime = None if truth is None or "regime" not in truth else truth["regime"].to_numpy()
    vol = None if md.volume is None else md.volume.to_numpy()
    return make_views(
        md.prices.to_numpy(),
        tuple(md.tickers),
        latency,
        seeds,
        volume=vol,
        signals=signals,
        regime=regime,
        clock=lambda f, n: md.index[f : f + n],
    )


def test_views_are_lagged_and_partner_is_delayed_by_latency():
    md = data.synthetic_pair(50, seed=0)
    va, vb = _views(md, latency=3)
    p = md.prices.to_numpy()
    assert np.isnan(va.price[0]) and va.price[10] == p[9, 0]
    assert va.returns[10] == pytest.approx(p[9, 0] / p[8, 0] - 1)
    assert va.partner_price[10] == p[6, 1]  # 1 + latency bars old
    assert vb.partner_price[10] == p[6, 0] and vb.price[10] == p[9, 1]
    assert va.signal[10] == md.truth.signal_a.iloc[10]  # the round's own signal, not lagged
    assert va.index[10] == md.index[10]


def test_noisy_signal_flip_rate_is_independent_per_server_and_reproducible():
    md = data.synthetic_pair(200_001, seed=1)
    va, vb = _views(md)
    ind = NoisySignal(flip=0.1)
    xa, xb = ind(va), ind(vb)
    n = len(va)
    fa = (xa != md.truth.signal_a.to_numpy()).mean()
    fb = (xb != md.truth.signal_b.to_numpy()).mean()
    assert abs(fa - 0.1) < z_tolerance(0.1, n) and abs(fb - 0.1) < z_tolerance(0.1, n)
    both = ((xa != md.truth.signal_a.to_numpy()) & (xb != md.truth.signal_b.to_numpy())).mean()
    assert abs(both - 0.01) < z_tolerance(0.01, n)  # independent flips
    assert np.array_equal(ind(va), xa)
    assert np.array_equal(ind(va.rows(1000, 5000)), xa[1000:5000])  # same rows, same noise, any slicing


def test_noisy_regime_detects_hidden_regime():
    md = data.synthetic_pair(100_001, seed=2, mode="regime")
    va, _ = _views(md)
    x = NoisyRegime(flip=0.2)(va)
    assert abs((x != md.truth.regime.to_numpy()).mean() - 0.2) < z_tolerance(0.2, len(va))


@pytest.mark.parametrize("cls, target", [(RollingCorrelation, 0.5), (RollingCorrelation, 0.2), (Divergence, 0.3)])
def test_threshold_fitted_on_training_window_hits_target(cls, target):
    md = data.synthetic_pair(40_001, seed=3, mode="regime")
    va, _ = _views(md)
    ind = cls(window=30, target=target)
    ind.fit(va.rows(0, 20_000), start=100)
    x = ind(va)
    assert np.isnan(x[:30]).all()
    train = x[100:20_000]
    assert abs(train.mean() - target) < 0.01  # a quantile: hit up to ties
    before = ind.threshold
    ind.fit(va.rows(0, 20_000), start=100)
    assert ind.threshold == before


def test_rolling_correlation_flags_breakdown_regime():
    md = data.synthetic_pair(60_001, seed=4, mode="regime", p_break=0.002, p_recover=0.01)
    va, _ = _views(md, latency=0)
    ind = RollingCorrelation(window=40, target=0.3)
    ind.fit(va, start=100)
    x = ind(va)[200:]
    regime = md.truth.regime.to_numpy()[200:]
    assert x[regime == 1].mean() > x[regime == 0].mean() + 0.3


def test_volume_spike_on_real_ohlcv():
    md = data.load_csv([shared_file("BAC_daily.csv"), shared_file("AIG_daily.csv")])
    va, _ = _views(md)
    ind = VolumeSpike(window=20, target=0.25)
    ind.fit(va.rows(0, 3000), start=25)
    x = ind(va)
    assert abs(np.nanmean(x[25:3000]) - 0.25) < 0.02
    check_causality(ind, va)


class Peeks(Indicator):
    name = "peeks_ahead"

    def __call__(self, view):
        nxt = np.append(view.returns[1:], np.nan)  # tomorrow's own return: not known at decision time
        return np.where(np.isfinite(nxt), (nxt < 0).astype(float), np.nan)


class IgnoresLatency(Indicator):
    name = "ignores_latency"

    def __call__(self, view):
        sooner = np.append(view.partner_returns[1:], np.nan)  # the partner's return one bar before allowed
        return np.where(np.isfinite(sooner), (sooner < 0).astype(float), np.nan)


@pytest.mark.parametrize("ind", [Peeks(), IgnoresLatency()])
def test_causality_checker_catches_peeking_and_names_the_indicator(ind):
    va, _ = _views(data.synthetic_pair(5000, seed=5), latency=2)
    with pytest.raises(BacktestError, match=f"indicator {ind.name} is not causal"):
        check_causality(ind, va)


@pytest.mark.parametrize(
    "ind", [NoisySignal(flip=0.1), RollingCorrelation(window=20, threshold=0.2), Divergence(window=20, threshold=1.0)]
)
def test_builtins_are_causal(ind):
    va, _ = _views(data.synthetic_pair(5000, seed=6), latency=2)
    check_causality(ind, va, cuts=5)


def test_engine_refuses_a_peeking_custom_indicator_unless_told_not_to_check():
    with pytest.raises(BacktestError, match="peeks_ahead is not causal"):
        run_backtest("signals", rounds=2000, indicators=Peeks(), strategies=["classical"], seed=1)
    r = run_backtest(
        "signals", rounds=2000, indicators=Peeks(), strategies=["classical"], seed=1, check_indicators=False
    )
    assert r.n_rounds == 2000


def my_indicator(view):
    """Custom indicator: own return below the partner's delayed return."""
    return (view.returns < view.partner_returns).astype(float)


def test_plain_function_and_module_function_indicators():
    r = run_backtest("regime", rounds=3000, indicators=my_indicator, strategies=["classical", "quantum"], seed=1)
    assert r.indicators["A"]["name"] == "my_indicator"
    r2 = run_backtest(
        "regime",
        rounds=3000,
        indicators="tests.test_indicators:my_indicator",
        strategies=["classical", "quantum"],
        seed=1,
    )
    assert r2.metrics.equals(r.metrics)


@pytest.mark.parametrize(
    "spec, culprit",
    [("nope", "unknown indicator 'nope'"), ("no.such.module:f", "cannot import"), (42, "indicator must be")],
)
def test_bad_indicator_specs(spec, culprit):
    with pytest.raises(BacktestError, match=culprit):
        make_indicator(spec)


def test_indicator_without_the_data_it_needs():
    with pytest.raises(BacktestError, match="noisy_signal needs a synthetic 'signals' source"):
        run_backtest(data.load_sample("jpm_bac"), indicators="noisy_signal", strategies=["classical"])


def _flat_pair(n: int = 600, flat=(200, 280), seed: int = 3) -> data.MarketData:
    """Two random-walk prices where the first stock does not move at all for rows ``flat`` (a stale quote)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    r = rng.normal(0, 0.01, (n, 2))
    r[flat[0] : flat[1], 0] = 0.0
    prices = 100 * np.exp(np.cumsum(r, axis=0))
    prices[flat[0] - 1 : flat[1], 0] = prices[flat[0] - 1, 0]  # exactly unchanged, not merely close
    idx = pd.bdate_range("2001-01-01", periods=n)
    return data.MarketData(pd.DataFrame(prices, index=idx, columns=["FLAT", "MOVE"]), periods_per_year=252)


@pytest.mark.parametrize("name", ["rolling_correlation", "divergence", "volatility_burst", "return_shock", "momentum"])
def test_a_flat_window_reads_no_signal_instead_of_failing(name):
    """A window in which a stock did not move has no volatility and no correlation: the built-ins read 'no signal'
    (x = 0) there, and the run goes on (it used to fail with 'undefined after its warm-up', naming the wrong ticker)."""
    md = _flat_pair()
    ind = make_indicator(name, window=30, target=0.5)
    va, vb = _views(md)
    ind.fit(va, start=40)
    x = ind(va)
    inside = slice(200 + 32, 280)  # every window ending here lies in the flat stretch
    if name in ("divergence", "rolling_correlation"):  # they read both stocks: B's moves still count for divergence
        assert np.isfinite(x[inside]).all()
    else:
        assert (x[inside] == 0).all()
    r = run_backtest(
        md, indicators=name, indicator_params={"window": 30}, strategies=["classical", "quantum"], progress=False
    )
    assert r.n_rounds > 0


def test_a_statistic_that_never_moves_is_said_not_failed():
    """spread_widening on a one-tick spread: the spread never changes, so the indicator never fires; the run says so
    in its warnings (it used to fail on README's own BAC quote file)."""
    import pandas as pd

    md = _flat_pair(flat=(0, 0))
    spread = pd.DataFrame(0.01, index=md.index, columns=md.tickers)
    md = data.MarketData(md.prices, periods_per_year=252, spread=spread)
    r = run_backtest(md, indicators="spread_widening", strategies=["classical"], progress=False)
    assert (r.rounds["inputs"]["x"] == 0).all()
    assert any("spread_widening" in w and "never moved" in w for w in r.warnings)


def test_spread_widening_runs_on_the_shipped_one_tick_quotes():
    md = data.load_csv(
        [
            shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"),
            shared_file("AIG_minute_quotes_2013-10-04_2013-10-11.csv"),
        ],
        session="regular",
    )
    r = run_backtest(md, indicators="spread_widening", strategies=["classical", "quantum"], progress=False)
    assert r.n_test > 0


def test_loaders_warn_about_runs_of_unchanged_prices_naming_ticker_and_dates(tmp_path):
    md = _flat_pair()
    path = tmp_path / "panel.csv"
    md.prices.rename_axis("Date").to_csv(path)
    with pytest.warns(data.DataWarning, match=r"FLAT: 81 unchanged prices in a row from 2001-10-05 to 2002-01-25"):
        data.load_csv(path)


def test_default_real_data_indicator_is_local_and_poses_the_coordination_problem():
    """On real prices the default indicator reads each server's own stock only, so the bits differ between the
    servers; an indicator both servers compute from the same bars (x = y) is called out in the summary's first line."""
    md = data.load_sample("jpm_bac")
    r = run_backtest(md, strategies=["classical", "quantum"], progress=False)
    x, y = r.rounds["inputs"]["x"].to_numpy(), r.rounds["inputs"]["y"].to_numpy()
    assert r.indicators["A"]["name"] == "return_shock" and 0.2 < np.mean(x != y) < 0.8  # measured 25%
    assert r.shared_information() is None
    same = run_backtest(md, indicators="rolling_correlation", strategies=["classical", "quantum"], progress=False)
    lines = same.summary().splitlines()
    headline = " ".join(
        line.strip() for line in lines[: next(i for i, line in enumerate(lines[1:], 1) if not line.startswith("  "))]
    )
    assert "The two servers' indicators agree in 100.0% of training rounds" in headline
    at = next(i for i, line in enumerate(lines) if line.startswith("information: "))
    paragraph = " ".join([lines[at], *(line.strip() for line in lines[at + 1 :] if line.startswith("  "))])
    assert paragraph.startswith("information: x = y in 100.0% of training rounds") and "return_shock" in paragraph
    assert same.to_dict()["shared_information"].startswith("x = y in 100.0%")
