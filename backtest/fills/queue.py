"""The queue fill: two quotes a minute, the one placed first fills more often; inventory carried.

``QueueFill``: each minute the agent quotes a bid and an ask of ``lot`` shares; the order placed first
  fills with probability ``p_first``, the second with ``p_second`` (per minute: a bar of m minutes fills
  Binomial(m, p) lots a side); with ``adverse_selection`` a the resting bid fills with probability
  p (1 + a_m) when the bar's price falls and p (1 - a_m) when it rises (the ask the other way round), where
  a_m = a / sqrt(m) makes an m-minute bar's fills lose to adverse selection what its m minutes' fills would
  under a random walk (``bar_adverse_selection``); each fill earns the half-spread less ``fee`` per share;
  inventory is carried, marked to market every round, cut back to +-``inventory_limit`` shares at
  ``cut_cost`` per share, and a share ``flatten`` of what is left is unwound at the end of each round at the
  same cost (0: carried). Both quotes are placed afresh every minute, so a change of order costs nothing
  beyond the fills it changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ..._jit import njit

from ..errors import BacktestError
from ..options import option
from .base import (HALF_SPREAD_OPTION, MODEL_BPS_OPTION, MODEL_HALF_SPREAD_BPS, QUOTED, FillModel, Fills, Market,
                   check_half_spread, outputs, positive, probability)

# Defaults from `qcoord calibrate` on the minute quote and trade bars of BAC, AIG, SPY and IBM in ../shared/data
# (2013-10-04 .. 10-11, regular session), pooled; tests/test_calibrate.py re-estimates them there and checks each lies
# in its 95% interval (docs/fills.md has the per-ticker numbers: BAC's one-cent spread fills a front-of-queue order
# in 98% of minutes, IBM's in 72%, so calibrate on your own pair where you can).
P_FIRST = 0.88  # P(a trade prints at or through a resting quote within a minute), pooled 0.882
P_SECOND = 0.51  # P(a trade prints through it: its level is exhausted), pooled 0.513
ADVERSE_SELECTION = 0.20  # mean mid move against a fill over its minute / mean |mid move|, pooled 0.203
_NONE = np.empty(0)  # no per-round quotes


@dataclass(frozen=True)
class QueueFill(FillModel):
    """Two quotes a minute, the first-placed fills more often, adverse selection; inventory carried (module
    docstring). Units: ``lot`` and ``inventory_limit`` in shares; ``fee`` and ``cut_cost`` in currency per share
    (``cut_cost`` unset: the half-spread plus the fee, the cost of crossing the spread)."""

    p_first: float = option(P_FIRST, help="queue fill: probability per minute that the order placed first fills "
                                          "(calibrated on quote bars; docs/fills.md)", lo=0, hi=1)
    p_second: float = option(P_SECOND, help="queue fill: probability per minute that the order placed second fills",
                             lo=0, hi=1)
    lot: float = option(100.0, help="queue fill: shares per fill", unit="shares", lo=0, open_lo=True, finite=True)
    half_spread: float | str = option(QUOTED, **HALF_SPREAD_OPTION)
    model_half_spread_bps: float = option(MODEL_HALF_SPREAD_BPS, **MODEL_BPS_OPTION)
    fee: float = option(0.0, help="queue fill: fee per share filled, negative = rebate", unit="currency/share",
                        finite=True)
    inventory_limit: float = option(1_000.0, help="queue fill: inventory beyond which it is cut", unit="shares",
                                    lo=0, open_lo=True, finite=True)
    cut_cost: float | None = option(help="queue fill: cost of cutting inventory (unset: half-spread + fee, crossing "
                                         "the spread)", unit="currency/share", lo=0, finite=True)
    adverse_selection: float = option(ADVERSE_SELECTION, lo=0, hi=1,
                                      help="queue fill: a resting order fills with probability p (1 + a) in a minute "
                                           "whose price moves through it and p (1 - a) when it moves away; a bar of m "
                                           "minutes uses a / sqrt(m), the same loss (docs/fills.md)")
    flatten: float = option(0.0, lo=0, hi=1, help="queue fill: share of the inventory unwound at the end of each "
                                                  "round at the cut cost (0: carried)")
    name = "queue"
    uniform_streams = 2
    uses_prices = True
    sized_in_shares = True

    def __post_init__(self) -> None:
        probability("p_first", self.p_first)
        probability("p_second", self.p_second)
        probability("adverse_selection", self.adverse_selection)
        probability("flatten", self.flatten)
        if self.p_second > self.p_first:
            raise BacktestError(f"fill model: p_second ({self.p_second}) must not exceed p_first ({self.p_first})")
        positive("lot", self.lot)
        positive("inventory_limit", self.inventory_limit)
        if self.inventory_limit < self.lot:
            raise BacktestError(f"fill model: inventory_limit ({self.inventory_limit}) is below one lot ({self.lot})")
        check_half_spread(self)
        if not np.isfinite(self.fee):
            raise BacktestError(f"fill model: fee must be finite, got {self.fee!r}")
        if self.cut_cost is not None and not (np.isfinite(self.cut_cost) and self.cut_cost >= 0):
            raise BacktestError(f"fill model: cut_cost must be >= 0 currency per share, got {self.cut_cost!r}")

    def describe(self) -> str:
        return (f"queue fill: {self.lot:g}-share quotes fill with probability {self.p_first:g} (placed first) or "
                f"{self.p_second:g} a minute at {self.half_spread_words()}, adverse selection "
                f"{self.adverse_selection:g} per minute; costs: fees {self.fee:g}/share, inventory cut beyond "
                f"{self.inventory_limit:g} shares" + (f", {self.flatten:.0%} unwound each round" if self.flatten else ""))

    def book_size(self, prices: np.ndarray) -> float:
        return float(2.0 * self.inventory_limit * np.mean(prices))

    def game_exposure(self, prices: np.ndarray, minutes: float) -> float:
        """The position one round's quoting order adds on average, lot x m x (p_first - p_second) shares, at the
        first test round's prices (the queue fill plays the bias fill's hedge game at this scale; inventory
        carried between rounds is not part of it). One lot's value when p_first = p_second."""
        m = max(1, round(minutes))
        edge = self.p_first - self.p_second
        return float(self.lot * (m * edge if edge > 0 else 1.0) * np.mean(prices))

    def filled_per_minute(self, price: float) -> float:
        return self.lot * (self.p_first + self.p_second) * price

    def fill_table(self, minutes: float) -> np.ndarray:
        """CDFs of the fills per bar, Binomial(m, p), for p = p_first or p_second times (1 - a_m), 1, (1 + a_m):
        rows position * 3 + (effect + 1), where effect is +1 when the bar's price moves through the order."""
        m = max(1, round(minutes))
        return _fill_table(self.p_first, self.p_second, bar_adverse_selection(self.adverse_selection, m), m)

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state, out: dict | None = None) -> Fills:
        quoted = self.half_spread == QUOTED and market.half_spread is not None
        h_bps = self.model_half_spread_bps if self.half_spread == QUOTED else float(self.half_spread)
        pnl, inventory, income, costs = outputs(out, bid_first.size, "pnl", "inv", "income", "costs")
        state = queue_fills(
            bid_first, uniforms[0], uniforms[1], self.fill_table(market.minutes), self.lot,
            market.half_spread if quoted else _NONE, h_bps, market.price, self.fee, self.inventory_limit,
            math.nan if self.cut_cost is None else float(self.cut_cost), self.flatten, market.price_change,
            float(state), pnl, inventory, income, costs,
        )
        return Fills(pnl, inventory, state, income, costs)


def bar_adverse_selection(a: float, minutes: int) -> float:
    """The per-minute adverse-selection effect ``a`` on a bar of ``minutes``: a / sqrt(m), so that the bar's fills
    lose what the m minutes' fills lose.

    On minute bars a resting order fills with probability p (1 + a) in a minute that moves through it, so each
    side loses lot p a E|minute move| a minute to adverse selection. A bar's fills all see the bar's move: they
    lose lot m p a_m E|bar move|, and under a random walk E|bar move| = sqrt(m) E|minute move|, so the two are
    equal at a_m = a / sqrt(m) (m = 1 keeps a; a daily bar, m = 390, keeps 5.1% of it)."""
    return a / math.sqrt(max(1, minutes))


@lru_cache(maxsize=64)
def _fill_table(p_first: float, p_second: float, adverse: float, m: int) -> np.ndarray:
    from scipy.stats import binom

    rows = []
    for p in (p_first, p_second):
        for effect in (-1, 0, 1):
            q = min(1.0, max(0.0, p * (1.0 + adverse * effect)))
            rows.append(binom.cdf(np.arange(m + 1), m, q))
    table = np.array(rows)
    table[:, -1] = 1.0  # exactly: a uniform draw below 1 never falls past the last count
    table.flags.writeable = False
    return table


# Compiled loops for the state that carries from round to round (numba caches them on disk, keyed by this file).

@njit(cache=True, nogil=True, inline="always")
def _fills(u, table, row, width):  # pragma: no cover - compiled
    """Lots filled: the smallest k with u < table[row, k]; one minute a round (width 2) without a branch."""
    if width == 2:
        return np.int64(u >= table[row, 0])
    k = 0
    while k < width - 1 and u >= table[row, k]:
        k += 1
    return k


@njit(cache=True, nogil=True)
def queue_fills(bid_first, u_buy, u_sell, table, lot, quoted, h_bps, price, fee, limit, cut_cost, flatten,
                price_change, inventory, pnl, inv_out, income, costs):  # pragma: no cover - compiled
    """One market maker quoting both sides each minute of a bar; the side quoted first fills more often.

    The half-spread per share is ``quoted[i]`` when ``quoted`` has one value per round, else h_bps x 1e-4 x
    price[i]; ``cut_cost`` NaN means the half-spread plus the fee.
    Per round: the bid fills the smallest k with u_buy < table[row, k] lots (inverse CDF of Binomial(m, p)),
    the ask likewise with u_sell; the row is position * 3 + effect + 1, position 0 for the order placed first,
    effect +1 when the round's price moves through the order (down for the bid, up for the ask), -1 away, 0
    flat (adverse selection). Each filled share earns half_spread - fee; inventory beyond +-limit is cut back
    at cut_cost per share; the inventory is then held over the round's price change, and a share ``flatten`` of
    it is unwound at the end of the round at the same cost per share. Returns P&L and end
    inventory per round, the final inventory (the next chunk's start), and per round the spread income and
    the costs (fees and cuts): P&L = income - costs + inventory x price change. The four output arrays are
    allocated by the caller (numpy's large allocations fault in huge pages; the kernel's own would fault 4 KB
    pages on every call, which costs more than the loop).
    """
    n = bid_first.size
    width = table.shape[1]
    inv = inventory
    per_q = quoted.size == n and n > 0
    cut_given = cut_cost == cut_cost
    for i in range(n):
        h = quoted[i] if per_q else h_bps * 1e-4 * price[i]
        move = price_change[i]
        down = np.int64(move < 0.0) - np.int64(move > 0.0)  # +1: through the bid
        first_bid = bid_first[i] != 0
        row_b = (0 if first_bid else 3) + down + 1
        row_s = (3 if first_bid else 0) - down + 1
        k_b = _fills(u_buy[i], table, row_b, width)
        k_s = _fills(u_sell[i], table, row_s, width)
        inv += (k_b - k_s) * lot
        fills = (k_b + k_s) * lot
        cost = fills * fee
        # the cut as selects, not a branch: whether a round's fills push past the limit is a coin flip once the
        # inventory sits near it (most rounds of a long run), and the branch cost 11 ns a round against 3.4
        excess = abs(inv) - limit
        cut = cut_cost if cut_given else h + fee
        cost = cost + excess * cut if excess > 0 else cost
        inv = min(max(inv, -limit), limit)  # = +-limit exactly when abs(inv) > limit
        held = inv * move
        if flatten > 0.0:
            unwind = flatten * inv
            cost += abs(unwind) * cut
            inv -= unwind
        inc = fills * h
        income[i] = inc
        costs[i] = cost
        pnl[i] = inc - cost + held
        inv_out[i] = inv
    return inv
