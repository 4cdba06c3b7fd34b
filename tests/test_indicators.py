"""Indicators: local views, built-ins, thresholds fitted on training, and the causality checker."""

from __future__ import annotations

import numpy as np
import pytest

import data
from backtest import (
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
from backtest.views import make_views
from tests.conftest import shared_file, z_tolerance


def _views(md: data.MarketData, latency: int = 1, seeds=(1, 2)):
    truth = md.truth
    signals = None if truth is None or "signal_a" not in truth else truth[["signal_a", "signal_b"]].to_numpy()
    regime = None if truth is None or "regime" not in truth else truth["regime"].to_numpy()
    vol = None if md.volume is None else md.volume.to_numpy()
    return make_views(md.prices.to_numpy(), tuple(md.tickers), latency, seeds, volume=vol, signals=signals,
                      regime=regime, clock=lambda f, n: md.index[f : f + n])


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


@pytest.mark.parametrize("ind", [NoisySignal(0.1), RollingCorrelation(window=20, threshold=0.2),
                                 Divergence(window=20, threshold=1.0)])
def test_builtins_are_causal(ind):
    va, _ = _views(data.synthetic_pair(5000, seed=6), latency=2)
    check_causality(ind, va, cuts=5)


def test_engine_refuses_a_peeking_custom_indicator_unless_told_not_to_check():
    with pytest.raises(BacktestError, match="peeks_ahead is not causal"):
        run_backtest("signals", rounds=2000, indicators=Peeks(), strategies=["classical"], seed=1)
    r = run_backtest("signals", rounds=2000, indicators=Peeks(), strategies=["classical"], seed=1,
                     check_indicators=False)
    assert r.n_rounds == 2000


def my_indicator(view):
    """Custom indicator: own return below the partner's delayed return."""
    return (view.returns < view.partner_returns).astype(float)


def test_plain_function_and_module_function_indicators():
    r = run_backtest("regime", rounds=3000, indicators=my_indicator, strategies=["classical", "quantum"], seed=1)
    assert r.indicators["A"]["name"] == "my_indicator"
    r2 = run_backtest("regime", rounds=3000, indicators="tests.test_indicators:my_indicator",
                      strategies=["classical", "quantum"], seed=1)
    assert r2.metrics.equals(r.metrics)


@pytest.mark.parametrize("spec, culprit", [("nope", "unknown indicator 'nope'"), ("no.such.module:f", "cannot import"),
                                           (42, "indicator must be")])
def test_bad_indicator_specs(spec, culprit):
    with pytest.raises(BacktestError, match=culprit):
        make_indicator(spec)


def test_indicator_without_the_data_it_needs():
    with pytest.raises(BacktestError, match="noisy_signal needs a synthetic 'signals' source"):
        run_backtest(data.load_sample("jpm_bac"), indicators="noisy_signal", strategies=["classical"])
