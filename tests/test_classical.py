"""Classical strategies: the exhaustive optimum, why shared randomness cannot beat it, baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoord.backtest.stats.intervals import draw_inputs, wilson_ci
from qcoord.strategies import (
    Game,
    LocalRule,
    SharedRandomness,
    Strategy,
    always_hedge_positive,
    classical_optimum,
    deterministic_value,
    follow_indicator,
    independent,
    uncoordinated,
)
from qcoord.strategies.classical import RULES
from tests.conftest import CI_ALPHA, streams

distributions = (
    st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4)
    .filter(lambda v: sum(v) > 1e-3)
    .map(lambda v: np.array(v).reshape(2, 2) / sum(v))
)


def test_uniform_inputs_classical_optimum_is_three_quarters():
    value, f_a, f_b = classical_optimum(Game(), independent(0.5, 0.5))
    assert value == pytest.approx(0.75)
    assert deterministic_value(Game(), independent(0.5, 0.5), f_a, f_b) == pytest.approx(0.75)


@settings(max_examples=200, deadline=None)
@given(distributions)
def test_classical_optimum_is_one_minus_min_p_at_beta_zero(p):
    value, _, _ = classical_optimum(Game(), p)
    assert value == pytest.approx(1.0 - p.min(), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(distributions, st.floats(0, 1), st.lists(st.floats(0, 1), min_size=16, max_size=16).filter(lambda w: sum(w) > 0))
def test_shared_randomness_mixture_never_beats_best_deterministic_pair(p, beta, weights):
    game = Game(beta=beta)
    w = np.array(weights) / sum(weights)
    pairs = list(itertools.product(RULES, RULES))
    mixture = sum(wi * deterministic_value(game, p, fa, fb) for wi, (fa, fb) in zip(w, pairs))
    assert mixture <= classical_optimum(game, p)[0] + 1e-12


def test_shared_random_bit_strategy_value_is_the_mixture():
    # with a shared bit: (always 0, flip) or (always 1, follow); exact value = average of the two
    rule_a = LocalRule(outputs=((0, 1), (0, 1)))
    rule_b = LocalRule(outputs=((1, 0), (0, 1)))
    s = Strategy("shared", rule_a, rule_b, SharedRandomness())
    p = independent(0.3, 0.7)
    # shared bit 0: (always 0, flip input); shared bit 1: (always 1, follow input)
    expected = 0.5 * deterministic_value(Game(), p, (0, 0), (1, 0)) + 0.5 * deterministic_value(
        Game(), p, (1, 1), (0, 1)
    )
    assert s.value(Game(), p) == pytest.approx(expected)


@pytest.mark.parametrize("p_x, p_y", [(0.5, 0.5), (0.2, 0.7), (0.9, 0.4)])
def test_baseline_values(p_x, p_y):
    p, g = independent(p_x, p_y), Game()
    assert uncoordinated().value(g, p) == pytest.approx(0.5)
    assert always_hedge_positive().value(g, p) == pytest.approx(1 - p[1, 1])
    assert follow_indicator().value(g, p) == pytest.approx(p[0, 0])


def test_simulated_classical_and_uncoordinated_win_rates_within_their_ci():
    n, g = 1_000_000, Game()
    inputs, play = streams(1, 2)
    x, y = draw_inputs(independent(0.5, 0.5), n, inputs)
    value, f_a, f_b = classical_optimum(g, independent(0.5, 0.5))
    from qcoord.strategies import deterministic

    for strategy, expected in ((deterministic(f_a, f_b), 0.75), (uncoordinated(), 0.5)):
        a, b = strategy.play(x, y, play)
        wins = int(g.win(x, y, a, b).sum())
        lo, hi = wilson_ci(wins, n, alpha=CI_ALPHA)
        assert lo <= expected <= hi, (strategy.name, wins / n)
