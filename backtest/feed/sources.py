"""Where a run's prices come from: the ``[source]`` section of a run's configuration, and how it loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import data
from ...data import SyntheticPair
from ...data.frequency import TRADING_DAYS

if TYPE_CHECKING:  # pandas comes with them: the option tree (and so --help) reads this module
    from ...data import EventPair, MarketData

from ..errors import BacktestError
from ..options import check_ranges, option

SOURCE_KINDS = ("synthetic", "sample", "csv", "yahoo", "quotes")
EVENTS_DT_S = 1e-5  # data.EventPair's default cadence, shown in the help (tests/test_clock.py checks it is the same)


def _synthetic_default(name: str):
    """What an unset synthetic parameter means: the generator's own default (declared there, shown here)."""
    value = SyntheticPair.__dataclass_fields__[name].default
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Source:
    """Where a run's prices come from, with every parameter needed to load them again bit for bit.

    ``kind``: ``synthetic`` (a ``data.SyntheticPair`` in ``mode``, seeded by the run's seed; unset synthetic
    parameters take the generator's defaults), ``sample`` (a shipped sample), ``csv`` (``files``), ``yahoo``
    (``tickers``, ``start``, ``end``, ``interval``, ``cache_dir``). ``tickers`` picks or names tickers;
    ``start``/``end`` also cut csv and sample data by date (inclusive).
    """

    kind: str = option(
        "synthetic",
        help="where prices come from (chosen by --synthetic, --sample, --csv or --yahoo)",
        choices=SOURCE_KINDS,
        flag="",
    )
    mode: str = option(
        "signals",
        help="built-in synthetic pair: signals or regime (GBM with correlation regimes), or "
        "events (two venues in event time, data.EventPair)",
        choices=("signals", "regime", "events"),
        flag="--synthetic",
        chooses="synthetic",
    )
    sample: str | None = option(help="shipped sample (qcoord data --list-samples)", metavar="NAME", chooses="sample")
    files: tuple[str, ...] | None = option(
        help="CSV file(s): a wide panel or one OHLCV file per ticker",
        flag="--csv",
        nargs="+",
        metavar="FILE",
        chooses="csv",
    )
    quotes: tuple[str, ...] | None = option(
        help="timestamped quote or event files, one per ticker (ns/us timestamps: a CSV of time, bid, ask, or "
        "LOBSTER's message files; quote bars too): each decision at the quote in force on --cadence-s",
        flag="--quotes",
        nargs="+",
        metavar="FILE",
        chooses="quotes",
    )
    cadence_s: float | None = option(
        help="quotes: seconds between decisions, the book marked at the next (unset: 1 s)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
        shown_default=1.0,
    )
    tickers: tuple[str, ...] | None = option(
        help="pick columns of a panel, or name per-ticker files",
        nargs="+",
        metavar="T",
        choose_flags=(("--yahoo", "yahoo", "download these tickers from Yahoo Finance (cached on disk)"),),
    )
    start: str | None = option(help="first date (Yahoo: required; csv/sample: cut, inclusive)", metavar="DATE")
    end: str | None = option(help="last date (Yahoo: exclusive, required; csv/sample: cut, inclusive)", metavar="DATE")
    interval: str = option("1d", help="Yahoo bar interval")
    cache_dir: str | None = option(help="Yahoo price cache folder (unset: ~/.cache/qcoord/yahoo)", metavar="DIR")
    session: str = option(
        "all", help="CSV intraday bars: keep all, or the regular session 09:30-16:00", choices=("all", "regular")
    )
    p_a: float | None = option(
        help="synthetic: P(signal on) at exchange A per step",
        alias="p",
        lo=0,
        hi=1,
        shown_default=_synthetic_default("p_a"),
    )
    p_b: float | None = option(
        help="synthetic: P(signal on) at exchange B per step",
        alias="p",
        lo=0,
        hi=1,
        shown_default=_synthetic_default("p_b"),
        alias_help="synthetic: P(signal on) at both exchanges",
        alias_flag="",
    )
    rho_pos: float | None = option(
        help="synthetic: return correlation in the normal state",
        lo=-1,
        hi=1,
        shown_default=_synthetic_default("rho_pos"),
    )
    rho_neg: float | None = option(
        help="synthetic: return correlation when both signals are on / in breakdown",
        lo=-1,
        hi=1,
        shown_default=_synthetic_default("rho_neg"),
    )
    p_break: float | None = option(
        help="synthetic regime mode: P(normal -> breakdown) per step",
        lo=0,
        hi=1,
        shown_default=_synthetic_default("p_break"),
    )
    p_recover: float | None = option(
        help="synthetic regime mode: P(breakdown -> normal) per step",
        lo=0,
        hi=1,
        shown_default=_synthetic_default("p_recover"),
    )
    sigma: tuple[float, ...] | None = option(
        help="synthetic: annual volatility, one value or one per ticker",
        nargs="+",
        metavar="VOL",
        unit="per year",
        sweep=True,
        shown_default=_synthetic_default("sigma"),
    )
    mu: tuple[float, ...] | None = option(
        help="synthetic: annual drift, one value or one per ticker",
        nargs="+",
        metavar="DRIFT",
        unit="per year",
        sweep=True,
        shown_default=_synthetic_default("mu"),
    )
    dt: float | None = option(
        help="synthetic signals/regime: years of trading time per step (unset: one trading "
        "minute, 1/(252*390), unless a link or supply declares the decision rate)",
        unit="years",
        lo=0,
        open_lo=True,
        shown_default=_synthetic_default("dt"),
    )
    dt_s: float | None = option(
        help="synthetic events: seconds between decisions, the book marked at the next "
        "(unset: 10 us, unless a link or supply declares the decision rate)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
        shown_default=EVENTS_DT_S,
    )

    def __post_init__(self) -> None:
        check_ranges(self, "source")
        for name in ("sigma", "mu"):
            v = getattr(self, name)
            if v is not None and len(v) not in (1, 2):
                raise BacktestError(f"[source] {name} takes one value or one per ticker, got {len(v)}")
        for name in ("start", "end"):
            parse_date(getattr(self, name), name)

    def check(self) -> None:
        """Before any data is loaded (a run, a sweep point, a scan): an option that this kind of source would ignore
        is an error, not silently recorded, and --start must come before --end. (Not in ``__post_init__``: a
        configuration tree may hold every option while it is being built.)"""
        if self.start and self.end and parse_date(self.start, "start") > parse_date(self.end, "end"):
            raise BacktestError(f"--start {self.start} is after --end {self.end}")
        applies = {
            "start": ("sample", "csv", "yahoo", "quotes"),
            "end": ("sample", "csv", "yahoo", "quotes"),
            "interval": ("yahoo",),
            "cache_dir": ("yahoo",),
            "session": ("csv", "quotes"),
            "cadence_s": ("quotes",),
            **dict.fromkeys(SYNTHETIC_FIELDS, ("synthetic",)),
            "dt_s": ("synthetic",),
        }
        unset = {"interval": "1d", "session": "all"}
        for name, kinds in applies.items():
            value = getattr(self, name)
            if self.kind not in kinds and value is not None and value != unset.get(name):
                flag = "--" + name.replace("_", "-")
                where = " or ".join(filter(None, (", ".join(kinds[:-1]), kinds[-1])))
                raise BacktestError(f"{flag} applies to {where} sources, not to this {self.kind} source; drop it")

    def pair(self, seed: int, step_s: float | None = None, distance_km: float | None = None):
        """The synthetic source for ``seed``: a ``SyntheticPair`` (signals, regime) or an ``EventPair`` (events).
        ``step_s``: seconds between decisions declared elsewhere (a link's or supply's decision rate), used when the
        source's own step is unset; ``distance_km``: the venues' distance (events)."""
        if self.mode == "events":
            return self._events(seed, step_s, distance_km)
        if self.dt_s is not None:
            raise BacktestError("--dt-s sets the events source's cadence; the signals/regime pair takes --dt (years)")
        params: dict[str, Any] = {"mode": self.mode, "seed": seed}
        if step_s is not None and self.dt is None:
            params["dt"] = step_s / (TRADING_DAYS * 6.5 * 3600.0)  # a trading year of 252 sessions of 6.5 hours
        for name in SYNTHETIC_FIELDS:
            value = getattr(self, name)
            if value is not None:
                params[name] = (value[0] if len(value) == 1 else tuple(value)) if isinstance(value, tuple) else value
        if self.tickers:
            params["tickers"] = tuple(self.tickers)
        try:
            return SyntheticPair(**params)
        except TypeError as exc:
            raise BacktestError(f"synthetic source: {exc}") from None

    def _events(self, seed: int, step_s: float | None, distance_km: float | None) -> EventPair:
        """The two-venue event-time source: its cadence and distance; the GBM pair's parameters do not apply."""
        from ...data import EventPair

        stray = [n for n in SYNTHETIC_FIELDS if getattr(self, n) is not None]
        if stray:
            raise BacktestError(
                f"--{stray[0].replace('_', '-')} sets the signals/regime pair; the events source takes "
                "--dt-s (and the venues' distance, --venue-distance-km)"
            )
        params: dict[str, Any] = {"seed": seed}
        dt = self.dt_s if self.dt_s is not None else step_s
        if dt is not None:
            params["dt_s"] = dt
        if distance_km is not None:
            params["distance_km"] = distance_km
        if self.tickers:
            params["tickers"] = tuple(self.tickers)
        try:
            return EventPair(**params)
        except (TypeError, data.DataError) as exc:
            raise BacktestError(f"events source: {exc}") from None

    def load(self, seed: int = 0, n_rows: int | None = None) -> MarketData:
        """Load the prices; a synthetic source draws ``n_rows`` rows (returns + 1) with ``seed``."""
        if self.kind == "synthetic":
            if n_rows is None:
                raise BacktestError("a synthetic source needs a number of rounds")
            return self.pair(seed).generate(n_rows)
        tickers = None if self.tickers is None else list(self.tickers)
        if self.kind == "sample":
            md = data.load_sample(self.sample or "jpm_bac", tickers=tickers)
        elif self.kind == "csv":
            if not self.files:
                raise BacktestError("a csv source needs files (--csv FILE ...)")
            md = data.load_csv(list(self.files), tickers=tickers, session=self.session)
        elif self.kind == "quotes":
            md = self._quotes(tickers)
        else:
            if not tickers or not self.start or not self.end:
                raise BacktestError("--yahoo needs tickers, --start and --end")
            return data.load_yahoo(tickers, self.start, self.end, self.interval, cache_dir=self.cache_dir)
        if self.start or self.end:
            md = md[parse_date(self.start, "start") : parse_date(self.end, "end")]
        return md

    def _quotes(self, tickers) -> MarketData:
        """Timestamped quotes, one file per ticker (LOBSTER message files by their name, else a quote CSV), sampled
        on the cadence: each decision at the quote in force then (``data.quote_market``)."""
        from ...data.events import is_lobster, load_lobster, load_quotes, quote_market

        files = list(self.quotes or ())
        if len(files) < 2:
            raise BacktestError(f"--quotes needs one file per ticker, two or more, got {len(files)}")
        if tickers and len(tickers) != len(files):
            raise BacktestError(f"--tickers names {len(tickers)} ticker(s) for {len(files)} quote files")
        names = list(tickers) if tickers else [None] * len(files)
        loaded = [
            load_lobster(f, ticker=t) if is_lobster(f) else load_quotes(f, ticker=t) for f, t in zip(files, names)
        ]
        return quote_market(loaded, 1.0 if self.cadence_s is None else self.cadence_s, session=self.session)

    def universe(self) -> data.Universe:
        """The tickers of a real source, each with its own history (``qcoord scan``): a sample (default all of
        ``pypfopt``), CSV files or a folder of them, or Yahoo tickers (aligned on their common clock)."""
        self.check()
        tickers = None if self.tickers is None else list(self.tickers)
        if self.kind == "synthetic":
            raise BacktestError(
                "a scan needs a universe of real tickers: --sample NAME, --csv FILE|DIR ... or "
                "--yahoo T1 T2 ... --start --end"
            )
        if self.kind == "sample":
            u = data.sample_universe(self.sample or "pypfopt", tickers)
        elif self.kind == "csv":
            if not self.files:
                raise BacktestError("a csv source needs files (--csv FILE|DIR ...)")
            u = data.load_universe(list(self.files), tickers, session=self.session)
        else:
            u = data.universe_of(self.load())
        if self.start or self.end:
            u = u.between(parse_date(self.start, "start"), parse_date(self.end, "end"))
        return u


SYNTHETIC_FIELDS = ("p_a", "p_b", "rho_pos", "rho_neg", "p_break", "p_recover", "mu", "sigma", "dt")


def parse_date(text, what: str):
    """A date or timestamp from text (None stays None); a BacktestError naming the option otherwise."""
    import pandas as pd

    if text is None:
        return None
    try:
        stamp = pd.Timestamp(str(text))
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise BacktestError(f"--{what} {text!r} is not a date (use YYYY-MM-DD, optionally with a time)")
    return stamp
