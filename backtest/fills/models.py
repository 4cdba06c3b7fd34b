"""Fill models: how a server's choice of quoting order becomes P&L. Small swappable objects.

Both agents of a strategy use the same model; every strategy sees the same fill randomness (common
random numbers), so differences between strategies are paired. Units do not depend on the bar length:
fills happen at rates per minute of quoting, so a daily bar (390 minutes) fills about 390 times what a
minute bar fills, and the annualised Sharpe ratio of the spread income is the same on either.

- ``BiasFill`` (default): bid first holds a position of +``exposure`` (currency) in the agent's stock over
  the round, ask first -``exposure``: directional P&L = +-exposure x the round's simple return. The server fills
  ``turnover`` x exposure of notional per minute of quoting (a stated participation assumption: the run says so)
  and earns the realised half-spread on it: the effective half-spread h less the share ``adverse_selection`` of
  it that the mid-price takes back after the fill (the standard decomposition, effective = realised + price
  impact; default 0.44 from Menkveld 2013: a positioning loss of EUR 0.68 against EUR 1.55 of spread profit per
  trade). Changing the quoting order costs lost queue priority, not a spread crossing: the server cancels its
  resting quotes and re-enters them at the back of their queues, and forgoes ``requeue_loss`` x the round's
  spread income (default 1: all of it, the upper bound). A crossing cost ``switch_cost_bps`` on the 2 x exposure
  a flip would trade is charged only when the user sets one. The first round opens by quoting: no cost.
- ``QueueFill``: each minute the agent quotes a bid and an ask of ``lot`` shares; the order placed first
  fills with probability ``p_first``, the second with ``p_second`` (per minute: a bar of m minutes fills
  Binomial(m, p) lots a side); with ``adverse_selection`` a the resting bid fills with probability
  p (1 + a_m) when the bar's price falls and p (1 - a_m) when it rises (the ask the other way round), where
  a_m = a / sqrt(m) makes an m-minute bar's fills lose to adverse selection what its m minutes' fills would
  under a random walk (``bar_adverse_selection``); each fill earns the half-spread less ``fee`` per share;
  inventory is carried, marked to market every round, cut back to +-``inventory_limit`` shares at
  ``cut_cost`` per share, and a share ``flatten`` of what is left is unwound at the end of each round at the
  same cost (0: carried). Both quotes are placed afresh every minute, so a change of order costs nothing
  beyond the fills it changes.

The half-spread is ``"quoted"`` (half the quoted spread of the data at decision time, where the data has
quotes; else ``model_half_spread_bps`` of the price) or a number of basis points of the price.

Correspondence (``BiasFill.from_queue``): one round's quoting order changes the queue model's expected
inventory by lot x m x (p_first - p_second) shares, held over that round's price change, so a bias fill
with exposure = lot x m x (p_first - p_second) x price and turnover = lot x (p_first + p_second) x price /
exposure has the same first-order P&L and the same spread income (with adverse_selection 0 and requeue_loss 0:
the queue model re-places its quotes every minute); tests/test_fills.py measures the queue
model's exposure by regression on the same data and finds it within its confidence interval (without
adverse selection, which adds a loss the bias model does not have).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numba import njit

from ..errors import BacktestError
from ..options import option, values_of

QUOTED = "quoted"
_NONE = np.empty(0)  # no per-round quotes
# Defaults from `qcoord calibrate` on the minute quote and trade bars of BAC, AIG, SPY and IBM in ../shared/data
# (2013-10-04 .. 10-11, regular session), pooled; tests/test_calibrate.py re-estimates them there and checks each lies
# in its 95% interval (docs/fills.md has the per-ticker numbers: BAC's one-cent spread fills a front-of-queue order
# in 98% of minutes, IBM's in 72%, so calibrate on your own pair where you can).
MODEL_HALF_SPREAD_BPS = 1.0  # median quoted half-spread, pooled 1.02 bp (BAC 3.6, AIG 1.0, IBM 1.1, SPY 0.3)
P_FIRST = 0.88  # P(a trade prints at or through a resting quote within a minute), pooled 0.882
P_SECOND = 0.51  # P(a trade prints through it: its level is exhausted), pooled 0.513
ADVERSE_SELECTION = 0.20  # mean mid move against a fill over its minute / mean |mid move|, pooled 0.203
# The bias fill's realised spread: Menkveld (2013, J. Financial Markets 16, 712-740), a large HFT market maker in
# Dutch index stocks: EUR 1.55 of spread profit net of fees and a EUR 0.68 positioning loss per trade.
BIAS_ADVERSE_SELECTION = 0.44  # 0.68 / 1.55


class Market(NamedTuple):
    """What one server's stock did over a chunk of rounds, for a fill model: simple ``returns``; ``price`` the
    share price at decision time (row t - 1) and ``price_change`` P[t] - P[t-1], both currency per share (None
    unless the model ``uses_prices``); ``half_spread`` half the quoted spread at decision time, currency per
    share (None when the data has no quotes); ``minutes`` of quoting per round (one bar)."""

    returns: np.ndarray | None
    price_change: np.ndarray | None = None
    half_spread: np.ndarray | None = None
    price: np.ndarray | None = None
    minutes: float = 1.0


def _outputs(out: dict | None, n: int, *keys: str) -> list[np.ndarray]:
    """The output arrays of a fill: the caller's scratch arrays (``out``) or fresh ones."""
    return [np.empty(n) if out is None else out[k] for k in keys]


def half_spread_bps(setting, market: Market, model_bps: float):
    """The half-spread in basis points of the price: quoted where the data has quotes, else the model's; or the
    number given. One number, or one per round."""
    if setting != QUOTED:
        return float(setting)
    if market.half_spread is None or market.price is None:
        return model_bps
    return market.half_spread / market.price * 1e4


class Fills(NamedTuple):
    """One server's fills over a chunk of rounds (``FillModel.pnl``). Currency per round unless said otherwise:
    P&L = income - costs + directional P&L."""

    pnl: np.ndarray
    inventory: np.ndarray | None  # shares at the end of each round; None for a model that carries none
    state: float  # what carries to the next chunk (the last position or inventory)
    income: np.ndarray | float  # spread earned, per round or one number for every round
    costs: np.ndarray | float  # fees, switching and inventory cuts, per round or one number for every round


class BookFills(NamedTuple):
    """Both servers' fills at once, the book's P&L only (``FillModel.book_pnl``)."""

    pnl: np.ndarray  # book P&L per round
    income: tuple  # (A's, B's), each per round or one number
    costs: tuple  # (book costs per round, 0.0): the fused path sums both servers' costs


class FillModel(ABC):
    """How a server's quoting order becomes P&L: a small, frozen value object (``BiasFill``, ``QueueFill``).

    Every implementation says what book its returns are measured on (``book_size``), what one round's quoting
    order puts at risk (``game_exposure``: the hedge game's scale), where its carried state starts
    (``initial_state``), and how a chunk of one server's rounds fills (``pnl`` -> ``Fills``); it may also fill
    both servers at once (``book_pnl`` -> ``BookFills``, or None for no fused path)."""

    name = "fill"
    uniform_streams = 0  # uniform draws per agent per round (shared by all strategies)
    uses_prices = False  # whether it needs share prices and price changes besides returns
    sized_in_shares = False  # whether its quantities are share counts (then adjusted-only prices mislead it)

    @abstractmethod
    def book_size(self, prices: np.ndarray) -> float:
        """Currency the book's returns are measured on, at the share prices of the first test round."""

    @abstractmethod
    def game_exposure(self, prices: np.ndarray, minutes: float) -> float:
        """Currency per server that one round's quoting order puts at risk: the scale of the hedge game
        (its weights' signs, and so every fitted strategy, do not depend on it)."""

    def initial_state(self) -> float:
        return 0.0

    @abstractmethod
    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state: float, out: dict | None = None) -> Fills:
        """One server's fills over a chunk of rounds: ``bid_first`` its quoting order per round (1 = bid first),
        ``market`` what its stock did, ``uniforms`` its ``uniform_streams`` arrays of draws (or None), ``state``
        what carried from the previous chunk, ``out`` optional scratch arrays by name ("pnl", "inv", "income",
        "costs") to write into."""

    def book_pnl(self, a, b, market_a: Market, market_b: Market, states: list, out: dict) -> BookFills | None:
        """Both servers at once, the book's P&L and costs only, the states updated in place; None when the model
        has no fused path (the caller then fills each server)."""
        return None

    def filled_per_minute(self, price: float) -> float | None:
        """Notional one server fills per minute of quoting at share price ``price`` (currency; None: not stated),
        the numerator of its participation in the market's traded volume."""
        return None

    def to_dict(self) -> dict:
        return {"name": self.name, **values_of(self)}


def _check_half_spread(model) -> None:
    hs = model.half_spread
    if hs != QUOTED:
        try:
            value = float(hs)
        except (TypeError, ValueError):
            raise BacktestError(f"fill model: half_spread must be 'quoted' or basis points >= 0, got {hs!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise BacktestError(f"fill model: half_spread must be 'quoted' or basis points >= 0, got {hs!r}")
        object.__setattr__(model, "half_spread", value)
    if not (math.isfinite(model.model_half_spread_bps) and model.model_half_spread_bps >= 0):
        raise BacktestError(f"fill model: model_half_spread_bps must be >= 0, got {model.model_half_spread_bps!r}")


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise BacktestError(f"fill model: {name} must be a positive number, got {value!r}")
    return value


def _prob(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and 0 <= value <= 1):
        raise BacktestError(f"fill model: {name} must be a probability in [0, 1], got {value!r}")
    return value


_HALF_SPREAD = dict(words=(QUOTED,), lo=0, finite=True, unit="bp of price",
                    help="half-spread earned per share filled: 'quoted' (the data's quotes where it has them, else "
                         "model_half_spread_bps) or basis points of the price")
_MODEL_BPS = dict(help="half-spread when the data has no quotes (a liquid large cap's; docs/fills.md)", unit="bp of price",
                  lo=0, finite=True)


@dataclass(frozen=True)
class BiasFill(FillModel):
    """A position of +-``exposure`` over each round, the realised spread on ``turnover`` x exposure per minute, and
    ``requeue_loss`` of the round's income (plus any crossing cost ``switch_cost_bps``) at every change of quoting
    order (module docstring). Units: currency, per minute of quoting, bp of notional."""

    exposure: float = option(10_000.0, help="bias fill: position a server's quoting order holds over a round",
                             unit="currency", lo=0, open_lo=True, finite=True)
    turnover: float = option(0.1, help="bias fill: notional filled per minute of quoting, as a multiple of the "
                                       "exposure", unit="per minute", lo=0, finite=True)
    half_spread: float | str = option(QUOTED, **_HALF_SPREAD)
    model_half_spread_bps: float = option(MODEL_HALF_SPREAD_BPS, **_MODEL_BPS)
    adverse_selection: float = option(BIAS_ADVERSE_SELECTION, lo=0, hi=1,
                                      help="bias fill: share of the half-spread the mid-price takes back after a fill "
                                           "(price impact; Menkveld 2013: 0.68 of 1.55 per trade)")
    requeue_loss: float = option(1.0, lo=0, hi=1,
                                 help="bias fill: share of the round's spread income a server forgoes when it changes "
                                      "its quoting order (its quotes re-enter at the back of their queues)")
    switch_cost_bps: float = option(0.0, help="bias fill: crossing cost on the 2 x exposure a change of order would "
                                              "trade, if the desk crosses instead of re-queueing (0: it re-queues)",
                                    unit="bp of notional", lo=0, finite=True)
    name = "bias"  # needs no price changes: a quoted half-spread comes with its price (Market.price)

    def __post_init__(self) -> None:
        _positive("exposure", self.exposure)
        if not (math.isfinite(self.turnover) and self.turnover >= 0):
            raise BacktestError(f"fill model: turnover must be >= 0 per minute, got {self.turnover!r}")
        _check_half_spread(self)
        _prob("adverse_selection", self.adverse_selection)
        _prob("requeue_loss", self.requeue_loss)
        if not (math.isfinite(self.switch_cost_bps) and self.switch_cost_bps >= 0):
            raise BacktestError(f"fill model: switch_cost_bps must be >= 0, got {self.switch_cost_bps!r}")

    @classmethod
    def from_queue(cls, queue: QueueFill, price: float, minutes: float = 1.0) -> BiasFill:
        """The bias fill with the queue fill's first-order P&L and spread income at ``price`` (module docstring)."""
        m = max(1, round(minutes))
        exposure = queue.lot * m * (queue.p_first - queue.p_second) * price
        turnover = queue.lot * (queue.p_first + queue.p_second) * price / exposure
        return cls(exposure=exposure, turnover=turnover, half_spread=queue.half_spread,
                   model_half_spread_bps=queue.model_half_spread_bps, adverse_selection=0.0, requeue_loss=0.0)

    def book_size(self, prices: np.ndarray) -> float:
        return 2.0 * self.exposure

    def game_exposure(self, prices: np.ndarray, minutes: float) -> float:
        return self.exposure

    def filled_per_minute(self, price: float) -> float:
        return self.turnover * self.exposure

    def initial_state(self) -> float:
        return -1.0  # no quotes yet: the first round places them (no priority to lose)

    def income_and_switch(self, market: Market):
        """(spread income per round, cost of one change of quoting order), currency, each one number or one per
        round: income = exposure x turnover x minutes x h x (1 - adverse_selection), h the half-spread as a
        rate; a change costs requeue_loss x that income + 2 x exposure x switch_cost_bps."""
        h = np.asarray(half_spread_bps(self.half_spread, market, self.model_half_spread_bps), dtype=float) * 1e-4
        income = self.exposure * self.turnover * market.minutes * h * (1.0 - self.adverse_selection)
        switch = self.requeue_loss * income + 2.0 * self.exposure * self.switch_cost_bps * 1e-4
        return income, np.atleast_1d(np.asarray(switch, dtype=float))

    def book_pnl(self, a, b, market_a: Market, market_b: Market, states: list, out: dict):
        (inc_a, sw_a), (inc_b, sw_b) = self.income_and_switch(market_a), self.income_and_switch(market_b)
        pnl, costs = out["pnl_book"], out["costs_book"]
        states[0], states[1] = bias_book(a, b, market_a.returns, market_b.returns, self.exposure,
                                         np.atleast_1d(inc_a), np.atleast_1d(inc_b), sw_a, sw_b,
                                         float(states[0]), float(states[1]), pnl, costs)
        return BookFills(pnl, (inc_a, inc_b), (costs, 0.0))

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state, out: dict | None = None) -> Fills:
        income, switch = self.income_and_switch(market)
        pnl, costs = _outputs(out, bid_first.size, "pnl", "costs")
        state = bias_fills(bid_first, market.returns, self.exposure, np.atleast_1d(income), switch,
                           float(state), pnl, costs)
        return Fills(pnl, None, state, income, costs)


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
    half_spread: float | str = option(QUOTED, **_HALF_SPREAD)
    model_half_spread_bps: float = option(MODEL_HALF_SPREAD_BPS, **_MODEL_BPS)
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
        _prob("p_first", self.p_first)
        _prob("p_second", self.p_second)
        _prob("adverse_selection", self.adverse_selection)
        _prob("flatten", self.flatten)
        if self.p_second > self.p_first:
            raise BacktestError(f"fill model: p_second ({self.p_second}) must not exceed p_first ({self.p_first})")
        _positive("lot", self.lot)
        _positive("inventory_limit", self.inventory_limit)
        if self.inventory_limit < self.lot:
            raise BacktestError(f"fill model: inventory_limit ({self.inventory_limit}) is below one lot ({self.lot})")
        _check_half_spread(self)
        if not np.isfinite(self.fee):
            raise BacktestError(f"fill model: fee must be finite, got {self.fee!r}")
        if self.cut_cost is not None and not (np.isfinite(self.cut_cost) and self.cut_cost >= 0):
            raise BacktestError(f"fill model: cut_cost must be >= 0 currency per share, got {self.cut_cost!r}")

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
        pnl, inventory, income, costs = _outputs(out, bid_first.size, "pnl", "inv", "income", "costs")
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


FILL_MODELS = {"bias": BiasFill, "queue": QueueFill}


def make_fill(name: str = "bias", **params) -> FillModel:
    if name not in FILL_MODELS:
        raise BacktestError(f"unknown fill model {name!r}; choose {', '.join(FILL_MODELS)}")
    try:
        return FILL_MODELS[name](**params)
    except TypeError as exc:
        raise BacktestError(f"fill model {name}: {exc}") from None


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).

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


@njit(cache=True, nogil=True)
def bias_fills(bid_first, returns, exposure, income, switch_cost, state, out, costs):  # pragma: no cover - compiled
    """P&L of a signed position, +exposure if bid first else -exposure, over the round's return, plus the spread
    income, less ``switch_cost`` (currency) in every round whose quoting order differs from the previous round's
    (none in the first round when the previous state is -1: nothing to re-order). ``income`` and ``switch_cost``
    hold one value or one per round. Fills ``out`` (P&L) and ``costs`` per round, allocated by the caller (see
    queue_fills), and returns the last order as the next chunk's state. Branch-free in the loop: a random
    strategy's switches are unpredictable."""
    n = bid_first.size
    if n == 0:
        return state
    per_i = income.size > 1
    per_c = switch_cost.size > 1
    inc0, sw0 = income[0], switch_cost[0]
    prev = np.int64(bid_first[0]) if state < 0 else np.int64(state)
    for i in range(n):
        b = np.int64(bid_first[i])
        inc = income[i] if per_i else inc0
        sw = switch_cost[i] if per_c else sw0
        c = np.float64(b != prev) * sw
        costs[i] = c
        out[i] = (2.0 * b - 1.0) * exposure * returns[i] + inc - c
        prev = b
    return float(prev)


@njit(cache=True, nogil=True)
def bias_book(a, b, r_a, r_b, exposure, inc_a, inc_b, sw_a, sw_b, state_a, state_b, pnl,
              costs):  # pragma: no cover - compiled
    """Both servers of ``bias_fills`` in one pass, writing only the book's P&L and costs (for chunks whose
    per-server series are not kept: two arrays to write instead of five). Returns the two states."""
    n = a.size
    if n == 0:
        return state_a, state_b
    pia, pib, pca, pcb = inc_a.size > 1, inc_b.size > 1, sw_a.size > 1, sw_b.size > 1
    pa = np.int64(a[0]) if state_a < 0 else np.int64(state_a)
    pb = np.int64(b[0]) if state_b < 0 else np.int64(state_b)
    for i in range(n):
        ai, bi = np.int64(a[i]), np.int64(b[i])
        c = np.float64(ai != pa) * sw_a[i if pca else 0] + np.float64(bi != pb) * sw_b[i if pcb else 0]
        costs[i] = c
        pnl[i] = ((2.0 * ai - 1.0) * r_a[i] + (2.0 * bi - 1.0) * r_b[i]) * exposure \
            + inc_a[i if pia else 0] + inc_b[i if pib else 0] - c
        pa, pb = ai, bi
    return float(pa), float(pb)
