"""Small real datasets shipped with the package (``data/samples/``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .files import load_csv
from .market import MarketData

SAMPLES_DIR = Path(__file__).with_name("samples")


@dataclass(frozen=True)
class Sample:
    name: str
    file: str
    tickers: tuple[str, ...] | None
    description: str


SAMPLES = {
    s.name: s
    for s in (
        Sample(
            "jpm_bac",
            "pypfopt_adjclose_panel_1990-2024.csv",
            ("JPM", "BAC"),
            "JPM and BAC daily adjusted close, 1990-01-02 to 2024-11-29 (Yahoo via PyPortfolioOpt, MIT)",
        ),
        Sample(
            "pypfopt",
            "pypfopt_adjclose_panel_1990-2024.csv",
            None,
            "11-stock daily adjusted close panel 1990-2024 (AMZN BABA BAC GM GOOG JPM MA META SBUX T UAA); "
            "pick two (--tickers A B, or tickers=[...] in Python)",
        ),
    )
}


def samples() -> dict[str, str]:
    """Names of the shipped samples and what they hold."""
    return {name: s.description for name, s in SAMPLES.items()}


def load_sample(name: str, tickers: list[str] | None = None) -> MarketData:
    """Load a shipped sample; ``tickers`` selects columns (default: the sample's own pair or all)."""
    if name not in SAMPLES:
        raise DataError(f"unknown sample {name!r}; available: {', '.join(SAMPLES)}")
    sample = SAMPLES[name]
    chosen = tickers if tickers is not None else sample.tickers
    md = load_csv(SAMPLES_DIR / sample.file, tickers=list(chosen) if chosen is not None else None)
    return MarketData(
        md.prices,
        periods_per_year=md.periods_per_year,
        meta={**md.meta, "kind": "sample", "sample": name},
        validate=False,
    )
