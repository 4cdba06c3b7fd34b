"""Risk metrics against textbook formulas and empyrical on fixed series; chunking does not change them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qcoord.backtest.book.risk import StrategyStats, hedging_efficiency


def _textbook(pnl: np.ndarray, book: float, rf_p: float, ppy: float) -> dict:
    r = pnl / book
    ex = r - rf_p
    mean, n = pnl.sum() / len(pnl), len(pnl)
    var = sum((v - mean) ** 2 for v in pnl) / (n - 1)
    downside = math.sqrt(sum(min(e, 0.0) ** 2 for e in ex) / n)
    peak, cum, dd, share, eq, eq_peak = 0.0, 0.0, 0.0, 0.0, 1.0, 1.0
    for v in pnl:
        cum += v
        peak = max(peak, cum)
        dd = max(dd, peak - cum)
        eq *= 1 + v / book  # book returns compounded
        eq_peak = max(eq_peak, eq)
        share = max(share, 1 - eq / eq_peak)
    return {
        "pnl_mean": mean,
        "pnl_var": var,
        "sharpe": ex.mean() / (math.sqrt(var) / book) * math.sqrt(ppy),
        "sortino": ex.mean() / downside * math.sqrt(ppy),
        "max_drawdown": dd,
        "max_drawdown_share": share,
    }


@pytest.mark.parametrize("chunks", [1, 3, 7])
def test_metrics_match_textbook_formulas_whatever_the_chunking(chunks):
    rng = np.random.default_rng(0)
    pnl = rng.normal(2.0, 50.0, 1000) + rng.standard_t(3, 1000) * 10
    x = rng.integers(0, 2, 1000).astype(np.uint8)
    y = rng.integers(0, 2, 1000).astype(np.uint8)
    a = rng.integers(0, 2, 1000).astype(np.uint8)
    b = rng.integers(0, 2, 1000).astype(np.uint8)
    table = rng.normal(size=8)
    tgt = rng.integers(0, 2, 1000).astype(np.uint8)
    cell = 2 * x + y
    o = a ^ b
    util = table[2 * cell + o]
    won = (o == tgt).astype(float)
    book, ppy, rf = 20_000.0, 252.0, 0.03
    rf_p = (1 + rf) ** (1 / ppy) - 1
    want = rng.integers(0, 3, 1000).astype(np.uint8)  # 2: a stock did not move, the round counts for neither
    s = StrategyStats(book, rf_p, n_blocks=10)
    for part in np.array_split(np.arange(1000), chunks):
        s.add(
            pnl[part],
            a[part],
            b[part],
            x[part],
            y[part],
            tgt[part],
            want[part],
            table,
            int(part[0]),
            100,
            None,
            None,
            np.empty(0, dtype=np.int64),
        )
    m = s.metrics(ppy)
    ref = _textbook(pnl, book, rf_p, ppy)
    for key, value in ref.items():
        assert m[key] == pytest.approx(value, rel=1e-10), key
    assert m["win_rate"] == won.mean() and m["n_rounds"] == 1000
    assert m["utility"] == pytest.approx(util.mean(), rel=1e-12)
    moved = want < 2
    assert m["hedged_rate"] == pytest.approx((o[moved] == want[moved]).mean(), rel=1e-12)
    by = s.win_rate_by_input()
    assert by["10"]["n"] == (cell == 2).sum() and by["10"]["win_rate"] == pytest.approx(won[cell == 2].mean())
    assert np.allclose(s.block_sum, pnl.reshape(10, 100).sum(axis=1))


def test_sharpe_sortino_and_drawdown_agree_with_empyrical():
    empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded (test extra) is not installed")
    rng = np.random.default_rng(1)
    book, ppy = 10_000.0, 252.0
    pnl = rng.normal(3.0, 80.0, 2000)
    s = StrategyStats(book, 0.0, n_blocks=1)
    zeros = np.zeros(2000, dtype=np.uint8)
    s.add(pnl, zeros, zeros, zeros, zeros, zeros, zeros, np.ones(8), 0, 2000, None, None, np.empty(0, dtype=np.int64))
    m = s.metrics(ppy)
    r = pd.Series(pnl / book, index=pd.bdate_range("2015-01-01", periods=2000))
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=ppy), rel=1e-9)
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(r, annualization=ppy), rel=1e-9)
    # the drawdown share is that of compounded equity, as empyrical's
    assert m["max_drawdown_share"] == pytest.approx(-empyrical.max_drawdown(r), rel=1e-9)
    assert not m["flags"]


def test_a_book_that_loses_more_than_its_size_is_flagged():
    s = StrategyStats(100.0, 0.0, n_blocks=1)
    zeros = np.zeros(3, dtype=np.uint8)
    s.add(
        np.array([10.0, -150.0, 5.0]),
        zeros,
        zeros,
        zeros,
        zeros,
        zeros,
        zeros,
        np.ones(8),
        0,
        3,
        None,
        None,
        np.empty(0, dtype=np.int64),
    )
    m = s.metrics(252.0)
    assert m["max_drawdown_share"] == 1.0 and "lost more than its size" in m["flags"]["max_drawdown_share"]


def test_hedging_efficiency_ends_and_undefined_case():
    assert hedging_efficiency(10.0, 10.0, 2.0) == (0.0, None)
    assert hedging_efficiency(2.0, 10.0, 2.0) == (1.0, None)
    assert hedging_efficiency(6.0, 10.0, 2.0) == (0.5, None)
    value, reason = hedging_efficiency(5.0, 4.0, 4.0)
    assert value is None and "does not hedge" in reason
