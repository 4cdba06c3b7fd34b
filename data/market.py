"""``MarketData``: an immutable panel of prices for a few tickers on one common clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .frequency import infer_periods_per_year, is_intraday


def _check_index(index: pd.Index, what: str) -> None:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{what}: the index must be a DatetimeIndex, got {type(index).__name__}")
    if index.hasnans:
        raise DataError(f"{what}: the index has missing timestamps (NaT)")
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise DataError(f"{what}: timestamps are not sorted (at row {pos}: {index[pos]} after {index[pos - 1]})")
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise DataError(f"{what}: duplicate timestamp {dup}")
    if is_intraday(index) and index.tz is None:
        raise DataError(f"{what}: intraday timestamps must be tz-aware (exchange time), got tz-naive")
    if not is_intraday(index) and index.tz is not None and len(index) > 1:
        raise DataError(f"{what}: daily timestamps must be tz-naive, got tz {index.tz}")


def check_prices(frame: pd.DataFrame, what: str) -> None:
    """Raise ``DataError`` naming the ticker and timestamp of the first non-finite or non-positive price."""
    values = frame.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{what}: ticker {frame.columns[col]!s}: price {float(values[row, col])!r} at {frame.index[row]} "
            "is not a finite positive number"
        )


class MarketData:
    """Prices of a few tickers on one sorted, unique DatetimeIndex; immutable.

    Attributes (all read-only; DataFrames are returned as copy-on-write views, so changing them never
    changes this object):

    - ``prices``: adjusted close per ticker (columns keep the order given), currency units.
    - ``returns``: simple per-period returns ``p[t] / p[t-1] - 1``; the first timestamp has none and is dropped.
    - ``periods_per_year``: bars per year used to annualize (252 daily; bars per session x 252 intraday).
    - ``ohlcv``: optional mapping ticker -> DataFrame (Open, High, Low, Close, [Adj Close], Volume).
    - ``volume``: optional DataFrame of traded volume per ticker (shares).
    - ``spread``: optional DataFrame of quoted ask - bid per ticker (currency), from quote files.
    - ``truth``: optional DataFrame of what a synthetic generator knows (signals, regime, correlation).
    - ``meta``: mapping describing the source (kind, files, tickers, alignment counts).

    Conventions: daily data has tz-naive dates; intraday data is tz-aware in exchange time. Slicing by
    date (``md["2008":"2009"]``) or position (``md.iloc[a:b]``) returns a MarketData with the same
    ``periods_per_year``.
    """

    __slots__ = ("_prices", "_ohlcv", "_volume", "_spread", "_truth", "_ppy", "_meta")

    def __init__(
        self,
        prices: pd.DataFrame,
        *,
        periods_per_year: float | None = None,
        ohlcv: Mapping[str, pd.DataFrame] | None = None,
        volume: pd.DataFrame | None = None,
        spread: pd.DataFrame | None = None,
        truth: pd.DataFrame | None = None,
        meta: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        if not isinstance(prices, pd.DataFrame):
            raise DataError(f"prices must be a DataFrame, got {type(prices).__name__}")
        if validate:
            _check_index(prices.index, "prices")
            if len(prices) < 2:
                raise DataError(f"prices: need at least 2 rows, got {len(prices)}")
            if prices.shape[1] == 0:
                raise DataError("prices: no ticker columns")
            if not prices.columns.is_unique:
                raise DataError(f"prices: duplicate ticker columns {list(prices.columns[prices.columns.duplicated()])}")
            check_prices(prices, "prices")
            for name, extra in (("volume", volume), ("spread", spread), ("truth", truth)):
                if extra is not None and not extra.index.equals(prices.index):
                    raise DataError(f"{name}: index differs from the prices index")
            for ticker, frame in (ohlcv or {}).items():
                if not frame.index.equals(prices.index):
                    raise DataError(f"ohlcv[{ticker}]: index differs from the prices index")
        if periods_per_year is None:
            periods_per_year = infer_periods_per_year(prices.index)
        if not (np.isfinite(periods_per_year) and periods_per_year > 0):
            raise DataError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
        self._prices = prices.astype(float)
        self._ohlcv = None if ohlcv is None else dict(ohlcv)
        self._volume = volume
        self._spread = spread
        self._truth = truth
        self._ppy = float(periods_per_year)
        self._meta = dict(meta or {})

    # -- read-only views -------------------------------------------------------------------------
    @property
    def prices(self) -> pd.DataFrame:
        return self._prices.copy(deep=False)

    @property
    def returns(self) -> pd.DataFrame:
        """Simple returns per period; index = ``prices.index[1:]``."""
        values = self._prices.to_numpy()
        return pd.DataFrame(values[1:] / values[:-1] - 1.0, index=self._prices.index[1:], columns=self._prices.columns)

    @property
    def periods_per_year(self) -> float:
        return self._ppy

    @property
    def ohlcv(self) -> Mapping[str, pd.DataFrame] | None:
        if self._ohlcv is None:
            return None
        return MappingProxyType({k: v.copy(deep=False) for k, v in self._ohlcv.items()})

    @property
    def volume(self) -> pd.DataFrame | None:
        return None if self._volume is None else self._volume.copy(deep=False)

    @property
    def spread(self) -> pd.DataFrame | None:
        return None if self._spread is None else self._spread.copy(deep=False)

    @property
    def truth(self) -> pd.DataFrame | None:
        return None if self._truth is None else self._truth.copy(deep=False)

    @property
    def meta(self) -> Mapping[str, Any]:
        return MappingProxyType(self._meta)

    @property
    def tickers(self) -> list[str]:
        return [str(c) for c in self._prices.columns]

    @property
    def index(self) -> pd.DatetimeIndex:
        return self._prices.index

    @property
    def dropped_rows(self) -> int:
        """Rows removed while aligning the tickers (leading gaps, interior gaps, unmatched timestamps)."""
        return int(sum(self._meta.get("alignment", {}).values()))

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        idx = self._prices.index
        return (
            f"MarketData(tickers={self.tickers}, rows={len(idx)}, start={idx[0]}, end={idx[-1]}, "
            f"periods_per_year={self._ppy:g})"
        )

    # -- slicing ---------------------------------------------------------------------------------
    def _take(self, rows: np.ndarray | slice) -> MarketData:
        def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            return None if frame is None else frame.iloc[rows]

        prices = self._prices.iloc[rows]
        if len(prices) < 2:
            raise DataError(f"slice leaves {len(prices)} rows; at least 2 are needed")
        return MarketData(
            prices,
            periods_per_year=self._ppy,
            ohlcv=None if self._ohlcv is None else {k: v.iloc[rows] for k, v in self._ohlcv.items()},
            volume=cut(self._volume),
            spread=cut(self._spread),
            truth=cut(self._truth),
            meta=self._meta,
            validate=False,
        )

    def __getitem__(self, key: slice) -> MarketData:
        """Slice by date labels, inclusive at both ends like ``DataFrame.loc``: ``md["2008":"2009-06"]``."""
        if not isinstance(key, slice):
            raise TypeError("MarketData supports only date slices, e.g. md['2008':'2009']; use .select() for tickers")
        return self._take(self._prices.index.slice_indexer(key.start, key.stop, key.step))

    @property
    def iloc(self) -> _PositionSlicer:
        """Positional slicing: ``md.iloc[100:200]``."""
        return _PositionSlicer(self)

    def select(self, tickers: Iterable[str]) -> MarketData:
        """A MarketData with only ``tickers``, in that order."""
        tickers = list(tickers)
        missing = [t for t in tickers if t not in self._prices.columns]
        if missing:
            raise DataError(f"unknown ticker(s) {missing}; available: {self.tickers}")
        return MarketData(
            self._prices[tickers],
            periods_per_year=self._ppy,
            ohlcv=None if self._ohlcv is None else {t: self._ohlcv[t] for t in tickers},
            volume=None if self._volume is None else self._volume[tickers],
            spread=None if self._spread is None else self._spread[tickers],
            truth=self._truth,
            meta={**self._meta, "tickers": tickers},
            validate=False,
        )

    def summary(self) -> dict[str, Any]:
        """Plain-dict description: tickers, rows, dates, periods per year, return correlation, source."""
        rets = self.returns
        corr = rets.corr().to_numpy()
        return {
            "tickers": self.tickers,
            "rows": len(self),
            "start": str(self.index[0]),
            "end": str(self.index[-1]),
            "periods_per_year": self._ppy,
            "dropped_rows": self.dropped_rows,
            "return_correlation": None if corr.shape[0] < 2 else float(corr[0, 1]),
            "annual_volatility": {t: float(rets[t].std() * np.sqrt(self._ppy)) for t in self.tickers},
            "source": dict(self._meta),
        }


class _PositionSlicer:
    __slots__ = ("_md",)

    def __init__(self, md: MarketData) -> None:
        self._md = md

    def __getitem__(self, key: slice) -> MarketData:
        if not isinstance(key, slice):
            raise TypeError("MarketData.iloc supports only slices, e.g. md.iloc[10:20]")
        return self._md._take(key)
