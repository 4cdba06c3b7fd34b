"""Bell-pair supply: simulated availability and pair ages against the Poisson formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord.backtest import BacktestError, BellPairSupply
from qcoord.backtest.players.supply import SupplyState
from tests.conftest import CI_ALPHA


def _run(supply: BellPairSupply, rounds: int, seed: int = 0):
    state, has, age = SupplyState(supply), [], []
    rng = np.random.default_rng(seed)
    for lo in range(1, rounds + 1, 50_000):
        h, a = state.schedule(lo, min(50_000, rounds + 1 - lo), rng)
        has.append(h)
        age.append(a)
    return np.concatenate(has), np.concatenate(age)


@pytest.mark.parametrize("pair_rate, decision_rate", [(2_000.0, 5_000.0), (8_000.0, 1_000.0), (50.0, 10_000.0)])
def test_one_slot_availability_and_age_match_poisson(pair_rate, decision_rate):
    """One slot, a pair per round at most: a round has a pair iff one arrived since the previous round:
    P = 1 - exp(-lam T); its age is the time since the last arrival, mean 1/lam - T e^{-lam T} / (1 - e^{-lam T})."""
    n = 400_000
    has, age = _run(BellPairSupply(pair_rate, decision_rate, memory_slots=1), n)
    lt = pair_rate / decision_rate
    p = 1 - math.exp(-lt)
    from qcoord.backtest.stats.intervals import wilson_ci

    lo, hi = wilson_ci(int(has.sum()), n, alpha=CI_ALPHA)
    assert lo <= p <= hi
    T = 1 / decision_rate
    mean_age = 1 / pair_rate - T * math.exp(-lt) / (1 - math.exp(-lt))
    ages = age[has]
    sd = ages.std() / math.sqrt(ages.size)
    assert abs(ages.mean() - mean_age) < 4 * sd
    assert ages.max() <= T + 1e-12


def test_memory_slots_fill_idle_rounds_and_max_age_discards_old_pairs():
    slow_rounds = BellPairSupply(pair_rate=1_000.0, decision_rate=1_000.0, memory_slots=1)
    more_memory = BellPairSupply(pair_rate=1_000.0, decision_rate=1_000.0, memory_slots=8)
    has1, _ = _run(slow_rounds, 200_000)
    has8, age8 = _run(more_memory, 200_000)
    assert has8.mean() > has1.mean() + 0.1  # stored pairs serve rounds in which none arrived
    assert age8[has8].max() > 1e-3  # ... and are older than one round
    capped = BellPairSupply(pair_rate=1_000.0, decision_rate=1_000.0, memory_slots=8, max_age=5e-4)
    has_c, age_c = _run(capped, 200_000)
    assert age_c[has_c].max() <= 5e-4 and has_c.mean() < has8.mean()


def test_supply_is_reproducible_and_state_carries_across_chunks():
    s = BellPairSupply(3_000.0, 4_000.0, memory_slots=3)
    a = SupplyState(s)
    h1, g1 = a.schedule(1, 1000, np.random.default_rng(1))
    b = SupplyState(s)
    h2, g2 = b.schedule(1, 1000, np.random.default_rng(1))
    assert np.array_equal(h1, h2) and np.array_equal(g1, g2)
    assert 0 <= a.count <= 3


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"pair_rate": -1, "decision_rate": 1}, "pair_rate"),
        ({"pair_rate": 1, "decision_rate": 0}, "decision_rate"),
        ({"pair_rate": 1, "decision_rate": 1, "memory_slots": 0}, "memory_slots"),
    ],
)
def test_bad_supply_parameters(kwargs, culprit):
    with pytest.raises(BacktestError, match=culprit):
        BellPairSupply(**kwargs)


def test_fifo_uses_the_oldest_usable_pair():
    """First in, first out: never a pair older than max_age, older pairs on average than freshest-first, and more
    rounds served (freshest-first lets its older pairs pass max_age unused); with one slot the two policies are the
    same schedule."""
    kw = dict(pair_rate=7_000.0, decision_rate=8_000.0, memory_slots=50, max_age=2e-3)
    h_new, a_new = _run(BellPairSupply(**kw), 200_000)
    h_old, a_old = _run(BellPairSupply(**kw, memory_policy="fifo"), 200_000)
    assert a_old[h_old].max() <= 2e-3 and a_old[h_old].mean() > 1.5 * a_new[h_new].mean()
    assert h_old.mean() > h_new.mean() + 0.01
    one = dict(pair_rate=3_000.0, decision_rate=4_000.0, memory_slots=1)
    for x, y in zip(_run(BellPairSupply(**one), 50_000), _run(BellPairSupply(**one, memory_policy="fifo"), 50_000)):
        assert np.array_equal(x, y)
    with pytest.raises(BacktestError, match="memory_policy"):
        BellPairSupply(1.0, 1.0, memory_policy="lifo")
