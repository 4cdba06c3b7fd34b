"""Market data for qcoord: synthetic correlated pairs, CSV files, Yahoo Finance (cached) and shipped samples.

Public API: ``MarketData``, ``synthetic_pair``, ``SyntheticPair``, ``load_csv``, ``load_yahoo``,
``load_quote_bars``, ``load_trade_bars``, ``load_sample``, ``samples``, ``align``, ``DataError``; for scans ``Universe``
(``load_universe``, ``sample_universe``, ``universe_of``). This package imports neither ``strategies``
nor ``reports`` nor ``backtest``.
"""

from .align import align
from .errors import DataError, DataWarning
from .files import load_csv, load_quote_bars, load_trade_bars
from .frequency import infer_periods_per_year
from .market import MarketData
from .shipped import load_sample, samples
from .synthetic import SyntheticPair, synthetic_pair
from .universe import Universe, load_universe, sample_universe, universe_of
from .yahoo import default_cache_dir, load_yahoo

__all__ = [
    "DataError",
    "DataWarning",
    "MarketData",
    "SyntheticPair",
    "Universe",
    "align",
    "default_cache_dir",
    "infer_periods_per_year",
    "load_csv",
    "load_quote_bars",
    "load_trade_bars",
    "load_sample",
    "load_universe",
    "load_yahoo",
    "sample_universe",
    "samples",
    "synthetic_pair",
    "universe_of",
]
