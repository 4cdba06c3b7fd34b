"""Prices from Yahoo Finance through yfinance, with an on-disk price cache.

yfinance caches no prices (only time zones and cookies), so the cache is ours: one CSV per request,
keyed by tickers (in order), start, end, interval and adjustment. A cached request is served without
touching the network. Offline, ``yf.download`` does not raise: it logs and returns an *empty* frame;
we turn that into a ``DataError`` naming the tickers and pointing at the cache or ``load_csv``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .alignment import DEFAULT_MIN_ROWS
from .atomic import atomic_file
from .errors import DataError
from .files import TickerSeries, build_market, check_clock, ohlcv_series, parse_timestamps
from .market import MarketData

INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")


def default_cache_dir() -> Path:
    """``$QCOORD_CACHE_DIR``, else ``$XDG_CACHE_HOME/qcoord/yahoo``, else ``~/.cache/qcoord/yahoo``."""
    if os.environ.get("QCOORD_CACHE_DIR"):
        return Path(os.environ["QCOORD_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qcoord" / "yahoo"


def cache_path(cache_dir: Path, tickers: Sequence[str], start: str, end: str, interval: str, adjusted: bool) -> Path:
    """File holding one request: readable name plus a hash of the full key."""
    key = json.dumps({"tickers": list(tickers), "start": start, "end": end, "interval": interval, "adjusted": adjusted})
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9.=^-]+", "_", f"{'-'.join(tickers)}_{interval}_{start}_{end}")
    return cache_dir / f"{stem}_{'adj' if adjusted else 'raw'}_{digest}.csv"


def _day(value: Any, name: str) -> str:
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        raise DataError(f"{name}: cannot read {value!r} as a date") from None


def _download(tickers: list[str], start: str, end: str, interval: str, session: Any) -> pd.DataFrame:
    import yfinance as yf  # imported here: yfinance pulls in curl_cffi and is not needed for CSV work

    # yfinance logs each failed ticker and trips pandas deprecation warnings; our error says it once, clearly.
    logger = logging.getLogger("yfinance")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = yf.download(
                tickers,
                start=start,
                end=end,
                interval=interval,
                auto_adjust=False,  # keep both Close and Adj Close
                actions=False,
                progress=False,
                group_by="column",
                multi_level_index=True,
                threads=False,
                session=session,
            )
    except Exception as exc:  # noqa: BLE001 - yfinance raises many unrelated types; report all the same way
        raise DataError(f"Yahoo download of {tickers} failed: {type(exc).__name__}: {exc}") from None
    finally:
        logger.setLevel(level)
    return frame if frame is not None else pd.DataFrame()


def _long_format(frame: pd.DataFrame, tickers: list[str], what: str) -> pd.DataFrame:
    """yfinance's (Price, Ticker) columns -> rows of Date, Ticker, OHLCV; missing tickers are an error."""
    if frame.empty:
        raise DataError(
            f"Yahoo returned no data for {', '.join(tickers)} ({what}): yfinance returns an empty frame when "
            "offline or when a ticker is unknown. Use a cached copy (cache_dir=...) or load the prices with load_csv."
        )
    if not isinstance(frame.columns, pd.MultiIndex):
        frame = pd.concat({tickers[0]: frame}, axis=1).swaplevel(0, 1, axis=1)
    level = "Ticker" if "Ticker" in frame.columns.names else 1
    rows, missing = [], []
    for t in tickers:
        try:
            sub = frame.xs(t, axis=1, level=level)
        except KeyError:
            missing.append(t)
            continue
        sub = sub.dropna(how="all")
        if sub.empty:
            missing.append(t)
            continue
        sub = sub[[c for c in ("Open", "High", "Low", "Close", "Adj Close", "Volume") if c in sub.columns]]
        rows.append(sub.assign(Ticker=t))
    if missing:
        raise DataError(
            f"Yahoo returned no data for {', '.join(missing)} ({what}); check the ticker(s) or use load_csv"
        )
    long = pd.concat(rows)
    long.index.name = "Date"
    return long.reset_index()


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    with atomic_file(path) as fh:
        frame.to_csv(fh, index=False)


def _from_long(long: pd.DataFrame, tickers: list[str], where: str, tz: str) -> dict[str, TickerSeries]:
    out = {}
    for t in tickers:
        sub = long[long["Ticker"] == t].drop(columns=["Ticker"])
        if sub.empty:
            raise DataError(f"{where}: no rows for ticker {t}")
        index = parse_timestamps(sub["Date"], f"{where} [{t}]", tz)
        check_clock(index, f"{where} [{t}]")
        body = sub.drop(columns=["Date"]).astype(str).set_axis(index)
        out[t] = ohlcv_series(body, f"{where} [{t}]")
    return out


def load_yahoo(
    tickers: Sequence[str],
    start: Any,
    end: Any,
    interval: str = "1d",
    cache_dir: str | Path | None = None,
    *,
    adjusted: bool = True,
    refresh: bool = False,
    session: Any = None,
    tz: str = "America/New_York",
    min_rows: int = DEFAULT_MIN_ROWS,
) -> MarketData:
    """Adjusted close (``adjusted=True``: Adj Close, else Close) for ``tickers`` from Yahoo Finance.

    ``start`` inclusive and ``end`` exclusive (yfinance's convention), as dates. ``cache_dir`` defaults
    to ``default_cache_dir()``; a request found there is served offline, ``refresh=True`` downloads
    again. ``session`` is passed to ``yfinance.download`` (a curl_cffi session: proxies, timeouts).
    """
    if isinstance(tickers, str):
        tickers = tickers.replace(",", " ").split()
    tickers = [str(t).strip().upper() for t in tickers]
    if not tickers or any(not t for t in tickers):
        raise DataError(f"tickers: need at least one ticker symbol, got {tickers!r}")
    if len(set(tickers)) != len(tickers):
        raise DataError(f"tickers: duplicate symbols in {tickers}")
    if interval not in INTERVALS:
        raise DataError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    start_s, end_s = _day(start, "start"), _day(end, "end")
    if start_s >= end_s:
        raise DataError(f"start {start_s} must be before end {end_s} (end is exclusive)")
    what = f"{start_s} → {end_s}, interval {interval}"
    path = cache_path(
        Path(cache_dir) if cache_dir is not None else default_cache_dir(), tickers, start_s, end_s, interval, adjusted
    )
    if path.exists() and not refresh:
        try:
            long = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise DataError(f"{path}: unreadable cache file ({exc}); delete it or pass refresh=True") from None
        served = "cache"
    else:
        long = _long_format(_download(tickers, start_s, end_s, interval, session), tickers, what)
        _write_atomic(long, path)
        long = pd.read_csv(path, dtype=str, keep_default_na=False)  # one parsing path for fresh and cached data
        served = "network"
    series = _from_long(long, tickers, str(path), tz)
    if not adjusted:
        for s in series.values():
            assert s.ohlcv is not None  # ohlcv_series keeps the bars
            s.price = s.ohlcv["Close"]
    return build_market(
        series,
        min_rows=min_rows,
        session="all",
        meta={
            "kind": "yahoo",
            "tickers": tickers,
            "start": start_s,
            "end": end_s,
            "interval": interval,
            "adjusted": adjusted,
            "cache_file": str(path),
            "served_from": served,
        },
    )
