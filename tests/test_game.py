"""The game's conventions: a win is the hedged position; Ding & Jiang's utility; the challenge rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoord.strategies import Game, StrategyError, check_p_xy, empirical_p_xy, independent


def book_variance(a: int, b: int, rho: float, sigma: float = 0.01) -> float:
    """Variance of the book when A holds +1 (bid first, slight long X) or -1 (ask first, slight short X),
    B likewise in Y, and the two returns have correlation rho."""
    e = np.array([1.0 if a else -1.0, 1.0 if b else -1.0])
    cov = sigma**2 * np.array([[1.0, rho], [rho, 1.0]])
    return float(e @ cov @ e)


@pytest.mark.parametrize("rho_pos, rho_neg", [(0.8, -0.6), (0.3, -0.9), (0.99, -0.05)])
def test_a_win_is_exactly_the_position_that_hedges_the_signalled_correlation(rho_pos, rho_neg):
    game = Game()  # beta = 0, default labels: 0 = ask first (short), 1 = bid first (long)
    for x, y, a, b in itertools.product((0, 1), repeat=4):
        rho = rho_neg if (x and y) else rho_pos  # input 1 = "I see signs of negative correlation"
        hedged = book_variance(a, b, rho) < book_variance(1 - a, b, rho)  # lower variance than the alternative
        assert bool(game.win(np.array([x]), np.array([y]), np.array([a]), np.array([b]))[0]) == hedged, (x, y, a, b)


def test_utility_table_is_ding_jiang_eq_3_1():
    beta = 0.3
    u = Game(beta=beta).table  # u[x, y, o], o = a XOR b: 0 same, 1 different
    assert (u[0, 0, 1], u[0, 0, 0]) == (1.0, 0.0)
    for x, y in ((0, 1), (1, 0)):
        assert (u[x, y, 0], u[x, y, 1]) == pytest.approx((beta, 1 - beta))
    assert (u[1, 1, 0], u[1, 1, 1]) == (1.0, 0.0)


def test_challenge_rule_is_the_hedge_rule_with_one_server_relabelled():
    hedge, challenge = Game(beta=0.2), Game(beta=0.2, rule="challenge")
    for x, y, a, b in itertools.product((0, 1), repeat=4):
        args = [np.array([v]) for v in (x, y)]
        assert (
            challenge.utility(*args, np.array([a]), np.array([b]))[0]
            == hedge.utility(*args, np.array([1 - a]), np.array([b]))[0]
        )
    # the challenge text's literal rule at beta = 0: a XOR b = x AND y wins
    for x, y, a, b in itertools.product((0, 1), repeat=4):
        won = Game(rule="challenge").win(*(np.array([v]) for v in (x, y, a, b)))[0]
        assert won == ((a ^ b) == (x & y))


def test_target_and_vectorized_utility():
    g = Game()
    x, y = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    assert g.target(x, y).tolist() == [1, 1, 1, 0]  # different unless both signal negative correlation
    a = np.zeros(4, dtype=np.uint8)
    assert g.utility(x, y, a, g.target(x, y)).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "value, culprit",
    [
        ([[0.5, 0.5], [0.1, 0.0]], "sum to 1"),
        ([[1.2, -0.2], [0, 0]], "probabilities"),
        ([0.5, 0.5], "2x2"),
        ([[np.nan, 0.5], [0.25, 0.25]], "probabilities"),
    ],
)
def test_bad_input_distributions(value, culprit):
    with pytest.raises(StrategyError, match=culprit):
        check_p_xy(value)


def test_bad_game_parameters():
    with pytest.raises(StrategyError, match="beta"):
        Game(beta=1.5)
    with pytest.raises(StrategyError, match="rule"):
        Game(rule="xor")
    with pytest.raises(StrategyError, match="p_x"):
        independent(1.5, 0.5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=200), st.lists(st.integers(0, 1), min_size=1, max_size=200))
def test_empirical_distribution_counts_pairs(xs, ys):
    n = min(len(xs), len(ys))
    x, y = np.array(xs[:n]), np.array(ys[:n])
    p = empirical_p_xy(x, y)
    assert p.sum() == pytest.approx(1.0)
    assert p[1, 1] == pytest.approx(np.mean(x & y))
