"""Settings re-aimed for the pair's age (strategies.aged, the quantum player of a link run): the re-optimised value
against Horodecki's closed form, what is played against it, sampling against the exact value, and the engine."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.stats.intervals import wilson_ci
from qcoord.strategies import Game, Noise, solve
from qcoord.strategies.aged import AgedPlay, replace_noise
from qcoord.strategies.lifetime import useful_lifetime, value_at_age
from tests.conftest import CI_ALPHA

UNIFORM = np.full((2, 2), 0.25)


def horodecki(t: float, t2: float) -> float:
    """CHSH's best win probability on |Phi+> with both halves dephased for t: correlations diag(d, -d, 1), d =
    exp(-2t/T2), so S = 2 sqrt(1 + d^2) (Horodecki) and the win probability 1/2 + S/8."""
    return 0.5 + math.sqrt(1.0 + math.exp(-4.0 * t / t2)) / 4.0


@pytest.mark.parametrize("t2", [3e-4, 2.0])
def test_chsh_under_dephasing_re_aimed_is_horodecki_and_never_cut(t2):
    """Re-aimed for its age, the CHSH pair is worth Horodecki's value at every age (the solver at that age, to 1e-9:
    0.77060 at 0.4407 T2, 0.75228 at T2, 0.75004 at 2 T2), above 3/4 at every age, so no cutoff; settings aimed once
    stop beating 3/4 at (T2/2) ln(1 + sqrt 2). What is played (the grid's settings, interpolated) is within 1e-6 of
    the optimum at every age checked, never above it."""
    aged = AgedPlay.solve(Game(), UNIFORM, Noise.make(t2=t2), 0.0, 3 * t2)
    assert aged.cutoff == math.inf
    for f in (0.0, 0.1, 0.25, 0.4407, 0.77, 1.0, 2.0, 3.0):
        assert aged.value(f * t2) == pytest.approx(horodecki(f * t2, t2), abs=1e-9)
    assert aged.value(0.4407 * t2) == pytest.approx(0.77060, abs=5e-6)
    assert aged.value(t2) == pytest.approx(0.75228, abs=5e-6)
    assert aged.value(2 * t2) == pytest.approx(0.75004, abs=5e-6)
    for t in np.linspace(0.0, 3 * t2, 91):
        played = aged.played_value(float(t))
        assert horodecki(t, t2) - 1e-6 < played <= horodecki(t, t2) + 1e-12
        assert played > 0.75
    once = solve(Game(), UNIFORM, Noise.make(t2=t2)).quantum_strategy()
    assert useful_lifetime(once, Game(), UNIFORM, 0.75) == pytest.approx(t2 / 2 * math.log(1 + math.sqrt(2)), rel=1e-9)


@pytest.mark.parametrize(
    "t1, games",
    [(math.inf, 1), pytest.param(math.inf, 3, marks=pytest.mark.slow), pytest.param(2e-3, 2, marks=pytest.mark.slow)],
)
def test_re_aimed_value_falls_with_age_and_beats_settings_aimed_once(t1, games):
    """Random 2x2 games and input statistics, Werner noise and readout errors, a dephasing memory (and one relaxing
    too, T1 = 2 ms: the whole Bloch sphere is searched, slow): the re-optimised value never rises with age (the storage
    channels are a semigroup of local channels), what is played is never below the settings aimed once for the
    youngest age (to 1e-6, the grid's interpolation), and the cutoff is the first age whose optimum no longer uses the
    pair (a plain bisection on the solver, to 1e-8)."""
    rng = np.random.default_rng(5)
    checked = 0
    while checked < games:
        game = Game.from_table(rng.normal(size=(2, 2, 2)))
        p = rng.dirichlet(np.ones(4)).reshape(2, 2)
        noise = Noise.make(visibility=0.97, readout_error=0.01, t1=t1, t2=1.5e-3)
        if not solve(game, p, noise).uses_entanglement:
            continue
        aged = AgedPlay.solve(game, p, noise, 0.0, 3e-3)
        once = aged.solutions[0].quantum_strategy()
        ages = np.linspace(0.0, 3e-3, 16)
        best = [aged.value(float(t)) for t in ages]
        assert all(b1 <= b0 + 1e-9 for b0, b1 in zip(best, best[1:]))
        for t in ages:
            assert aged.played_value(float(t)) >= value_at_age(once, game, p, float(t)) - 1e-6
        if math.isfinite(aged.cutoff):
            lo, hi = 0.0, 3e-3
            while hi - lo > 1e-12:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if solve(game, p, replace(noise, storage_time=mid)).uses_entanglement else (lo, mid)
            assert aged.cutoff == pytest.approx(hi, rel=1e-8)
        checked += 1


def test_played_rounds_win_at_their_exact_value():
    """The compiled sampler of interpolated settings on each round's own stored pair, against the exact value (Qiskit
    density matrices) of the same settings at the same age: CHSH under dephasing, 60,000 rounds at each of four ages
    (on grid points and between them), every win rate within its Wilson interval (alpha 0.001)."""
    t2 = 3e-4
    aged = AgedPlay.solve(Game(), UNIFORM, Noise.make(t2=t2), 0.0, 2 * t2)
    fallback = aged.solutions[0].classical_strategy()
    rng = np.random.default_rng(11)
    n = 60_000
    for t in (0.0, 0.3 * t2, 0.55 * t2, 1.7 * t2):
        x, y = rng.integers(0, 2, n).astype(np.uint8), rng.integers(0, 2, n).astype(np.uint8)
        a, b = aged.play(x, y, np.full(n, t), rng, fallback)
        wins = int(Game().win(x, y, a, b).sum())
        lo, hi = wilson_ci(wins, n, alpha=CI_ALPHA)
        assert lo <= aged.played_value(t) <= hi
        exact = replace_noise(aged.strategy_at(t), aged.noise, t).value(Game(), UNIFORM)
        assert exact == pytest.approx(aged.played_value(t), abs=1e-15)
        # the same rounds and uniforms through the strategy of that age, as any strategy plays: the same outputs
        # (bar a round whose uniform falls within round-off of a threshold)
        a1, b1 = aged.play(x, y, np.full(n, t), np.random.default_rng(2), fallback)
        a2, b2 = aged.strategy_at(t).play(x, y, np.random.default_rng(2), ages=np.full(n, t))
        assert np.count_nonzero((a1 != a2) | (b1 != b2)) <= 2


def test_engine_plays_re_aimed_settings_and_cuts_no_chsh_like_pair():
    """`qcoord backtest --game paper --link nyse-nasdaq --memory-t2 3e-4`: the settings aimed once for the typical
    age would stop paying about 0.43 ms into storage, but re-aimed for each pair's age the pair beats the classical
    rule at every age the grid covers, so no pair is dropped (the supply keeps every pair) and the memory stage says
    so; the quantum player carries its age table."""
    # decisions 8000 a second (declaring the synthetic source's step): pairs wait microseconds, not a minute
    r = run_backtest(game="paper", link="nyse-nasdaq", memory_t2=3e-4, rounds=20_000, link_decision_rate=8e3)
    mem = r.link["stages"][4]
    assert mem["age_aware"] and mem["memory_cutoff_s"] is None
    g = r.to_dict()["game"]  # fitted for the typical age: the value the stage reports, re-aimed for that age
    assert mem["quantum_value"] == g["quantum_value"] and mem["gap"] == g["quantum_value"] - g["classical_value"]
    assert 3e-4 < mem["fixed_angle_cutoff_s"] < 5e-4
    assert mem["ages_checked_to_s"] > mem["fixed_angle_cutoff_s"]
    assert r.config["resolved"]["supply"]["max_age"] == "inf"
    assert "re-aimed for their age, pairs beat it at every age up to" in mem["text"]
    table = r.players["quantum"]["age_table"]
    assert table["cutoff_s"] is None and all(table["uses_entanglement"])
    assert table["ages_s"][0] == pytest.approx(r.link["derived"]["herald_delay_s"], rel=1e-12)
