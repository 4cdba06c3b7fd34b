"""qcoord's engine: indicators, market makers and fills, P&L and risk, and the ``qcoord`` command line.

The one call is ``run_backtest(source, ...)`` returning a ``Result``. This is the only package that ties
``data``, ``strategies`` and ``reports`` together.
"""

__version__ = "0.1.0"

from .config import RunConfig  # noqa: E402
from .engine import run_backtest  # noqa: E402
from .errors import BacktestError  # noqa: E402
from .fills.models import BiasFill, FillModel, QueueFill, make_fill  # noqa: E402
from .feed.indicators import (  # noqa: E402
    Divergence,
    Momentum,
    ReturnShock,
    SpreadWidening,
    VolatilityBurst,
    FunctionIndicator,
    Indicator,
    NoisyRegime,
    NoisySignal,
    QuantileBins,
    RollingCorrelation,
    ThresholdIndicator,
    VolumeSpike,
    check_causality,
    make_indicator,
    make_levels_indicator,
)
from .output.result import Result  # noqa: E402
from .batch.scan import ScanResult, run_scan  # noqa: E402
from .batch.sweep import SweepResult, run_sweep  # noqa: E402
from .players.supply import BellPairSupply  # noqa: E402
from .feed.views import LocalView  # noqa: E402

__all__ = [
    "BacktestError",
    "BellPairSupply",
    "BiasFill",
    "Divergence",
    "Momentum",
    "ReturnShock",
    "SpreadWidening",
    "VolatilityBurst",
    "FillModel",
    "FunctionIndicator",
    "Indicator",
    "LocalView",
    "NoisyRegime",
    "NoisySignal",
    "QuantileBins",
    "QueueFill",
    "Result",
    "RunConfig",
    "RollingCorrelation",
    "ThresholdIndicator",
    "VolumeSpike",
    "check_causality",
    "make_fill",
    "make_indicator",
    "make_levels_indicator",
    "run_backtest",
    "run_scan",
    "run_sweep",
    "SweepResult",
    "ScanResult",
]
