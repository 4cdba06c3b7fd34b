"""Reports: tables, figures, the HTML report and run comparison, from plain pandas objects and dicts.

This package imports neither ``data`` nor ``strategies`` nor ``backtest``.
"""

if __name__ != "qcoord.reports":  # imported by its folder name from a checkout: its relative imports cannot work
    raise ImportError(
        "reports/ installs as qcoord.reports: `import qcoord.reports` (or `import qcoord`) after "
        "`pip install -e .` (README)"
    )

from .._lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "balance": ("balance_figures", "balance_report", "convergence_figure", "frontier_figure"),
        "figures": (
            "cumulative_pnl",
            "hedge_cells",
            "horizon_value",
            "information_value",
            "inventory",
            "overlay",
            "period_ratios",
            "pnl_distribution",
            "rolling_variance",
            "sweep_metric",
            "to_png",
            "win_rate_by_input",
        ),
        "html": ("run_report",),
        "link": ("distance_frontier", "link_frontier", "link_section", "link_table"),
        "render": ("Drawing", "Painter", "pngs"),
        "scan": ("scan_curves", "scan_distribution", "scan_heatmap", "scan_report", "uses_entanglement"),
        "sweep": ("sweep_report",),
        "tables": (
            "compare_runs",
            "comparison_table",
            "game_table",
            "hedge_table",
            "information_table",
            "metrics_table",
        ),
    },
)
