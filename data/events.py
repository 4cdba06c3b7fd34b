"""Real quotes in event time: LOBSTER message and order-book files, and CSV files of timestamped quotes.

Every loader gives a ``QuoteEvents``: one instrument's top-of-book quotes, each with the instant it came into force
(int64 UTC nanoseconds, and ``seconds`` since midnight of the first day in exchange time, float64). ``quote_market``
samples several of them on one cadence (the quote in force at each instant) into a ``MarketData``.

Formats (docs/data.md, "Event and quote files", has examples):

- LOBSTER (https://lobsterdata.com, "data structure"): a message file without header, six columns: Time (seconds
  after midnight, exchange time, with up to nine decimals), Type (1 submission, 2 partial cancellation, 3 deletion,
  4 visible execution, 5 hidden execution, 6 cross trade, 7 trading halt), Order ID, Size (shares), Price (dollars
  x 10000), Direction (-1 sell, 1 buy limit order); and an order-book file with one row per message: Ask Price 1,
  Ask Size 1, Bid Price 1, Bid Size 1, Ask Price 2, ... (prices x 10000; an empty level has the dummy price
  9999999999 on the ask and -9999999999 on the bid, size 0). File names
  TICKER_YYYY-MM-DD_STARTms_ENDms_message_LEVELS.csv give the ticker and the date.
- Quote CSV with a header: a time column (``timestamp``, ``time``, ``datetime``, ``date`` or ``ts``), ``bid``,
  ``ask`` and optionally ``bid_size``, ``ask_size``. Times are ISO 8601 strings (nanoseconds kept; naive ones are
  exchange time, ones with a UTC offset are converted) or integer epoch counts in ``unit`` ns, us, ms or s.
- Quote-bar CSV (``BidClose``, ``AskClose``, as the minute files of ../shared/data): each bar's closing quote,
  in force from the bar's end (its stamp, the bar's start, plus ``bar_s``).

Quotes at one instant collapse to the last; a row that changes neither the bid nor the ask price is dropped (a size
change moves no price). A missing side (LOBSTER's dummy level, an empty cell) leaves no mid: such rows are dropped
and counted (``QuoteEvents.dropped``). Bad input raises ``DataError`` naming the file, the line, the column and the
value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .files import read_cells
from .frequency import TRADING_DAYS
from .market import MarketData

LOBSTER_MESSAGE_COLUMNS = ("Time", "Type", "Order ID", "Size", "Price", "Direction")
LOBSTER_BOOK_COLUMNS = ("Ask Price 1", "Ask Size 1", "Bid Price 1", "Bid Size 1")
LOBSTER_DUMMY = 9_999_999_999  # LOBSTER's price of an empty level (ask; its negative on the bid)
TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "ts")
UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
SESSION_SECONDS = 6.5 * 3600.0
_LOBSTER_NAME = re.compile(r"^(?P<ticker>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_")
_LOBSTER_TIME = re.compile(r"\d+(\.\d{1,9})?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class QuoteEvents:
    """One instrument's top-of-book quotes in event time (``ns`` strictly increasing, UTC epoch nanoseconds).

    ``bid``, ``ask`` in currency (sizes in shares when the file has them); ``tz`` the exchange's time zone;
    ``source`` the file(s); ``kind`` "lobster", "quotes" or "quote bars"; ``dropped`` the rows left out because a
    side was missing.
    """

    ticker: str
    ns: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray | None = None
    ask_size: np.ndarray | None = None
    tz: str = "America/New_York"
    source: str = ""
    kind: str = "quotes"
    dropped: int = 0
    _origin: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ns.size < 1:
            raise DataError(f"{self.source}: no quotes with both a bid and an ask")
        first = pd.Timestamp(int(self.ns[0]), unit="ns", tz="UTC").tz_convert(self.tz)
        object.__setattr__(self, "_origin", int(first.normalize().tz_convert("UTC").as_unit("ns").value))

    def __len__(self) -> int:
        return int(self.ns.size)

    def __repr__(self) -> str:
        return (
            f"QuoteEvents({self.ticker!r}, {len(self)} quotes, {self.index[0]} .. {self.index[-1]}, kind={self.kind!r})"
        )

    @property
    def mid(self) -> np.ndarray:
        """(bid + ask) / 2, currency."""
        return 0.5 * (self.bid + self.ask)

    @property
    def origin_ns(self) -> int:
        """UTC nanoseconds of midnight (exchange time) of the first quote's day: the zero of ``seconds``."""
        return self._origin

    @property
    def seconds(self) -> np.ndarray:
        """Each quote's instant in seconds since ``origin_ns`` (float64; ns resolution up to about 100 days)."""
        return (self.ns - self._origin) / 1e9

    @property
    def index(self) -> pd.DatetimeIndex:
        """Each quote's instant as a tz-aware DatetimeIndex in exchange time."""
        return pd.DatetimeIndex(self.ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(self.tz)

    def in_force(self, ns: np.ndarray) -> np.ndarray:
        """Position of the quote in force at each instant (the last at or before it; -1 before the first)."""
        return np.searchsorted(self.ns, np.asarray(ns, dtype=np.int64), side="right") - 1


# -- reading helpers ----------------------------------------------------------------------------------------------
def _existing(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {what} not found")
    return path


def _table(path: Path, header: bool) -> pd.DataFrame:
    raw = read_cells(path)
    if header:
        names = [str(c).strip() for c in raw.iloc[0]]
        raw = raw.iloc[1:].reset_index(drop=True)
        raw.columns = names
        if raw.empty:
            raise DataError(f"{path}: header only, no quotes")
    return raw


def _numbers(raw: pd.Series, where: str, column: str, first_line: int, *, blank_ok: bool = False) -> np.ndarray:
    """A column as float64; an unreadable cell is an error naming its line (``first_line`` is row 0's line)."""
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ((text != "").to_numpy() | (not blank_ok)) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where}: line {first_line + row}, column {column!r}: cannot read {text.iloc[row]!r} as a finite number"
        )
    return values


def _check_sides(bid: np.ndarray, ask: np.ndarray, where: str, lines: np.ndarray) -> None:
    for name, v in (("bid", bid), ("ask", ask)):
        bad = ~np.isnan(v) & (v <= 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}: line {lines[row]}, column {name!r}: price {v[row]!r} is not positive")
    crossed = ask < bid
    if crossed.any():
        row = int(np.flatnonzero(crossed)[0])
        raise DataError(f"{where}: line {lines[row]}: crossed quote, ask {ask[row]!r} < bid {bid[row]!r}")


def _events(
    ticker: str,
    ns: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    sizes,
    *,
    lines: np.ndarray,
    where: str,
    tz: str,
    kind: str,
) -> QuoteEvents:
    """Checked, collapsed quotes: times must not go back; one quote per instant (the last); price changes only."""
    step = np.diff(ns)
    if (step < 0).any():
        row = int(np.flatnonzero(step < 0)[0]) + 1
        raise DataError(
            f"{where}: line {lines[row]}: time goes back ({_stamp(ns[row], tz)} after {_stamp(ns[row - 1], tz)})"
        )
    _check_sides(bid, ask, where, lines)
    both = ~(np.isnan(bid) | np.isnan(ask))
    last = np.append(step > 0, True)  # the last quote of each instant
    keep = last & both
    ns, bid, ask = ns[keep], bid[keep], ask[keep]
    sizes = [None if s is None else s[keep] for s in sizes]
    change = np.ones(ns.size, dtype=bool)
    change[1:] = (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1])
    bid_size, ask_size = (None if s is None else s[change] for s in sizes)
    return QuoteEvents(
        ticker,
        ns[change],
        bid[change],
        ask[change],
        bid_size,
        ask_size,
        tz=tz,
        source=where,
        kind=kind,
        dropped=int((last & ~both).sum()),
    )


def _stamp(ns, tz: str) -> str:
    return str(pd.Timestamp(int(ns), unit="ns", tz="UTC").tz_convert(tz))


# -- LOBSTER ------------------------------------------------------------------------------------------------------
def is_lobster(path: str | Path) -> bool:
    """Whether a file is named as LOBSTER names its message files (TICKER_DATE_START_END_message_LEVELS.csv)."""
    return _LOBSTER_NAME.match(Path(path).name) is not None


def load_lobster(
    message_file: str | Path,
    orderbook_file: str | Path | None = None,
    *,
    ticker: str | None = None,
    date: str | None = None,
    tz: str = "America/New_York",
) -> QuoteEvents:
    """One day of LOBSTER files as top-of-book quotes (see the module docstring for the layout).

    ``orderbook_file`` defaults to the message file's name with ``message`` replaced by ``orderbook``; ``ticker``
    and ``date`` (YYYY-MM-DD) default to those in the file name. Trading-halt messages (type 7) are skipped (their
    book rows repeat the last state); rows with an empty best level leave no mid and are counted in ``dropped``.
    """
    msg = _existing(message_file, "LOBSTER message file")
    book = _existing(
        orderbook_file if orderbook_file is not None else msg.with_name(msg.name.replace("message", "orderbook")),
        "LOBSTER order-book file",
    )
    named = _LOBSTER_NAME.match(msg.name)
    ticker = ticker or (named.group("ticker") if named else None)
    date = date or (named.group("date") if named else None)
    if ticker is None or date is None:
        raise DataError(f"{msg}: the file name is not LOBSTER's TICKER_YYYY-MM-DD_..., so give ticker= and date=")
    try:
        day = pd.Timestamp(date)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{msg}: date {date!r} is not a date ({exc})") from None
    m, b = _table(msg, header=False), _table(book, header=False)
    if m.shape[1] != 6:
        raise DataError(
            f"{msg}: a LOBSTER message file has 6 columns {list(LOBSTER_MESSAGE_COLUMNS)}, found {m.shape[1]}"
        )
    if b.shape[1] < 4 or b.shape[1] % 4:
        raise DataError(
            f"{book}: a LOBSTER order-book file has 4 columns a level ({list(LOBSTER_BOOK_COLUMNS)}, "
            f"...), found {b.shape[1]}"
        )
    if len(m) != len(b):
        raise DataError(f"{msg} has {len(m)} messages but {book} has {len(b)} book rows: LOBSTER writes one each")
    text = m[0].astype(str).str.strip()
    ok = text.str.fullmatch(_LOBSTER_TIME.pattern).to_numpy()
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise DataError(
            f"{msg}: line {row + 1}, column 'Time': cannot read {text.iloc[row]!r} as seconds after "
            "midnight (digits, then up to nine decimals)"
        )
    parts = text.str.split(".", n=1, expand=True).reindex(columns=[0, 1])
    frac = parts[1].fillna("").str.ljust(9, "0").astype(np.int64).to_numpy()
    since_midnight = parts[0].astype(np.int64).to_numpy() * 1_000_000_000 + frac
    wall = pd.DatetimeIndex(day.normalize() + pd.to_timedelta(since_midnight, unit="ns"))
    try:
        ns = wall.tz_localize(tz, ambiguous="raise", nonexistent="raise").as_unit("ns").asi8
    except (ValueError, TypeError) as exc:
        raise DataError(f"{msg}: cannot place the times of {date} in {tz} ({str(exc).splitlines()[0]})") from None
    kind = _numbers(m[1], str(msg), "Type", 1)
    bad = ~np.isin(kind, (1, 2, 3, 4, 5, 6, 7))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{msg}: line {row + 1}, column 'Type': {m[1].iloc[row]!r} is not a LOBSTER event type 1-7")
    ask = _numbers(b[0], str(book), "Ask Price 1", 1)
    ask_size = _numbers(b[1], str(book), "Ask Size 1", 1)
    bid = _numbers(b[2], str(book), "Bid Price 1", 1)
    bid_size = _numbers(b[3], str(book), "Bid Size 1", 1)
    ask = np.where(ask >= LOBSTER_DUMMY, np.nan, ask / 10_000.0)
    bid = np.where(bid <= -LOBSTER_DUMMY, np.nan, bid / 10_000.0)
    live = kind != 7
    lines = np.arange(1, len(m) + 1)[live]
    return _events(
        str(ticker),
        ns[live],
        bid[live],
        ask[live],
        [bid_size[live], ask_size[live]],
        lines=lines,
        where=f"{msg} + {book.name}",
        tz=tz,
        kind="lobster",
    )


# -- quote CSV ----------------------------------------------------------------------------------------------------
def _epoch_ns(text: pd.Series, where: str, column: str, unit: str | None) -> np.ndarray:
    values = text.astype(np.int64).to_numpy()
    if unit is None:  # the magnitude of an epoch count in 1973-2262 tells its unit
        first = abs(int(values[0]))
        unit = "ns" if first >= 10**17 else "us" if first >= 10**14 else "ms" if first >= 10**11 else "s"
    if unit not in UNITS:
        raise DataError(f"{where}: unit must be one of {list(UNITS)}, got {unit!r}")
    if np.abs(values).max() > np.iinfo(np.int64).max // UNITS[unit]:
        raise DataError(f"{where}: column {column!r}: epoch counts in {unit} overflow nanoseconds")
    return values * UNITS[unit]


def _iso_ns(text: pd.Series, where: str, column: str, tz: str) -> np.ndarray:
    try:
        stamps = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0]) if stamps.isna().any() else 0
        raise DataError(
            f"{where}: line {row + 2}, column {column!r}: cannot read {text.iloc[row]!r} as a "
            "timestamp (ISO 8601, or an integer epoch count); mixed UTC offsets are not read either"
        ) from None
    index = pd.DatetimeIndex(stamps)
    if index.tz is None:
        try:
            index = index.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError) as exc:
            raise DataError(f"{where}: column {column!r}: {str(exc).splitlines()[0]} in {tz}") from None
    return index.as_unit("ns").asi8.copy()


def load_quotes(
    path: str | Path,
    *,
    ticker: str | None = None,
    tz: str = "America/New_York",
    unit: str | None = None,
    bar_s: float | None = None,
) -> QuoteEvents:
    """A CSV of timestamped quotes (or quote bars) as ``QuoteEvents`` (see the module docstring for the columns).

    ``ticker`` defaults to the file name up to the first ``_`` or ``.``; ``unit`` of integer epoch times (ns, us,
    ms, s; default: told by the first value's magnitude, ns from 1e17, us from 1e14, ms from 1e11); ``bar_s`` the
    bar length of a quote-bar file (default: the most common spacing of its stamps).
    """
    path = _existing(path, "quote file")
    where = str(path)
    raw = _table(path, header=True)
    cols = {c.lower().replace(" ", "_"): c for c in raw.columns}
    time_col = next((cols[c] for c in TIME_COLUMNS if c in cols), None)
    if time_col is None:
        raise DataError(f"{where}: no time column (one of {list(TIME_COLUMNS)}; columns: {list(raw.columns)})")
    bars = "bidclose" in cols and "askclose" in cols
    pick = ("bidclose", "askclose", "bidsize", "asksize") if bars else ("bid", "ask", "bid_size", "ask_size")
    for alias, name in (("bid_price", "bid"), ("ask_price", "ask"), ("bidsize", "bid_size"), ("asksize", "ask_size")):
        if not bars and name not in cols and alias in cols:
            cols[name] = cols[alias]
    missing = [c for c in pick[:2] if c not in cols]
    if missing:
        raise DataError(f"{where}: not a quote file: no column(s) {missing} (columns: {list(raw.columns)})")
    text = raw[time_col].astype(str).str.strip()
    if (text == "").any():
        row = int(np.flatnonzero((text == "").to_numpy())[0])
        raise DataError(f"{where}: line {row + 2}, column {time_col!r}: empty timestamp")
    if text.str.fullmatch(_INTEGER.pattern).all():
        ns = _epoch_ns(text, where, time_col, unit)
    else:
        ns = _iso_ns(text, where, time_col, tz)
    if bars:
        spacing = np.diff(ns)
        spacing = spacing[spacing > 0]
        if bar_s is None:
            if spacing.size == 0:
                raise DataError(f"{where}: one bar stamp only; give bar_s, the bar length in seconds")
            values, counts = np.unique(spacing, return_counts=True)
            bar_ns = int(values[np.argmax(counts)])
        else:
            if not (np.isfinite(bar_s) and bar_s > 0):
                raise DataError(f"{where}: bar_s must be a positive number of seconds, got {bar_s!r}")
            bar_ns = int(round(bar_s * 1e9))
        ns = ns + bar_ns  # a bar's closing quote is in force from the bar's end
    bid = _numbers(raw[cols[pick[0]]], where, cols[pick[0]], 2, blank_ok=True)
    ask = _numbers(raw[cols[pick[1]]], where, cols[pick[1]], 2, blank_ok=True)
    sizes = [_numbers(raw[cols[c]], where, cols[c], 2, blank_ok=True) if c in cols else None for c in pick[2:]]
    name = ticker or re.split(r"[_.]", path.name, maxsplit=1)[0]
    return _events(
        name,
        ns,
        bid,
        ask,
        sizes,
        lines=np.arange(2, len(raw) + 2),
        where=where,
        tz=tz,
        kind="quote bars" if bars else "quotes",
    )


# -- on a cadence -------------------------------------------------------------------------------------------------
def quote_market(quotes: Sequence[QuoteEvents], cadence_s: float, *, session: str = "all") -> MarketData:
    """Mid prices of several instruments on one cadence: at each instant, each one's quote in force (the last at or
    before it), as a ``MarketData`` with ``spread`` (ask - bid).

    Instants are whole multiples of ``cadence_s`` after each day's midnight (exchange time), from the first instant
    on that day at which every instrument has a quote to the last at which every instrument has had its last quote
    of the day (nights are skipped); ``session="regular"`` keeps 09:30 to 16:00 inclusive. ``periods_per_year`` is
    252 sessions of 6.5 hours over ``cadence_s``. ``meta["quote_age_s"]``: each instrument's median age of the
    quote it is sampled at (seconds), which says how stale the cadence is for that instrument.
    """
    quotes = list(quotes)
    if len(quotes) < 2:
        raise DataError(f"quote_market needs two or more instruments, got {len(quotes)}")
    names = [q.ticker for q in quotes]
    if len(set(names)) != len(names):
        raise DataError(f"quote_market: tickers appear twice: {names}")
    tzs = {q.tz for q in quotes}
    if len(tzs) > 1:
        raise DataError(f"quote_market: instruments in several time zones {sorted(tzs)}; load them in one")
    if session not in ("all", "regular"):
        raise DataError(f"session must be 'all' or 'regular', got {session!r}")
    step = int(round(float(cadence_s) * 1e9)) if np.isfinite(cadence_s) else 0
    if step < 1 or abs(step - cadence_s * 1e9) > 1e-6 * max(1.0, cadence_s * 1e9):
        raise DataError(f"cadence_s={cadence_s!r} must be a positive whole number of nanoseconds")
    tz = quotes[0].tz
    days: dict = {}  # local date -> each instrument's (first, last) quote that day
    for q in quotes:
        local = q.index.normalize()
        for day in np.unique(local.asi8):
            on_day = q.ns[local.asi8 == day]
            days.setdefault(int(day), []).append((int(on_day[0]), int(on_day[-1])))
    grid = []
    for zero, spans in sorted(days.items()):  # zero: UTC ns of the day's local midnight
        if len(spans) < len(quotes):
            continue  # a day on which some instrument has no quote
        lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
        if session == "regular":  # wall-clock bounds, right on the days the clocks change too
            date = pd.Timestamp(zero, unit="ns", tz="UTC").tz_convert(tz).tz_localize(None)
            lo = max(lo, int((date + pd.Timedelta(hours=9.5)).tz_localize(tz).as_unit("ns").value))
            hi = min(hi, int((date + pd.Timedelta(hours=16)).tz_localize(tz).as_unit("ns").value))
        first, last = -(-(lo - zero) // step), (hi - zero) // step
        if last >= first:
            grid.append(zero + np.arange(first, last + 1, dtype=np.int64) * step)
    ns = np.concatenate(grid) if grid else np.empty(0, dtype=np.int64)
    if ns.size < 2:
        raise DataError(
            f"quote_market: {ns.size} common instants at a cadence of {cadence_s} s "
            f"({', '.join(q.source for q in quotes)}); need at least 2"
        )
    index = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    prices, spreads, ages = {}, {}, {}
    for q in quotes:
        at = q.in_force(ns)
        prices[q.ticker] = q.mid[at]
        spreads[q.ticker] = (q.ask - q.bid)[at]
        ages[q.ticker] = float(np.median(ns - q.ns[at])) / 1e9
    return MarketData(
        pd.DataFrame(prices, index=index),
        spread=pd.DataFrame(spreads, index=index),
        periods_per_year=TRADING_DAYS * SESSION_SECONDS / (step / 1e9),
        meta={
            "kind": "events",
            "files": [q.source for q in quotes],
            "tickers": names,
            "cadence_s": step / 1e9,
            "session": session,
            "quote_age_s": ages,
            "quotes": {q.ticker: len(q) for q in quotes},
        },
    )
