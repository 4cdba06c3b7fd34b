"""The fill models' interface: how a server's quoting order becomes P&L, as small swappable value objects.

Every model is a frozen dataclass subclassing ``FillModel`` with a ``name``; defining one registers it
(``FILL_MODELS``), so a new model is one module in this package (found when the package is imported) plus its
tests: its options are declared with ``option()`` and reach the command line, config.toml and sweeps, and its
``describe()`` supplies the money line the summary and the report print. Nothing else names a model.

Both agents of a strategy use the same model; every strategy sees the same fill randomness (common random numbers),
so differences between strategies are paired. Units do not depend on the bar length: fills happen at rates per minute
of quoting, so a daily bar (390 minutes) fills about 390 times what a minute bar fills, and the annualised Sharpe
ratio of the spread income is the same on either.

The half-spread is ``"quoted"`` (half the quoted spread of the data at decision time, where the data has quotes;
else ``model_half_spread_bps`` of the price) or a number of basis points of the price.

Income only where the data can earn it: spread income enters the P&L (and so every Sharpe ratio and variance) only
when its half-spread is the data's own quote at decision time (``earned``). Otherwise every term priced at the
half-spread is an assumption: the spread income, the income a re-queue forgoes, the half-spread paid to cut or
unwind inventory. A model then returns their net as ``Fills.assumed``, its own column, and keeps only what the data
and the stated parameters decide in the P&L: the directional part and stated costs (fees, a stated crossing or cut
cost).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import BacktestError
from ..options import values_of

QUOTED = "quoted"
# Defaults from `qcoord calibrate` on the minute quote and trade bars of BAC, AIG, SPY and IBM in ../shared/data
# (2013-10-04 .. 10-11, regular session), pooled; tests/test_calibrate.py re-estimates them there and checks each lies
# in its 95% interval (docs/fills.md has the per-ticker numbers).
MODEL_HALF_SPREAD_BPS = 1.0  # median quoted half-spread, pooled 1.02 bp (BAC 3.6, AIG 1.0, IBM 1.1, SPY 0.3)


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


def outputs(out: dict | None, n: int, *keys: str) -> list[np.ndarray]:
    """The output arrays of a fill: the caller's scratch arrays (``out``) or fresh ones."""
    return [np.empty(n) if out is None else out[k] for k in keys]


def earned(setting, market: Market) -> bool:
    """Whether the spread income is earned from the data: the half-spread is the data's own quote at decision time
    (``setting`` "quoted" and the market has quotes). Else it is an assumption (the model's half-spread, or a
    number the user gave), reported apart from the P&L."""
    return setting == QUOTED and market.half_spread is not None


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
    P&L = income - costs + directional P&L; ``assumed`` is not in it (module docstring)."""

    pnl: np.ndarray
    inventory: np.ndarray | None  # shares at the end of each round; None for a model that carries none
    state: float  # what carries to the next chunk (the last position or inventory)
    income: np.ndarray | float  # spread earned from the data's quotes, per round or one number for every round
    costs: np.ndarray | float  # fees, switching and inventory cuts, per round or one number for every round
    assumed: np.ndarray | float = 0.0  # net spread income assumed where the data has no quotes: not in the P&L


class BookFills(NamedTuple):
    """Both servers' fills at once, the book's P&L only (``FillModel.book_pnl``)."""

    pnl: np.ndarray  # book P&L per round
    income: tuple  # (A's, B's), each per round or one number
    costs: tuple  # (book costs per round, 0.0): the fused path sums both servers' costs
    assumed: tuple = (0.0, 0.0)  # (book's assumed income per round or one number, 0.0): not in the P&L


class Steered(NamedTuple):
    """A communicating oracle's play on the fill model's carried state (``FillModel.steer``): its quoting orders
    and each server's fills."""

    a: np.ndarray
    b: np.ndarray
    fills_a: Fills
    fills_b: Fills


FILL_MODELS: dict[str, type] = {}  # name -> model class, in the order they were defined (the first is the default)


class FillModel(ABC):
    """How a server's quoting order becomes P&L: a small, frozen value object (``BiasFill``, ``QueueFill``).

    Every implementation says what book its returns are measured on (``book_size``), what one round's quoting
    order puts at risk (``game_exposure``: the hedge game's scale), where its carried state starts
    (``initial_state``), and how a chunk of one server's rounds fills (``pnl`` -> ``Fills``); it may also fill
    both servers at once (``book_pnl`` -> ``BookFills``, or None for no fused path). It describes itself in one
    line (``describe``: the summary's and the report's money model) and declares what it needs and does through
    class attributes, so no other module asks for its name. A subclass with a ``name`` of its own registers itself
    in ``FILL_MODELS`` (the command line's ``--fill`` choices)."""

    name: ClassVar[str] = "fill"
    uniform_streams: ClassVar[int] = 0  # uniform draws per agent per round (shared by all strategies)
    uses_prices: ClassVar[bool] = False  # whether it needs share prices and price changes besides returns
    sized_in_shares: ClassVar[bool] = False  # quantities in share counts (adjusted-only prices then mislead it)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            FILL_MODELS[cls.name] = cls

    def describe(self) -> str:
        """Where the income and costs columns come from, in one line of the model's own parameters (the summary's
        and the report's "money model"); a model without its own says its name and parameters."""
        params = ", ".join(f"{k} {v}" for k, v in values_of(self).items())
        return f"{self.name} fill" + (f": {params}" if params else "")

    def half_spread_words(self) -> str:
        """The half-spread the model earns, in words (models with ``half_spread``); where it comes from in this run
        is ``income_words``'s."""
        hs = getattr(self, "half_spread", QUOTED)
        return "the half-spread" if hs == QUOTED else f"a half-spread of {hs} bp"

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
    ) -> Steered | None:
        """The oracle's play where the book carries state between rounds (inventory): knowing both servers'
        inputs ``x``, ``y`` and both carried states, the pair of quoting orders that minimises the round's expected
        squared book P&L, filled; ``moments`` holds E[r_X^2], E[r_Y^2], E[r_X r_Y] per input cell 2x + y (rows).
        None (the default) for a model that carries nothing: the hedge game is then the whole book and the game's
        oracle, which wins every round, is its bound."""
        return None

    def income_words(self, quoted: bool) -> str:
        """Where this run's spread income comes from, for the money line: earned at the data's quotes, or assumed
        (its own column, never in the P&L); empty for a model without a half-spread."""
        if not hasattr(self, "half_spread"):
            return ""
        if quoted and getattr(self, "half_spread") == QUOTED:
            return "income earned at the data's quoted half-spread"
        hs = getattr(self, "half_spread")
        h = (
            f"the model's {getattr(self, 'model_half_spread_bps', MODEL_HALF_SPREAD_BPS):g} bp"
            if hs == QUOTED
            else f"{hs:g} bp as given"
        )
        return (
            f"{'no quotes in the data' if hs == QUOTED else 'the half-spread is not the data'}: spread income (at "
            f"{h}) is assumed: its own column (assumed), never in the P&L or a Sharpe ratio"
        )

    def filled_per_minute(self, price: float) -> float | None:
        """Notional one server fills per minute of quoting at share price ``price`` (currency; None: not stated),
        the numerator of its participation in the market's traded volume."""
        return None

    def to_dict(self) -> dict:
        return {"name": self.name, **values_of(self)}


def check_half_spread(model) -> None:
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


def positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise BacktestError(f"fill model: {name} must be a positive number, got {value!r}")
    return value


def probability(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and 0 <= value <= 1):
        raise BacktestError(f"fill model: {name} must be a probability in [0, 1], got {value!r}")
    return value


# keyword arguments of ``options.option`` that several models share (its metadata is free-form)
HALF_SPREAD_OPTION: dict[str, Any] = dict(
    words=(QUOTED,),
    lo=0,
    finite=True,
    unit="bp of price",
    help="half-spread earned per share filled: 'quoted' (the data's quotes "
    "where it has them, else model_half_spread_bps) or basis points of "
    "the price",
)
MODEL_BPS_OPTION: dict[str, Any] = dict(
    help="half-spread when the data has no quotes (a liquid large cap's; docs/fills.md)",
    unit="bp of price",
    lo=0,
    finite=True,
)


def make_fill(name: str = "bias", **params) -> FillModel:
    """The registered model ``name`` with ``params``."""
    if name not in FILL_MODELS:
        raise BacktestError(f"unknown fill model {name!r}; choose {', '.join(FILL_MODELS)}")
    try:
        return FILL_MODELS[name](**params)
    except TypeError as exc:
        raise BacktestError(f"fill model {name}: {exc}") from None
