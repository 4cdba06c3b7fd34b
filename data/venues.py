"""Two venues in event time: each venue's mid price moves one tick at a time, as a four-dimensional Hawkes process
(X up, X down, Y up, Y down), and one venue's moves reach the other only after light has crossed between them.

The kernels (``Hawkes`` norms a, rates b, delays d; docs/data.md, "Event-time market", has the sources):

- reversion: an up move of a venue excites its down moves and vice versa (a = ``reversion``, b =
  ``reversion_decay_hz``, no delay): microstructure mean reversion (Bacry, Delattre, Hoffmann & Muzy 2013);
- momentum: a move excites further moves the same way at the same venue (``momentum``, ``momentum_decay_hz``);
- cross: a move at one venue excites moves the same way at the other (``cross``, ``cross_decay_hz``), delayed by
  ``delay_s = distance_km / speed_km_s``: nothing at Y can respond to X before light could carry the news. Below
  that delay the two prices' changes are nearly uncorrelated (the Epps effect); over seconds and more they are
  correlated (``correlation(tau)`` gives the exact curve).

Decisions sit on a fixed cadence of ``dt_s`` seconds: row r is at ``r * dt_s`` seconds after the start (row 0 is the
start prices), and a row's price is the venue's mid after every move at or before that instant. Row r at one venue
can know the other venue's price of row ``r - lag_rows`` at the latest, with ``lag_rows = ceil(delay_s / dt_s)``:
the partner's price at time t - delay_s is the last one that can have arrived, and on the grid that is the row at or
before it (conservative by less than one row when the delay is not a whole number of rows).

The stream has the interface of ``SyntheticPair``: ``arrays(n_steps, chunk_steps, threads)`` yields (first row,
prices (n, 2), truth columns) and gives the same rows however it is chunked; ``timestamps``, ``timestamps_at``,
``seconds``, ``nanoseconds``, ``periods_per_year``, ``params()``, ``tickers``, ``mode``. ``events(duration_s)``
gives each venue's own event times on the same clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError
from .frequency import TRADING_DAYS
from .hawkes import CHUNK, Hawkes, HawkesStream
from .market import MarketData

C_KM_PER_S = 299_792.458  # light in vacuum
FIBRE_INDEX = 1.468  # group index of telecom fibre: light runs at c / 1.468, about 4.9 us a km
SESSION_SECONDS = 6.5 * 3600.0  # a trading year is 252 sessions of 6.5 hours (as SyntheticPair's clock)
_LAST_TIMESTAMP = pd.Timestamp.max.tz_localize("UTC") - pd.Timedelta(days=1)


def _pair(value, name: str) -> tuple[float, float]:
    if np.ndim(value) == 0:
        return (float(value), float(value))
    seq = [float(v) for v in value]
    if len(seq) != 2:
        raise DataError(f"{name} must be one number or a pair (X, Y), got {value!r}")
    return (seq[0], seq[1])


@dataclass(frozen=True)
class EventPair:
    """Two venues' mid prices in event time, sampled for decisions every ``dt_s`` seconds.

    Units: ``dt_s`` seconds between decisions (a whole number of nanoseconds); ``baseline_hz`` exogenous one-tick
    moves a second in each direction at each venue (one number, or X's and Y's); kernel norms (``reversion``,
    ``momentum``, ``cross``) dimensionless, their ``*_decay_hz`` in 1/s; ``distance_km`` between the venues and
    ``speed_km_s`` of the fastest path between them (default fibre, c / 1.468; c itself for microwave);
    ``tick`` the price step in currency; ``s0`` start prices (currency); ``warmup_s`` seconds simulated and dropped
    before row 0, so that row 0 starts in the stationary regime; ``start`` the timestamp of row 0 (exchange time,
    America/New_York; the clock runs on through nights, as ``SyntheticPair``'s intraday clock does).

    Defaults: a pair like SPY on two venues 56 km apart (NYSE-NASDAQ), calibrated in docs/data.md: 0.28 moves a
    second at each venue, a one-minute price variance of 0.44 tick^2 a second (SPY's 2013 minute quotes), price
    correlation 0.001 at the 274 us delay, 0.14 at 10 ms, 0.66 at 100 ms and 0.82 at a minute, branching ratio 0.9.
    """

    seed: int = 0
    dt_s: float = 1e-5
    baseline_hz: float | tuple[float, float] = 0.0142
    reversion: float = 0.25
    reversion_decay_hz: float = 2.0
    momentum: float = 0.0
    momentum_decay_hz: float = 2.0
    cross: float = 0.65
    cross_decay_hz: float = 20.0
    distance_km: float = 56.0
    speed_km_s: float = C_KM_PER_S / FIBRE_INDEX
    tick: float = 0.01
    s0: tuple[float, float] = (167.75, 167.75)
    tickers: tuple[str, str] = ("X", "Y")
    start: str = "2013-10-07 09:30"
    warmup_s: float = 60.0
    _hawkes: Hawkes = field(init=False, repr=False, compare=False)
    _step_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("baseline_hz", "s0"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        assert isinstance(self.baseline_hz, tuple)  # (X, Y) now
        object.__setattr__(self, "tickers", tuple(str(t) for t in self.tickers))
        if len(self.tickers) != 2 or self.tickers[0] == self.tickers[1]:
            raise DataError(f"tickers must be two distinct names, got {self.tickers!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise DataError(f"seed must be a non-negative integer, got {self.seed!r}")

        def check(name: str, ok, what: str) -> None:
            v = getattr(self, name)
            values = v if isinstance(v, tuple) else (v,)
            if not all(
                isinstance(x, (int, float, np.integer, np.floating))
                and not isinstance(x, bool)
                and np.isfinite(x)
                and ok(x)
                for x in values
            ):
                raise DataError(f"{name} must be {what}, got {v!r}")

        check("dt_s", lambda x: x > 0, "a positive number of seconds between decisions")
        check("baseline_hz", lambda x: x >= 0, "non-negative rates (Hz)")
        if sum(self.baseline_hz) <= 0:
            raise DataError(f"baseline_hz must not be all zero (nothing would ever move), got {self.baseline_hz!r}")
        for name in ("reversion", "momentum", "cross"):
            check(name, lambda x: x >= 0, "a non-negative kernel norm (events triggered per event)")
        for name in ("reversion_decay_hz", "momentum_decay_hz", "cross_decay_hz"):
            check(name, lambda x: x > 0, "a positive decay rate (1/s)")
        check("distance_km", lambda x: x >= 0, "a non-negative distance in km")
        check("speed_km_s", lambda x: 0 < x <= C_KM_PER_S * (1 + 1e-12), f"a speed in km/s up to c = {C_KM_PER_S}")
        check("tick", lambda x: x > 0, "a positive price step (currency)")
        check("s0", lambda x: x > 0, "positive start prices (currency)")
        check("warmup_s", lambda x: x >= 0, "a non-negative number of seconds")
        step_ns = round(self.dt_s * 1e9)
        if step_ns < 1 or abs(step_ns - self.dt_s * 1e9) > 1e-6 * max(1.0, self.dt_s * 1e9):
            raise DataError(f"dt_s={self.dt_s!r} must be a whole number of nanoseconds (at least 1e-9 s)")
        object.__setattr__(self, "_step_ns", int(step_ns))
        try:
            pd.Timestamp(self.start)
        except (ValueError, TypeError) as exc:
            raise DataError(f"start: cannot read {self.start!r} as a timestamp ({exc})") from None
        rho = self.reversion + self.momentum + self.cross
        if not rho < 1.0:
            raise DataError(
                f"reversion + momentum + cross = {rho:.6g} must be below 1 (the branching ratio): "
                "above it the moves excite each other without end"
            )
        object.__setattr__(
            self,
            "_hawkes",
            Hawkes(
                baseline=(self.baseline_hz[0],) * 2 + (self.baseline_hz[1],) * 2,
                adjacency=self._matrix(self.reversion, self.momentum, self.cross),
                decays=self._matrix(self.reversion_decay_hz, self.momentum_decay_hz, self.cross_decay_hz, fill=1.0),
                delays=self._matrix(0.0, 0.0, self.delay_s),
                seed=int(self.seed),
            ),
        )

    @staticmethod
    def _matrix(reversion: float, momentum: float, cross: float, fill: float = 0.0) -> tuple[tuple[float, ...], ...]:
        """4 x 4 kernel matrix on (X up, X down, Y up, Y down), as Hawkes takes it; row = the excited dimension."""
        m = np.full((4, 4), fill)
        for up, down in ((0, 1), (2, 3)):
            m[up, down] = m[down, up] = reversion
            m[up, up] = m[down, down] = momentum
        for i, j in ((0, 2), (2, 0), (1, 3), (3, 1)):
            m[i, j] = cross
        return tuple(tuple(float(v) for v in row) for row in m)

    # -- derived -----------------------------------------------------------------------------------------------
    mode = property(lambda self: "events", doc="The source's kind, as SyntheticPair.mode names its own.")

    @property
    def hawkes(self) -> Hawkes:
        """The four-dimensional process (X up, X down, Y up, Y down) behind the prices."""
        return self._hawkes

    @property
    def delay_s(self) -> float:
        """Seconds light needs between the venues: distance_km / speed_km_s."""
        return self.distance_km / self.speed_km_s

    @property
    def lag_rows(self) -> int:
        """Rows by which a venue's view of the other lags its own: ceil(delay_s / dt_s) (0 with no distance)."""
        return int(math.ceil(self.delay_s / (self._step_ns * 1e-9) - 1e-9))

    @property
    def periods_per_year(self) -> float:
        """Decisions in a trading year of 252 sessions of 6.5 hours."""
        return TRADING_DAYS * SESSION_SECONDS / (self._step_ns * 1e-9)

    def event_rates(self) -> tuple[float, float]:
        """Stationary one-tick moves a second at X and at Y (both directions)."""
        lam = self._hawkes.mean_intensity()
        return (float(lam[0] + lam[1]), float(lam[2] + lam[3]))

    def _price_covariance(self, tau: float) -> np.ndarray:
        c = self._hawkes.increment_covariance(tau)
        v = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
        return v @ c @ v.T * self.tick**2

    def correlation(self, tau: float) -> float:
        """Stationary correlation of the two venues' price changes over one window of ``tau`` seconds (exact, from
        the process's spectrum: ``Hawkes.increment_covariance``)."""
        c = self._price_covariance(tau)
        return float(c[0, 1] / math.sqrt(c[0, 0] * c[1, 1]))

    def variance(self, tau: float) -> tuple[float, float]:
        """Stationary variance of each venue's price change over ``tau`` seconds (currency^2)."""
        c = self._price_covariance(tau)
        return (float(c[0, 0]), float(c[1, 1]))

    def describe(self, horizons=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 60.0)) -> dict:
        """The derived numbers a report states: delay, lag, event rates, branching ratio, correlation by horizon."""
        return {
            "delay_s": self.delay_s,
            "dt_s": self._step_ns * 1e-9,
            "lag_rows": self.lag_rows,
            "event_rates_hz": list(self.event_rates()),
            "branching_ratio": self._hawkes.branching_ratio,
            "correlation": {float(t): self.correlation(t) for t in horizons},
        }

    def params(self) -> dict:
        """The parameters as a plain dict (for configs and reports)."""
        d = asdict(self)
        for k in ("_hawkes", "_step_ns"):
            d.pop(k, None)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    # -- clock -------------------------------------------------------------------------------------------------
    @property
    def step_seconds(self) -> float:
        """Seconds between consecutive decision rows: ``dt_s`` as the whole nanoseconds the clock keeps."""
        return self._step_ns / 1e9

    def seconds(self, first: int, n: int) -> np.ndarray:
        """Seconds since row 0 of rows first .. first + n - 1 (float64)."""
        return (first + np.arange(n, dtype=np.int64)) * self._step_ns / 1e9

    def nanoseconds(self, first: int, n: int) -> np.ndarray:
        """UTC epoch nanoseconds (int64) of rows first .. first + n - 1."""
        return self._origin_ns() + (first + np.arange(n, dtype=np.int64)) * self._step_ns

    def _origin_ns(self) -> int:
        start = pd.Timestamp(self.start)
        start = start.tz_localize("America/New_York") if start.tz is None else start.tz_convert("America/New_York")
        return int(start.as_unit("ns").value)

    def _index(self, ns: np.ndarray) -> pd.DatetimeIndex:
        if ns.size and int(ns.max()) > _LAST_TIMESTAMP.value:
            raise DataError(f"rows up to {int(ns.max())} ns run past pandas' last date (2262); use fewer rows")
        return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert("America/New_York")

    def timestamps(self, first: int, n: int) -> pd.DatetimeIndex:
        """Timestamps (tz-aware, America/New_York) of rows first .. first + n - 1."""
        return self._index(self.nanoseconds(first, n))

    def timestamps_at(self, rows) -> pd.DatetimeIndex:
        """Timestamps of the given rows (any order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return self._index(self._origin_ns() + rows * self._step_ns)

    # -- the path ----------------------------------------------------------------------------------------------
    def _stream(self, chunk_events: int = CHUNK) -> HawkesStream:
        stream = self._hawkes.stream(chunk_events)
        for _ in stream.until(self.warmup_s):  # moves before row 0 are not part of the path
            pass
        return stream

    def arrays(
        self, n_steps: int, chunk_steps: int = 1 << 20, threads: int = 1
    ) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """Yield (first row, prices (n, 2), truth columns) for consecutive pieces of ``chunk_steps`` rows.

        Prices in currency, column-contiguous (X, Y). Truth: ``events_x``, ``events_y``, the moves of each venue
        since the previous row (int32). The rows do not depend on ``chunk_steps``; ``threads`` is accepted for
        SyntheticPair's interface, and the path is drawn on one thread (an event depends on all before it).
        """
        n_steps = _check_steps(n_steps)
        if not isinstance(chunk_steps, (int, np.integer)) or isinstance(chunk_steps, bool) or chunk_steps < 1:
            raise DataError(f"chunk_steps must be a whole number of at least 1, got {chunk_steps!r}")
        if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
            raise DataError(f"threads must be a whole number of at least 1, got {threads!r}")
        stream = self._stream()
        net = np.zeros(2, dtype=np.int64)  # ticks each venue has moved since row 0
        step = self._step_ns * 1e-9
        for first in range(0, n_steps, chunk_steps):
            n = min(chunk_steps, n_steps - first)
            grid = self.warmup_s + (first + np.arange(n, dtype=np.int64)) * step
            ticks = np.zeros((n, 2), dtype=np.int64)
            counts = np.zeros((2, n), dtype=np.int32)  # one contiguous row per venue
            for times, marks in stream.until(grid[-1]):
                row = np.searchsorted(grid, times, side="left")  # the first row at or after the move
                venue = marks >> 1
                np.add.at(ticks, (row, venue), 1 - 2 * (marks & 1).astype(np.int64))  # even marks are up moves
                np.add.at(counts, (venue, row), 1)
            np.cumsum(ticks, axis=0, out=ticks)
            ticks += net
            net = ticks[-1].copy()
            prices = np.empty((n, 2), order="F")
            for v in (0, 1):
                np.multiply(ticks[:, v], self.tick, out=prices[:, v])
                prices[:, v] += self.s0[v]
            if not (prices > 0).all():
                bad = int(np.flatnonzero((prices <= 0).any(axis=1))[0])
                raise DataError(
                    f"event prices reached {prices[bad].tolist()} at row {first + bad}: the start "
                    f"prices s0={self.s0} are too few ticks ({self.tick}) above zero for this run"
                )
            yield first, prices, {"events_x": counts[0], "events_y": counts[1]}

    def generate(self, n_steps: int) -> MarketData:
        """The whole path of ``n_steps`` rows as one MarketData (truth: ``events_x``, ``events_y``)."""
        n_steps = _check_steps(n_steps)
        _, prices, truth = next(self.arrays(n_steps, n_steps))
        index = self.timestamps(0, n_steps)
        return MarketData(
            pd.DataFrame(prices, index=index, columns=list(self.tickers)),
            periods_per_year=self.periods_per_year,
            truth=pd.DataFrame(truth, index=index),
            meta={"kind": "synthetic", "mode": self.mode, "params": self.params(), "first_row": 0},
            validate=False,
        )

    def events(
        self, duration_s: float, chunk_events: int = CHUNK
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each move in [0, duration_s] seconds after row 0, in chunks: (seconds since row 0, float64; venue, int8,
        0 = X, 1 = Y; direction, int8, +1 up / -1 down). The same moves as ``arrays`` samples."""
        duration_s = float(duration_s)
        if not (np.isfinite(duration_s) and duration_s >= 0):
            raise DataError(f"duration_s must be a non-negative number of seconds, got {duration_s!r}")
        stream = self._stream(chunk_events)
        for times, marks in stream.until(self.warmup_s + duration_s):
            yield times - self.warmup_s, (marks >> 1).astype(np.int8), (1 - 2 * (marks & 1)).astype(np.int8)

    def event_times(self, duration_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each venue's own moves in [0, duration_s], in memory: {ticker: (seconds since row 0, direction)}."""
        parts = list(self.events(duration_s))
        t = np.concatenate([p[0] for p in parts])
        v = np.concatenate([p[1] for p in parts])
        s = np.concatenate([p[2] for p in parts])
        return {name: (t[v == k], s[v == k]) for k, name in enumerate(self.tickers)}


def _check_steps(n_steps: int) -> int:
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 2:
        raise DataError(f"n_steps must be an integer of at least 2, got {n_steps!r}")
    return int(n_steps)
