"""The queue fill: two quotes a minute, the one placed first fills more often; inventory carried.

``QueueFill``: each minute the agent quotes a bid and an ask of ``notional`` currency each, in shares at the
  round's decision-time price (notional / price, so both legs of the book are sized in money whatever their share
  prices); the order placed first fills with probability ``p_first``, the second with ``p_second`` (per minute: a
  bar of m minutes fills Binomial(m, p) quotes a side); with ``adverse_selection`` a the resting bid fills with
  probability p (1 + a_m) when the bar's price falls and p (1 - a_m) when it rises (the ask the other way round),
  where a_m = a / sqrt(m) makes an m-minute bar's fills lose to adverse selection what its m minutes' fills would
  under a random walk (``bar_adverse_selection``); each fill earns the half-spread less ``fee`` per share;
  inventory is carried, marked to market every round, cut back to +-``position_limit`` (currency, at the round's
  price) at ``cut_cost`` per share, and a share ``flatten`` of what is left is unwound at the end of each round at
  the same cost (0: carried). Both quotes are placed afresh every minute, so a change of order costs nothing
  beyond the fills it changes. Where the half-spread is not the data's own quote (``base.earned``), the spread
  income and the half-spread paid on cuts and unwinds are assumptions: their net is ``Fills.assumed``, outside the
  P&L, which keeps the inventory's mark to market and the fees (and a stated ``cut_cost``).

The objective the book pays (``steer``): inventory carries from round to round, so the book's variance is not the
one-round hedge game's (whose scale is what one round's order adds, ``game_exposure``). A communicating oracle
that knows both servers' inputs and inventories plays, each round, the pair of orders that minimises the round's
expected squared book P&L, (V_A' r_X + V_B' r_Y)^2 with V' the positions after the round's expected fills; on a
bar long enough to fill the position limit within the round it is the game's oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ..._jit import njit

from ..errors import BacktestError
from ..options import option
from .base import (
    HALF_SPREAD_OPTION,
    MODEL_BPS_OPTION,
    MODEL_HALF_SPREAD_BPS,
    QUOTED,
    FillModel,
    Fills,
    Market,
    Steered,
    check_half_spread,
    earned,
    outputs,
    positive,
    probability,
)

# Defaults from `qcoord calibrate` on the minute quote and trade bars of BAC, AIG, SPY and IBM in ../shared/data
# (2013-10-04 .. 10-11, regular session), pooled; tests/test_calibrate.py re-estimates them there and checks each lies
# in its 95% interval (docs/fills.md has the per-ticker numbers: an order at the back of BAC's displayed queue,
# 68,550 shares ahead of it, fills in 50% of minutes where one at the front would in 98%; calibrate on your own pair
# where you can).
P_FIRST = 0.75  # P(the volume at its price exceeds the displayed queue ahead, or a print through it), pooled 0.749
P_SECOND = 0.51  # P(a trade prints through it: its level is exhausted), pooled 0.513
ADVERSE_SELECTION = 0.25  # mean mid move against a queue fill over its minute / mean |mid move|, pooled 0.248
_NONE = np.empty(0)  # no per-round quotes


@dataclass(frozen=True)
class QueueFill(FillModel):
    """Two quotes a minute, the first-placed fills more often, adverse selection; inventory carried (module
    docstring). Units: ``notional`` and ``position_limit`` in currency (shares at each round's price); ``fee`` and
    ``cut_cost`` in currency per share (``cut_cost`` unset: the half-spread plus the fee, the cost of crossing the
    spread)."""

    p_first: float = option(
        P_FIRST,
        help="queue fill: probability per minute that the order placed first fills "
        "(calibrated on quote bars; docs/fills.md)",
        lo=0,
        hi=1,
    )
    p_second: float = option(
        P_SECOND, help="queue fill: probability per minute that the order placed second fills", lo=0, hi=1
    )
    notional: float = option(
        10_000.0,
        help="queue fill: currency per quote (shares = notional / the round's price, so both legs are sized in money)",
        unit="currency",
        lo=0,
        open_lo=True,
        finite=True,
    )
    half_spread: float | str = option(QUOTED, **HALF_SPREAD_OPTION)
    model_half_spread_bps: float = option(MODEL_HALF_SPREAD_BPS, **MODEL_BPS_OPTION)
    fee: float = option(
        0.0, help="queue fill: fee per share filled, negative = rebate", unit="currency/share", finite=True
    )
    position_limit: float = option(
        100_000.0,
        help="queue fill: position beyond which inventory is cut (at the round's price)",
        unit="currency",
        lo=0,
        open_lo=True,
        finite=True,
    )
    cut_cost: float | None = option(
        help="queue fill: cost of cutting inventory (unset: half-spread + fee, crossing the spread)",
        unit="currency/share",
        lo=0,
        finite=True,
    )
    adverse_selection: float = option(
        ADVERSE_SELECTION,
        lo=0,
        hi=1,
        help="queue fill: a resting order fills with probability p (1 + a) in a minute "
        "whose price moves through it and p (1 - a) when it moves away; a bar of m "
        "minutes uses a / sqrt(m), the same loss (docs/fills.md)",
    )
    flatten: float = option(
        0.0,
        lo=0,
        hi=1,
        help="queue fill: share of the inventory unwound at the end of each round at the cut cost (0: carried)",
    )
    name = "queue"
    uniform_streams = 2
    uses_prices = True
    sized_in_shares = True  # fees and cut costs are per share

    def __post_init__(self) -> None:
        probability("p_first", self.p_first)
        probability("p_second", self.p_second)
        probability("adverse_selection", self.adverse_selection)
        probability("flatten", self.flatten)
        if self.p_second > self.p_first:
            raise BacktestError(f"fill model: p_second ({self.p_second}) must not exceed p_first ({self.p_first})")
        positive("notional", self.notional)
        positive("position_limit", self.position_limit)
        if self.position_limit < self.notional:
            raise BacktestError(
                f"fill model: position_limit ({self.position_limit}) is below one quote's notional ({self.notional})"
            )
        check_half_spread(self)
        if not np.isfinite(self.fee):
            raise BacktestError(f"fill model: fee must be finite, got {self.fee!r}")
        if self.cut_cost is not None and not (np.isfinite(self.cut_cost) and self.cut_cost >= 0):
            raise BacktestError(f"fill model: cut_cost must be >= 0 currency per share, got {self.cut_cost!r}")

    def describe(self) -> str:
        return (
            f"queue fill: quotes of {self.notional:,.0f} a side fill with probability {self.p_first:g} (placed "
            f"first) or {self.p_second:g} a minute at {self.half_spread_words()}, adverse selection "
            f"{self.adverse_selection:g} per minute; costs: fees {self.fee:g}/share, inventory cut beyond "
            f"{self.position_limit:,.0f}" + (f", {self.flatten:.0%} unwound each round" if self.flatten else "")
        )

    def book_size(self, prices: np.ndarray) -> float:
        return float(2.0 * self.position_limit)

    def game_exposure(self, prices: np.ndarray, minutes: float) -> float:
        """The position one round's quoting order adds on average, notional x m x (p_first - p_second) (currency;
        the queue fill plays the bias fill's hedge game at this scale; inventory carried between rounds is not part
        of it: ``steer``). One quote's notional when p_first = p_second."""
        m = max(1, round(minutes))
        edge = self.p_first - self.p_second
        return float(self.notional * (m * edge if edge > 0 else 1.0))

    def filled_per_minute(self, price: float) -> float:
        return self.notional * (self.p_first + self.p_second)

    def fill_table(self, minutes: float) -> np.ndarray:
        """CDFs of the fills per bar, Binomial(m, p), for p = p_first or p_second times (1 - a_m), 1, (1 + a_m):
        rows position * 3 + (effect + 1), where effect is +1 when the bar's price moves through the order."""
        m = max(1, round(minutes))
        return _fill_table(self.p_first, self.p_second, bar_adverse_selection(self.adverse_selection, m), m)

    def _args(self, market: Market) -> tuple:
        """The kernel's per-server arguments: per-round quotes (or none), the model half-spread, whether the income
        is earned, the cut cost (NaN: half-spread + fee)."""
        quoted = self.half_spread == QUOTED and market.half_spread is not None
        h_bps = self.model_half_spread_bps if self.half_spread == QUOTED else float(self.half_spread)
        return (
            market.half_spread if quoted else _NONE,
            h_bps,
            earned(self.half_spread, market),
            math.nan if self.cut_cost is None else float(self.cut_cost),
        )

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state, out: dict | None = None) -> Fills:
        quotes, h_bps, earn, cut = self._args(market)
        pnl, inventory, income, costs, assumed = outputs(
            out, bid_first.size, "pnl", "inv", "income", "costs", "assumed"
        )
        state = queue_fills(
            bid_first,
            uniforms[0],
            uniforms[1],
            self.fill_table(market.minutes),
            self.notional,
            quotes,
            h_bps,
            earn,
            market.price,
            self.fee,
            self.position_limit,
            cut,
            self.flatten,
            market.price_change,
            float(state),
            pnl,
            inventory,
            income,
            costs,
            assumed,
        )
        return Fills(pnl, inventory, state, income, costs, assumed)

    def steer(
        self,
        x,
        y,
        moments: np.ndarray,
        market_a: Market,
        market_b: Market,
        uniforms,
        states: list,
        out: dict | None = None,
    ) -> Steered:
        """The oracle on the carried inventories (module docstring): each round the orders (a, b) minimising
        E[(V_A' r_X + V_B' r_Y)^2 | x, y], V' = clip(V + s notional m (p_first - p_second)) the positions after the
        round's expected fills, then filled as ``pnl`` fills them."""
        n = x.size
        m = max(1, round(market_a.minutes))
        table = self.fill_table(market_a.minutes)
        qa, ha, ea, cut = self._args(market_a)
        qb, hb, eb, _ = self._args(market_b)
        names = ("pnl", "inv", "income", "costs", "assumed")
        side_a = outputs(None if out is None else {k: out[f"{k}_a"] for k in names}, n, *names)
        side_b = outputs(None if out is None else {k: out[f"{k}_b"] for k in names}, n, *names)
        a, b = np.empty(n, dtype=np.uint8), np.empty(n, dtype=np.uint8)
        edge = self.notional * m * (self.p_first - self.p_second)
        states[0], states[1] = queue_steer(
            np.asarray(x, dtype=np.uint8),
            np.asarray(y, dtype=np.uint8),
            np.ascontiguousarray(moments, dtype=float),
            edge,
            uniforms[0][0],
            uniforms[0][1],
            uniforms[1][0],
            uniforms[1][1],
            table,
            self.notional,
            qa,
            ha,
            ea,
            market_a.price,
            market_a.price_change,
            qb,
            hb,
            eb,
            market_b.price,
            market_b.price_change,
            self.fee,
            self.position_limit,
            cut,
            self.flatten,
            float(states[0]),
            float(states[1]),
            a,
            b,
            *side_a,
            *side_b,
        )
        return Steered(
            a,
            b,
            Fills(side_a[0], side_a[1], float(states[0]), *side_a[2:]),
            Fills(side_b[0], side_b[1], float(states[1]), *side_b[2:]),
        )


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


@njit(cache=True, nogil=True, inline="always")
def _round(
    first_bid, u_b, u_s, move, px, h, table, width, notional, fee, limit, cut_cost, flatten, earned, inv
):  # pragma: no cover - compiled
    """One server's round: (inventory after it in shares, P&L, income, costs, assumed). ``earned``: the
    half-spread ``h`` is the data's quote. Else the market maker's realised spread is an assumption and goes to the
    assumed part, outside the P&L: the income, the half-spread paid on cuts and unwinds, and the adverse selection
    (what the position held over the round's move gains from the fills the move tilted, against the same draws
    without the tilt: the price-impact part of the realised spread)."""
    down = np.int64(move < 0.0) - np.int64(move > 0.0)  # +1: through the bid
    row_b = (0 if first_bid else 3) + down + 1
    row_s = (3 if first_bid else 0) - down + 1
    k_b = _fills(u_b, table, row_b, width)
    k_s = _fills(u_s, table, row_s, width)
    lot = notional / px  # shares a quote: sized in money at the decision-time price
    lim = limit / px
    before = inv
    inv += (k_b - k_s) * lot
    filled = (k_b + k_s) * lot
    cost = filled * fee
    # the cut as selects, not a branch: whether a round's fills push past the limit is a coin flip once the
    # inventory sits near it (most rounds of a long run), and the branch cost 11 ns a round against 3.4
    excess = abs(inv) - lim
    excess = excess if excess > 0.0 else 0.0
    cut_given = cut_cost == cut_cost
    cut = cut_cost if cut_given else h + fee
    inv = min(max(inv, -lim), lim)  # = +-limit exactly when abs(inv) > limit
    held = inv * move
    unwind = 0.0
    if flatten > 0.0:
        unwind = abs(flatten * inv)
        inv -= flatten * inv
    cost += (excess + unwind) * cut
    inc = filled * h
    if earned:
        return inv, inc - cost + held, inc, cost, 0.0
    spread = 0.0 if cut_given else (excess + unwind) * h  # the part of the cuts priced at the half-spread
    untilted = before + (_fills(u_b, table, row_b - down, width) - _fills(u_s, table, row_s + down, width)) * lot
    adverse = held - min(max(untilted, -lim), lim) * move
    return inv, held - adverse - (cost - spread), 0.0, cost - spread, inc - spread + adverse


@njit(cache=True, nogil=True)
def queue_fills(
    bid_first,
    u_buy,
    u_sell,
    table,
    notional,
    quoted,
    h_bps,
    earned,
    price,
    fee,
    limit,
    cut_cost,
    flatten,
    price_change,
    inventory,
    pnl,
    inv_out,
    income,
    costs,
    assumed,
):  # pragma: no cover - compiled
    """One market maker quoting both sides each minute of a bar; the side quoted first fills more often.

    The half-spread per share is ``quoted[i]`` when ``quoted`` has one value per round, else h_bps x 1e-4 x
    price[i]; ``cut_cost`` NaN means the half-spread plus the fee. Quotes are ``notional`` / price[i] shares and
    the limit ``limit`` / price[i] shares (money sizing).
    Per round: the bid fills the smallest k with u_buy < table[row, k] quotes (inverse CDF of Binomial(m, p)),
    the ask likewise with u_sell; the row is position * 3 + effect + 1, position 0 for the order placed first,
    effect +1 when the round's price moves through the order (down for the bid, up for the ask), -1 away, 0
    flat (adverse selection). Each filled share earns half_spread - fee; inventory beyond +-limit is cut back
    at cut_cost per share; the inventory is then held over the round's price change, and a share ``flatten`` of
    it is unwound at the end of the round at the same cost per share. Returns the final inventory (the next
    chunk's start) and writes per round the P&L, end inventory (shares), the spread income and costs (fees and
    cuts) and the assumed part: P&L = income - costs + inventory x price change when ``earned``, else the income
    and the half-spread part of the cuts move to ``assumed`` (``_round``). The output arrays are allocated by the
    caller (numpy's large allocations fault in huge pages; the kernel's own would fault 4 KB pages on every call,
    which costs more than the loop).
    """
    n = bid_first.size
    width = table.shape[1]
    inv = inventory
    per_q = quoted.size == n and n > 0
    for i in range(n):
        h = quoted[i] if per_q else h_bps * 1e-4 * price[i]
        inv, pnl[i], income[i], costs[i], assumed[i] = _round(
            bid_first[i] != 0,
            u_buy[i],
            u_sell[i],
            price_change[i],
            price[i],
            h,
            table,
            width,
            notional,
            fee,
            limit,
            cut_cost,
            flatten,
            earned,
            inv,
        )
        inv_out[i] = inv
    return inv


@njit(cache=True, nogil=True, inline="always")
def _after(value, order, edge, limit):  # pragma: no cover - compiled
    """The position (currency) after a round's expected fills: +-edge by the order, within the limit."""
    v = value + (edge if order else -edge)
    return min(max(v, -limit), limit)


@njit(cache=True, nogil=True)
def queue_steer(
    x,
    y,
    moments,
    edge,
    ub_a,
    us_a,
    ub_b,
    us_b,
    table,
    notional,
    quoted_a,
    h_bps_a,
    earned_a,
    price_a,
    change_a,
    quoted_b,
    h_bps_b,
    earned_b,
    price_b,
    change_b,
    fee,
    limit,
    cut_cost,
    flatten,
    inv_a,
    inv_b,
    a_out,
    b_out,
    pnl_a,
    invo_a,
    inc_a,
    cost_a,
    asm_a,
    pnl_b,
    invo_b,
    inc_b,
    cost_b,
    asm_b,
):  # pragma: no cover - compiled
    """The oracle on both inventories (``QueueFill.steer``): per round, of the four pairs of orders the one with the
    least E[(V_A' r_X + V_B' r_Y)^2 | cell] (``moments`` rows: E[r_X^2], E[r_Y^2], E[r_X r_Y] of cell 2x + y;
    V' = ``_after``; ties: the first in a fixed order), then both servers' rounds as ``queue_fills`` plays them. Returns
    the two final inventories (shares)."""
    n = x.size
    width = table.shape[1]
    per_a = quoted_a.size == n and n > 0
    per_b = quoted_b.size == n and n > 0
    for i in range(n):
        c = 2 * x[i] + y[i]
        vx, vy, cxy = moments[c, 0], moments[c, 1], moments[c, 2]
        va, vb = inv_a * price_a[i], inv_b * price_b[i]
        best, pa, pb = np.inf, 0, 0
        for k in range(4):  # ties go to the first pair in this fixed order: the same play however rounds are chunked
            oa, ob = k >> 1, k & 1
            sa, sb = _after(va, oa, edge, limit), _after(vb, ob, edge, limit)
            j = sa * sa * vx + sb * sb * vy + 2.0 * sa * sb * cxy
            if j < best:
                best, pa, pb = j, oa, ob
        a_out[i], b_out[i] = pa, pb
        h = quoted_a[i] if per_a else h_bps_a * 1e-4 * price_a[i]
        inv_a, pnl_a[i], inc_a[i], cost_a[i], asm_a[i] = _round(
            pa != 0,
            ub_a[i],
            us_a[i],
            change_a[i],
            price_a[i],
            h,
            table,
            width,
            notional,
            fee,
            limit,
            cut_cost,
            flatten,
            earned_a,
            inv_a,
        )
        invo_a[i] = inv_a
        h = quoted_b[i] if per_b else h_bps_b * 1e-4 * price_b[i]
        inv_b, pnl_b[i], inc_b[i], cost_b[i], asm_b[i] = _round(
            pb != 0,
            ub_b[i],
            us_b[i],
            change_b[i],
            price_b[i],
            h,
            table,
            width,
            notional,
            fee,
            limit,
            cut_cost,
            flatten,
            earned_b,
            inv_b,
        )
        invo_b[i] = inv_b
    return inv_a, inv_b
