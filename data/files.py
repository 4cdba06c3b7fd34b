"""Load prices from CSV files: wide panels, per-ticker OHLCV files (Yahoo columns) and quote files.

File kinds, recognised by their columns (case-insensitive), each with a ``Date`` (or ``Datetime``) column:

- one ticker: OHLCV (``Open, High, Low, Close[, Adj Close][, Volume]``) or a single price column headed ``Adj
  Close``, ``Close`` or ``Price`` (``Date,Adj Close``); the price is ``Adj Close`` when present, else ``Close``,
  else ``Price``. The ticker is the file name up to the first ``_`` or ``.`` (``BAC_daily.csv`` -> ``BAC``) unless
  ``tickers`` names the files.
- quotes: ``BidClose, AskClose`` (and the rest of bid/ask OHLC); the price is the mid quote and the
  quoted spread is kept in ``MarketData.spread``.
- wide panel: ``Date`` plus one column per ticker; ``tickers`` selects columns.

Timestamps: dates without a time are daily and stay tz-naive; timestamps with a time of day are
intraday and are localized to ``tz`` (exchange time) unless they carry a UTC offset, in which case
they are converted to ``tz``. Empty cells are missing values (rows dropped when aligning);
non-numeric, infinite or non-positive prices are errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .alignment import DEFAULT_MIN_ROWS, align
from .errors import DataError
from .frequency import is_intraday
from .market import MarketData

DATE_COLUMNS = ("date", "datetime", "timestamp")
OHLCV_COLUMNS = ("Open", "High", "Low", "Close", "Adj Close", "Volume")
# the price of a one-ticker file, in order of preference (headers case-insensitive, "_" read as a space)
PRICE_HEADERS = ("Adj Close", "Close", "Price")
_OFFSET = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")


@dataclass
class TickerSeries:
    """One ticker's data on its own clock before aligning."""

    price: pd.Series
    source: str
    ohlcv: pd.DataFrame | None = None
    spread: pd.Series | None = None


def parse_timestamps(raw: pd.Series, where: str, tz: str) -> pd.DatetimeIndex:
    """Read ISO timestamps; daily -> tz-naive dates, intraday -> tz-aware in ``tz``."""
    text = raw.astype(str).str.strip()
    if (text == "").any() or raw.isna().any():
        row = int(np.flatnonzero((text == "").to_numpy() | raw.isna().to_numpy())[0])
        raise DataError(f"{where}: empty timestamp at row {row + 1}")
    has_offset = text.str.contains(_OFFSET)
    if has_offset.any() and not has_offset.all():
        row = int(np.flatnonzero(~has_offset.to_numpy())[0])
        raise DataError(
            f"{where}: mixed time zones: some timestamps carry a UTC offset and others do not "
            f"(row {row + 1}: {text.iloc[row]!r})"
        )
    try:
        if has_offset.all():
            index = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601")).tz_convert(tz)
            if not is_intraday(index):  # daily bars stamped at local midnight with an offset
                index = index.tz_localize(None)
        else:
            index = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601"))
            if is_intraday(index):
                index = index.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError, OverflowError) as exc:
        bad = next((t for t in text if pd.to_datetime(t, errors="coerce", format="ISO8601") is pd.NaT), None)
        detail = f"cannot read timestamp {bad!r}" if bad is not None else str(exc).splitlines()[0]
        raise DataError(f"{where}: {detail}") from None
    return index


def check_clock(index: pd.DatetimeIndex, where: str) -> None:
    """Timestamps must be strictly increasing: name the first duplicate or out-of-order one."""
    if len(index) < 2:
        return
    step = np.diff(index.asi8)
    if (step == 0).any():
        row = int(np.flatnonzero(step == 0)[0]) + 1
        raise DataError(f"{where}: duplicate timestamp {index[row]} (row {row + 1})")
    if (step < 0).any():
        row = int(np.flatnonzero(step < 0)[0]) + 1
        raise DataError(
            f"{where}: timestamps are not sorted: {index[row]} (row {row + 1}) comes after {index[row - 1]}"
        )


def numeric_column(frame: pd.DataFrame, column: str, where: str, *, price: bool) -> pd.Series:
    """Column as float; empty cells become NaN, anything else unreadable is an error naming the cell."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    text = raw.astype(str).str.strip()
    unreadable = values.isna() & raw.notna() & (text != "") & (text.str.lower() != "nan")
    if unreadable.any():
        row = int(np.flatnonzero(unreadable.to_numpy())[0])
        raise DataError(f"{where}: column {column!r}: cannot read {text.iloc[row]!r} at {frame.index[row]} as a number")
    if price:
        v = values.to_numpy()
        bad = np.isinf(v) | (v <= 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}: ticker {column!r}: price {float(v[row])!r} at {frame.index[row]} is not a finite "
                "positive number"
            )
    return values


def read_cells(path: Path, what: str = "file") -> pd.DataFrame:
    """Every cell of a CSV file as text, the header (if any) as row 0; a missing, empty or unreadable file is a
    DataError naming it (``what``: the kind of file, for the not-found message)."""
    where = str(path)
    if not path.exists():
        raise DataError(f"{where}: {what} not found")
    if path.is_dir():
        raise DataError(f"{where}: is a directory, not a CSV file")
    try:
        # header=None: read_csv would rename a repeated column "AAA" to "AAA.1" and run on both
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, header=None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: empty CSV (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{where}: unreadable CSV ({str(exc).splitlines()[0]})") from None


def _read(path: Path, tz: str) -> pd.DataFrame:
    where = str(path)
    raw = read_cells(path)
    names = [str(c).strip() or f"Unnamed: {i}" for i, c in enumerate(raw.iloc[0])]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise DataError(f"{where}: column(s) {repeated} appear more than once in the header")
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = names
    date_col = next((c for c in frame.columns if c.lower() in DATE_COLUMNS), None)
    if date_col is None:
        raise DataError(f"{where}: no Date column (columns: {list(frame.columns)})")
    if frame.empty:
        raise DataError(f"{where}: empty CSV (header only)")
    index = parse_timestamps(frame[date_col], where, tz)
    check_clock(index, where)
    frame = frame.drop(columns=[date_col]).replace("", np.nan)
    frame.index = index
    return frame


def _lower_map(columns: Iterable[str]) -> dict[str, str]:
    return {c.lower().replace("_", " "): c for c in columns}


def file_kind(columns: Sequence[str]) -> str:
    cols = _lower_map(columns)
    if "bidclose" in cols and "askclose" in cols:
        return "quotes"
    if any(h.lower() in cols for h in PRICE_HEADERS) or "adjclose" in cols:
        return "ohlcv"  # one ticker, named by its file
    return "wide"


def ticker_from_filename(path: Path) -> str:
    """``BAC_daily.csv`` -> ``BAC``: the file name up to the first ``_`` or ``.``."""
    return re.split(r"[_.]", path.name, maxsplit=1)[0]


def ohlcv_series(frame: pd.DataFrame, where: str) -> TickerSeries:
    """One ticker's frame (any column case) -> its price (Adj Close, else Close, else Price) and OHLCV table."""
    cols = _lower_map(frame.columns)
    if "adjclose" in cols and "adj close" not in cols:
        cols["adj close"] = cols["adjclose"]
    table = {}
    for name in (*OHLCV_COLUMNS, "Price"):
        if name.lower() in cols:
            table[name] = numeric_column(frame, cols[name.lower()], where, price=name != "Volume")
    ohlcv = pd.DataFrame(table, index=frame.index)
    price = ohlcv[next(h for h in PRICE_HEADERS if h in ohlcv)]
    # an adjusted price or a bare "Price" alone is no bar table: the share price it was traded at is unknown
    bars = ohlcv.drop(columns=["Price"], errors="ignore")
    return TickerSeries(price=price, source=where, ohlcv=None if set(bars.columns) <= {"Adj Close"} else bars)


def _quote_series(frame: pd.DataFrame, where: str) -> TickerSeries:
    cols = _lower_map(frame.columns)
    bid = numeric_column(frame, cols["bidclose"], where, price=True)
    ask = numeric_column(frame, cols["askclose"], where, price=True)
    crossed = (ask < bid).to_numpy()
    if crossed.any():
        row = int(np.flatnonzero(crossed)[0])
        raise DataError(f"{where}: crossed quote at {frame.index[row]}: ask {ask.iloc[row]} < bid {bid.iloc[row]}")
    return TickerSeries(price=(bid + ask) / 2.0, source=where, spread=ask - bid)


def build_market(
    series: dict[str, TickerSeries],
    *,
    min_rows: int,
    session: str,
    meta: dict,
) -> MarketData:
    """Align per-ticker series on one clock and wrap them in a MarketData."""
    if session not in ("all", "regular"):
        raise DataError(f"session must be 'all' or 'regular', got {session!r}")
    kinds = {t: is_intraday(s.price.index) for t, s in series.items()}
    if len(set(kinds.values())) > 1:
        daily = [s.source for t, s in series.items() if not kinds[t]]
        intraday = [s.source for t, s in series.items() if kinds[t]]
        raise DataError(f"mixed daily {daily} and intraday {intraday} data; load one frequency at a time")
    prices = {t: s.price for t, s in series.items()}
    if session == "regular" and any(kinds.values()):
        prices = {t: p[_regular_hours(p.index)] for t, p in prices.items()}
    frame, counts = align(prices, min_rows=min_rows)
    index = frame.index

    def pick(getter) -> dict:
        return {t: getter(s) for t, s in series.items()}

    ohlcv = pick(lambda s: s.ohlcv)
    ohlcv_out = None
    if all(v is not None for v in ohlcv.values()):
        ohlcv_out = {
            t: v.reindex(index) if v.index.tz == index.tz else v.tz_convert(index.tz).reindex(index)
            for t, v in ohlcv.items()
        }
    volume = None
    if ohlcv_out is not None and all("Volume" in v for v in ohlcv_out.values()):
        volume = pd.DataFrame({t: v["Volume"] for t, v in ohlcv_out.items()}, index=index)
    spreads = pick(lambda s: s.spread)
    spread = None
    if all(v is not None for v in spreads.values()):
        spread = pd.DataFrame({t: v.reindex(index) for t, v in spreads.items()}, index=index)
    return MarketData(
        frame,
        ohlcv=ohlcv_out,
        volume=volume,
        spread=spread,
        meta={**meta, "tickers": list(series), "alignment": counts, "session": session},
    )


def _regular_hours(index: pd.DatetimeIndex) -> np.ndarray:
    minutes = index.hour * 60 + index.minute
    return np.asarray((minutes >= 9 * 60 + 30) & (minutes < 16 * 60))


def load_csv(
    path_or_paths: str | Path | Sequence[str | Path],
    tickers: Sequence[str] | None = None,
    *,
    tz: str = "America/New_York",
    session: str = "all",
    min_rows: int = DEFAULT_MIN_ROWS,
) -> MarketData:
    """Load prices from one or more CSV files (see the module docstring for the file kinds).

    ``tickers``: with per-ticker files it names them (one name per file, in order); with a wide panel
    it selects columns (e.g. two of eleven). Columns keep the order given. ``session="regular"``
    keeps intraday bars starting 09:30 <= t < 16:00 exchange time. Rows where some ticker has no price
    are dropped when aligning and counted in ``MarketData.meta["alignment"]``.
    """
    paths = csv_paths(path_or_paths)
    available = read_series(paths, tickers, tz=tz)
    return build_market(
        available,
        min_rows=min_rows,
        session=session,
        meta={"kind": "csv", "files": [str(p) for p in paths]},
    )


def csv_paths(path_or_paths) -> list[Path]:
    """Files from a path, a list of paths, or a folder (its *.csv files, sorted)."""
    if isinstance(path_or_paths, (str, Path)):
        paths = [Path(path_or_paths)]
    else:
        paths = [Path(p) for p in path_or_paths]
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        paths = sorted(folder.glob("*.csv"))
        if not paths:
            raise DataError(f"{folder}: a folder with no .csv files")
    if not paths:
        raise DataError("load_csv: no file given")
    return paths


def read_series(
    paths: Sequence[Path], tickers: Sequence[str] | None = None, *, tz: str = "America/New_York"
) -> dict[str, TickerSeries]:
    """Each ticker's own series from CSV files (wide panels or one file per ticker), not aligned: a panel's
    column keeps every row where it has a price."""
    if tickers is not None:
        if isinstance(tickers, str):
            tickers = [tickers]
        tickers = [str(t) for t in tickers]
        if len(set(tickers)) != len(tickers):
            raise DataError(f"tickers: duplicate names in {tickers}")
    frames = [(p, _read(p, tz)) for p in paths]
    kinds = [file_kind(f.columns) for _, f in frames]
    available: dict[str, TickerSeries] = {}
    offered: list[str] = []  # every ticker the files hold, for the error message

    def add(name: str, s: TickerSeries) -> None:
        if name in available:
            raise DataError(f"ticker {name!r} appears twice ({available[name].source} and {s.source})")
        available[name] = s

    all_single = all(k != "wide" for k in kinds)
    if all_single and tickers is not None and len(tickers) != len(paths):
        raise DataError(f"tickers: {len(tickers)} names for {len(paths)} per-ticker files ({[str(p) for p in paths]})")
    for i, ((path, frame), kind) in enumerate(zip(frames, kinds)):
        where = str(path)
        if kind == "wide":
            offered.extend(c for c in frame.columns if c not in offered)
            wanted = [c for c in frame.columns if tickers is None or c in tickers]
            for col in wanted:
                add(col, TickerSeries(price=numeric_column(frame, col, where, price=True), source=where))
            continue
        name = tickers[i] if (all_single and tickers is not None) else ticker_from_filename(path)
        add(name, ohlcv_series(frame, where) if kind == "ohlcv" else _quote_series(frame, where))
    if tickers is not None and not all_single:
        missing = [t for t in tickers if t not in available]
        if missing:
            raise DataError(
                f"unknown ticker(s) {missing} in {[str(p) for p in paths]}; available: {offered or list(available)}"
            )
        available = {t: available[t] for t in tickers}
    if not available:
        raise DataError(f"{[str(p) for p in paths]}: no price columns")
    return available


def _refuse(bad: pd.Series, message) -> None:
    """A DataError naming the first bad row's timestamp (``message(timestamp)``), if any row is bad."""
    rows = np.flatnonzero(bad.to_numpy())
    if rows.size:
        raise DataError(message(bad.index[rows[0]]))


def _bar_columns(path, tz: str, columns: Sequence[str], kind: str, prices: Sequence[str]):
    """Read a bar file and its required ``columns`` as numbers (``prices`` checked positive): (where, the raw frame,
    its lower-cased column map, the numeric frame); a missing column is an error naming the file and the kind."""
    path = Path(path)
    where = str(path)
    frame = _read(path, tz)
    cols = _lower_map(frame.columns)
    missing = [c for c in columns if c.lower() not in cols]
    if missing:
        raise DataError(f"{where}: not a {kind} file: missing column(s) {missing}")
    out = pd.DataFrame(
        {c: numeric_column(frame, cols[c.lower()], where, price=c in prices) for c in columns}, index=frame.index
    )
    return where, frame, cols, out


TRADE_BAR_COLUMNS = ("Open", "High", "Low", "Close", "Volume")


def load_trade_bars(path: str | Path, *, tz: str = "America/New_York", session: str = "all") -> pd.DataFrame:
    """One ticker's trade bars (``Open, High, Low, Close`` of the prints in each bar, ``Volume`` in shares; a bar
    without trades is absent, as in LEAN/AlgoSeek minute files) on its clock, checked: positive prices, Low <= Open,
    Close <= High, volume >= 0. ``session="regular"`` keeps 09:30-16:00 of intraday bars."""
    where, frame, cols, out = _bar_columns(path, tz, TRADE_BAR_COLUMNS, "trade-bar", prices=TRADE_BAR_COLUMNS[:4])
    _refuse(
        (out["Low"] > out[["Open", "Close"]].min(axis=1))
        | (out["High"] < out[["Open", "Close"]].max(axis=1))
        | ~(out["Volume"] >= 0),
        lambda t: f"{where}: trade bar at {t} has Low/High outside Open/Close or a negative volume",
    )
    if session == "regular" and is_intraday(out.index):
        out = out[_regular_hours(out.index)]
    return out


QUOTE_BAR_COLUMNS = ("BidOpen", "BidHigh", "BidLow", "BidClose", "AskOpen", "AskHigh", "AskLow", "AskClose")


def load_quote_bars(path: str | Path, *, tz: str = "America/New_York", session: str = "all") -> pd.DataFrame:
    """One ticker's quote bars (``BidOpen..BidClose``, ``AskOpen..AskClose``, optional ``BidSize``/``AskSize`` in
    shares) as a DataFrame on its clock, checked: positive prices, Low <= Open, Close <= High on each side, no
    crossed closing quote. ``session="regular"`` keeps 09:30-16:00 of intraday bars."""
    where, frame, cols, out = _bar_columns(path, tz, QUOTE_BAR_COLUMNS, "quote-bar", prices=QUOTE_BAR_COLUMNS)
    for c in ("BidSize", "AskSize"):
        if c.lower() in cols:
            out[c] = numeric_column(frame, cols[c.lower()], where, price=False)
    for side in ("Bid", "Ask"):
        lo, hi = out[f"{side}Low"], out[f"{side}High"]
        _refuse(
            (lo > out[f"{side}Open"])
            | (lo > out[f"{side}Close"])
            | (hi < out[f"{side}Open"])
            | (hi < out[f"{side}Close"]),
            lambda t: f"{where}: {side.lower()} bar at {t} has Low/High outside Open/Close",
        )
    crossed = (out["AskClose"] < out["BidClose"]).to_numpy()
    if crossed.any():
        row = int(np.flatnonzero(crossed)[0])
        raise DataError(
            f"{where}: crossed quote at {out.index[row]}: ask {out['AskClose'].iloc[row]} < bid "
            f"{out['BidClose'].iloc[row]}"
        )
    if session == "regular" and is_intraday(out.index):
        out = out[_regular_hours(out.index)]
    if len(out) < 3:
        raise DataError(f"{where}: {len(out)} quote bars; need at least 3")
    return out
