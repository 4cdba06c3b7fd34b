"""Synthetic pair of correlated GBM prices whose correlation depends on local signals or a hidden regime.

Two modes:

- ``"signals"``: at every step exchange A sees a local signal ``s_a ~ Bernoulli(p_a)`` and exchange B
  ``s_b ~ Bernoulli(p_b)``, independently. The step's return correlation is ``rho_neg`` when both
  signals are on and ``rho_pos`` otherwise. This embeds the coordination game in a market exactly:
  with inputs x = s_a, y = s_b, winning the game (a XOR b = NOT(x AND y)) is holding the hedged book.
- ``"regime"``: a hidden two-state Markov chain (0 = normal, correlation ``rho_pos``; 1 = breakdown,
  correlation ``rho_neg``) switches with per-step probabilities ``p_break`` (0 -> 1) and
  ``p_recover`` (1 -> 0). Indicators have to detect it from prices.

Randomness is drawn in fixed internal blocks of ``BLOCK`` steps, block k seeded by
``SeedSequence(seed, spawn_key=(k,))``; the output therefore depends only on ``seed`` and the
parameters, never on how a consumer chunks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from .._jit import njit

from .errors import DataError
from .frequency import TRADING_DAYS

if TYPE_CHECKING:  # pandas is imported when a path is drawn: the engine's option tree reads this module
    import pandas as pd

    from .market import MarketData

BLOCK = 1 << 18
SESSION_HOURS = 6.5
MINUTE_DT = 1.0 / (TRADING_DAYS * 390)


def _last_timestamp():
    """The last instant pandas can stamp, less a day."""
    import pandas as pd

    return pd.Timestamp.max.tz_localize("UTC") - pd.Timedelta(days=1)


def _pair(value: float | tuple[float, float] | list[float], name: str) -> tuple[float, float]:
    if np.ndim(value) == 0:  # np.ndim does not narrow the union for mypy: a number here, a sequence below
        return (float(value), float(value))  # type: ignore[arg-type]
    seq = [float(v) for v in value]  # type: ignore[union-attr]
    if len(seq) != 2:
        raise DataError(f"{name} must be one number or a pair, got {value!r}")
    return (seq[0], seq[1])


@dataclass(frozen=True)
class SyntheticPair:
    """Parameters of the synthetic pair; ``generate`` and ``chunks`` draw the paths.

    Units: ``mu`` annual drift (continuously compounded, per ticker), ``sigma`` annual volatility
    (per ticker), ``dt`` years per step (default one trading minute, 1/(252*390)), ``s0`` start prices
    (currency), probabilities per step. ``dt = 1/252`` gives business-day, tz-naive dates; smaller
    steps give a tz-aware (America/New_York) continuous trading clock on which one year is
    252 x 6.5 hours (timestamps do not follow exchange sessions).
    """

    mode: Literal["signals", "regime"] = "signals"
    seed: int = 0
    p_a: float = 0.5
    p_b: float = 0.5
    rho_pos: float = 0.8
    rho_neg: float = -0.6
    p_break: float = 0.01
    p_recover: float = 0.05
    mu: tuple[float, float] = (0.0, 0.0)
    sigma: tuple[float, float] = (0.2, 0.2)
    dt: float = MINUTE_DT
    s0: tuple[float, float] = (100.0, 100.0)
    tickers: tuple[str, str] = ("X", "Y")
    start: str = "2000-01-03 09:30"
    _daily: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("mu", "sigma", "s0"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        object.__setattr__(self, "tickers", tuple(str(t) for t in self.tickers))
        if self.mode not in ("signals", "regime"):
            raise DataError(f"mode must be 'signals' or 'regime', got {self.mode!r}")
        for name in ("p_a", "p_b", "p_break", "p_recover"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0.0 <= v <= 1.0):
                raise DataError(f"{name} must be a probability in [0, 1], got {v!r}")
        for name in ("rho_pos", "rho_neg"):
            v = getattr(self, name)
            if not (np.isfinite(v) and -1.0 <= v <= 1.0):
                raise DataError(f"{name} must be a correlation in [-1, 1], got {v!r}")
        if any(not (np.isfinite(s) and s >= 0) for s in self.sigma):
            raise DataError(f"sigma must be non-negative annual volatilities, got {self.sigma!r}")
        if any(not np.isfinite(m) for m in self.mu):
            raise DataError(f"mu must be finite annual drifts, got {self.mu!r}")
        if any(not (np.isfinite(s) and s > 0) for s in self.s0):
            raise DataError(f"s0 must be positive start prices, got {self.s0!r}")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise DataError(f"dt must be a positive number of years per step, got {self.dt!r}")
        if len(self.tickers) != 2 or self.tickers[0] == self.tickers[1]:
            raise DataError(f"tickers must be two distinct names, got {self.tickers!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise DataError(f"seed must be a non-negative integer, got {self.seed!r}")
        steps_per_day = 1.0 / (self.dt * TRADING_DAYS)
        object.__setattr__(self, "_daily", steps_per_day <= 1.0 + 1e-9)
        if self._daily and abs(self.dt * TRADING_DAYS - round(self.dt * TRADING_DAYS)) > 1e-9:
            raise DataError(f"dt={self.dt!r}: steps of a day or longer must be whole business days (k/252 years)")
        import pandas as pd

        try:
            pd.Timestamp(self.start)
        except (ValueError, TypeError) as exc:
            raise DataError(f"start: cannot read {self.start!r} as a timestamp ({exc})") from None

    @property
    def periods_per_year(self) -> float:
        return 1.0 / self.dt

    def params(self) -> dict:
        """The parameters as a plain dict (for configs and reports)."""
        d = asdict(self)
        d.pop("_daily", None)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    # -- clock -------------------------------------------------------------------------------------
    def _index(self, first: int, n: int) -> pd.DatetimeIndex:
        import pandas as pd

        if self._daily:
            k = int(round(self.dt * TRADING_DAYS))
            start = pd.offsets.BDay().rollforward(pd.Timestamp(self.start).normalize())
            last_days = (first + n) * k * 7 / 5 + 7
            if start + pd.Timedelta(days=last_days) > _last_timestamp().tz_localize(None):
                raise DataError(
                    f"n_steps={first + n} business days of dt={self.dt!r} run past pandas' last date (2262); "
                    "use fewer steps or a smaller dt"
                )
            offset = pd.offsets.BDay(k)
            first_ts = start + offset * first if first else start
            return pd.date_range(first_ts, periods=n, freq=offset)
        step_ns = int(round(self.dt * TRADING_DAYS * SESSION_HOURS * 3600e9))
        if step_ns <= 0:
            raise DataError(f"dt={self.dt!r} is shorter than a nanosecond of trading time")
        start = pd.Timestamp(self.start)
        start = start.tz_localize("America/New_York") if start.tz is None else start.tz_convert("America/New_York")
        last = start.value + (first + n) * step_ns
        if last > _last_timestamp().value:
            raise DataError(
                f"n_steps={first + n} steps of dt={self.dt!r} run past pandas' last date (2262); use a smaller dt"
            )
        ns = start.value + (first + np.arange(n, dtype=np.int64)) * step_ns
        return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert("America/New_York")

    # -- random blocks -----------------------------------------------------------------------------
    def _rng(self, block: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(int(self.seed), spawn_key=(block,)))

    def _regime_runs(self, rng: np.random.Generator, n: int, state: int, left: int) -> tuple[np.ndarray, int, int]:
        """Fill n steps of the Markov chain from (state, steps left in the current run); vectorized by runs."""
        leave = (self.p_break, self.p_recover)  # probability of leaving state 0, state 1
        out = np.empty(n, dtype=np.int8)
        take = min(left, n)
        out[:take] = state
        pos, left = take, left - take
        while pos < n:  # one pass per batch of runs, not per step
            k = 2 * int(n * max(leave) + 4)
            states = (state + 1 + np.arange(k)) % 2
            p = np.where(states == 0, leave[0], leave[1])
            # p = 0 means the run never ends: a sentinel longer than any path (2^40 steps).
            dur = np.where(p > 0, rng.geometric(np.where(p > 0, p, 0.5)), 1 << 40).astype(np.int64)
            ends = pos + np.cumsum(dur)
            m = min(int(np.searchsorted(ends, n, side="left")) + 1, k)  # runs needed to reach n
            used = dur[:m].copy()
            over = int(ends[m - 1]) - n
            if over > 0:  # the last run goes on into the next block
                used[-1] -= over
            seg = np.repeat(states[:m], used)
            out[pos : pos + seg.size] = seg
            pos += seg.size
            state, left = int(states[m - 1]), max(over, 0)
        return out, state, left

    def _draw(self, b: int, state: int, left: int):
        """Block ``b``'s own draws from its own stream: (log-price steps of X and Y accumulated within the block,
        truth columns, regime state and steps left after it). Only regime mode reads the state it is given."""
        (mx, my), (sx, sy) = self.mu, self.sigma
        drift = np.array([(mx - 0.5 * sx * sx) * self.dt, (my - 0.5 * sy * sy) * self.dt])
        vol = np.array([sx, sy]) * np.sqrt(self.dt)
        n = BLOCK  # every block draws BLOCK steps and the caller keeps what it needs: a short path is a prefix
        rng = self._rng(b)
        if self.mode == "signals":
            sa = rng.random(n) < self.p_a
            sb = rng.random(n) < self.p_b
            negative = sa & sb
            truth = {"signal_a": sa.view(np.int8), "signal_b": sb.view(np.int8)}  # zero-copy 0/1
        else:
            if b == 0:  # start in the stationary distribution; `state` is the run *before* the first one
                total = self.p_break + self.p_recover
                state = 1 - int(rng.random() < (self.p_break / total if total > 0 else 0.0))
            regime, state, left = self._regime_runs(rng, n, state, left)
            negative = regime.astype(bool)
            truth = {"regime": regime}
        z = rng.standard_normal((2, n))
        # Y's shock rho z0 + sqrt(1 - rho^2) z1, with the two coefficients of each state precomputed
        lx, ly, rho = _log_steps(
            z[0],
            z[1],
            negative,
            self.rho_neg,
            self.rho_pos,
            np.sqrt(1.0 - self.rho_neg**2),
            np.sqrt(1.0 - self.rho_pos**2),
            vol[0],
            vol[1],
            drift[0],
            drift[1],
            b == 0,
        )
        truth["rho"] = rho
        return lx, ly, truth, state, left

    def _drawn(self, n_blocks: int, threads: int):
        """(lx, ly, truth) of blocks 0 .. n_blocks - 1 in order. In signals mode the blocks share nothing, so with
        ``threads`` > 1 they are drawn that many at a time (numpy's draws, where and cumsum release the GIL); the
        regime chain carries its state from block to block, so regime mode draws them one after the other."""
        if self.mode != "signals" or threads <= 1 or n_blocks < 2:
            state, left = 0, 0
            for b in range(n_blocks):
                lx, ly, truth, state, left = self._draw(b, state, left)
                yield lx, ly, truth
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(threads, thread_name_prefix="qcoord-synthetic")
        pending: deque = deque()
        try:
            for b in range(n_blocks):
                pending.append(pool.submit(self._draw, b, 0, 0))
                if len(pending) > threads:  # at most threads + 1 blocks in memory ahead of the consumer
                    yield pending.popleft().result()[:3]
            while pending:
                yield pending.popleft().result()[:3]
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)

    def _blocks(self, n_steps: int, threads: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
        """Yield (log(price/s0) of X, of Y, truth columns) per internal block."""
        logp = (0.0, 0.0)  # log(price / s0), so that row 0 is exactly s0
        starts = range(0, n_steps, BLOCK)
        for first, (lx, ly, truth) in zip(starts, self._drawn(len(starts), threads)):
            keep = min(BLOCK, n_steps - first)
            # Log-prices are accumulated per internal block, so the bits never depend on the consumer's chunking
            # (nor on the threads that drew the blocks).
            lx += logp[0]
            ly += logp[1]
            logp = (lx[-1], ly[-1])
            yield lx[:keep], ly[:keep], {k: v[:keep] for k, v in truth.items()}

    def arrays(
        self, n_steps: int, chunk_steps: int = 1 << 20, threads: int = 1
    ) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """Yield (first row, prices (n, 2), truth columns) for consecutive pieces of ``chunk_steps`` rows.

        The raw form of ``chunks`` (no DataFrame, no timestamps: ``timestamps(first, n)`` gives them),
        for streaming consumers such as the backtest engine. The last piece may be shorter. ``threads``: draw up
        to that many internal blocks at once (signals mode); the rows are the same for any number.
        """
        n_steps = _check_steps(n_steps)
        if chunk_steps < 1:
            raise DataError(f"chunk_steps must be at least 1, got {chunk_steps!r}")
        if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
            raise DataError(f"threads must be a whole number of at least 1, got {threads!r}")
        blocks = self._blocks(n_steps, int(threads))
        carry = None  # what is left of the current internal block
        first = 0
        while first < n_steps:
            want = min(chunk_steps, n_steps - first)
            prices = np.empty((want, 2), order="F")  # column-contiguous: each ticker's prices are one run
            parts: list[dict[str, np.ndarray]] = []
            pos = 0
            while pos < want:
                lx, ly, truth = carry if carry is not None else next(blocks)
                take = min(want - pos, lx.size)
                np.exp(lx[:take], out=prices[pos : pos + take, 0])
                np.exp(ly[:take], out=prices[pos : pos + take, 1])
                parts.append({k: v[:take] for k, v in truth.items()})
                carry = (lx[take:], ly[take:], {k: v[take:] for k, v in truth.items()}) if take < lx.size else None
                pos += take
            prices[:, 0] *= self.s0[0]
            prices[:, 1] *= self.s0[1]
            if not np.isfinite(prices).all():
                raise DataError(
                    f"synthetic prices overflowed (mu={self.mu}, sigma={self.sigma}, dt={self.dt}); lower them"
                )
            truth = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            yield first, prices, truth
            first += want

    @property
    def step_seconds(self) -> float | None:
        """Seconds between consecutive rows on the synthetic clock: the trading-time length of ``dt`` (a year of 252
        sessions of 6.5 hours) for intraday steps; None for steps of whole business days (their calendar gaps vary:
        ``seconds`` gives each row's time)."""
        if self._daily:
            return None
        return round(self.dt * TRADING_DAYS * SESSION_HOURS * 3600e9) / 1e9

    def seconds(self, first: int, n: int) -> np.ndarray:
        """Seconds since row 0 of rows first .. first + n - 1 on the synthetic clock (float64)."""
        rows = first + np.arange(n, dtype=np.int64)
        step = self.step_seconds
        if step is not None:
            return rows * step
        # steps of k business days (no holidays, as the synthetic calendar has none): business day b after a start
        # on weekday w0 (Monday 0) falls (w0 + b) // 5 weeks and (w0 + b) % 5 - w0 days later; arithmetic, not
        # timestamps, so a path of any length has its clock
        k = int(round(self.dt * TRADING_DAYS))
        w0 = pd.offsets.BDay().rollforward(pd.Timestamp(self.start).normalize()).weekday()
        b = rows * k + w0
        return ((b // 5) * 7 + b % 5 - w0) * 86400.0

    def timestamps(self, first: int, n: int) -> pd.DatetimeIndex:
        """Timestamps of rows first .. first + n - 1 on the synthetic clock."""
        return self._index(first, n)

    def timestamps_at(self, rows) -> pd.DatetimeIndex:
        """Timestamps of the given rows (any order), without building the clock in between."""
        import pandas as pd

        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return self._index(0, 1)[:0]
        if self._daily:
            return self._index(0, int(rows.max()) + 1)[rows]
        first = self._index(0, 1)
        step = int(round(self.dt * TRADING_DAYS * SESSION_HOURS * 3600e9))
        ns = first.as_unit("ns").asi8[0] + rows * step
        return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(first.tz)

    def chunks(self, n_steps: int, chunk_steps: int = 1 << 20) -> Iterator[MarketData]:
        """Yield the path of ``n_steps`` rows as consecutive MarketData pieces of ``chunk_steps`` rows.

        Concatenating the pieces gives exactly ``generate(n_steps)``; the last piece may be shorter
        (a piece of one row is merged into the previous one, since MarketData needs two rows).
        """
        n_steps = _check_steps(n_steps)
        if chunk_steps < 2:
            raise DataError(f"chunk_steps must be at least 2, got {chunk_steps!r}")
        while 0 < n_steps % chunk_steps < 2:
            chunk_steps += 1
        for first, prices, truth in self.arrays(n_steps, chunk_steps):
            yield self._frame(first, prices, truth)

    def generate(self, n_steps: int) -> MarketData:
        """The whole path of ``n_steps`` rows as one MarketData."""
        n_steps = _check_steps(n_steps)
        return next(iter(self.chunks(n_steps, chunk_steps=n_steps)))

    def _frame(self, first: int, prices: np.ndarray, truth: dict[str, np.ndarray]) -> MarketData:
        import pandas as pd

        from .market import MarketData

        index = self._index(first, prices.shape[0])
        return MarketData(
            pd.DataFrame(prices, index=index, columns=list(self.tickers)),
            periods_per_year=self.periods_per_year,
            truth=pd.DataFrame(truth, index=index),
            meta={"kind": "synthetic", "mode": self.mode, "params": self.params(), "first_row": first},
            validate=False,  # by construction: sorted unique clock, finite positive prices
        )


@njit(cache=True, nogil=True)
def _log_steps(
    z0, z1, negative, rho_neg, rho_pos, ortho_neg, ortho_pos, vol_x, vol_y, drift_x, drift_y, first
):  # pragma: no cover - compiled
    """A block's log-price paths, accumulated within the block, and each step's correlation: step t moves X by
    vol_x z0 + drift_x and Y by vol_y (rho z0 + sqrt(1 - rho^2) z1) + drift_y, rho by the step's state; with
    ``first`` the block starts the path and its step 0 is not applied (row 0 is the start price). One pass with the
    same operations in the same order as the numpy expressions it replaced (no fast-math: no fused multiply-add, so
    the same bits; tests/test_data_synthetic.py checks them against numpy)."""
    n = z0.size
    lx, ly, rho = np.empty(n), np.empty(n), np.empty(n)
    cx, cy = 0.0, 0.0
    for t in range(n):
        neg = negative[t]
        r = rho_neg if neg else rho_pos
        o = ortho_neg if neg else ortho_pos
        rho[t] = r
        if first and t == 0:
            sx, sy = 0.0, 0.0
        else:
            sx = z0[t] * vol_x + drift_x
            sy = (r * z0[t] + o * z1[t]) * vol_y + drift_y
        cx = sx if t == 0 else cx + sx  # as numpy's cumsum: the first sum is the first step itself
        cy = sy if t == 0 else cy + sy
        lx[t], ly[t] = cx, cy
    return lx, ly, rho


def _check_steps(n_steps: int) -> int:
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 2:
        raise DataError(f"n_steps must be an integer of at least 2, got {n_steps!r}")
    return int(n_steps)


def synthetic_pair(n_steps: int, *, seed: int, mode: Literal["signals", "regime"] = "signals", **params) -> MarketData:
    """Two correlated GBM price paths of ``n_steps`` rows; see ``SyntheticPair`` for parameters and units.

    Example: ``synthetic_pair(10_000, seed=1, mode="signals", p_a=0.3, rho_neg=-0.8)``.
    ``truth`` holds ``signal_a``, ``signal_b`` (signals mode) or ``regime`` (regime mode) and the
    step's correlation ``rho``; the signal/regime of row t governs the return from row t-1 to row t.
    """
    try:
        pair = SyntheticPair(mode=mode, seed=seed, **params)
    except TypeError as exc:
        raise DataError(f"synthetic_pair: {exc}") from None
    return pair.generate(n_steps)
