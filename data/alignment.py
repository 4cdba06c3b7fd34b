"""Put several tickers' price series on one clock: inner join, with every dropped row counted."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import DataError, DataWarning

DEFAULT_MIN_ROWS = 20
FLAT_RUN = 20  # daily or slower bars: this many unchanged prices in a row is stale (no return, no volatility)
FLAT_RUN_INTRADAY = 390  # intraday bars: a whole session unchanged (a one-tick stock's mid rests for minutes)


def flat_runs(frame: pd.DataFrame, min_run: int = FLAT_RUN) -> dict[str, tuple[int, object, object]]:
    """Per ticker, its longest run of at least ``min_run`` consecutive unchanged prices: (length, first, last
    timestamp). A stale quote or a thinly traded stock; indicators read such windows as "no signal"."""
    out = {}
    for t in frame.columns:
        v = frame[t].to_numpy(dtype=float)
        if v.size < min_run:
            continue
        same = np.r_[False, v[1:] == v[:-1]]  # row i repeats row i - 1
        starts = np.flatnonzero(~same)  # each run begins where a row does not repeat its predecessor
        lengths = np.diff(np.r_[starts, v.size])
        k = int(np.argmax(lengths))
        if lengths[k] >= min_run:
            first, n = int(starts[k]), int(lengths[k])
            out[t] = (n, frame.index[first], frame.index[first + n - 1])
    return out


def align(series: dict[str, pd.Series], *, min_rows: int = DEFAULT_MIN_ROWS) -> tuple[pd.DataFrame, dict[str, int]]:
    """Inner-join ``series`` (ticker -> prices with a DatetimeIndex) on their timestamps.

    Returns the aligned frame (columns in the order given) and the dropped-row counts:
    ``leading`` (before every ticker has a price, e.g. before a listing), ``interior`` (gaps, or bars
    present for some tickers only) and ``trailing`` (after one ticker's data ends). Interior drops
    raise a ``DataWarning``. Fewer than ``min_rows`` common rows is a ``DataError``.
    """
    if not series:
        raise DataError("no tickers to align")
    zones = {t: s.index.tz for t, s in series.items()}
    aware = {t for t, z in zones.items() if z is not None}
    if aware and len(aware) != len(zones):
        naive = sorted(set(zones) - aware)
        raise DataError(f"mixed time zones: {sorted(aware)} tz-aware, {naive} tz-naive; intraday data must be tz-aware")
    if aware:
        first_tz = next(iter(zones.values()))
        series = {t: s.tz_convert(first_tz) for t, s in series.items()}
    frame = pd.concat(series, axis=1, join="outer", sort=True)
    frame.columns = list(series)
    empty = [t for t in frame.columns if frame[t].isna().all()]
    if empty:
        raise DataError(f"ticker(s) {empty} have no prices at all (every value is empty or NaN)")
    complete = frame.notna().all(axis=1).to_numpy()
    if not complete.any():
        spans = ", ".join(f"{t}: {s.index[0]} → {s.index[-1]}" for t, s in series.items() if len(s))
        raise DataError(f"tickers {list(series)} have no timestamp in common ({spans})")
    first, last = int(np.argmax(complete)), int(len(complete) - 1 - np.argmax(complete[::-1]))
    counts = {
        "leading": first,
        "interior": int((~complete[first : last + 1]).sum()),
        "trailing": int(len(complete) - 1 - last),
    }
    if counts["interior"]:
        warnings.warn(
            f"aligning {list(series)}: dropped {counts['interior']} interior rows where not every ticker had a price",
            DataWarning,
            stacklevel=3,
        )
    out = frame.iloc[np.flatnonzero(complete)]
    if len(out) < min_rows:
        raise DataError(f"tickers {list(series)}: only {len(out)} common rows after aligning, need at least {min_rows}")
    intraday = len(out) > 1 and (out.index[1:] - out.index[:-1]).median() < pd.Timedelta(hours=20)
    for t, (n, a, b) in flat_runs(out, FLAT_RUN_INTRADAY if intraday else FLAT_RUN).items():
        warnings.warn(
            f"{t}: {n} unchanged prices in a row from {_when(a)} to {_when(b)} (stale or thinly traded): its "
            "returns are 0 there and indicators read those windows as 'no signal'",
            DataWarning,
            stacklevel=3,
        )
    return out, counts


def _when(ts) -> str:
    """A timestamp as a date when it has no time of day (daily bars), else in full."""
    ts = pd.Timestamp(ts)
    return str(ts.date()) if ts == ts.normalize() and ts.tz is None else str(ts)
