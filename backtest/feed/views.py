"""What one server knows when it decides: its local view of the market, lagged so it cannot peek.

Row t of a view belongs to round t, whose decision is made at the start of the round and whose P&L is
earned on the return from row t-1 to row t. At that moment the server knows:

- its own stock up to row t-1: ``price[t] = P[t-1]``, ``returns[t] = r[t-1]``, ``volume[t] = V[t-1]``,
  ``spread[t]`` = its quoted spread at the end of bar t-1 (quote data);
- the partner's stock only ``latency`` bars later: ``partner_price[t] = P'[t-1-latency]``,
  ``partner_returns[t] = r'[t-1-latency]``;
- ``aligned_returns[t] = r[t-1-latency]``: its own returns of the *same bars* as ``partner_returns``. Any
  statistic that combines own and partner returns must pair these two (same timestamps); pairing
  ``returns`` with ``partner_returns`` would compare different dates (a lead-lag statistic);
- its own local signal of round t where a synthetic feed has one (``signal``; ``regime`` is the hidden
  synthetic regime, for detector models).

Values before the first available row are NaN. Everything is a numpy array over rows; ``frame()`` gives
a DataFrame with the timestamps for pandas-minded indicator code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict, overload

import numpy as np

if TYPE_CHECKING:  # imported where a frame is built: the option tree (and so --help) reads this module
    import pandas as pd

from .. import streams

NOISE_BLOCK = 1 << 16


@overload
def lag(values: np.ndarray, k: int) -> np.ndarray: ...
@overload
def lag(values: None, k: int) -> None: ...
def lag(values: np.ndarray | None, k: int) -> np.ndarray | None:
    """values shifted k rows later (NaN in front): out[t] = values[t - k]."""
    if values is None:
        return None
    out = np.empty(values.shape)  # each row written once (np.full would write every row twice)
    n = values.shape[0]
    out[: min(k, n)] = np.nan
    if k < n:
        out[k:] = values[: n - k]
    return out


def simple_returns(prices: np.ndarray) -> np.ndarray:
    out = np.empty(prices.shape)
    out[:1] = np.nan
    np.divide(prices[1:], prices[:-1], out=out[1:])
    out[1:] -= 1.0
    return out


class Known(TypedDict):
    """What a view keeps of its server's data, already lagged: its own prices, the partner's, volume and spread."""

    own: np.ndarray
    other: np.ndarray
    volume: np.ndarray | None
    spread: np.ndarray | None


class LocalView:
    """One server's information per round (numpy arrays, one value per row; see the module docstring).

    Attributes: ``side`` ("A"/"B"), ``ticker``, ``partner``, ``latency`` (bars), ``price``, ``returns``,
    ``partner_price``, ``partner_returns``, ``volume`` (or None), ``signal``, ``regime`` (0/1 uint8 or
    None), ``seed``, ``first_row`` (absolute row of element 0), ``index`` (timestamps). The lagged arrays
    are computed on first use, so an indicator pays only for what it reads.
    """

    _LAGGED = ("price", "returns", "aligned_returns", "partner_price", "partner_returns", "volume", "spread")

    def __init__(
        self,
        side: str,
        ticker: str,
        partner: str,
        latency: int,
        own: np.ndarray,
        other: np.ndarray,
        *,
        volume: np.ndarray | None = None,
        spread: np.ndarray | None = None,
        signal: np.ndarray | None = None,
        regime: np.ndarray | None = None,
        seed: int = 0,
        first_row: int = 0,
        clock: Callable | None = None,
        arrays: dict[str, np.ndarray | None] | None = None,
        lagged: bool = False,
    ) -> None:
        self.side, self.ticker, self.partner, self.latency = side, ticker, partner, latency
        self.signal, self.regime, self.seed, self.first_row, self.clock = signal, regime, seed, first_row, clock
        # Only what the server knows is kept, already lagged (own rows by one bar, the partner's by 1 + latency):
        # no attribute of a view, public or not, holds a row the server could not have seen at its round.
        if not lagged:
            own, other = lag(own, 1), lag(other, 1 + latency)
            volume = None if volume is None else lag(volume.astype(float), 1)
            spread = None if spread is None else lag(spread.astype(float), 1)
        self._known: Known = {"own": own, "other": other, "volume": volume, "spread": spread}
        self._arrays: dict[str, np.ndarray | None] = dict(arrays or {})

    def _get(self, name: str):
        if name not in self._arrays:
            k = self._known
            make = {
                "price": lambda: k["own"],
                "returns": lambda: simple_returns(k["own"]),
                "aligned_returns": lambda: lag(simple_returns(k["own"]), self.latency),
                "partner_price": lambda: k["other"],
                "partner_returns": lambda: simple_returns(k["other"]),
                "volume": lambda: k["volume"],
                "spread": lambda: k["spread"],
            }
            self._arrays[name] = make[name]()
        return self._arrays[name]

    price = property(lambda self: self._get("price"))
    returns = property(lambda self: self._get("returns"))
    aligned_returns = property(lambda self: self._get("aligned_returns"))
    partner_price = property(lambda self: self._get("partner_price"))
    partner_returns = property(lambda self: self._get("partner_returns"))
    volume = property(lambda self: self._get("volume"))
    spread = property(lambda self: self._get("spread"))

    def __len__(self) -> int:
        return self._known["own"].shape[0]

    @property
    def index(self) -> pd.DatetimeIndex | None:
        """Timestamps of the rows (None when the source has no clock)."""
        return None if self.clock is None else self.clock(self.first_row, len(self))

    def uniforms(self, stream: int = 0) -> np.ndarray:
        """Uniform draws, one per row, fixed by (seed, stream, absolute row): any slicing or chunking of the
        same rows sees the same numbers, so noisy indicators are reproducible and causal."""
        n, first = len(self), self.first_row
        out = np.empty(n)
        pos = 0
        while pos < n:
            row = first + pos
            block, offset = divmod(row, NOISE_BLOCK)
            take = min(NOISE_BLOCK - offset, n - pos)
            rng = streams.rng(self.seed, "indicator:rows", stream, block)
            out[pos : pos + take] = rng.random(NOISE_BLOCK)[offset : offset + take]
            pos += take
        return out

    def known(self, **changes) -> LocalView:
        """A view built from these known (lagged) rows with some replaced: ``own``, ``other`` (prices), ``volume``,
        ``spread``, ``signal``, ``regime``; every derived array is recomputed from them (the causality check)."""
        k = {**self._known, **{n: v for n, v in changes.items() if n in self._known}}
        return LocalView(
            self.side,
            self.ticker,
            self.partner,
            self.latency,
            k["own"],
            k["other"],
            volume=k["volume"],
            spread=k["spread"],
            signal=changes.get("signal", self.signal),
            regime=changes.get("regime", self.regime),
            seed=self.seed,
            first_row=self.first_row,
            clock=self.clock,
            lagged=True,
        )

    def rows(self, start: int, stop: int) -> LocalView:
        """The view of rows [start, stop) (positions in this view), lagged values kept as they were."""

        def cut(a):
            return None if a is None else a[start:stop]

        k = self._known
        return LocalView(
            self.side,
            self.ticker,
            self.partner,
            self.latency,
            cut(k["own"]),
            cut(k["other"]),
            volume=cut(k["volume"]),
            spread=cut(k["spread"]),
            signal=cut(self.signal),
            regime=cut(self.regime),
            seed=self.seed,
            first_row=self.first_row + start,
            clock=self.clock,
            arrays={n: cut(self._get(n)) for n in self._LAGGED},
            lagged=True,
        )

    def frame(self) -> pd.DataFrame:
        cols = {
            "price": self.price,
            "returns": self.returns,
            "aligned_returns": self.aligned_returns,
            "partner_price": self.partner_price,
            "partner_returns": self.partner_returns,
        }
        for name in ("volume", "spread", "signal", "regime"):
            if getattr(self, name) is not None:
                cols[name] = getattr(self, name)
        import pandas as pd

        return pd.DataFrame(cols, index=self.index)


class Stamps:
    """A view's own clock: the timestamps of its rows ``first_row ..`` only, callable like a feed's clock
    (``(first, n) -> DatetimeIndex``); rows outside the view are not there to read (a user's indicator in its worker
    gets this, never the feed's clock, which for a synthetic pair would carry the generator). Held as nanoseconds
    and a time zone (a numpy buffer crosses to a worker without a copy into the pickle)."""

    def __init__(self, first_row: int, index: pd.DatetimeIndex) -> None:
        self.first_row, self.n = int(first_row), len(index)
        ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
        step = np.diff(ns[:2])
        regular = ns.size > 2 and bool(np.all(np.diff(ns) == step[0]))
        # a regular clock (a synthetic intraday one) is its first instant and step: nothing of its size to send
        self.ns: np.ndarray | None
        self.start: int | None
        self.step: int | None
        self.ns, self.start, self.step = (None, int(ns[0]), int(step[0])) if regular else (ns, None, None)
        self.tz = None if index.tz is None else str(index.tz)

    def __call__(self, first: int, n: int) -> pd.DatetimeIndex:
        lo = min(max(int(first) - self.first_row, 0), self.n)
        hi = max(lo, min(int(first) - self.first_row + int(n), self.n))
        if self.ns is not None:
            ns = self.ns[lo:hi]
        else:  # a regular clock: its first instant and step
            assert self.start is not None and self.step is not None
            ns = self.start + self.step * np.arange(lo, hi, dtype=np.int64)
        import pandas as pd

        out = pd.DatetimeIndex(ns.view("datetime64[ns]"))
        return out if self.tz is None else out.tz_localize("UTC").tz_convert(self.tz)


def make_views(
    prices: np.ndarray,
    tickers: tuple[str, str],
    latency: int,
    seeds: tuple[int, int],
    *,
    volume: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    signals: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
    regime: np.ndarray | None = None,
    first_row: int = 0,
    clock=None,
) -> tuple[LocalView, LocalView]:
    """The two servers' views of rows ``first_row ...`` of a pair: prices (n, 2), optional volume (n, 2),
    quoted spread (n, 2), signals (n, 2) or its two columns and regime (n,), all raw (unlagged) per row."""
    if signals is not None and not isinstance(signals, (tuple, list)):
        signals = (signals[:, 0], signals[:, 1])
    views = []
    for side, own, other in (("A", 0, 1), ("B", 1, 0)):
        views.append(
            LocalView(
                side,
                tickers[own],
                tickers[other],
                latency,
                prices[:, own],
                prices[:, other],
                volume=None if volume is None else volume[:, own],
                spread=None if spread is None else spread[:, own],
                signal=None if signals is None else np.array(signals[own], dtype=np.uint8),  # a copy
                regime=None if regime is None else regime.astype(np.uint8),
                seed=seeds[own],
                first_row=first_row,
                clock=clock,
            )
        )
    return views[0], views[1]
