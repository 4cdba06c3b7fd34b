"""Where a run's prices come from: the ``[source]`` section of a run's configuration, and how it loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import data
from ...data import SyntheticPair

if TYPE_CHECKING:  # pandas comes with it: the option tree (and so --help) reads this module
    from ...data import MarketData

from ..errors import BacktestError
from ..options import check_ranges, option

SOURCE_KINDS = ("synthetic", "sample", "csv", "yahoo")


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

    kind: str = option("synthetic", help="where prices come from (chosen by --synthetic, --sample, --csv or --yahoo)",
                       choices=SOURCE_KINDS, flag="")
    mode: str = option("signals", help="built-in synthetic pair", choices=("signals", "regime"), flag="--synthetic",
                       chooses="synthetic")
    sample: str | None = option(help="shipped sample (qcoord data --list-samples)", metavar="NAME", chooses="sample")
    files: tuple[str, ...] | None = option(help="CSV file(s): a wide panel or one OHLCV file per ticker", flag="--csv",
                                           nargs="+", metavar="FILE", chooses="csv")
    tickers: tuple[str, ...] | None = option(
        help="pick columns of a panel, or name per-ticker files", nargs="+", metavar="T",
        choose_flags=(("--yahoo", "yahoo", "download these tickers from Yahoo Finance (cached on disk)"),))
    start: str | None = option(help="first date (Yahoo: required; csv/sample: cut, inclusive)", metavar="DATE")
    end: str | None = option(help="last date (Yahoo: exclusive, required; csv/sample: cut, inclusive)",
                             metavar="DATE")
    interval: str = option("1d", help="Yahoo bar interval")
    cache_dir: str | None = option(help="Yahoo price cache folder (unset: ~/.cache/qcoord/yahoo)", metavar="DIR")
    session: str = option("all", help="CSV intraday bars: keep all, or the regular session 09:30-16:00",
                          choices=("all", "regular"))
    p_a: float | None = option(help="synthetic: P(signal on) at exchange A per step", alias="p", lo=0, hi=1,
                               shown_default=_synthetic_default("p_a"))
    p_b: float | None = option(help="synthetic: P(signal on) at exchange B per step", alias="p", lo=0, hi=1,
                               shown_default=_synthetic_default("p_b"),
                               alias_help="synthetic: P(signal on) at both exchanges", alias_flag="")
    rho_pos: float | None = option(help="synthetic: return correlation in the normal state", lo=-1, hi=1,
                                   shown_default=_synthetic_default("rho_pos"))
    rho_neg: float | None = option(help="synthetic: return correlation when both signals are on / in breakdown",
                                   lo=-1, hi=1, shown_default=_synthetic_default("rho_neg"))
    p_break: float | None = option(help="synthetic regime mode: P(normal -> breakdown) per step", lo=0, hi=1,
                                   shown_default=_synthetic_default("p_break"))
    p_recover: float | None = option(help="synthetic regime mode: P(breakdown -> normal) per step", lo=0, hi=1,
                                     shown_default=_synthetic_default("p_recover"))
    sigma: tuple[float, ...] | None = option(help="synthetic: annual volatility, one value or one per ticker",
                                             nargs="+", metavar="VOL", unit="per year", sweep=True,
                                             shown_default=_synthetic_default("sigma"))
    mu: tuple[float, ...] | None = option(help="synthetic: annual drift, one value or one per ticker", nargs="+",
                                          metavar="DRIFT", unit="per year", sweep=True,
                                          shown_default=_synthetic_default("mu"))
    dt: float | None = option(help="synthetic: years per step (the default is one trading minute, 1/(252*390))", unit="years", lo=0,
                              open_lo=True, shown_default=_synthetic_default("dt"))

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
        applies = {"start": ("sample", "csv", "yahoo"), "end": ("sample", "csv", "yahoo"), "interval": ("yahoo",),
                   "cache_dir": ("yahoo",), "session": ("csv",),
                   **dict.fromkeys(SYNTHETIC_FIELDS, ("synthetic",))}
        unset = {"interval": "1d", "session": "all"}
        for name, kinds in applies.items():
            value = getattr(self, name)
            if self.kind not in kinds and value is not None and value != unset.get(name):
                flag = "--" + name.replace("_", "-")
                where = " or ".join(filter(None, (", ".join(kinds[:-1]), kinds[-1])))
                raise BacktestError(f"{flag} applies to {where} sources, not to this {self.kind} source; drop it")

    def pair(self, seed: int) -> SyntheticPair:
        """The SyntheticPair of a synthetic source for ``seed``."""
        params: dict[str, Any] = {"mode": self.mode, "seed": seed}
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
        else:
            if not tickers or not self.start or not self.end:
                raise BacktestError("--yahoo needs tickers, --start and --end")
            return data.load_yahoo(tickers, self.start, self.end, self.interval, cache_dir=self.cache_dir)
        if self.start or self.end:
            md = md[parse_date(self.start, "start") : parse_date(self.end, "end")]
        return md


    def universe(self) -> data.Universe:
        """The tickers of a real source, each with its own history (``qcoord scan``): a sample (default all of
        ``pypfopt``), CSV files or a folder of them, or Yahoo tickers (aligned on their common clock)."""
        self.check()
        tickers = None if self.tickers is None else list(self.tickers)
        if self.kind == "synthetic":
            raise BacktestError("a scan needs a universe of real tickers: --sample NAME, --csv FILE|DIR ... or "
                                "--yahoo T1 T2 ... --start --end")
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
