"""Fill models on hand-computed three-round examples."""

from __future__ import annotations

import numpy as np
import pytest

from backtest import BacktestError, BiasFill, QueueFill, make_fill
from backtest.fills import Market


def test_bias_fill_three_rounds_by_hand():
    fill = BiasFill(exposure=10_000.0, spread_bps=2.0)  # capture = 10,000 x 2 bp = 2.0 per round
    bid_first = np.array([1, 0, 1], dtype=np.uint8)
    returns = np.array([0.01, 0.02, -0.005])
    pnl, inventory, state, income, costs = fill.pnl(bid_first, Market(returns), None, 0.0)
    # +10,000 x 1% + 2 = 102; -10,000 x 2% + 2 = -198; +10,000 x -0.5% + 2 = -48
    assert pnl.tolist() == pytest.approx([102.0, -198.0, -48.0])
    assert inventory is None and income == 2.0 and costs == 0.0  # the rest, +-100/200/50, is directional
    assert fill.book_size(np.array([50.0, 70.0])) == 20_000.0


def test_queue_fill_three_rounds_by_hand():
    fill = QueueFill(p_first=0.7, p_second=0.3, lot=100, half_spread=0.02, fee=-0.003, inventory_limit=150,
                     cut_cost=0.05)
    bid_first = np.array([1, 1, 0], dtype=np.uint8)
    u_buy = np.array([0.5, 0.6, 0.9])  # round 1: 0.5 < 0.7 buys; round 2: 0.6 < 0.7 buys; round 3: 0.9 > 0.3 no buy
    u_sell = np.array([0.8, 0.1, 0.2])  # round 1: 0.8 > 0.3 no sell; round 2: 0.1 < 0.3 sells; round 3: 0.2 < 0.7 sells
    price_change = np.array([0.10, -0.20, 0.05])
    pnl, inventory, state, income, costs = fill.pnl(bid_first, Market(None, price_change), (u_buy, u_sell), 100.0)
    # each fill earns 100 x (0.02 - (-0.003)) = 2.3
    # round 1: inventory 100 -> 200 (buy), 50 over the limit cut at 0.05: -2.5; held 150 x 0.10 = 15
    #          pnl = 2.3 - 2.5 + 15 = 14.8
    # round 2: buy and sell: 150 -> 150; earns 4.6; held 150 x -0.20 = -30 -> -25.4
    # round 3: sell: 150 -> 50; earns 2.3; held 50 x 0.05 = 2.5 -> 4.8
    assert pnl.tolist() == pytest.approx([14.8, -25.4, 4.8])
    assert inventory.tolist() == [150.0, 150.0, 50.0]
    assert state == 50.0
    # spread income 100 x 0.02 per fill; costs: fee 100 x -0.003 per fill (a rebate) plus the cut of 50 x 0.05
    assert income.tolist() == pytest.approx([2.0, 4.0, 2.0])
    assert costs.tolist() == pytest.approx([-0.3 + 2.5, -0.6, -0.3])
    assert (income - costs + inventory * price_change).tolist() == pytest.approx(pnl.tolist())


def test_queue_fill_defaults_cut_cost_to_half_spread_plus_fee_and_uses_quoted_spread():
    fill = QueueFill(p_first=1.0, p_second=0.0, lot=100, half_spread=None, fee=0.001, inventory_limit=100)
    bid_first = np.ones(2, dtype=np.uint8)
    ones, zeros = np.zeros(2), np.ones(2)  # always buy (u < 1), never sell (u >= 0)
    half = np.array([0.01, 0.03])
    pnl, inventory, _, _, _ = fill.pnl(bid_first, Market(None, np.zeros(2), half), (ones, zeros), 0.0)
    # round 1: buy 100 earns 100 x (0.01 - 0.001) = 0.9, at the limit; round 2: buy to 200, earns 2.9,
    # cut 100 at 0.03 + 0.001 = 3.1 -> -0.2
    assert pnl.tolist() == pytest.approx([0.9, -0.2])
    assert inventory.tolist() == [100.0, 100.0]


@pytest.mark.parametrize(
    "name, params, culprit",
    [("bias", {"exposure": -1}, "exposure"), ("queue", {"p_first": 1.5}, "p_first"),
     ("queue", {"p_first": 0.3, "p_second": 0.5}, "p_second"), ("queue", {"lot": 0}, "lot"),
     ("queue", {"inventory_limit": 10, "lot": 100}, "inventory_limit"), ("nope", {}, "unknown fill model"),
     ("queue", {"half_spread": -0.01}, "half_spread"), ("bias", {"spred_bps": 1}, "spred_bps")],
)
def test_bad_fill_parameters(name, params, culprit):
    with pytest.raises(BacktestError, match=culprit):
        make_fill(name, **params)
