"""Fill models: hand-computed three-round examples, the binomial fills per bar, adverse selection, the bias/queue
correspondence, and units that do not depend on the bar length."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from qcoord.backtest import BacktestError, BiasFill, QueueFill, make_fill, run_backtest
from qcoord.backtest.fills import Market
from qcoord.backtest.fills.bias import BIAS_ADVERSE_SELECTION


def test_bias_fill_three_rounds_by_hand():
    """Quoted data: the income is earned and in the P&L. The same rounds without quotes: the income and what a
    re-queue forgoes are assumed, outside the P&L; a stated crossing cost stays in it."""
    fill = BiasFill(exposure=10_000.0, turnover=0.5, adverse_selection=0.25, requeue_loss=0.5, switch_cost_bps=1.0)
    bid_first = np.array([1, 0, 1], dtype=np.uint8)
    returns = np.array([0.01, 0.02, -0.005])
    quoted = Market(returns, half_spread=np.full(3, 0.02), price=np.full(3, 100.0))  # 0.02 / 100 = 2 bp
    pnl, inventory, state, income, costs, assumed = fill.pnl(bid_first, quoted, None, fill.initial_state())
    # realised spread: 10,000 x 0.5 per minute x 1 minute x 2 bp x (1 - 0.25) = 0.75 a round; the first round
    # places the quotes (nothing to re-order); each change forgoes 0.5 x 0.75 of queue priority and, with a crossing
    # cost set, trades 2 x 10,000 at 1 bp: 0.375 + 2.0 = 2.375
    # +10,000 x 1% + 0.75 = 100.75; -10,000 x 2% + 0.75 - 2.375 = -201.625; +10,000 x -0.5% + 0.75 - 2.375 = -51.625
    assert pnl.tolist() == pytest.approx([100.75, -201.625, -51.625])
    assert inventory is None and np.asarray(income) == pytest.approx(0.75) and assumed == 0.0
    assert costs.tolist() == pytest.approx([0.0, 2.375, 2.375])
    assert state == 1.0
    # no quotes: the model's 1 bp is an assumption: 0.375 a round assumed, less 0.1875 forgone at each change; the
    # P&L is the directional part less the crossing cost (2.0 a change)
    pnl, _, _, income, costs, assumed = fill.pnl(bid_first, Market(returns), None, fill.initial_state())
    assert pnl.tolist() == pytest.approx([100.0, -202.0, -52.0])
    assert income == 0.0 and costs.tolist() == pytest.approx([0.0, 2.0, 2.0])
    assert assumed.tolist() == pytest.approx([0.375, 0.1875, 0.1875])
    again = fill.pnl(np.array([1, 1], dtype=np.uint8), Market(np.zeros(2)), None, state)
    assert again.costs.tolist() == [0.0, 0.0]  # no change of order, no priority lost
    assert fill.book_size(np.array([50.0, 70.0])) == 20_000.0
    daily = fill.pnl(bid_first, Market(returns, minutes=390.0), None, -1.0).assumed
    assert daily[0] == pytest.approx(390 * 0.375)  # a daily bar is 390 minutes of quoting


def test_bias_fill_quoted_half_spread_in_basis_points_of_the_price():
    fill = BiasFill(exposure=10_000.0, turnover=1.0)  # half_spread "quoted", the defaults otherwise
    market = Market(np.zeros(2), half_spread=np.array([0.01, 0.02]), price=np.array([100.0, 50.0]))
    _, _, _, income, costs, assumed = fill.pnl(np.array([0, 0], dtype=np.uint8), market, None, 1.0)
    # 0.01 / 100 = 1 bp, 0.02 / 50 = 4 bp of 10,000 a minute, less the 44% adverse selection; the first round
    # changes the order (state 1: bid first) and forgoes all of its realised spread (requeue_loss 1)
    realised = 1.0 - BIAS_ADVERSE_SELECTION
    assert income.tolist() == pytest.approx([1.0 * realised, 4.0 * realised])
    assert costs.tolist() == pytest.approx([1.0 * realised, 0.0]) and assumed == 0.0
    model = fill.pnl(np.array([0, 0], dtype=np.uint8), Market(np.zeros(2)), None, 0.0).assumed
    assert model.tolist() == pytest.approx([10_000 * 1e-4 * realised] * 2)  # no quotes: the model's 1 bp, assumed
    given = BiasFill(exposure=10_000.0, turnover=1.0, half_spread=1.0).pnl(
        np.array([0, 0], dtype=np.uint8), market, None, 0.0
    )
    assert given.income == 0.0 and given.assumed.tolist() == pytest.approx([realised] * 2)  # a given number: assumed


def test_queue_fill_three_rounds_by_hand():
    """Quotes of 10,000 at a price of 100 are 100 shares; the limit 15,000 is 150 shares."""
    fill = QueueFill(
        p_first=0.7,
        p_second=0.3,
        notional=10_000,
        fee=-0.003,
        position_limit=15_000,
        cut_cost=0.05,
        adverse_selection=0.0,
    )
    bid_first = np.array([1, 1, 0], dtype=np.uint8)
    # one minute a round: a side fills when u >= 1 - p (the inverse CDF of Bernoulli(p))
    u_buy = np.array([0.5, 0.4, 0.1])  # round 1: 0.5 >= 0.3 buys; round 2: buys; round 3: 0.1 < 0.7 no buy
    u_sell = np.array([0.2, 0.9, 0.8])  # round 1: 0.2 < 0.7 no sell; round 2: 0.9 >= 0.7 sells; round 3: sells
    price_change = np.array([0.10, -0.20, 0.05])
    price = np.full(3, 100.0)
    quotes = np.full(3, 0.02)  # the data's half-spread: the income is earned
    pnl, inventory, state, income, costs, assumed = fill.pnl(
        bid_first, Market(None, price_change, quotes, price), (u_buy, u_sell), 100.0
    )
    # each fill earns 100 x (0.02 - (-0.003)) = 2.3
    # round 1: inventory 100 -> 200 (buy), 50 over the limit cut at 0.05: -2.5; held 150 x 0.10 = 15 -> 14.8
    # round 2: buy and sell: 150 -> 150; earns 4.6; held 150 x -0.20 = -30 -> -25.4
    # round 3: sell: 150 -> 50; earns 2.3; held 50 x 0.05 = 2.5 -> 4.8
    assert pnl.tolist() == pytest.approx([14.8, -25.4, 4.8])
    assert inventory.tolist() == pytest.approx([150.0, 150.0, 50.0])
    assert state == pytest.approx(50.0)
    assert income.tolist() == pytest.approx([2.0, 4.0, 2.0]) and not assumed.any()
    assert costs.tolist() == pytest.approx([-0.3 + 2.5, -0.6, -0.3])
    assert (income - costs + inventory * price_change).tolist() == pytest.approx(pnl.tolist())
    # the same rounds without quotes (the model's 2 bp = 0.02 a share): the income is assumed; the stated cut cost
    # and the fees stay in the P&L
    model = QueueFill(
        p_first=0.7,
        p_second=0.3,
        notional=10_000,
        fee=-0.003,
        position_limit=15_000,
        cut_cost=0.05,
        adverse_selection=0.0,
        model_half_spread_bps=2.0,
    )
    got = model.pnl(bid_first, Market(None, price_change, None, price), (u_buy, u_sell), 100.0)
    assert got.income.tolist() == [0.0] * 3 and got.assumed.tolist() == pytest.approx([2.0, 4.0, 2.0])
    assert got.pnl.tolist() == pytest.approx([14.8 - 2.0, -25.4 - 4.0, 4.8 - 2.0])


def test_queue_legs_are_sized_in_money():
    """The same quotes on a 13 and a 39 stock hold the same value: three times the shares of the cheaper one."""
    fill = QueueFill(
        p_first=1.0, p_second=0.0, notional=3_900, position_limit=1e9, half_spread=0.0, adverse_selection=0.0
    )
    u = (np.full(2, 0.5), np.full(2, 0.5))
    for px in (13.0, 39.0):
        got = fill.pnl(np.ones(2, np.uint8), Market(None, np.zeros(2), None, np.full(2, px)), u, 0.0)
        assert (got.inventory * px).tolist() == pytest.approx([3_900.0, 7_800.0])
    assert fill.game_exposure(np.array([13.0, 39.0]), 1.0) == pytest.approx(3_900.0)
    assert QueueFill(position_limit=50_000).book_size(np.array([13.0, 39.0])) == 100_000.0


def test_queue_fill_adverse_selection_by_hand():
    fill = QueueFill(p_first=0.6, p_second=0.4, notional=10, half_spread=0.0, position_limit=100, adverse_selection=0.5)
    # the price falls: the bid (placed first) fills with 0.6 x 1.5 = 0.9, the ask (second) with 0.4 x 0.5 = 0.2
    down = Market(None, np.array([-1.0]), None, np.array([10.0]))  # a quote of 10 at 10: one share

    def buy(u_b, u_s):
        return fill.pnl(np.array([1], np.uint8), down, (np.array([u_b]), np.array([u_s])), 0.0)[1][0]

    assert buy(0.11, 0.5) == 1.0 and buy(0.09, 0.5) == 0.0  # fills when u >= 1 - 0.9
    assert buy(0.5, 0.81) == 0.0 and buy(0.5, 0.79) == 1.0  # the ask fills when u >= 0.8: inventory 1 - 1 = 0
    # without quotes the adverse selection is part of the assumed realised spread: u_b = 0.35 buys with the tilt
    # (0.35 >= 0.1) but not without it (0.35 < 0.4): the share held over the fall (-1) is the adverse selection
    tilted = fill.pnl(np.array([1], np.uint8), down, (np.array([0.35]), np.array([0.5])), 0.0)
    assert tilted.inventory[0] == 1.0 and tilted.pnl[0] == 0.0 and tilted.assumed[0] == -1.0


def test_binomial_fills_per_bar_match_scipy():
    """A bar of m minutes fills Binomial(m, p) lots a side: the kernel's inverse CDF equals scipy's ppf."""
    fill = QueueFill(
        p_first=0.6, p_second=0.3, notional=10.0, half_spread=0.0, position_limit=1e10, adverse_selection=0.0
    )  # one share a quote at a price of 10
    rng = np.random.default_rng(3)
    n, m = 20_000, 7
    u_b, u_s = rng.random(n), rng.random(n)
    bid_first = rng.integers(0, 2, n).astype(np.uint8)
    market = Market(None, np.zeros(n), None, np.full(n, 10.0), minutes=float(m))
    inventory = fill.pnl(bid_first, market, (u_b, u_s), 0.0).inventory
    dinv = np.diff(np.concatenate([[0.0], inventory]))
    p_b = np.where(bid_first == 1, 0.6, 0.3)
    p_s = np.where(bid_first == 1, 0.3, 0.6)
    expect = binom.ppf(u_b, m, p_b) - binom.ppf(u_s, m, p_s)
    assert np.array_equal(dinv, expect)


def test_bias_fill_from_queue_matches_the_queue_models_first_order_exposure():
    """Regress the queue fill's P&L on s x return (s = +1 bid first, -1 ask first): the slope is the position one
    round's order adds, notional x m x (p_first - p_second), which BiasFill.from_queue holds; within 4 standard errors
    of the regression (random orders are independent of the carried inventory and of the price)."""
    rng = np.random.default_rng(11)
    queue = QueueFill(
        p_first=0.65, p_second=0.35, notional=5_000, half_spread=1.0, position_limit=1e14, adverse_selection=0.0
    )
    n, price = 400_000, 50.0
    for m in (1, 5):
        s = rng.integers(0, 2, n).astype(np.uint8)
        change = rng.normal(0, 0.05 * np.sqrt(m), n)
        market = Market(None, change, None, np.full(n, price), minutes=float(m))
        got = queue.pnl(s, market, (rng.random(n), rng.random(n)), 0.0)
        z = (2.0 * s - 1.0) * change / price  # the signed return
        y = got.pnl  # the income (a given half-spread) is assumed: the P&L is the inventory's
        slope = (z @ y) / (z @ z)
        resid = y - slope * z
        se = np.sqrt(np.sum(resid**2 * z**2)) / (z @ z)  # heteroskedasticity-robust
        bias = BiasFill.from_queue(queue, m)
        assert abs(slope - bias.exposure) < 4 * se, (m, slope, bias.exposure)
        # and the same spread income per round
        bias_income = bias.exposure * bias.turnover * m * bias.half_spread * 1e-4
        income = got.assumed
        assert income.mean() == pytest.approx(bias_income, rel=4 * income.std() / income.mean() / np.sqrt(n))


def _daily_of(md, step: int):
    """Every ``step``-th row of a minute path as daily bars (the same prices, a daily clock)."""
    import pandas as pd

    from qcoord.data import MarketData

    prices = md.prices.iloc[::step]
    prices.index = pd.bdate_range("2001-01-02", periods=len(prices))
    return MarketData(prices, meta={"kind": "test", "note": "daily bars of a synthetic minute path"})


@pytest.mark.parametrize(
    "fill, strategy", [(BiasFill(), "uncoordinated"), (QueueFill(adverse_selection=0.0), "always_hedge")]
)
def test_spread_income_sharpe_does_not_depend_on_the_bar_length(fill, strategy):
    """The same strategy on the same synthetic path as minute bars and as daily bars: the annualised ratio of its
    (assumed: the path has no quotes) spread income to the book P&L's standard deviation, mean income / P&L std x
    sqrt(N), agrees within a factor 1.5. The queue fill holds its inventory at the limit under a constant order on
    either bar length (a random order random-walks it on minute bars but hits the limit every daily bar, an honest
    difference: a daily decision keeps one order 390 minutes), and is played without adverse selection here: at the
    limit the daily bar's fills beyond it are cut before they are held, so its adverse selection is not that of 390
    minute bars (tests/test_money.py checks the two agree where nothing is clipped); tests/test_money.py checks the
    bias fill's invariance on 1, 5, 60 and 390 minutes within intervals."""
    from qcoord.data import SyntheticPair

    days = 600
    md = SyntheticPair(seed=4, sigma=0.3).generate(390 * days + 1)
    minute = run_backtest(md, strategies=[strategy], fill=fill, indicators="volatility_burst")
    daily = run_backtest(_daily_of(md, 390), strategies=[strategy], fill=fill, indicators="volatility_burst")
    a, b = (
        r.metrics_dict[strategy]["pnl_assumed_income"]
        / r.metrics_dict[strategy]["pnl_std"]
        * np.sqrt(r.periods_per_year)
        for r in (minute, daily)
    )
    assert a > 0 and b > 0 and max(a, b) / min(a, b) < 1.5, (a, b)
    for r in (minute, daily):  # the path has no quotes: nothing is earned
        assert r.metrics_dict[strategy]["pnl_spread_income"] == 0.0


def test_a_strategy_that_flips_every_round_pays_for_it():
    """Without quotes a change of order forgoes assumed income (its own column); a stated crossing cost is money."""
    from qcoord.strategies import Strategy, deterministic

    flip = deterministic((0, 1), (0, 1), name="flip_with_x")  # follows its own bit: switches whenever x does
    fill = BiasFill(switch_cost_bps=0.5)  # no quotes: the model half-spread; a change forgoes the round's income
    r = run_backtest("signals", rounds=20_000, seed=2, strategies=["always_hedge", flip], fill=fill)
    m = r.metrics_dict
    income = fill.exposure * fill.turnover * fill.model_half_spread_bps * 1e-4 * (1 - fill.adverse_selection)
    cross = 2 * fill.exposure * fill.switch_cost_bps * 1e-4
    # a constant relation never re-orders its quotes: no cost at all (placing them the first time loses nothing)
    assert m["always_hedge"]["turnover"] == 0.0 and m["always_hedge"]["pnl_costs"] == 0.0
    assert m["always_hedge"]["pnl_assumed_income"] == pytest.approx(2 * income, rel=1e-9)
    assert m["flip_with_x"]["turnover"] > 0.4  # x is a coin: about every other round
    # turnover is per server and round; each change forgoes one round's assumed spread and crosses at the stated cost
    t = m["flip_with_x"]["turnover"]
    assert m["flip_with_x"]["pnl_costs"] == pytest.approx(2 * cross * t, rel=1e-9)
    assert m["flip_with_x"]["pnl_assumed_income"] == pytest.approx(2 * income * (1 - t), rel=1e-9)
    assert m["flip_with_x"]["pnl_spread_income"] == 0.0
    assert isinstance(flip, Strategy)


@pytest.mark.parametrize(
    "name, params, culprit",
    [
        ("bias", {"exposure": -1}, "exposure"),
        ("queue", {"p_first": 1.5}, "p_first"),
        ("queue", {"p_first": 0.3, "p_second": 0.5}, "p_second"),
        ("queue", {"notional": 0}, "notional"),
        ("queue", {"position_limit": 10, "notional": 100}, "position_limit"),
        ("nope", {}, "unknown fill model"),
        ("queue", {"lot": 100}, "lot"),
        ("queue", {"half_spread": -0.01}, "half_spread"),
        ("queue", {"half_spread": "wide"}, "half_spread"),
        ("queue", {"adverse_selection": 1.2}, "adverse_selection"),
        ("bias", {"turnover": -1}, "turnover"),
        ("bias", {"spred_bps": 1}, "spred_bps"),
    ],
)
def test_bad_fill_parameters(name, params, culprit):
    with pytest.raises(BacktestError, match=culprit):
        make_fill(name, **params)


def test_quoted_half_spreads_share_prices_and_test_start_book_from_real_files():
    """Quote files: the spread income is earned at the quoted half-spread, in the P&L. OHLCV files with Close and Adj
    Close: shares are counted at Close, the book is twice the position limit; adjusted-only prices carry a warning
    (fees and cut costs are per share)."""
    from qcoord import data

    from .conftest import shared_file

    quotes = data.load_csv(
        [
            shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"),
            shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"),
        ],
        session="regular",
    )
    r = run_backtest(quotes, fill="queue", strategies=["always_hedge"], indicators="volatility_burst")
    m = r.metrics_dict["always_hedge"]
    assert m["pnl_spread_income"] > 0 and m["pnl_assumed_income"] == 0.0 and not r.warnings
    assert "income earned at the data's quoted half-spread" in r.summary().replace("\n  ", " ")
    # the bias fill's income, exactly: exposure x turnover x realised share x (quoted half-spread / mid at decision
    # time), both servers
    b = run_backtest(quotes, fill="bias", strategies=["always_hedge"], indicators="volatility_burst", keep_rounds=10**6)
    rows = quotes.prices.index.get_indexer(b.rounds.index)
    h_over_p = (quotes.spread.to_numpy() / 2 / quotes.prices.to_numpy())[rows - 1]  # the previous bar's close
    expected = (10_000 * 0.1 * (1 - BIAS_ADVERSE_SELECTION) * h_over_p.sum(axis=1)).mean()
    assert b.metrics_dict["always_hedge"]["pnl_spread_income"] == pytest.approx(expected, rel=1e-9)

    daily = data.load_csv([shared_file("BAC_daily.csv"), shared_file("AIG_daily.csv")])
    q = run_backtest(daily, fill="queue", strategies=["classical"])
    assert q.book_size == pytest.approx(2 * QueueFill().position_limit) and not q.warnings
    assert q.metrics_dict["classical"]["pnl_spread_income"] == 0.0  # daily bars have no quotes: assumed
    assert q.metrics_dict["classical"]["pnl_assumed_income"] > 0
    adjusted = run_backtest(data.load_sample("jpm_bac"), fill="queue", strategies=["classical"])
    assert adjusted.warnings and "adjusted prices only" in adjusted.warnings[0]
    assert "warning: the source has adjusted prices only" in adjusted.summary()


def test_half_spread_quoted_or_basis_points_from_the_command_line_and_toml(tmp_path):
    from qcoord.backtest import RunConfig

    (tmp_path / "c.toml").write_text('[fill]\nname = "bias"\nhalf_spread = "quoted"\n')
    assert RunConfig.from_toml(tmp_path / "c.toml").fill.build().half_spread == "quoted"
    (tmp_path / "d.toml").write_text('[fill]\nname = "queue"\nhalf_spread = 2.5\n')
    assert RunConfig.from_toml(tmp_path / "d.toml").fill.build().half_spread == 2.5
    cfg = RunConfig().with_values({"half_spread": "1.5"})
    assert cfg.fill.build().half_spread == 1.5
    with pytest.raises(BacktestError, match="half_spread: 'wide' is not a number or 'quoted'"):
        RunConfig().with_values({"half_spread": "wide"})
