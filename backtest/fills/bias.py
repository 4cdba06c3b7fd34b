"""The bias fill, the default: a signed position over each round, the realised spread, and re-queueing costs.

``BiasFill`` (default): bid first holds a position of +``exposure`` (currency) in the agent's stock over
  the round, ask first -``exposure``: directional P&L = +-exposure x the round's simple return. The server fills
  ``turnover`` x exposure of notional per minute of quoting (a stated participation assumption: the run says so)
  and earns the realised half-spread on it: the effective half-spread h less the share ``adverse_selection`` of
  it that the mid-price takes back after the fill (the standard decomposition, effective = realised + price
  impact; default 0.44 from Menkveld 2013: a positioning loss of EUR 0.68 against EUR 1.55 of spread profit per
  trade). Changing the quoting order costs lost queue priority, not a spread crossing: the server cancels its
  resting quotes and re-enters them at the back of their queues, and forgoes ``requeue_loss`` x the round's
  spread income (default 1: all of it, the upper bound). A crossing cost ``switch_cost_bps`` on the 2 x exposure
  a flip would trade is charged only when the user sets one. The first round opens by quoting: no cost.
  Where the half-spread is not the data's own quote (``base.earned``), the spread income and the income a re-queue
  forgoes are assumptions: their net is ``Fills.assumed``, outside the P&L; the P&L is then the directional part
  less any crossing cost.

Correspondence (``BiasFill.from_queue``): one round's quoting order changes the queue model's expected
position by notional x m x (p_first - p_second) (currency), held over that round's return, so a bias fill
with exposure = notional x m x (p_first - p_second) and turnover = notional x (p_first + p_second) / exposure
has the same first-order P&L and the same spread income (with adverse_selection 0 and requeue_loss 0:
the queue model re-places its quotes every minute); tests/test_fills.py measures the queue
model's exposure by regression on the same data and finds it within its confidence interval (without
adverse selection, which adds a loss the bias model does not have).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ..._jit import njit

from ..errors import BacktestError
from ..options import option
from .base import (
    HALF_SPREAD_OPTION,
    MODEL_BPS_OPTION,
    MODEL_HALF_SPREAD_BPS,
    QUOTED,
    BookFills,
    FillModel,
    Fills,
    Market,
    check_half_spread,
    earned,
    half_spread_bps,
    outputs,
    positive,
    probability,
)

if TYPE_CHECKING:
    from .queue import QueueFill

# The bias fill's realised spread: Menkveld (2013, J. Financial Markets 16, 712-740), a large HFT market maker in
# Dutch index stocks: EUR 1.55 of spread profit net of fees and a EUR 0.68 positioning loss per trade.
BIAS_ADVERSE_SELECTION = 0.44  # 0.68 / 1.55


@dataclass(frozen=True)
class BiasFill(FillModel):
    """A position of +-``exposure`` over each round, the realised spread on ``turnover`` x exposure per minute, and
    ``requeue_loss`` of the round's income (plus any crossing cost ``switch_cost_bps``) at every change of quoting
    order (module docstring). Units: currency, per minute of quoting, bp of notional."""

    exposure: float = option(
        10_000.0,
        help="bias fill: position a server's quoting order holds over a round",
        unit="currency",
        lo=0,
        open_lo=True,
        finite=True,
    )
    turnover: float = option(
        0.1,
        help="bias fill: notional filled per minute of quoting, as a multiple of the exposure",
        unit="per minute",
        lo=0,
        finite=True,
    )
    half_spread: float | str = option(QUOTED, **HALF_SPREAD_OPTION)
    model_half_spread_bps: float = option(MODEL_HALF_SPREAD_BPS, **MODEL_BPS_OPTION)
    adverse_selection: float = option(
        BIAS_ADVERSE_SELECTION,
        lo=0,
        hi=1,
        help="bias fill: share of the half-spread the mid-price takes back after a fill "
        "(price impact; Menkveld 2013: 0.68 of 1.55 per trade)",
    )
    requeue_loss: float = option(
        1.0,
        lo=0,
        hi=1,
        help="bias fill: share of the round's spread income a server forgoes when it changes "
        "its quoting order (its quotes re-enter at the back of their queues)",
    )
    switch_cost_bps: float = option(
        0.0,
        help="bias fill: crossing cost on the 2 x exposure a change of order would "
        "trade, if the desk crosses instead of re-queueing (0: it re-queues)",
        unit="bp of notional",
        lo=0,
        finite=True,
    )
    name = "bias"  # needs no price changes: a quoted half-spread comes with its price (Market.price)

    def __post_init__(self) -> None:
        positive("exposure", self.exposure)
        if not (math.isfinite(self.turnover) and self.turnover >= 0):
            raise BacktestError(f"fill model: turnover must be >= 0 per minute, got {self.turnover!r}")
        check_half_spread(self)
        probability("adverse_selection", self.adverse_selection)
        probability("requeue_loss", self.requeue_loss)
        if not (math.isfinite(self.switch_cost_bps) and self.switch_cost_bps >= 0):
            raise BacktestError(f"fill model: switch_cost_bps must be >= 0, got {self.switch_cost_bps!r}")

    @classmethod
    def from_queue(cls, queue: QueueFill, minutes: float = 1.0) -> BiasFill:
        """The bias fill with the queue fill's first-order P&L and spread income (module docstring)."""
        m = max(1, round(minutes))
        exposure = queue.notional * m * (queue.p_first - queue.p_second)
        turnover = queue.notional * (queue.p_first + queue.p_second) / exposure
        return cls(
            exposure=exposure,
            turnover=turnover,
            half_spread=queue.half_spread,
            model_half_spread_bps=queue.model_half_spread_bps,
            adverse_selection=0.0,
            requeue_loss=0.0,
        )

    def describe(self) -> str:
        cross = self.switch_cost_bps or 0.0
        return (
            f"bias fill: +-exposure held over each round; {self.turnover:g} x exposure filled a minute at "
            f"{self.half_spread_words()} less {self.adverse_selection:.0%} adverse selection (Menkveld 2013); "
            f"costs: a change of quoting order re-queues and forgoes {self.requeue_loss:.0%} of the round's "
            "income" + (f", plus {cross:g} bp crossing on 2 x exposure" if cross else "")
        )

    def book_size(self, prices: np.ndarray) -> float:
        return 2.0 * self.exposure

    def game_exposure(self, prices: np.ndarray, minutes: float) -> float:
        return self.exposure

    def filled_per_minute(self, price: float) -> float:
        return self.turnover * self.exposure

    def initial_state(self) -> float:
        return -1.0  # no quotes yet: the first round places them (no priority to lose)

    def income_and_switch(self, market: Market):
        """(spread income per round, income a change of quoting order forgoes, crossing cost of a change), currency,
        each one number or one per round: income = exposure x turnover x minutes x h x (1 - adverse_selection), h
        the half-spread as a rate; a change forgoes requeue_loss x that income and crosses 2 x exposure x
        switch_cost_bps."""
        h = np.asarray(half_spread_bps(self.half_spread, market, self.model_half_spread_bps), dtype=float) * 1e-4
        income = self.exposure * self.turnover * market.minutes * h * (1.0 - self.adverse_selection)
        requeue = np.atleast_1d(np.asarray(self.requeue_loss * income, dtype=float))
        return income, requeue, 2.0 * self.exposure * self.switch_cost_bps * 1e-4

    def book_pnl(self, a, b, market_a: Market, market_b: Market, states: list, out: dict):
        (inc_a, rq_a, cr), (inc_b, rq_b, _) = self.income_and_switch(market_a), self.income_and_switch(market_b)
        earn_a, earn_b = earned(self.half_spread, market_a), earned(self.half_spread, market_b)
        pnl, costs, assumed = out["pnl_book"], out["costs_book"], out["assumed_book"]
        states[0], states[1] = bias_book(
            a,
            b,
            market_a.returns,
            market_b.returns,
            self.exposure,
            np.atleast_1d(inc_a),
            np.atleast_1d(inc_b),
            rq_a,
            rq_b,
            cr,
            earn_a,
            earn_b,
            float(states[0]),
            float(states[1]),
            pnl,
            costs,
            assumed,
        )
        return BookFills(pnl, (inc_a if earn_a else 0.0, inc_b if earn_b else 0.0), (costs, 0.0), (assumed, 0.0))

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state, out: dict | None = None) -> Fills:
        income, requeue, cross = self.income_and_switch(market)
        earn = earned(self.half_spread, market)
        pnl, costs, assumed = outputs(out, bid_first.size, "pnl", "costs", "assumed")
        state = bias_fills(
            bid_first,
            market.returns,
            self.exposure,
            np.atleast_1d(income),
            requeue,
            cross,
            earn,
            float(state),
            pnl,
            costs,
            assumed,
        )
        return Fills(pnl, None, state, income if earn else 0.0, costs, 0.0 if earn else assumed)


# Compiled loops for the state that carries from round to round (numba caches them on disk, keyed by this file).


@njit(cache=True, nogil=True)
def bias_fills(
    bid_first, returns, exposure, income, requeue, cross, earned, state, out, costs, assumed
):  # pragma: no cover - compiled
    """P&L of a signed position, +exposure if bid first else -exposure, over the round's return, plus the spread
    income, less in every round whose quoting order differs from the previous round's the income a re-queue
    forgoes (``requeue``) and the crossing cost ``cross`` (none in the first round when the previous state is -1:
    nothing to re-order). With ``earned`` False the income and what a re-queue forgoes are assumptions: their net
    goes to ``assumed`` and the P&L keeps the directional part less the crossing cost. ``income`` and ``requeue``
    hold one value or one per round. Fills ``out`` (P&L), ``costs`` and ``assumed`` per round, allocated by the
    caller (see queue_fills), and returns the last order as the next chunk's state. Branch-free in the loop: a
    random strategy's switches are unpredictable."""
    n = bid_first.size
    if n == 0:
        return state
    per_i = income.size > 1
    per_r = requeue.size > 1
    inc0, rq0 = income[0], requeue[0]
    e = np.float64(earned)
    prev = np.int64(bid_first[0]) if state < 0 else np.int64(state)
    for i in range(n):
        b = np.int64(bid_first[i])
        inc = income[i] if per_i else inc0
        rq = requeue[i] if per_r else rq0
        changed = np.float64(b != prev)
        c = changed * (e * rq + cross)
        costs[i] = c
        out[i] = (2.0 * b - 1.0) * exposure * returns[i] + e * inc - c
        assumed[i] = (1.0 - e) * (inc - changed * rq)
        prev = b
    return float(prev)


@njit(cache=True, nogil=True)
def bias_book(
    a, b, r_a, r_b, exposure, inc_a, inc_b, rq_a, rq_b, cross, earned_a, earned_b, state_a, state_b, pnl, costs, assumed
):  # pragma: no cover - compiled
    """Both servers of ``bias_fills`` in one pass, writing only the book's P&L, costs and assumed income (for
    chunks whose per-server series are not kept: three arrays to write instead of seven). Returns the two states."""
    n = a.size
    if n == 0:
        return state_a, state_b
    pia, pib, pra, prb = inc_a.size > 1, inc_b.size > 1, rq_a.size > 1, rq_b.size > 1
    ea, eb = np.float64(earned_a), np.float64(earned_b)
    pa = np.int64(a[0]) if state_a < 0 else np.int64(state_a)
    pb = np.int64(b[0]) if state_b < 0 else np.int64(state_b)
    for i in range(n):
        ai, bi = np.int64(a[i]), np.int64(b[i])
        ca, cb = np.float64(ai != pa), np.float64(bi != pb)
        qa, qb = rq_a[i if pra else 0], rq_b[i if prb else 0]
        ia, ib = inc_a[i if pia else 0], inc_b[i if pib else 0]
        c = ca * (ea * qa + cross) + cb * (eb * qb + cross)
        costs[i] = c
        pnl[i] = ((2.0 * ai - 1.0) * r_a[i] + (2.0 * bi - 1.0) * r_b[i]) * exposure + ea * ia + eb * ib - c
        assumed[i] = (1.0 - ea) * (ia - ca * qa) + (1.0 - eb) * (ib - cb * qb)
        pa, pb = ai, bi
    return float(pa), float(pb)
