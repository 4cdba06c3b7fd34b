"""The queueing simulator against closed forms: M/M/1 when always splitting, M^X/M/1 with batches of two when always
bunching, batches of one or two at random; each test's checks within their simultaneous 95% intervals from independent
replications (Bonferroni: m checks at 1 - 0.05/m each, so a correct simulator fails a test 5% of the time at most,
not 5% a check)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student

from qcoord.backtest.balance.servers import Background, batch_closed_form, bunch_wait_tail, mm1_wait_tail
from qcoord.backtest.balance.routers import Router
from qcoord.backtest.balance.simulate import play, summarise

LAM, MU = 400.0, 1000.0
REPS, PAIRS = 24, 60_000


def _replications(router: Router, background: Background, qos: float, seed0: int = 100) -> dict[str, np.ndarray]:
    """One summary per independent replication (its own seed, a warm-up of 5,000 pairs from an empty system)."""
    out: dict[str, list] = {}
    for rep in range(REPS):
        played = play(
            {"r": router},
            PAIRS,
            lam=LAM,
            mu=MU,
            qos=qos,
            background=background,
            warmup=5_000,
            block_pairs=1000,
            seed=seed0 + rep,
        )
        for k, v in summarise(played, "r", qos).items():
            if isinstance(v, float):
                out.setdefault(k, []).append(v)
    return {k: np.array(v) for k, v in out.items()}


def _within(samples: np.ndarray, exact: float, checks: int) -> None:
    """``exact`` inside the replications' t-interval at 1 - 0.05 / ``checks`` (one of ``checks`` simultaneous)."""
    m, se = samples.mean(), samples.std(ddof=1) / math.sqrt(samples.size)
    half = student.ppf(1 - 0.025 / checks, samples.size - 1) * se
    assert abs(m - exact) <= half, f"{m:.6g} +- {half:.3g} misses {exact:.6g}"


def test_always_split_is_mm1():
    """Each server sees one customer per pair: Poisson(lam) arrivals, Exp(mu) service. Mean wait lam / (mu (mu -
    lam)), P(W > t) = rho e^-(mu - lam) t, idle stretches Exp(lam): throughput (1 - rho) Gamma(3) / (lam tau)."""
    qos = 1.5 / MU
    bg = Background()
    reps = _replications(Router("split", "split", 0.0), bg, qos)
    _within(reps["mean_wait"], LAM / (MU * (MU - LAM)), 4)
    _within(reps["qos_violation"], float(mm1_wait_tail(LAM, MU, qos)), 4)
    _within(reps["throughput"], batch_closed_form(LAM, MU, 0.0, bg)["throughput"], 4)
    p95 = math.log((LAM / MU) / 0.05) / (MU - LAM)  # rho e^-(mu - lam) t = 0.05
    _within(reps["p95_wait"], p95, 4)


def test_always_bunch_is_a_batch_queue():
    """Each pair on one server (either, by the shared bit): batches of two at rate lam/2, M^X/M/1. Mean wait from
    Pollaczek-Khinchine plus half a service; the share waiting longer than the QoS bound from the workload's
    two-exponential tail (first customer) and its convolution with one service (second)."""
    qos = 2.0 / MU
    bg = Background(exponent=3.0)
    reps = _replications(Router("bunch", "bunch", 0.0), bg, qos)
    cf = batch_closed_form(LAM, MU, 1.0, bg)
    _within(reps["mean_wait"], cf["mean_wait"], 3)
    first, second = bunch_wait_tail(LAM, MU, qos)
    _within(reps["qos_violation"], float(first + second) / 2, 3)
    _within(reps["throughput"], cf["throughput"], 3)
    assert reps["bunch_rate"].min() == 1.0


def test_random_routing_mixes_batches_of_one_and_two():
    qos = 1.0 / MU
    bg = Background(kind="linear")
    reps = _replications(Router("random", "random", 0.0), bg, qos)
    cf = batch_closed_form(LAM, MU, 0.5, bg)
    _within(reps["mean_wait"], cf["mean_wait"], 3)
    _within(reps["throughput"], 1 - LAM / MU, 3)  # linear: the share of time without customers
    _within(reps["bunch_rate"], 0.5, 3)


def test_the_bunch_tail_formula_is_a_distribution():
    """P(V > 0) is the load rho (PASTA), the second customer always waits (P(W > 0) = 1), both fall to 0; checked
    against numerical inversion-free facts: the mean of V from its tail equals Pollaczek-Khinchine's."""
    first, second = bunch_wait_tail(LAM, MU, np.array([0.0, 1e-9, 1.0]))
    assert first[0] == pytest.approx(LAM / MU) and second[0] == pytest.approx(1.0) and first[2] < 1e-100
    grid = np.linspace(0, 60 / MU, 200_001)
    f, s = bunch_wait_tail(LAM, MU, grid)
    mean_first, mean_second = np.trapezoid(f, grid), np.trapezoid(s, grid)
    assert mean_first == pytest.approx(batch_closed_form(LAM, MU, 1.0)["mean_workload_seen"], rel=1e-6)
    assert mean_second == pytest.approx(mean_first + 1 / MU, rel=1e-6)


def test_linear_throughput_does_not_depend_on_routing():
    """With a linear background output every router, informed or not, leaves each server 1 - rho of its time."""
    routers = {n: Router(n, n, 0.0) for n in ("split", "bunch", "random")}
    routers["oracle"] = Router("oracle", "oracle", 1.0 / MU)
    played = play(
        routers,
        400_000,
        lam=LAM,
        mu=MU,
        qos=1e-3,
        background=Background(kind="linear"),
        warmup=5000,
        block_pairs=1000,
        seed=9,
    )
    for name in routers:
        m = summarise(played, name, 1e-3)
        lo, hi = m["throughput_ci95"]
        assert lo <= 1 - LAM / MU <= hi, name


def test_same_seed_same_numbers_and_chunks_carry_state():
    r = {"split": Router("split", "split", 0.0), "bunch": Router("bunch", "bunch", 0.0)}
    kw = dict(lam=LAM, mu=MU, qos=1e-3, background=Background(), warmup=1000, block_pairs=1000, seed=4)
    a = play(r, 300_000, **kw)  # more than one chunk of pairs
    b = play(r, 300_000, **kw)
    for name in r:
        assert summarise(a, name, 1e-3) == summarise(b, name, 1e-3)


def test_overload_and_bad_backgrounds_are_refused():
    from qcoord.backtest import BacktestError

    with pytest.raises(BacktestError, match="rho"):
        batch_closed_form(1000.0, 1000.0, 0.0)
    with pytest.raises(BacktestError, match="exponent"):
        Background(exponent=0.5)
    with pytest.raises(BacktestError, match="background"):
        Background(kind="cubic")
