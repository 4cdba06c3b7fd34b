"""Where a run's prices come from: one ``SourceSpec`` from the command line or a config, loaded by ``load``."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any

import data
from data import MarketData, SyntheticPair

from .errors import BacktestError

SOURCE_KINDS = ("synthetic", "sample", "csv", "yahoo")


@dataclass
class SourceSpec:
    """A data source with every parameter needed to load it again bit for bit.

    ``kind``: ``synthetic`` (``synthetic`` holds SyntheticPair parameters, ``mode`` among them),
    ``sample`` (``sample`` name), ``csv`` (``files``), ``yahoo`` (``tickers``, ``start``, ``end``,
    ``interval``, ``cache_dir``). ``tickers`` selects or names tickers; ``start``/``end`` also cut
    csv and sample data by date (inclusive).
    """

    kind: str = "synthetic"
    synthetic: dict[str, Any] = field(default_factory=lambda: {"mode": "signals"})
    sample: str | None = None
    files: list[str] = field(default_factory=list)
    tickers: list[str] | None = None
    start: str | None = None
    end: str | None = None
    interval: str = "1d"
    cache_dir: str | None = None
    session: str = "all"

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise BacktestError(f"source kind {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}")

    def pair(self) -> SyntheticPair:
        """The SyntheticPair of a synthetic source (raises DataError on bad parameters)."""
        params = dict(self.synthetic)
        if self.tickers:
            params["tickers"] = tuple(self.tickers)
        try:
            return SyntheticPair(**params)
        except TypeError as exc:
            raise BacktestError(f"synthetic source: {exc}") from None


def load(spec: SourceSpec, n_rows: int | None = None) -> MarketData:
    """Load the source; a synthetic source needs ``n_rows`` (price rows, i.e. returns + 1)."""
    if spec.kind == "synthetic":
        if n_rows is None:
            raise BacktestError("a synthetic source needs a number of rounds")
        return spec.pair().generate(n_rows)
    if spec.kind == "sample":
        md = data.load_sample(spec.sample or "jpm_bac", tickers=spec.tickers)
    elif spec.kind == "csv":
        md = data.load_csv(spec.files, tickers=spec.tickers, session=spec.session)
    else:
        if not spec.tickers or not spec.start or not spec.end:
            raise BacktestError("--yahoo needs tickers, --start and --end")
        return data.load_yahoo(spec.tickers, spec.start, spec.end, spec.interval, cache_dir=spec.cache_dir)
    if spec.start or spec.end:
        md = md[parse_date(spec.start, "start") : parse_date(spec.end, "end")]
    return md


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


# -- command-line options ---------------------------------------------------------------------------
def whole(text) -> int:
    """A whole number from text, in any notation people use for one: 200000, 2e5, 200_000 (ValueError otherwise)."""
    try:
        return int(text)
    except ValueError:
        value = float(text)  # ValueError for words; 2e5 -> 200000.0
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"{text!r} is not a whole number") from None
        return int(value)


def date_text(text: str) -> str:
    """An argparse ``type=`` for --start/--end: the text, once it reads as a date."""
    try:
        parse_date(text, "date")
    except BacktestError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD, optionally with a time)") from None
    return text


def bounded(cast: type, lo: float | None = None, hi: float | None = None, what: str = "", *, open_lo: bool = False):
    """An argparse ``type=`` converter: ``cast(text)``, finite, within [lo, hi] (lo excluded when ``open_lo``);
    ``cast=int`` accepts whole numbers in scientific notation (2e5)."""
    parse = whole if cast is int else cast

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if cast is int else 'a number'}") from None
        below = lo is not None and (value <= lo if open_lo else value < lo)
        if below or (hi is not None and value > hi) or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} {what if what.startswith('must') else 'is not ' + what}")
        return value

    return convert


def comma_list(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (at least one name)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one name")
    return items


def per_ticker(name: str, values: list[float]) -> float | list[float]:
    """--sigma/--mu: one value for both tickers, or one each."""
    if len(values) not in (1, 2):
        raise BacktestError(f"--{name} takes one value or one per ticker, got {len(values)}")
    return values[0] if len(values) == 1 else list(values)


probability = bounded(float, 0.0, 1.0, "a probability in [0, 1]")
correlation = bounded(float, -1.0, 1.0, "a correlation in [-1, 1]")
positive_int = bounded(int, 0, None, "a positive whole number", open_lo=True)
nonnegative_int = bounded(int, 0, None, "a whole number >= 0")


def add_source_arguments(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Options choosing and shaping the data source (shared by ``data``, ``backtest`` and ``sweep``).

    ``defaults=False`` leaves every option None when not given (a config file fills the rest)."""
    g = parser.add_argument_group("data source (default: --synthetic signals)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--synthetic", choices=("signals", "regime"), help="built-in synthetic pair")
    src.add_argument("--sample", metavar="NAME", help=f"shipped sample ({', '.join(data.samples())})")
    src.add_argument("--csv", nargs="+", metavar="FILE", help="CSV file(s): a wide panel or one OHLCV file per ticker")
    src.add_argument("--yahoo", nargs="+", metavar="TICKER", help="download from Yahoo Finance (cached on disk)")
    g.add_argument("--tickers", nargs="+", metavar="T", help="pick columns of a panel, or name per-ticker files")
    g.add_argument("--start", type=date_text, help="first date (Yahoo: required; csv/sample: cut)")
    g.add_argument("--end", type=date_text, help="last date (Yahoo: exclusive, required; csv/sample: cut, inclusive)")
    g.add_argument("--interval", default="1d" if defaults else None, help="Yahoo bar interval (default 1d)")
    g.add_argument("--cache-dir", help="Yahoo price cache folder (default ~/.cache/qcoord/yahoo)")
    g.add_argument("--session", choices=("all", "regular"), default="all" if defaults else None,
                   help="intraday: keep all bars or 09:30-16:00 (default all)")
    s = parser.add_argument_group("synthetic pair")
    s.add_argument("--p-a", type=probability, help="P(signal on) at exchange A per step (default 0.5)")
    s.add_argument("--p-b", type=probability, help="P(signal on) at exchange B per step (default 0.5)")
    s.add_argument("--rho-pos", type=correlation, help="return correlation in the normal state (default 0.8)")
    s.add_argument("--rho-neg", type=correlation, help="return correlation when both signals are on / in breakdown (default -0.6)")
    s.add_argument("--p-break", type=probability, help="regime mode: P(normal -> breakdown) per step (default 0.01)")
    s.add_argument("--p-recover", type=probability, help="regime mode: P(breakdown -> normal) per step (default 0.05)")
    s.add_argument("--sigma", type=float, nargs="+", metavar="VOL", help="annual volatility, one or per ticker (default 0.2)")
    s.add_argument("--mu", type=float, nargs="+", metavar="DRIFT", help="annual drift, one or per ticker (default 0)")
    s.add_argument("--dt", type=float, help="years per step (default 1/(252*390): one trading minute)")


_SYNTH_OPTIONS = ("p_a", "p_b", "rho_pos", "rho_neg", "p_break", "p_recover", "dt")


def spec_from_args(args: argparse.Namespace, seed: int) -> SourceSpec:
    """Build the SourceSpec the options describe (synthetic signals when no source is given)."""
    if args.csv:
        return SourceSpec(kind="csv", files=list(args.csv), tickers=args.tickers, start=args.start, end=args.end,
                          session=args.session)
    if args.sample:
        return SourceSpec(kind="sample", sample=args.sample, tickers=args.tickers, start=args.start, end=args.end)
    if args.yahoo:
        return SourceSpec(kind="yahoo", tickers=[t.upper() for t in args.yahoo], start=args.start, end=args.end,
                          interval=args.interval, cache_dir=args.cache_dir)
    synth: dict[str, Any] = {"mode": args.synthetic or "signals", "seed": seed}
    for name in _SYNTH_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            synth[name] = value
    for name in ("sigma", "mu"):
        value = getattr(args, name)
        if value is not None:
            synth[name] = per_ticker(name, value)
    return SourceSpec(kind="synthetic", synthetic=synth, tickers=args.tickers)
