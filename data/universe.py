"""A universe of tickers for scans: each ticker's own history, loaded once, and any pair of them on demand.

A wide panel aligned on all its tickers keeps only the rows where every one of them trades (the 11-stock
sample would start in 2014, when BABA listed). A scan wants each pair's own common history, so a
``Universe`` keeps every ticker's series as read, and ``pair(a, b)`` aligns just those two, exactly as
``load_csv`` would load that pair. It pickles, so a cluster receives it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .alignment import DEFAULT_MIN_ROWS
from .errors import DataError
from .files import TickerSeries, csv_paths, build_market, read_series
from .market import MarketData


@dataclass(frozen=True)
class Universe:
    """Tickers and their own (unaligned) series; ``session`` as in ``load_csv``; ``meta`` describes the source."""

    series: dict[str, TickerSeries]
    session: str = "all"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.series) < 2:
            raise DataError(f"a universe needs at least two tickers, got {list(self.series)}")

    @property
    def tickers(self) -> list[str]:
        return list(self.series)

    def pair(self, a: str, b: str, *, min_rows: int = DEFAULT_MIN_ROWS) -> MarketData:
        """The two tickers on their common clock (a DataError names them when too short)."""
        for t in (a, b):
            if t not in self.series:
                raise DataError(f"ticker {t!r} is not in the universe ({', '.join(self.tickers)})")
        return build_market(
            {a: self.series[a], b: self.series[b]},
            min_rows=min_rows,
            session=self.session,
            meta={**self.meta, "universe_pair": [a, b]},
        )

    def between(self, start=None, end=None) -> Universe:
        """Every series cut to [start, end] (timestamps or dates; None leaves that side open)."""
        from dataclasses import replace as _replace

        def cut(v):
            return None if v is None else v.loc[start:end]

        series = {
            t: _replace(s, price=cut(s.price), ohlcv=cut(s.ohlcv), spread=cut(s.spread)) for t, s in self.series.items()
        }
        return Universe(series, self.session, {**self.meta, "start": str(start), "end": str(end)})

    def common_rows(self, a: str, b: str) -> int:
        """Rows where both have a price (before any session filter): a cheap pre-filter for scans."""
        pa, pb = self.series[a].price.dropna(), self.series[b].price.dropna()
        return int(pa.index.intersection(pb.index).size)

    def returns_correlation(self, a: str, b: str, share: float) -> float:
        """Correlation of the two simple returns over the first ``share`` of their common rows (the training
        window of a backtest with that train_fraction): the pre-filter --min-corr uses."""
        frame = pd.concat([self.series[a].price, self.series[b].price], axis=1, join="inner").dropna()
        r = frame.pct_change().iloc[1:]
        r = r.iloc[: max(2, int(share * len(r)))]
        if len(r) < 3:
            return float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.corrcoef(r.iloc[:, 0], r.iloc[:, 1])[0, 1])


def load_universe(
    path_or_paths: str | Path | Sequence[str | Path],
    tickers: Sequence[str] | None = None,
    *,
    tz: str = "America/New_York",
    session: str = "all",
) -> Universe:
    """A universe from CSV files: a wide panel, one file per ticker, or a folder of them."""
    paths = csv_paths(path_or_paths)
    series = read_series(paths, tickers, tz=tz)
    return Universe(series, session, {"kind": "csv", "files": [str(p) for p in paths]})


def universe_of(md: MarketData, meta: dict | None = None) -> Universe:
    """A universe from an already aligned MarketData (e.g. several Yahoo tickers): pairs then share its clock."""
    series = {}
    for t in md.tickers:
        ohlcv = md.ohlcv.get(t) if md.ohlcv else None
        spread = md.spread[t] if md.spread is not None else None
        series[t] = TickerSeries(price=md.prices[t], ohlcv=ohlcv, spread=spread, source=str(md.meta.get("kind")))
    return Universe(series, str(md.meta.get("session", "all")), {**dict(md.meta), **(meta or {})})


def sample_universe(name: str, tickers: Sequence[str] | None = None) -> Universe:
    """A shipped sample as a universe (``pypfopt``: 11 stocks, each with its own history)."""
    from .shipped import SAMPLES, SAMPLES_DIR

    if name not in SAMPLES:
        raise DataError(f"unknown sample {name!r}; available: {', '.join(SAMPLES)}")
    sample = SAMPLES[name]
    chosen = tickers if tickers is not None else sample.tickers
    series = read_series([SAMPLES_DIR / sample.file], list(chosen) if chosen is not None else None)
    return Universe(series, "all", {"kind": "sample", "sample": name})
