"""Feeds give the engine rounds: indicator inputs and what each round earns, in order of rows.

``ArrayFeed`` holds a whole MarketData in memory: indicators run once over all rows (any indicator works,
and walk-forward re-fitting is possible). ``StreamFeed`` draws a synthetic pair chunk by chunk and runs
the indicators on each chunk with ``lookback`` rows of history, so memory does not grow with rounds.
Both compute the same inputs for the same rows and satisfy the ``Feed`` protocol; ``TrainingTail`` (the last
training rounds of a streamed feed, kept for a replay) satisfies ``Rounds``, the part of it a replay reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ...data import MarketData, SyntheticPair
from ...data.frequency import TRADING_DAYS

from ..errors import BacktestError
from .facts import clock_offset, traded_notional, untradable
from .indicators import Indicator, QuantileBins, ThresholdIndicator, indicator_output, evaluate
from .isolated import IsolatedIndicator
from .views import LocalView, make_views

FIT_ROWS_MAX = 1 << 21  # a streamed run fits thresholds on at most this many training rows


def seconds_since_first(index: pd.DatetimeIndex) -> np.ndarray:
    """Each timestamp's seconds since the first (float64), in the index's own unit (a long daily index may be in
    seconds: nanoseconds would overflow past 2262); relative, so float64 keeps sub-microsecond resolution."""
    values = index.values  # UTC datetime64 for a tz-aware index
    return (values - values[0]) / np.timedelta64(1, "s")


def minutes_per_round(feed) -> float:
    """Minutes of quoting a round (bar) stands for: 252 x 390 trading minutes a year over the bars per year."""
    return TRADING_DAYS * 390.0 / feed.periods_per_year


@runtime_checkable
class Rounds(Protocol):
    """Rounds in row order that can be read by range ``[lo, hi)`` of absolute rows."""

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The indicator bits (x, y) of the rounds, uint8, already lagged for latency."""

    def round_data(self, lo: int, hi: int) -> dict:
        """What each round earns: "returns" (n, 2) simple returns, and where known "price_change", "price",
        "half_spread" (currency per share), "negative" (the true regime) and the delayed inputs."""

    def extra_inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The inputs of the extra (K-level) indicator pair, when one is set."""


@runtime_checkable
class Feed(Rounds, Protocol):
    """Where a backtest's rounds come from (``ArrayFeed``: in memory; ``StreamFeed``: drawn chunk by chunk)."""

    tickers: tuple[str, str]
    clock: Callable[[int, int], pd.DatetimeIndex]  # (first row, n) -> timestamps
    clock_at: Callable[[np.ndarray], pd.DatetimeIndex]  # rows -> timestamps
    n_rows: int
    periods_per_year: float
    has_truth: bool  # the true correlation regime is known (synthetic data)
    streamed: bool  # rounds cannot be read twice except through a kept TrainingTail
    adjusted_only: bool  # prices are adjusted, with no unadjusted share price beside them
    price_changes: bool  # round data carries prices and price changes (the fill model uses them)

    def warmup(self) -> int:
        """Rows the indicators need before their first reading."""

    def fit_indicators(self, start: int, stop: int) -> None:
        """Fit the indicators' thresholds on rows ``[start, stop)`` (the training window)."""

    def fit_view(self) -> tuple:
        """Each server's LocalView of the rows the indicators were fitted on."""

    def first_prices(self, row: int) -> np.ndarray:
        """The two share prices at ``row``."""

    def share_price(self, row: int) -> np.ndarray:
        """The two share prices (unadjusted where the data has them) at ``row``."""

    def set_extra(self, pair: tuple) -> None:
        """Set the extra (K-level) indicator pair whose inputs ``extra_inputs`` returns."""

    def seconds_at(self, rows: np.ndarray) -> np.ndarray:
        """The rows' decision times: seconds since row 0 (float64), the run's one clock."""


def prefetch(iterator, depth: int = 2):
    """Run ``iterator`` in a background thread, ``depth`` items ahead.

    numpy's random draws, cumsum and exp release the GIL, so the next chunk of a synthetic path is drawn on
    the second core while the engine plays the current one. Items come out in order; errors are re-raised.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
            return
        q.put(done)

    thread = threading.Thread(target=work, name="qcoord-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def warmup(indicator: Indicator, view: LocalView) -> int:
    """First row at which the indicator's output is defined."""
    if isinstance(indicator, IsolatedIndicator):  # a user's: found in its worker
        first = indicator.first_defined(view)
        if first is None:
            raise BacktestError(f"indicator {indicator.name} is undefined on every row (warm-up longer than the data?)")
        return int(first)
    if isinstance(indicator, ThresholdIndicator):
        values = evaluate(indicator, view, "score")
    elif isinstance(indicator, QuantileBins):  # its bins are set later, on the training window
        values = evaluate(indicator.base, view, "score")
    else:
        values = indicator_output(evaluate(indicator, view), indicator.name, view, indicator.levels)
    ok = np.flatnonzero(~np.isnan(np.asarray(values, dtype=float)))  # a flat window's quiet score (+-inf) counts
    if ok.size == 0:
        raise BacktestError(f"indicator {indicator.name} is undefined on every row (warm-up longer than the data?)")
    return int(ok[0])


def _share_prices(md: MarketData) -> np.ndarray | None:
    """The price level shares trade at, where the source has it: the OHLCV ``Close`` beside an ``Adj Close``
    (returns still come from the adjusted price). None when the source has adjusted prices only."""
    ohlcv = md.ohlcv
    if not ohlcv or any(t not in ohlcv or not {"Close", "Adj Close"} <= set(ohlcv[t].columns) for t in md.tickers):
        return None
    frame = pd.DataFrame({t: ohlcv[t]["Close"].reindex(md.index) for t in md.tickers})
    if frame.isna().any().any():
        return None
    return frame.to_numpy(dtype=float)


def _arrays_of(md: MarketData) -> dict[str, np.ndarray]:
    out = {"prices": md.prices.to_numpy(dtype=float)}
    shares = _share_prices(md)
    if shares is not None:
        out["share_prices"] = shares
    if md.volume is not None:
        out["volume"] = md.volume.to_numpy(dtype=float)
    if md.spread is not None:
        out["spread"] = md.spread.to_numpy(dtype=float)
    truth = md.truth
    if truth is not None:
        if {"signal_a", "signal_b"} <= set(truth.columns):
            out["signals"] = truth[["signal_a", "signal_b"]].to_numpy()
        if "regime" in truth.columns:
            out["regime"] = truth["regime"].to_numpy()
        if "rho" in truth.columns:
            out["rho"] = truth["rho"].to_numpy()
    return out


def _truth_arrays(truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the engine needs of a synthetic generator's truth: signals, regime, and the sign of rho
    (one byte a row instead of eight: streamed chunks are copied around)."""
    out = {}
    if "signal_a" in truth:  # kept as two columns: the views take one each (stacking them cost a pass a chunk)
        out["signal_a"], out["signal_b"] = truth["signal_a"], truth["signal_b"]
    if "regime" in truth:
        out["regime"] = truth["regime"]
    if "rho" in truth:
        out["negative"] = truth["rho"] < 0
    return out


class _Feed:
    """Shared parts: views over raw arrays, round data, the two indicators."""

    tickers: tuple[str, str]
    clock: Callable[[int, int], pd.DatetimeIndex]
    n_rows: int
    has_truth: bool

    def __init__(self, indicators: tuple[Indicator, Indicator], latency: int, seeds: tuple[int, int]):
        self.indicators = indicators
        self.latency = latency
        self.seeds = seeds
        self.extra: tuple[Indicator, Indicator] | None = None  # a K-level indicator pair (``set_extra``)

    def set_extra(self, pair: tuple[Indicator, Indicator]) -> None:
        """A second pair of indicators (K levels each: ``classical_levels``/``quantum_levels``' information),
        evaluated on the same views, fitted on the same rows, causal and lagged alike."""
        self.extra = pair

    def _all(self) -> tuple[Indicator, ...]:
        return tuple(self.indicators) + (tuple(self.extra) if self.extra else ())

    def _each(self, views: tuple[LocalView, LocalView]):
        """(indicator, its server's view) for the main pair and the K-level pair alike."""
        return zip(self._all(), views + views if self.extra else views)

    def _views(self, arr: dict[str, np.ndarray], first_row: int) -> tuple[LocalView, LocalView]:
        signals = (arr["signal_a"], arr["signal_b"]) if "signal_a" in arr else arr.get("signals")
        return make_views(
            arr["prices"],
            self.tickers,
            self.latency,
            self.seeds,
            volume=arr.get("volume"),
            spread=arr.get("spread"),
            signals=signals,
            regime=arr.get("regime"),
            first_row=first_row,
            clock=self.clock,
        )

    def _raw_inputs(self, views: tuple[LocalView, LocalView], indicators=None) -> list[np.ndarray]:
        indicators = self.indicators if indicators is None else indicators
        return [
            indicator_output(evaluate(ind, view), ind.name, view, ind.levels) for ind, view in zip(indicators, views)
        ]

    def _checked(self, raw: list[np.ndarray], first_row: int, indicators=None) -> tuple[np.ndarray, np.ndarray]:
        """Indicator outputs of rows that must be defined (after the warm-up) as uint8 bits (or levels)."""
        out = []
        for ind, ticker, bits in zip(self.indicators if indicators is None else indicators, self.tickers, raw):
            if bits.dtype == np.uint8:  # cannot be undefined
                out.append(bits)
                continue
            bad = ~np.isfinite(bits)
            if bad.any():
                row = first_row + int(np.flatnonzero(bad)[0])
                raise BacktestError(
                    f"indicator {ind.name} ({ticker}) is undefined at {self.clock(row, 1)[0]} "
                    f"(row {row}) after its warm-up"
                )
            out.append(bits.astype(np.uint8))
        return out[0], out[1]

    step_s: float | None = None  # seconds between rows when the clock is regular (a synthetic source's step)
    _seconds: np.ndarray | None = None  # every row's seconds since row 0, when the clock is irregular

    def seconds_at(self, rows) -> np.ndarray:
        """The rows' decision times: seconds since row 0 (float64), from the data's timestamps or a synthetic
        source's declared step: the run's one clock."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._seconds is not None:
            return self._seconds[rows]
        return rows * self.step_s

    price_changes = True  # the engine turns this off when the fill model does not use them
    has_share_prices = False  # whether share quantities are valued at unadjusted prices (else adjusted ones)
    adjusted_only = False  # prices known to be (as a rule) adjusted, with no unadjusted level beside them
    clock_offset: dict | None = None  # signs of misaligned clocks (``clock_offset``), real sources only
    traded_per_bar: dict = {}  # ticker -> median traded notional per bar (currency), where the data has volume
    untradable: dict = {}  # ticker -> why it cannot be traded as quoted (an index, no volume): spread income assumed
    has_quotes = False  # the data has quotes at decision time: spread income is earned from them (else assumed)

    def _round_data(self, arr: dict[str, np.ndarray], lo: int) -> dict[str, np.ndarray | None]:
        """Returns of rows lo.. of ``arr`` (row lo - 1 must be present), and for fill models that trade shares
        the share price at decision time (row t - 1) and the price change in currency per share: the adjusted
        return times the share price, so dividends and splits never show up as P&L."""
        p = arr["prices"]
        prev, cur = p[lo - 1 : -1], p[lo:]
        returns = np.divide(cur, prev)
        returns -= 1.0  # in place: a second array of the chunk's size cost a pass and fresh pages
        spread = arr.get("spread")
        negative = arr["negative"][lo:] if "negative" in arr else (arr["rho"][lo:] < 0 if "rho" in arr else None)
        price = None
        if self.price_changes or spread is not None:  # shares are priced, or a quoted spread is put in bp
            price = arr["share_prices"][lo - 1 : -1] if "share_prices" in arr else prev
        return {
            "returns": returns,
            "price": price,
            "price_change": returns * price if self.price_changes else None,
            "negative": negative,
            "half_spread": None if spread is None else spread[lo - 1 : -1] / 2.0,
        }


class ArrayFeed(_Feed):
    """All rows held in memory: a MarketData (``from_market``) or a whole synthetic path (``from_pair``)."""

    streamed = False

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        tickers: tuple[str, str],
        clock,
        clock_at,
        periods_per_year: float,
        indicators,
        latency,
        seeds,
    ):
        super().__init__(indicators, latency, seeds)
        self.tickers = tickers
        self.clock, self.clock_at = clock, clock_at
        self.periods_per_year = periods_per_year
        self.arrays = arrays
        self.n_rows = arrays["prices"].shape[0]
        self.has_share_prices = "share_prices" in arrays
        self.has_quotes = "spread" in arrays
        self.has_truth = "rho" in self.arrays or "negative" in self.arrays
        self.views = self._views(self.arrays, 0)
        self._raw: list[np.ndarray] = []

    @classmethod
    def from_market(cls, md: MarketData, indicators, latency, seeds) -> ArrayFeed:
        if len(md.tickers) != 2:
            raise BacktestError(
                f"a backtest needs exactly two tickers, got {md.tickers}; pick two (--tickers A B on "
                "the command line, tickers=[...] in Python)"
            )
        index = md.index
        feed = cls(
            _arrays_of(md),
            (md.tickers[0], md.tickers[1]),
            lambda first, n: index[first : first + n],
            lambda rows: index[np.asarray(rows, dtype=np.intp)],
            md.periods_per_year,
            indicators,
            latency,
            seeds,
        )
        # a panel of closes without OHLCV or quotes is, as a rule, adjusted (Yahoo's and most vendors' panels)
        feed._seconds = seconds_since_first(index)
        feed.adjusted_only = not feed.has_share_prices and md.spread is None and not md.ohlcv
        feed.untradable = untradable(md)
        feed.traded_per_bar = traded_notional(md)
        feed.clock_offset = clock_offset(md)
        return feed

    @classmethod
    def from_pair(cls, pair: SyntheticPair, n_rows: int, indicators, latency, seeds, threads: int = 1) -> ArrayFeed:
        """A synthetic path as raw arrays (no DataFrame, timestamps only when asked for), its blocks drawn on
        ``threads`` threads (the same rows for any number)."""
        _, prices, truth = next(pair.arrays(n_rows, n_rows, threads))
        feed = cls(
            {"prices": prices, **_truth_arrays(truth)},
            pair.tickers,
            pair.timestamps,
            pair.timestamps_at,
            pair.periods_per_year,
            indicators,
            latency,
            seeds,
        )
        feed.step_s = pair.step_seconds
        if feed.step_s is None:  # business days: each row's own calendar time
            feed._seconds = pair.seconds(0, n_rows)
        return feed

    def warmup(self) -> int:
        return max(1, *(warmup(ind, v) for ind, v in self._each(self.views)))

    def fit_indicators(self, start: int, stop: int) -> None:
        """Fit on rows [start, stop): the view ends at ``stop``, so nothing later can leak in."""
        for ind, view in self._each(self.views):
            evaluate(ind, view.rows(0, stop), "fit", start=start)
        self._raw = self._raw_inputs(self.views)
        self._raw_extra = self._raw_inputs(self.views, self.extra) if self.extra else None

    def extra_inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The K-level pair's outputs for rows [lo, hi) (uint8 levels)."""
        assert self._raw_extra is not None  # evaluated by fit_indicators when there is a K-level pair
        return self._checked([r[lo:hi] for r in self._raw_extra], lo, self.extra)

    def fit_view(self) -> tuple[LocalView, LocalView]:
        return self.views

    def first_prices(self, row: int) -> np.ndarray:
        return self.arrays["prices"][row]

    def share_price(self, row: int) -> np.ndarray:
        """Share prices of ``row`` (currency per share), for lots and book sizes."""
        return self.arrays.get("share_prices", self.arrays["prices"])[row]

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        return self._checked([r[lo:hi] for r in self._raw], lo)

    def round_data(self, lo: int, hi: int) -> dict:
        arr = {k: v[lo - 1 : hi] for k, v in self.arrays.items()}
        return self._round_data(arr, 1)


class StreamFeed(_Feed):
    """A synthetic pair drawn chunk by chunk; rows must be requested in increasing order."""

    streamed = True

    def __init__(self, pair: SyntheticPair, n_rows: int, indicators, latency, seeds, chunk_rows: int, threads: int = 1):
        super().__init__(indicators, latency, seeds)
        missing = [ind.name for ind in indicators if not isinstance(ind.lookback, (int, np.integer))]
        if missing:
            raise BacktestError(
                f"indicator(s) {missing} declare no lookback (rows of history they need); "
                "set .lookback to stream a long synthetic run, or use fewer rounds"
            )
        self.pair = pair
        self.tickers = pair.tickers
        self.clock = pair.timestamps
        self.clock_at = pair.timestamps_at
        self.periods_per_year = pair.periods_per_year
        self.n_rows = n_rows
        self.step_s = pair.step_seconds
        if self.step_s is None:  # business days: each row's own calendar time
            self._seconds = pair.seconds(0, n_rows)
        self.has_truth = getattr(pair, "mode", None) in ("signals", "regime")  # an event source has no regime
        self.history = max(ind.lookback for ind in indicators) + latency + 2
        self._extra_last: tuple[int, int, tuple[np.ndarray, np.ndarray]] | None = None
        self._gen = prefetch(pair.arrays(n_rows, chunk_rows, threads))
        self._lo = 0  # first row that may still be asked for
        self._pieces: list[tuple[int, dict[str, np.ndarray]]] = []  # (first row, raw arrays) as drawn

    # -- the row buffer ---------------------------------------------------------------------------
    # The drawn pieces are kept as they come (contiguous, in row order) and a request is cut from them: a
    # request inside one piece is a view, one across two copies only its own rows (joining the pieces first copied
    # every row twice and cost a twentieth of a long run).
    def _hi(self) -> int:
        if not self._pieces:
            return self._lo
        first, part = self._pieces[-1]
        return first + part["prices"].shape[0]

    def _fill(self, hi: int) -> None:
        """Draw pieces until the buffer reaches row ``hi``."""
        while self._hi() < hi:
            first, prices, truth = next(self._gen)
            self._pieces.append((first, {"prices": prices, **_truth_arrays(truth)}))

    def _cut(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Rows [lo, hi) of the held pieces (all drawn already)."""
        parts = [
            (max(lo - first, 0), min(hi - first, part["prices"].shape[0]), part)
            for first, part in self._pieces
            if first < hi and first + part["prices"].shape[0] > lo
        ]
        if len(parts) == 1:
            a, b, part = parts[0]
            return {k: v[a:b] for k, v in part.items()}
        return {k: np.concatenate([part[k][a:b] for a, b, part in parts]) for k in parts[0][2]}

    def _rows(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Raw arrays of rows [lo, hi); keeps only what later requests may still need."""
        if lo < self._lo:
            raise BacktestError(f"internal: streamed rows {lo}..{hi} were already released")
        self._fill(hi)
        out = self._cut(lo, hi)
        keep_from = max(self._lo, hi - self.history - 1)
        self._pieces = [(first, part) for first, part in self._pieces if first + part["prices"].shape[0] > keep_from]
        self._lo = keep_from
        return out

    def _peek(self, hi: int) -> dict[str, np.ndarray]:
        """Rows [first held row, hi) without releasing anything (warm-up and fitting, before play starts)."""
        self._fill(hi)
        return self._cut(self._lo, hi)

    def set_extra(self, pair: tuple[Indicator, Indicator]) -> None:
        missing = [ind.name for ind in pair if not isinstance(ind.lookback, (int, np.integer))]
        if missing:
            raise BacktestError(
                f"indicator(s) {missing} declare no lookback (rows of history they need); "
                "set .lookback to stream a long synthetic run, or use fewer rounds"
            )
        super().set_extra(pair)
        self.history = max(ind.lookback or 0 for ind in self._all()) + self.latency + 2  # all declared (above)

    def warmup(self) -> int:
        n = min(self.n_rows, self.history + 64)
        return max(1, *(warmup(ind, v) for ind, v in self._each(self._views(self._peek(n), 0))))

    def fit_indicators(self, start: int, stop: int) -> None:
        """Fit on rows [start, min(stop, start + FIT_ROWS_MAX)) (the beginning of the training window)."""
        if not any(ind.needs_fit for ind in self._all()):
            stop = min(stop, start + self.history + 4096)  # a short view for the causality check only
        stop = min(stop, start + FIT_ROWS_MAX)
        self._fit_views = self._views(self._peek(stop), 0)
        for ind, view in self._each(self._fit_views):
            evaluate(ind, view, "fit", start=start)

    def fit_view(self) -> tuple[LocalView, LocalView]:
        return self._fit_views

    def first_prices(self, row: int) -> np.ndarray:
        return self._peek(row + 1)["prices"][row]

    def share_price(self, row: int) -> np.ndarray:
        """Prices of ``row`` (not released yet: asked for at the end of the training pass)."""
        self._fill(row + 1)
        if row < self._lo:
            raise BacktestError(f"internal: streamed row {row} was already released")
        return self._cut(row, row + 1)["prices"][0]

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        h0 = max(0, lo - self.history)
        arr = self._rows(h0, hi)
        self._last = (lo, hi, arr, h0)
        views = self._views(arr, h0)
        if self.extra:  # evaluated now, on the same rows: they are released once the next chunk is drawn
            self._extra_last = (
                lo,
                hi,
                self._checked([r[lo - h0 :] for r in self._raw_inputs(views, self.extra)], lo, self.extra),
            )
        return self._checked([r[lo - h0 :] for r in self._raw_inputs(views)], lo)

    def extra_inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if self._extra_last is None or self._extra_last[:2] != (lo, hi):
            raise BacktestError("internal: extra_inputs must follow inputs() for the same rows")
        return self._extra_last[2]

    def round_data(self, lo: int, hi: int) -> dict:
        last_lo, last_hi, arr, h0 = self._last
        if (last_lo, last_hi) != (lo, hi) or lo - h0 < 1:
            raise BacktestError("internal: round_data must follow inputs() for the same rows")
        return self._round_data(arr, lo - h0)


def lagged_inputs(x: np.ndarray, tail: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """x delayed by ``delay`` rounds given the last ``delay`` values before it; and the new tail."""
    joined = np.concatenate([tail, x])
    return joined[: x.size], joined[-delay:]


__all__ = ["ArrayFeed", "StreamFeed", "lagged_inputs", "warmup"]


class TrainingTail:
    """The last training rounds of a streamed feed, kept from the training pass (at most ``REPLAY_ROUNDS``: bounded
    memory) so that the replay that chooses best_local need not draw them again; reads like a feed."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.parts: list[tuple[np.ndarray, np.ndarray, dict, tuple | None]] = []

    def keep(self, lo: int, hi: int, x, y, rd: dict, extra) -> None:
        if hi <= self.start:
            return
        cut = max(self.start - lo, 0)
        self.parts.append(
            (
                x[cut:],
                y[cut:],
                {k: None if v is None else v[cut:] for k, v in rd.items()},
                None if extra is None else tuple(e[cut:] for e in extra),
            )
        )

    def close(self) -> None:
        xs, ys, rds, extras = zip(*self.parts)
        self.x, self.y = np.concatenate(xs), np.concatenate(ys)
        self.rd = {k: None if rds[0][k] is None else np.concatenate([r[k] for r in rds]) for k in rds[0]}
        self.extra = None if extras[0] is None else tuple(np.concatenate([e[i] for e in extras]) for i in (0, 1))
        self.parts = []

    def inputs(self, lo: int, hi: int):
        return self.x[lo - self.start : hi - self.start], self.y[lo - self.start : hi - self.start]

    def round_data(self, lo: int, hi: int) -> dict:
        return {k: None if v is None else v[lo - self.start : hi - self.start] for k, v in self.rd.items()}

    def extra_inputs(self, lo: int, hi: int):
        assert self.extra is not None  # asked for only when the feed has a K-level pair
        return tuple(e[lo - self.start : hi - self.start] for e in self.extra)
