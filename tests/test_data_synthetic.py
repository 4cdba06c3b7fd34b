"""Synthetic pair: correlations per state, signal frequencies, reproducibility, chunking, bad parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoord import data
from qcoord.data import DataError, SyntheticPair
from tests.conftest import assert_same_frame, z_tolerance

N = 1_000_000


def _fisher_ok(r: float, rho: float, n: int, z: float = 4.0) -> bool:
    """|atanh(r) - atanh(rho)| within z standard errors 1/sqrt(n-3) of Fisher's transform."""
    return abs(np.arctanh(r) - np.arctanh(rho)) < z / np.sqrt(n - 3)


@pytest.fixture(scope="module")
def signals_path() -> data.MarketData:
    return data.synthetic_pair(N, seed=11, mode="signals", p_a=0.3, p_b=0.6, rho_pos=0.7, rho_neg=-0.5)


def test_signals_mode_correlation_per_state_and_frequencies(signals_path):
    truth = signals_path.truth.iloc[1:]
    r = np.log(signals_path.prices).diff().iloc[1:].to_numpy()
    both = (truth.signal_a.to_numpy() == 1) & (truth.signal_b.to_numpy() == 1)
    assert _fisher_ok(np.corrcoef(r[both].T)[0, 1], -0.5, both.sum())
    assert _fisher_ok(np.corrcoef(r[~both].T)[0, 1], 0.7, (~both).sum())
    n = len(truth)
    assert abs(truth.signal_a.mean() - 0.3) < z_tolerance(0.3, n)
    assert abs(truth.signal_b.mean() - 0.6) < z_tolerance(0.6, n)
    # independence of the two local signals: P(both) = p_a p_b
    assert abs(both.mean() - 0.18) < z_tolerance(0.18, n)
    assert (truth.rho.to_numpy()[both] == -0.5).all() and (truth.rho.to_numpy()[~both] == 0.7).all()


def test_signals_mode_volatility_and_units(signals_path):
    # sigma is annual: per-step log-return std = sigma * sqrt(dt); 4-sigma band of a sample std: sd/sqrt(2n)
    r = np.log(signals_path.prices).diff().iloc[1:].to_numpy()
    expected = 0.2 * np.sqrt(data.synthetic.MINUTE_DT)
    assert np.all(np.abs(r.std(axis=0) / expected - 1) < 4 / np.sqrt(2 * len(r)))
    assert signals_path.periods_per_year == pytest.approx(252 * 390)
    assert (signals_path.prices.iloc[0] == 100.0).all()
    assert str(signals_path.index.tz) == "America/New_York"
    assert (np.diff(signals_path.index.asi8[:10]) == 60e9).all()  # one trading minute per step


def test_regime_mode_chain_statistics_and_correlation():
    n, pb, pr = N, 0.02, 0.1
    md = data.synthetic_pair(n, seed=5, mode="regime", p_break=pb, p_recover=pr, rho_pos=0.8, rho_neg=-0.6)
    regime = md.truth.regime.to_numpy()
    prev, nxt = regime[:-1], regime[1:]
    n0, n1 = (prev == 0).sum(), (prev == 1).sum()
    assert abs(((prev == 0) & (nxt == 1)).sum() / n0 - pb) < z_tolerance(pb, n0)
    assert abs(((prev == 1) & (nxt == 0)).sum() / n1 - pr) < z_tolerance(pr, n1)
    # occupation of the breakdown state; the chain's autocorrelation lam inflates the variance (1+lam)/(1-lam)
    pi1, lam = pb / (pb + pr), 1 - pb - pr
    sd = np.sqrt(pi1 * (1 - pi1) * (1 + lam) / (1 - lam) / n)
    assert abs(regime.mean() - pi1) < 4 * sd
    r = np.log(md.prices).diff().iloc[1:].to_numpy()
    br = regime[1:] == 1
    assert _fisher_ok(np.corrcoef(r[br].T)[0, 1], -0.6, br.sum())
    assert _fisher_ok(np.corrcoef(r[~br].T)[0, 1], 0.8, (~br).sum())


def test_regime_chain_with_no_switching_stays_put():
    md = data.synthetic_pair(5000, seed=1, mode="regime", p_break=0.0, p_recover=0.3)
    assert (md.truth.regime == 0).all()
    md = data.synthetic_pair(5000, seed=1, mode="regime", p_break=1.0, p_recover=1.0)
    r = md.truth.regime.to_numpy()
    assert (r[1:] != r[:-1]).all()  # switches every step


@pytest.mark.parametrize("mode", ["signals", "regime"])
def test_same_seed_identical_different_seed_different(mode):
    a = data.synthetic_pair(50_000, seed=3, mode=mode)
    b = data.synthetic_pair(50_000, seed=3, mode=mode)
    c = data.synthetic_pair(50_000, seed=4, mode=mode)
    assert_same_frame(a.prices, b.prices)
    assert_same_frame(a.truth, b.truth)
    assert not np.allclose(a.prices.to_numpy(), c.prices.to_numpy())


@pytest.mark.parametrize("mode", ["signals", "regime"])
def test_chunks_concatenate_to_generate_bit_for_bit(mode):
    pair = SyntheticPair(mode=mode, seed=9, p_break=0.001, p_recover=0.01)
    n = 3 * data.synthetic.BLOCK + 12_345  # crosses internal block boundaries
    full = pair.generate(n)
    for chunk in (77_777, data.synthetic.BLOCK, n - 1):
        parts = list(pair.chunks(n, chunk))
        assert all(len(p) >= 2 for p in parts)
        assert_same_frame(pd.concat([p.prices for p in parts]), full.prices)
        assert_same_frame(pd.concat([p.truth for p in parts]), full.truth)
    # a shorter path is a prefix of a longer one
    assert_same_frame(pair.generate(1000).prices, full.prices.iloc[:1000])


def test_million_steps_and_daily_clock():
    md = data.synthetic_pair(N, seed=0)
    assert len(md) == N and md.returns.shape == (N - 1, 2)
    daily = data.synthetic_pair(300, seed=0, dt=1 / 252, start="2020-01-04")  # a Saturday rolls to Monday
    assert daily.index.tz is None and daily.index[0] == pd.Timestamp("2020-01-06")
    assert daily.periods_per_year == 252 and (daily.index.day_of_week < 5).all()


@pytest.mark.parametrize(
    "params, culprit",
    [
        ({"p_a": 1.2}, "p_a"),
        ({"p_b": -0.1}, "p_b"),
        ({"p_break": 2.0}, "p_break"),
        ({"p_recover": float("nan")}, "p_recover"),
        ({"rho_pos": 1.5}, "rho_pos"),
        ({"rho_neg": -1.01}, "rho_neg"),
        ({"sigma": -0.2}, "sigma"),
        ({"sigma": (0.2, -0.1)}, "sigma"),
        ({"dt": 0.0}, "dt"),
        ({"s0": (100, 0)}, "s0"),
        ({"mode": "trend"}, "mode"),
        ({"tickers": ("A", "A")}, "tickers"),
        ({"dt": 1.5 / 252}, "dt"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_invalid_parameters_name_the_culprit(params, culprit):
    with pytest.raises(DataError, match=culprit):
        data.synthetic_pair(100, seed=0, **params)


def test_invalid_steps_and_overflowing_clock():
    with pytest.raises(DataError, match="n_steps"):
        data.synthetic_pair(1, seed=0)
    with pytest.raises(DataError, match="n_steps=200000"):
        data.synthetic_pair(200_000, seed=0, dt=1 / 252)  # 800 years of business days
    with pytest.raises(DataError, match="unexpected keyword|got an unexpected"):
        data.synthetic_pair(100, seed=0, p_c=0.3)


@settings(max_examples=40, deadline=None)
@given(p=st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not 0 <= v <= 1))
def test_any_probability_outside_unit_interval_is_rejected(p):
    with pytest.raises(DataError, match="p_a"):
        SyntheticPair(p_a=p)


@pytest.mark.parametrize("first", [True, False])
def test_the_compiled_log_steps_are_the_numpy_expressions_bit_for_bit(first):
    """``_log_steps`` fuses the block's arithmetic into one pass; the path must keep its bits (seeds name paths)."""
    from qcoord.data.synthetic import _log_steps

    rng = np.random.default_rng(17)
    n = 200_003
    z = rng.standard_normal((2, n)) * 3.0
    negative = rng.random(n) < 0.3
    rho_neg, rho_pos, vol, drift = -0.83, 0.41, (0.013, 0.021), (1.3e-5, -2.2e-5)
    ortho_neg, ortho_pos = np.sqrt(1.0 - rho_neg**2), np.sqrt(1.0 - rho_pos**2)
    rho = np.where(negative, rho_neg, rho_pos)
    ly = rho * z[0]
    ly += np.where(negative, ortho_neg, ortho_pos) * z[1]
    ly *= vol[1]
    ly += drift[1]
    lx = z[0] * vol[0]
    lx += drift[0]
    if first:
        lx[0] = ly[0] = 0.0
    got = _log_steps(
        z[0], z[1], negative, rho_neg, rho_pos, ortho_neg, ortho_pos, vol[0], vol[1], drift[0], drift[1], first
    )
    for have, want in zip(got, (np.cumsum(lx), np.cumsum(ly), rho)):
        assert have.tobytes() == want.tobytes()
