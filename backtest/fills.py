"""Fill models: how a server's choice of quoting order becomes P&L. Small swappable objects.

Both agents of a strategy use the same model; every strategy sees the same fill randomness (common
random numbers), so differences between strategies are paired.

- ``BiasFill`` (default): bid first leaves a signed exposure +``exposure`` (currency) in the agent's
  stock for the round, ask first -``exposure``; P&L = exposure x the round's simple return, plus a
  constant spread capture of ``spread_bps`` basis points of the exposure per round.
- ``QueueFill``: each round the agent quotes a bid and an ask; the order placed first fills with
  probability ``p_first``, the second with ``p_second``; each fill trades ``lot`` shares and earns
  ``half_spread - fee`` per share (negative fee = rebate); inventory is carried and marked to market
  every round, and cut back to +-``inventory_limit`` shares at ``cut_cost`` per share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import kernels
from .errors import BacktestError
from .options import option, values_of


class Market(NamedTuple):
    """What one server's stock did over a chunk of rounds, for a fill model: simple ``returns``, ``price_change``
    P[t] - P[t-1] (currency per share; None unless the model ``uses_price_change``) and ``half_spread`` (half the
    quoted spread at decision time, currency per share; None when the data has no quotes)."""

    returns: np.ndarray | None
    price_change: np.ndarray | None = None
    half_spread: np.ndarray | None = None


class FillModel:
    """Interface: ``pnl(bid_first, market, uniforms, state)`` -> ``(pnl per round, inventory per round or None,
    state, income, costs)`` for one agent over a chunk of rounds (``market``: a ``Market``); ``income`` (spread
    earned) and ``costs`` (fees, inventory cuts) are per-round arrays or one number for every round, so that
    P&L = income - costs + directional P&L (exposure x return)."""

    name = "fill"
    uniform_streams = 0  # uniform draws per agent per round (shared by all strategies)
    uses_price_change = False  # whether it needs P[t] - P[t-1] (currency per share) besides returns

    def book_size(self, first_prices: np.ndarray) -> float:
        raise NotImplementedError

    def game_exposure(self, first_prices: np.ndarray) -> float:
        """Currency per server that one round's quoting order puts at risk: the scale of the hedge game
        (its weights' signs, and so every fitted strategy, do not depend on it)."""
        raise NotImplementedError

    def initial_state(self) -> float:
        return 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, **values_of(self)}


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


@dataclass(frozen=True)
class BiasFill(FillModel):
    """Exposure +-``exposure`` (currency) over the round plus ``spread_bps`` of it captured per round."""

    exposure: float = option(10_000.0, help="bias fill: currency held long or short per round", unit="currency",
                             lo=0, open_lo=True, finite=True)
    spread_bps: float = option(0.25, help="bias fill: spread captured per round", unit="bp of exposure",
                               finite=True)
    name = "bias"

    def __post_init__(self) -> None:
        _positive("exposure", self.exposure)
        if not np.isfinite(self.spread_bps):
            raise BacktestError(f"fill model: spread_bps must be finite, got {self.spread_bps!r}")

    def book_size(self, first_prices: np.ndarray) -> float:
        return 2.0 * self.exposure

    def game_exposure(self, first_prices: np.ndarray) -> float:
        return self.exposure

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state):
        capture = self.exposure * self.spread_bps * 1e-4
        return kernels.bias_pnl(bid_first, market.returns, self.exposure, capture), None, state, capture, 0.0


@dataclass(frozen=True)
class QueueFill(FillModel):
    """Two quotes per round, first-placed fills more often; inventory carried (see module docstring).

    Units: ``lot`` and ``inventory_limit`` in shares; ``half_spread``, ``fee`` and ``cut_cost`` in currency
    per share (``half_spread=None`` uses half the quoted spread of the data when it has quotes, else
    0.01; ``cut_cost=None`` is half_spread + fee, the cost of crossing the spread).
    """

    p_first: float = option(0.6, help="queue fill: fill probability of the order placed first", lo=0, hi=1)
    p_second: float = option(0.4, help="queue fill: fill probability of the order placed second", lo=0, hi=1)
    lot: float = option(100.0, help="queue fill: shares per fill", unit="shares", lo=0, open_lo=True,
                        finite=True)
    half_spread: float | None = option(0.01, help="queue fill: spread earned per share filled", unit="currency/share",
                                       lo=0, finite=True)
    fee: float = option(0.0, help="queue fill: fee per share filled, negative = rebate", unit="currency/share",
                        finite=True)
    inventory_limit: float = option(1_000.0, help="queue fill: inventory beyond which it is cut", unit="shares",
                                    lo=0, open_lo=True, finite=True)
    cut_cost: float | None = option(help="queue fill: cost of cutting inventory (unset: half-spread + fee, crossing "
                                         "the spread)", unit="currency/share", lo=0, finite=True)
    name = "queue"
    uniform_streams = 2
    uses_price_change = True

    def __post_init__(self) -> None:
        _prob("p_first", self.p_first)
        _prob("p_second", self.p_second)
        if self.p_second > self.p_first:
            raise BacktestError(f"fill model: p_second ({self.p_second}) must not exceed p_first ({self.p_first})")
        _positive("lot", self.lot)
        _positive("inventory_limit", self.inventory_limit)
        if self.inventory_limit < self.lot:
            raise BacktestError(f"fill model: inventory_limit ({self.inventory_limit}) is below one lot ({self.lot})")
        if self.half_spread is not None and not (np.isfinite(self.half_spread) and self.half_spread >= 0):
            raise BacktestError(f"fill model: half_spread must be >= 0 currency per share, got {self.half_spread!r}")
        if not np.isfinite(self.fee):
            raise BacktestError(f"fill model: fee must be finite, got {self.fee!r}")
        if self.cut_cost is not None and not (np.isfinite(self.cut_cost) and self.cut_cost >= 0):
            raise BacktestError(f"fill model: cut_cost must be >= 0 currency per share, got {self.cut_cost!r}")

    def book_size(self, first_prices: np.ndarray) -> float:
        return float(2.0 * self.inventory_limit * np.mean(first_prices))

    def game_exposure(self, first_prices: np.ndarray) -> float:
        """One lot's value: the queue fill plays the bias fill's hedge game (same weights per cell) scaled to
        the position one round's quoting order adds; inventory carried between rounds is not part of it."""
        return float(self.lot * np.mean(first_prices))

    def pnl(self, bid_first: np.ndarray, market: Market, uniforms, state):
        half_spread = market.half_spread
        if self.half_spread is not None or half_spread is None:  # an explicit value wins over quoted spreads
            h = np.full(bid_first.size, 0.01 if self.half_spread is None else self.half_spread)
        else:
            h = half_spread
        cut = h + self.fee if self.cut_cost is None else np.full(bid_first.size, self.cut_cost)
        pnl, inventory, state, income, costs = kernels.queue_fills(
            bid_first, uniforms[0], uniforms[1], self.p_first, self.p_second, self.lot, h, self.fee,
            self.inventory_limit, cut, market.price_change, float(state),
        )
        return pnl, inventory, state, income, costs


FILL_MODELS = {"bias": BiasFill, "queue": QueueFill}


def make_fill(name: str = "bias", **params) -> FillModel:
    if name not in FILL_MODELS:
        raise BacktestError(f"unknown fill model {name!r}; choose {', '.join(FILL_MODELS)}")
    try:
        return FILL_MODELS[name](**params)
    except TypeError as exc:
        raise BacktestError(f"fill model {name}: {exc}") from None
