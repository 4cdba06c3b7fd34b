"""qcoord: does shared entanglement make two market makers who cannot talk to each other hedge better?

The public API in one place (loaded on first use, so ``import qcoord`` is instant and a command that needs no
Qiskit never imports it):

    import qcoord
    r = qcoord.run_backtest("signals", rounds=200_000, seed=1)       # the built-in synthetic pair
    r = qcoord.run_backtest(qcoord.load_sample("jpm_bac"))            # a shipped real pair
    print(r.summary())

The subpackages are the pipeline's parts: ``qcoord.data`` (market data), ``qcoord.strategies`` (games, classical
and quantum strategies, the solver, noise), ``qcoord.backtest`` (the engine and the ``qcoord`` command line, the
only part that ties the others together) and ``qcoord.reports`` (tables, figures, HTML). They install under this
one name, so a user's own ``data.py`` or ``backtest.py`` never shadows them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qcoord")  # one place: pyproject.toml's [project] version, as installed
except PackageNotFoundError:  # a checkout that was never installed (README: pip install -e .)
    __version__ = "0+unknown"

SUBPACKAGES = ("backtest", "data", "reports", "strategies")
# public name -> the subpackage that defines it
API = {
    **dict.fromkeys(
        (
            "run_backtest",
            "run_scan",
            "run_sweep",
            "run_balance",
            "RunConfig",
            "Result",
            "ScanResult",
            "SweepResult",
            "BalanceResult",
            "BalanceConfig",
            "BellPairSupply",
            "BiasFill",
            "QueueFill",
            "FillModel",
            "Indicator",
            "make_indicator",
            "BacktestError",
        ),
        "backtest",
    ),
    **dict.fromkeys(
        (
            "load_sample",
            "load_csv",
            "load_yahoo",
            "synthetic_pair",
            "SyntheticPair",
            "MarketData",
            "sample_universe",
            "samples",
            "DataError",
            "DataWarning",
            "EventPair",
            "Hawkes",
            "load_lobster",
            "load_quotes",
            "quote_market",
        ),
        "data",
    ),
    **dict.fromkeys(("Game", "Noise", "Strategy", "solve", "StrategyError"), "strategies"),
}
__all__ = [*SUBPACKAGES, *API, "__version__"]


def __getattr__(name: str):
    if name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in API:
        value = getattr(importlib.import_module(f"{__name__}.{API[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'qcoord' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
