"""qcoord's engine: indicators, market makers and fills, P&L and risk, and the ``qcoord`` command line.

The one call is ``run_backtest(source, ...)`` returning a ``Result``. This is the only package that ties
``data``, ``strategies`` and ``reports`` together.
"""

if __name__ != "qcoord.backtest":  # imported by its folder name from a checkout: its relative imports cannot work
    raise ImportError(
        "backtest/ installs as qcoord.backtest: `import qcoord.backtest` (or `import qcoord`) after "
        "`pip install -e .` (README)"
    )

from .. import __version__ as __version__  # noqa: E402  (pyproject.toml's version, as installed)
from .._lazy import exports  # noqa: E402

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "balance.outcome": ("BalanceResult",),
        "balance.run": ("run_balance",),
        "balance.settings": ("BalanceConfig",),
        "config": ("RunConfig",),
        "engine": ("run_backtest",),
        "errors": ("BacktestError",),
        "fills": ("BiasFill", "FillModel", "QueueFill", "make_fill"),
        "feed.indicators": (
            "Divergence",
            "Momentum",
            "ReturnShock",
            "SpreadWidening",
            "VolatilityBurst",
            "FunctionIndicator",
            "Indicator",
            "NoisyRegime",
            "NoisySignal",
            "QuantileBins",
            "RollingCorrelation",
            "ThresholdIndicator",
            "VolumeSpike",
            "make_indicator",
            "make_levels_indicator",
        ),
        "feed.causality": ("check_causality",),
        "output.result": ("Result",),
        "batch.scan": ("ScanResult", "run_scan"),
        "batch.sweep": ("SweepResult", "run_sweep"),
        "players.supply": ("BellPairSupply",),
        "feed.views": ("LocalView",),
    },
)
