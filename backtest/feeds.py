"""Feeds give the engine rounds: indicator inputs and what each round earns, in order of rows.

``ArrayFeed`` holds a whole MarketData in memory: indicators run once over all rows (any indicator works,
and walk-forward re-fitting is possible). ``StreamFeed`` draws a synthetic pair chunk by chunk and runs
the indicators on each chunk with ``lookback`` rows of history, so memory does not grow with rounds.
Both compute the same inputs for the same rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from data import MarketData, SyntheticPair

from .errors import BacktestError
from .indicators import Indicator, ThresholdIndicator, as_bits
from .views import LocalView, make_views

FIT_ROWS_MAX = 1 << 21  # a streamed run fits thresholds on at most this many training rows


def warmup(indicator: Indicator, view: LocalView) -> int:
    """First row at which the indicator's output is defined."""
    if isinstance(indicator, ThresholdIndicator):
        values = indicator.score(view)
    else:
        values = as_bits(indicator(view), indicator.name, view)
    ok = np.flatnonzero(np.isfinite(values))
    if ok.size == 0:
        raise BacktestError(f"indicator {indicator.name} is undefined on every row (warm-up longer than the data?)")
    return int(ok[0])


def _arrays_of(md: MarketData) -> dict[str, np.ndarray]:
    out = {"prices": md.prices.to_numpy(dtype=float)}
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
    out = {}
    if "signal_a" in truth:
        out["signals"] = np.column_stack([truth["signal_a"], truth["signal_b"]])
    for key in ("regime", "rho"):
        if key in truth:
            out[key] = truth[key]
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

    def _views(self, arr: dict[str, np.ndarray], first_row: int) -> tuple[LocalView, LocalView]:
        return make_views(arr["prices"], self.tickers, self.latency, self.seeds, volume=arr.get("volume"),
                          signals=arr.get("signals"), regime=arr.get("regime"), first_row=first_row, clock=self.clock)

    def _raw_inputs(self, views: tuple[LocalView, LocalView]) -> list[np.ndarray]:
        return [as_bits(ind(view), ind.name, view) for ind, view in zip(self.indicators, views)]

    def _checked(self, raw: list[np.ndarray], first_row: int) -> tuple[np.ndarray, np.ndarray]:
        """Indicator outputs of rows that must be defined (after the warm-up) as uint8 bits."""
        out = []
        for ind, ticker, bits in zip(self.indicators, self.tickers, raw):
            bad = ~np.isfinite(bits)
            if bad.any():
                row = first_row + int(np.flatnonzero(bad)[0])
                raise BacktestError(f"indicator {ind.name} ({ticker}) is undefined at {self.clock(row, 1)[0]} "
                                    f"(row {row}) after its warm-up")
            out.append(bits.astype(np.uint8))
        return out[0], out[1]

    @staticmethod
    def _round_data(arr: dict[str, np.ndarray], lo: int) -> dict[str, np.ndarray | None]:
        """Returns and price changes of rows lo.. of ``arr`` (row lo - 1 must be present)."""
        p = arr["prices"]
        prev, cur = p[lo - 1 : -1], p[lo:]
        spread = arr.get("spread")
        return {
            "returns": cur / prev - 1.0,
            "price_change": cur - prev,
            "negative": None if "rho" not in arr else arr["rho"][lo:] < 0,
            "half_spread": None if spread is None else spread[lo - 1 : -1] / 2.0,
        }


class ArrayFeed(_Feed):
    """A MarketData held in memory."""

    streamed = False

    def __init__(self, md: MarketData, indicators, latency, seeds):
        super().__init__(indicators, latency, seeds)
        if len(md.tickers) != 2:
            raise BacktestError(f"a backtest needs exactly two tickers, got {md.tickers}; pick two with tickers=[...]")
        self.md = md
        self.tickers = (md.tickers[0], md.tickers[1])
        index = md.index
        self.clock = lambda first, n: index[first : first + n]
        self.clock_at = lambda rows: index[np.asarray(rows, dtype=np.intp)]
        self.arrays = _arrays_of(md)
        self.n_rows = len(md)
        self.has_truth = "rho" in self.arrays
        self.views = self._views(self.arrays, 0)
        self._raw: list[np.ndarray] = []

    def warmup(self) -> int:
        return max(1, *(warmup(ind, v) for ind, v in zip(self.indicators, self.views)))

    def fit_indicators(self, start: int, stop: int) -> None:
        """Fit on rows [start, stop): the view ends at ``stop``, so nothing later can leak in."""
        for ind, view in zip(self.indicators, self.views):
            ind.fit(view.rows(0, stop), start=start)
        self._raw = self._raw_inputs(self.views)

    def fit_view(self) -> tuple[LocalView, LocalView]:
        return self.views

    def first_prices(self, row: int) -> np.ndarray:
        return self.arrays["prices"][row]

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        return self._checked([r[lo:hi] for r in self._raw], lo)

    def round_data(self, lo: int, hi: int) -> dict:
        arr = {k: v[lo - 1 : hi] for k, v in self.arrays.items()}
        return self._round_data(arr, 1)


class StreamFeed(_Feed):
    """A synthetic pair drawn chunk by chunk; rows must be requested in increasing order."""

    streamed = True

    def __init__(self, pair: SyntheticPair, n_rows: int, indicators, latency, seeds, chunk_rows: int):
        super().__init__(indicators, latency, seeds)
        missing = [ind.name for ind in indicators if not isinstance(ind.lookback, (int, np.integer))]
        if missing:
            raise BacktestError(f"indicator(s) {missing} declare no lookback (rows of history they need); "
                                "set .lookback to stream a long synthetic run, or use fewer rounds")
        self.pair = pair
        self.tickers = pair.tickers
        self.clock = pair.timestamps
        self.clock_at = pair.timestamps_at
        self.n_rows = n_rows
        self.has_truth = True
        self.history = max(ind.lookback for ind in indicators) + latency + 2
        self._gen = pair.arrays(n_rows, chunk_rows)
        self._lo = 0  # first row held in the buffer
        self._buf: dict[str, np.ndarray] | None = None

    # -- the row buffer ---------------------------------------------------------------------------
    def _hi(self) -> int:
        return self._lo + (0 if self._buf is None else self._buf["prices"].shape[0])

    def _rows(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Raw arrays of rows [lo, hi); keeps only what later requests may still need."""
        if lo < self._lo:
            raise BacktestError(f"internal: streamed rows {lo}..{hi} were already released")
        while self._hi() < hi:
            first, prices, truth = next(self._gen)
            part = {"prices": prices, **_truth_arrays(truth)}
            if self._buf is None:
                self._buf, self._lo = part, first
            else:
                self._buf = {k: np.concatenate([self._buf[k], part[k]]) for k in part}
        out = {k: v[lo - self._lo : hi - self._lo] for k, v in self._buf.items()}
        keep_from = max(self._lo, hi - self.history - 1)
        if keep_from > self._lo:
            self._buf = {k: v[keep_from - self._lo :] for k, v in self._buf.items()}
            self._lo = keep_from
        return out

    def warmup(self) -> int:
        n = min(self.n_rows, self.history + 64)
        views = self._views(self._peek(n), 0)
        return max(1, *(warmup(ind, v) for ind, v in zip(self.indicators, views)))

    def _peek(self, hi: int) -> dict[str, np.ndarray]:
        while self._hi() < hi:
            first, prices, truth = next(self._gen)
            part = {"prices": prices, **_truth_arrays(truth)}
            self._buf = part if self._buf is None else {k: np.concatenate([self._buf[k], part[k]]) for k in part}
            if first == 0:
                self._lo = 0
        return {k: v[: hi - self._lo] for k, v in self._buf.items()}

    def fit_indicators(self, start: int, stop: int) -> None:
        """Fit on rows [start, min(stop, start + FIT_ROWS_MAX)) (the beginning of the training window)."""
        stop = min(stop, start + FIT_ROWS_MAX)
        self._fit_views = self._views(self._peek(stop), 0)
        for ind, view in zip(self.indicators, self._fit_views):
            ind.fit(view, start=start)

    def fit_view(self) -> tuple[LocalView, LocalView]:
        return self._fit_views

    def first_prices(self, row: int) -> np.ndarray:
        return self._peek(row + 1)["prices"][row]

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        h0 = max(0, lo - self.history)
        arr = self._rows(h0, hi)
        self._last = (lo, hi, arr, h0)
        return self._checked([r[lo - h0 :] for r in self._raw_inputs(self._views(arr, h0))], lo)

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
