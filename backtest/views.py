"""What one server knows when it decides: its local view of the market, lagged so it cannot peek.

Row t of a view belongs to round t, whose decision is made at the start of the round and whose P&L is
earned on the return from row t-1 to row t. At that moment the server knows:

- its own stock up to row t-1: ``price[t] = P[t-1]``, ``returns[t] = r[t-1]``, ``volume[t] = V[t-1]``;
- the partner's stock only ``latency`` bars later: ``partner_price[t] = P'[t-1-latency]``,
  ``partner_returns[t] = r'[t-1-latency]``;
- its own local signal of round t where a synthetic feed has one (``signal``; ``regime`` is the hidden
  synthetic regime, for detector models).

Values before the first available row are NaN. Everything is a numpy array over rows; ``frame()`` gives
a DataFrame with the timestamps for pandas-minded indicator code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

NOISE_BLOCK = 1 << 16


def lag(values: np.ndarray | None, k: int) -> np.ndarray | None:
    """values shifted k rows later (NaN in front): out[t] = values[t - k]."""
    if values is None:
        return None
    out = np.full(values.shape, np.nan)
    if k < values.shape[0]:
        out[k:] = values[: values.shape[0] - k]
    return out


def simple_returns(prices: np.ndarray) -> np.ndarray:
    out = np.full(prices.shape, np.nan)
    out[1:] = prices[1:] / prices[:-1] - 1.0
    return out


@dataclass(frozen=True)
class LocalView:
    """One server's information per round (numpy arrays, one value per row; see the module docstring)."""

    side: str
    ticker: str
    partner: str
    latency: int
    price: np.ndarray
    returns: np.ndarray
    partner_price: np.ndarray
    partner_returns: np.ndarray
    volume: np.ndarray | None = None
    signal: np.ndarray | None = None
    regime: np.ndarray | None = None
    seed: int = 0
    first_row: int = 0
    clock: Callable[[int, int], pd.DatetimeIndex] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.price.shape[0]

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
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(stream, block)))
            out[pos : pos + take] = rng.random(NOISE_BLOCK)[offset : offset + take]
            pos += take
        return out

    def rows(self, start: int, stop: int) -> LocalView:
        """The view of rows [start, stop) (positions in this view)."""
        def cut(a):
            return None if a is None else a[start:stop]

        return replace(
            self,
            price=self.price[start:stop],
            returns=self.returns[start:stop],
            partner_price=self.partner_price[start:stop],
            partner_returns=self.partner_returns[start:stop],
            volume=cut(self.volume),
            signal=cut(self.signal),
            regime=cut(self.regime),
            first_row=self.first_row + start,
        )

    def frame(self) -> pd.DataFrame:
        cols = {"price": self.price, "returns": self.returns, "partner_price": self.partner_price,
                "partner_returns": self.partner_returns}
        for name in ("volume", "signal", "regime"):
            if getattr(self, name) is not None:
                cols[name] = getattr(self, name)
        return pd.DataFrame(cols, index=self.index)


def make_views(
    prices: np.ndarray,
    tickers: tuple[str, str],
    latency: int,
    seeds: tuple[int, int],
    *,
    volume: np.ndarray | None = None,
    signals: np.ndarray | None = None,
    regime: np.ndarray | None = None,
    first_row: int = 0,
    clock=None,
) -> tuple[LocalView, LocalView]:
    """The two servers' views of rows ``first_row ...`` of a pair: prices (n, 2), optional volume (n, 2),
    signals (n, 2) and regime (n,), all raw (unlagged) per row."""
    rets = simple_returns(prices)
    views = []
    for side, own, other in (("A", 0, 1), ("B", 1, 0)):
        views.append(
            LocalView(
                side=side,
                ticker=tickers[own],
                partner=tickers[other],
                latency=latency,
                price=lag(prices[:, own], 1),
                returns=lag(rets[:, own], 1),
                partner_price=lag(prices[:, other], 1 + latency),
                partner_returns=lag(rets[:, other], 1 + latency),
                volume=None if volume is None else lag(volume[:, own].astype(float), 1),
                signal=None if signals is None else signals[:, own].astype(float),
                regime=None if regime is None else regime.astype(float),
                seed=seeds[own],
                first_row=first_row,
                clock=clock,
            )
        )
    return views[0], views[1]
