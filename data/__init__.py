"""Market data for qcoord: synthetic correlated pairs, CSV files, Yahoo Finance (cached) and shipped samples.

Public API: ``MarketData``, ``synthetic_pair``, ``SyntheticPair``, ``load_csv``, ``load_yahoo``,
``load_quote_bars``, ``load_trade_bars``, ``load_sample``, ``samples``, ``align``, ``DataError``; for scans ``Universe``
(``load_universe``, ``sample_universe``, ``universe_of``); in event time ``EventPair`` (two venues' Hawkes-driven
mid prices on a microsecond cadence), ``Hawkes`` (the simulator), ``load_lobster``, ``load_quotes``, ``QuoteEvents``
and ``quote_market`` (timestamped quotes and their sampling on a cadence). This package imports neither
``strategies`` nor ``reports`` nor ``backtest``.
"""

if __name__ != "qcoord.data":  # imported by its folder name from a checkout: its relative imports cannot work
    raise ImportError(
        "data/ installs as qcoord.data: `import qcoord.data` (or `import qcoord`) after `pip install -e .` (README)"
    )

from .._lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "alignment": ("align",),
        "errors": ("DataError", "DataWarning"),
        "events": ("QuoteEvents", "load_lobster", "load_quotes", "quote_market"),
        "files": ("load_csv", "load_quote_bars", "load_trade_bars"),
        "frequency": ("infer_periods_per_year",),
        "hawkes": ("Hawkes", "HawkesStream"),
        "market": ("MarketData",),
        "shipped": ("load_sample", "samples"),
        "synthetic": ("SyntheticPair", "synthetic_pair"),
        "universe": ("Universe", "load_universe", "sample_universe", "universe_of"),
        "venues": ("EventPair",),
        "yahoo": ("default_cache_dir", "load_yahoo"),
    },
)
