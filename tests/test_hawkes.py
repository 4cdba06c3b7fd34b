"""The Hawkes simulator against its closed forms, its delays and its seeding; the two-venue event-time market.

Intervals. A mean rate over a window T has variance C_ii / T, C = R diag(Lambda) R^T with R = (I - A)^-1 (the
long-window count covariance per second of a stationary Hawkes process; Hawkes 1971). A sample (co)variance of m
window counts has variance (m4 - s^4) / m, m4 the sample's own fourth central (cross) moment (the delta method, no
normality assumed). Correlations by horizon are compared in batches: B batch estimates, mean +- t(B-1) sd / sqrt(B).
Every check is at 95% for its family (Bonferroni over the dimensions or entries it checks at once) and seeded, so
each is deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qcoord import data
from qcoord.data import DataError, EventPair, Hawkes
from tests.conftest import shared_file

# A 4-dimensional process shaped like the market (up/down at two venues), asymmetric and with delays.
A4 = [[0.1, 0.25, 0.3, 0.0], [0.25, 0.05, 0.0, 0.3], [0.35, 0.0, 0.0, 0.2], [0.0, 0.35, 0.2, 0.0]]
B4 = [[20.0, 5.0, 50.0, 1.0], [5.0, 20.0, 1.0, 50.0], [40.0, 1.0, 1.0, 8.0], [1.0, 40.0, 8.0, 1.0]]
D4 = [[0.0, 0.0, 2e-3, 0.0], [0.0, 0.0, 0.0, 2e-3], [2e-3, 0.0, 0.0, 0.0], [0.0, 2e-3, 0.0, 0.0]]
MU4 = [2.0, 1.0, 1.5, 0.5]
WARM = 50.0  # seconds dropped before measuring: the slowest mode relaxes in well under a second here


def _z(alpha: float, k: int) -> float:
    """Two-sided normal quantile of a family of k checks at level alpha (Bonferroni)."""
    return float(stats.norm.ppf(1 - alpha / (2 * k)))


@pytest.fixture(scope="module")
def run4():
    h = Hawkes(MU4, A4, B4, D4, seed=7)
    times, marks = h.simulate(WARM + 100_000.0)
    keep = times > WARM
    return h, times[keep] - WARM, marks[keep], 100_000.0


def test_mean_rates_match_the_stationary_intensity(run4):
    h, times, marks, span = run4
    lam = h.mean_intensity()
    assert np.allclose(lam, np.linalg.solve(np.eye(4) - np.array(A4), MU4))
    rate = np.bincount(marks, minlength=4) / span
    half = _z(0.05, 4) * np.sqrt(np.diag(h.count_covariance()) / span)  # family-wise 95%
    assert np.all(np.abs(rate - lam) < half), (rate, lam, half)


def test_window_count_covariance_matches_the_spectrum(run4):
    """Cov(N_i(W), N_j(W)) over windows of W = 2 s against the Bartlett-spectrum value, every entry at once."""
    h, times, marks, span = run4
    w = 2.0
    m = int(span // w)
    counts = np.zeros((m, 4))
    np.add.at(counts, (np.minimum((times // w).astype(np.int64), m - 1), marks), 1)
    theory = h.increment_covariance(w)
    dev = counts - counts.mean(axis=0)
    z = _z(0.05, 10)
    for i in range(4):
        for j in range(i, 4):
            prod = dev[:, i] * dev[:, j]
            cov = prod.mean()
            se = math.sqrt((np.mean(prod**2) - cov**2) / m)
            assert abs(cov - theory[i, j]) < z * se, (i, j, cov, theory[i, j], se)


def test_branching_ratio_univariate_from_the_rate_and_from_the_fano_factor():
    """n = a (the kernel norm alpha / beta) twice: from the mean rate, mu / (1 - n), and from the counts' long-window
    Fano factor, Var N(W) / E N(W), whose exact value at W comes from the spectrum (1 / (1 - n)^2 as W -> inf)."""
    mu, n, beta = 1.0, 0.6, 5.0
    h = Hawkes([mu], [[n]], beta, seed=3)
    assert h.branching_ratio == pytest.approx(n)
    assert h.count_covariance()[0, 0] == pytest.approx(mu / (1 - n) ** 3)
    times, _ = h.simulate(WARM + 200_000.0)
    times = times[times > WARM] - WARM
    span = 200_000.0
    rate = times.size / span
    half = _z(0.05, 2) * math.sqrt(h.count_covariance()[0, 0] / span)
    n_from_rate = 1 - mu / rate  # delta method: dn = mu / rate^2 drate
    assert abs(n_from_rate - n) < half * mu / rate**2
    w = 20.0
    counts = np.bincount((times // w).astype(np.int64), minlength=int(span // w))[: int(span // w)].astype(float)
    dev = counts - counts.mean()
    var, m = np.mean(dev**2), counts.size
    se = math.sqrt((np.mean(dev**4) - var**2) / m)
    assert abs(var - h.increment_covariance(w)[0, 0]) < _z(0.05, 2) * se
    assert 1 / (1 - n) ** 2 * 0.9 < var / counts.mean() < 1 / (1 - n) ** 2  # the finite window lowers it a little


def test_increment_covariance_against_the_one_dimensional_closed_form_and_its_limits():
    # 1-D exponential kernel: Var N(tau) = Lambda tau / (1-n)^2 - Lambda (1/(1-n)^2 - 1)(1 - e^{-b(1-n)tau}) / (b(1-n))
    mu, n, b = 1.0, 0.5, 10.0
    h = Hawkes([mu], [[n]], b)
    lam, k = mu / (1 - n), b * (1 - n)
    for tau in (1e-6, 1e-3, 0.1, 1.0, 10.0, 1e4):
        closed = lam * tau / (1 - n) ** 2 - lam * (1 / (1 - n) ** 2 - 1) * (1 - math.exp(-k * tau)) / k
        assert h.increment_covariance(tau)[0, 0] == pytest.approx(closed, rel=1e-6)
    # delays move the short-window covariance but never the long-window slope R diag(Lambda) R^T
    h4 = Hawkes(MU4, A4, B4, D4)
    assert np.allclose(h4.increment_covariance(1e-7) / 1e-7, np.diag(h4.mean_intensity()), rtol=1e-4, atol=1e-6)
    big = 1e5
    assert np.allclose(h4.increment_covariance(big) / big, h4.count_covariance(), rtol=1e-3)
    no_delay = Hawkes(MU4, A4, B4, 0.0)
    assert not np.allclose(no_delay.increment_covariance(5e-3), h4.increment_covariance(5e-3), rtol=1e-3)


def _compensator_gaps(times, marks, mu, a, b, d):
    """An independent, plain-Python compensator: for each dimension i, Lambda_i between its consecutive events,
    Lambda_i(t) = mu_i t + sum_j a_ij sum_{s in events of j, s + d_ij < t} (1 - exp(-b_ij (t - s - d_ij)))."""
    dim = len(mu)
    out = []
    for i in range(dim):
        q = times[marks == i]
        total = mu[i] * q
        for j in range(dim):
            if a[i][j] == 0:
                continue
            src = np.sort(times[marks == j] + d[i][j])
            # walk the merged order: e = sum over switched-on sources of exp(-b (t - s))
            e, last, k, acc = 0.0, 0.0, 0, np.empty(q.size)
            for n, t in enumerate(q):
                while k < src.size and src[k] < t:
                    e = e * math.exp(-b[i][j] * (src[k] - last)) + 1.0
                    last = src[k]
                    k += 1
                acc[n] = a[i][j] * (k - e * math.exp(-b[i][j] * (t - last)))
            total = total + acc
        out.append(np.diff(total))
    return out


def test_time_rescaling_gives_unit_exponential_gaps():
    """Exactness: the compensator between consecutive events of each dimension is Exp(1) (time-rescaling theorem).
    Kolmogorov-Smirnov at 5% for the family of four dimensions, against an independent compensator."""
    h = Hawkes(MU4, A4, B4, D4, seed=11)
    times, marks = h.simulate(3_000.0)
    gaps = _compensator_gaps(times, marks, MU4, A4, B4, D4)
    for g in gaps:
        assert g.size > 5_000
        assert stats.kstest(g, "expon").pvalue > 0.05 / 4


def test_cross_excitation_never_arrives_before_the_delay():
    """Y has no baseline and is excited by X only, after d: every Y event has an X event at least d before it, none
    falls within d after an isolated X event, and each follows one of X's events by d plus the kernel's span."""
    d, beta = 3e-3, 2_000.0
    h = Hawkes([1.0, 0.0], [[0.0, 0.0], [0.8, 0.0]], beta, [[0.0, 0.0], [d, 0.0]], seed=5)
    times, marks = h.simulate(20_000.0)
    tx, ty = times[marks == 0], times[marks == 1]
    assert tx.size > 15_000 and ty.size > 10_000
    before = np.searchsorted(tx, ty - d, side="right") - 1  # latest X event at or before t_Y - d
    assert (before >= 0).all()
    assert (ty - tx[before] >= d).all()
    assert (ty - tx[before] < d + 30 / beta).all()  # exp(-30): nothing survives that long in this sample
    latest = np.searchsorted(tx, ty, side="right") - 1
    gap = ty - tx[latest]
    isolated = np.diff(tx, prepend=-np.inf)[latest] > 0.05  # no other X event within 50 ms before
    assert isolated.sum() > 5_000
    assert (gap[isolated] >= d).all()


def test_same_seed_same_events_whatever_the_chunking_and_ring_growth():
    # a 1 s delay at 300 events a second keeps hundreds of times in the ring: it must grow past its first 64
    h = Hawkes([100.0, 100.0], [[0.2, 0.3], [0.3, 0.2]], [[50.0, 5.0], [5.0, 50.0]], [[0.0, 1.0], [1.0, 0.0]], seed=2)
    whole_t, whole_m = h.stream().take(60_000)
    s = h.stream(chunk_events=997)
    parts = [s.take(k) for k in (1, 0, 5, 12_345, 30_000)]
    parts += list(s.until(float(whole_t[50_000])))
    parts.append(s.take(60_000 - sum(p[0].size for p in parts)))
    assert s._buf.shape[1] > 64
    assert np.array_equal(np.concatenate([p[0] for p in parts]), whole_t)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), whole_m)
    assert s.count == 60_000
    again = Hawkes(h.baseline, h.adjacency, h.decays, h.delays, seed=2).stream().take(60_000)
    assert np.array_equal(again[0], whole_t)
    other = Hawkes(h.baseline, h.adjacency, h.decays, h.delays, seed=3).stream().take(100)
    assert not np.array_equal(other[0], whole_t[:100])
    # until() stops at t: everything at or before it, nothing after
    t = float(whole_t[1000])
    upto = np.concatenate([c[0] for c in h.stream(64).until(t)])
    assert np.array_equal(upto, whole_t[whole_t <= t])


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"baseline": [-1.0, 1.0]}, "baseline"),
        ({"baseline": [0.0, 0.0]}, "baseline"),
        ({"adjacency": [[0.6, 0.5], [0.5, 0.6]]}, "branching ratio"),
        ({"adjacency": [[0.1, -0.1], [0.0, 0.1]]}, "adjacency"),
        ({"adjacency": [[0.1, 0.1]]}, "adjacency"),
        ({"decays": 0.0}, "decays"),
        ({"delays": [[0.0, -1e-3], [0.0, 0.0]]}, "delays"),
        ({"decays": float("nan")}, "decays"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_hawkes_parameters_name_the_culprit(kwargs, culprit):
    args = {"baseline": [1.0, 1.0], "adjacency": [[0.1, 0.2], [0.2, 0.1]], "decays": 1.0, "delays": 0.0, "seed": 0}
    with pytest.raises(DataError, match=culprit):
        Hawkes(**{**args, **kwargs})


# -- the two-venue market --------------------------------------------------------------------------------------
def test_event_pair_defaults_delay_lag_and_clock():
    p = EventPair()
    assert p.delay_s == pytest.approx(56.0 * 1.468 / 299_792.458)  # 274 us through fibre
    assert p.lag_rows == math.ceil(p.delay_s / 1e-5) == 28
    assert EventPair(dt_s=1e-4).lag_rows == 3
    assert EventPair(distance_km=0.0).lag_rows == 0
    assert EventPair(distance_km=3e-5 * 299_792.458, speed_km_s=299_792.458, dt_s=1e-5).lag_rows == 3  # exact
    assert p.hawkes.branching_ratio == pytest.approx(p.reversion + p.momentum + p.cross)
    assert p.mode == "events" and p.tickers == ("X", "Y")
    assert p.periods_per_year == pytest.approx(252 * 6.5 * 3600 / 1e-5)
    idx = p.timestamps(5, 4)
    assert str(idx.tz) == "America/New_York" and (np.diff(idx.asi8) == 10_000).all()
    assert idx[0] == p.timestamps_at([5])[0] == p.timestamps(0, 1)[0] + np.timedelta64(50, "us")
    assert np.array_equal(p.nanoseconds(5, 4), idx.asi8)
    assert np.allclose(p.seconds(5, 4), [5e-5, 6e-5, 7e-5, 8e-5], rtol=0, atol=1e-18)
    assert p.params()["s0"] == [167.75, 167.75] and EventPair(**p.params()) == p


def test_event_pair_rows_are_the_events_and_do_not_depend_on_chunking():
    p = EventPair(seed=4, baseline_hz=2.0, dt_s=1e-3)  # about 40 moves a second: many rows move
    n = 200_000
    whole = next(p.arrays(n, n))
    pieces = list(p.arrays(n, 7_777))
    assert [f for f, _, _ in pieces] == list(range(0, n, 7_777))
    assert np.array_equal(np.concatenate([x for _, x, _ in pieces]), whole[1])
    for key in ("events_x", "events_y"):
        assert np.array_equal(np.concatenate([t[key] for _, _, t in pieces]), whole[2][key])
    prices, truth = whole[1], whole[2]
    assert prices.flags.f_contiguous and (prices[0] == p.s0).all()
    ticks = (prices - np.array(p.s0)) / p.tick
    assert np.allclose(ticks, np.round(ticks), atol=1e-6)
    assert truth["events_x"][0] == truth["events_y"][0] == 0
    # each row's price is the start price plus every move at or before the row's instant, from events()
    grid = p.seconds(0, n)
    for v, name in enumerate(p.tickers):
        t, sign = p.event_times(float(grid[-1]))[name]
        net = np.cumsum(np.bincount(np.searchsorted(grid, t, side="left"), weights=sign, minlength=n))
        assert np.allclose(prices[:, v], p.s0[v] + p.tick * net)
        assert truth["events_x" if v == 0 else "events_y"].sum() == t.size
    md = p.generate(1_000)
    assert np.array_equal(md.prices.to_numpy(), prices[:1_000]) and md.meta["mode"] == "events"
    assert md.periods_per_year == p.periods_per_year


def _window_moves(t, sign, tau, n_windows):
    """Net moves per window of tau as a sparse (window ids, moves) pair."""
    w = (t // tau).astype(np.int64)
    keep = w < n_windows
    ids, inv = np.unique(w[keep], return_inverse=True)
    return ids, np.bincount(inv, weights=sign[keep])


def _corr(x, y, n):
    """Correlation of two sparse series of length n."""
    ix, vx = x
    iy, vy = y
    common, ax, ay = np.intersect1d(ix, iy, assume_unique=True, return_indices=True)
    sxy = float(np.dot(vx[ax], vy[ay])) - vx.sum() * vy.sum() / n
    sxx = float(np.dot(vx, vx)) - vx.sum() ** 2 / n
    syy = float(np.dot(vy, vy)) - vy.sum() ** 2 / n
    return sxy / math.sqrt(sxx * syy)


def test_epps_effect_correlation_rises_with_the_horizon_as_the_spectrum_says():
    """The default market's correlation by horizon (a baseline 100 times the default's: correlations do not depend
    on it, every second moment scales with it) against Hawkes.increment_covariance, in 20 batches of 400 s."""
    p = EventPair(seed=9, baseline_hz=1.42)
    batches, span = 20, 400.0
    horizons = (1e-4, p.delay_s, 1e-2, 0.1, 1.0)
    ev = p.event_times(batches * span)
    est = np.empty((batches, len(horizons)))
    for b in range(batches):
        lo, hi = b * span, (b + 1) * span
        sides = []
        for name in p.tickers:
            t, s = ev[name]
            sel = (t >= lo) & (t < hi)
            sides.append((t[sel] - lo, s[sel].astype(float)))
        for k, tau in enumerate(horizons):
            n = int(span // tau)
            est[b, k] = _corr(_window_moves(*sides[0], tau, n), _window_moves(*sides[1], tau, n), n)
    mean, half = (
        est.mean(axis=0),
        stats.t.ppf(1 - 0.05 / (2 * len(horizons)), batches - 1) * est.std(axis=0, ddof=1) / math.sqrt(batches),
    )
    theory = np.array([p.correlation(tau) for tau in horizons])
    assert np.all(np.abs(mean - theory) < half), (mean, theory, half)
    assert theory[0] < 0.001 and theory[1] < 0.002  # below the delay: nearly uncorrelated
    assert abs(mean[0]) < 0.01 and abs(mean[1]) < 0.01
    assert np.all(np.diff(mean[1:]) > half[2:] + half[1:-1])  # from the delay on, it rises step by step
    assert p.correlation(60.0) > 0.8 and p.correlation(0.1) > 0.5


def test_default_calibration_matches_spy_minute_variance():
    """docs/data.md: the default's one-minute price variance is SPY's in the 2013 minute quotes of ../shared/data
    (regular hours, consecutive minutes of a day), 0.44 tick^2 a second, within 2%."""
    import pandas as pd

    q = (
        pd.read_csv(shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"), parse_dates=["Date"])
        .set_index("Date")
        .between_time("09:30", "15:59")
    )
    mid = (q.BidClose + q.AskClose) / 2
    step = mid.groupby(mid.index.date).diff()
    one_minute = step[mid.index.to_series().diff() == pd.Timedelta(minutes=1)]
    measured = float(one_minute.var()) / 0.01**2 / 60.0
    p = EventPair()
    assert p.variance(60.0)[0] / p.tick**2 / 60.0 == pytest.approx(measured, rel=0.02)
    assert p.event_rates()[0] == pytest.approx(0.284, rel=1e-3)


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"dt_s": 0.0}, "dt_s"),
        ({"dt_s": 1.5e-10}, "dt_s"),
        ({"baseline_hz": -1.0}, "baseline_hz"),
        ({"baseline_hz": (0.0, 0.0)}, "baseline_hz"),
        ({"reversion": 0.5, "cross": 0.6}, "branching ratio"),
        ({"cross": -0.1}, "cross"),
        ({"cross_decay_hz": 0.0}, "cross_decay_hz"),
        ({"distance_km": -1.0}, "distance_km"),
        ({"speed_km_s": 400_000.0}, "speed_km_s"),
        ({"tick": 0.0}, "tick"),
        ({"s0": (100.0, -1.0)}, "s0"),
        ({"s0": (1.0, 2.0, 3.0)}, "s0"),
        ({"tickers": ("X", "X")}, "tickers"),
        ({"start": "not a date"}, "start"),
        ({"warmup_s": -1.0}, "warmup_s"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_invalid_event_pair_parameters_name_the_culprit(kwargs, culprit):
    with pytest.raises(DataError, match=culprit):
        EventPair(**kwargs)


def test_event_pair_bad_arguments_and_a_price_that_would_reach_zero():
    p = EventPair()
    for call in (
        lambda: next(p.arrays(1)),
        lambda: next(p.arrays(10, 0)),
        lambda: next(p.arrays(10, 5, 0)),
        lambda: next(p.events(-1.0)),
    ):
        with pytest.raises(DataError):
            call()
    low = EventPair(baseline_hz=50.0, s0=(0.02, 0.02), dt_s=1e-2, seed=1)
    with pytest.raises(DataError, match="too few ticks"):
        for _ in low.arrays(100_000, 10_000):
            pass


def test_event_pair_has_the_streaming_interface_the_engine_plays():
    """What backtest.feed.feeds.StreamFeed and ArrayFeed.from_pair read from a SyntheticPair."""
    s, e = data.SyntheticPair(), EventPair()
    for name in ("arrays", "timestamps", "timestamps_at", "params", "periods_per_year", "tickers", "mode"):
        assert hasattr(e, name), name
    first, prices, truth = next(e.arrays(100, 40, threads=2))
    assert (first, prices.shape) == (0, (40, 2)) and prices.dtype == next(s.arrays(100, 40))[1].dtype
    assert type(e.timestamps(0, 3)) is type(s.timestamps(0, 3))
