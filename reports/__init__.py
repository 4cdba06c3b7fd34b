"""Reports: tables, figures, the HTML report and run comparison, from plain pandas objects and dicts.

This package imports neither ``data`` nor ``strategies`` nor ``backtest``.
"""

from .figures import (
    cumulative_pnl,
    hedge_cells,
    information_value,
    inventory,
    overlay,
    period_ratios,
    pnl_distribution,
    rolling_variance,
    sweep_metric,
    to_png,
    win_rate_by_input,
)
from .html import run_report
from .scan import scan_curves, scan_distribution, scan_heatmap, scan_report
from .tables import compare_runs, comparison_table, game_table, hedge_table, information_table, metrics_table

__all__ = [
    "compare_runs",
    "comparison_table",
    "cumulative_pnl",
    "game_table",
    "hedge_cells",
    "information_table",
    "information_value",
    "hedge_table",
    "inventory",
    "metrics_table",
    "overlay",
    "period_ratios",
    "pnl_distribution",
    "rolling_variance",
    "run_report",
    "scan_curves",
    "scan_distribution",
    "scan_heatmap",
    "scan_report",
    "sweep_metric",
    "to_png",
    "win_rate_by_input",
]
