"""reports works on plain pandas objects and dicts (it imports none of data, strategies, backtest)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qcoord import reports


def _doc(win: float) -> dict:
    strategies = {
        name: {
            "win_rate": w,
            "win_rate_ci95": [w - 0.01, w + 0.01],
            "pnl_var": v,
            "sharpe": 1.0,
            "hedging_efficiency": e,
            "quantum_share": q,
        }
        for name, w, v, e, q in (("classical", 0.75, 50.0, 0.5, 0.0), ("quantum", win, 40.0, 0.7, 1.0))
    }
    return {
        "schema": 1,
        "qcoord_version": "x",
        "created": "now",
        "seed": 0,
        "n_rounds": 10,
        "n_train": 5,
        "source": {"kind": "synthetic", "tickers": ["X", "Y"], "start": "a", "end": "b", "periods_per_year": 252},
        "game": {
            "beta": 0.0,
            "rule": "hedge",
            "p_xy": [[0.25, 0.25], [0.25, 0.25]],
            "classical_value": 0.75,
            "quantum_value": 0.85,
            "textbook_value": 0.85,
            "advantage": 0.1,
            "uses_entanglement": True,
            "angles": {"A": [1.57, None], "B": [0.39, -0.39]},
            "classical_rule": {"A_name": "a", "B_name": "b"},
        },
        "strategies": strategies,
        "comparison": {},
        "verdict": "a <verdict> & more",
        "config": {},
    }


def test_html_report_from_a_dict_escapes_text_and_embeds_figures():
    equity = pd.DataFrame(
        {"classical": np.cumsum(np.ones(50)), "quantum": np.cumsum(np.ones(50) * 1.1)},
        index=pd.date_range("2020-01-01", periods=50),
    )
    png = reports.to_png(reports.cumulative_pnl(equity))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    html = reports.run_report(_doc(0.85), {"cumulative_pnl": (png, "caption <1>")})
    assert "a &lt;verdict&gt; &amp; more" in html and "caption &lt;1&gt;" in html
    assert html.count("data:image/png;base64,") == 1
    assert "ignore qubit" in html  # an input on which the optimum ignores its qubit


def test_compare_runs_table_and_sweep_figure():
    table = reports.compare_runs({"r1": _doc(0.85), "r2": _doc(0.80)}, ["win_rate", "pnl_var"])
    assert table.loc[("quantum", "win_rate"), "r2"] == 0.80 and table.shape == (4, 2)
    sweep = pd.DataFrame(
        {
            "v": [1, 0.8, 1, 0.8],
            "strategy": ["quantum", "quantum", "classical", "classical"],
            "win_rate": [0.85, 0.78, 0.75, 0.75],
            "win_rate_lo": [0.84, 0.77, 0.74, 0.74],
            "win_rate_hi": [0.86, 0.79, 0.76, 0.76],
        }
    )
    fig = reports.sweep_metric(sweep, "v", "win_rate", 0.7, "win rate")
    assert fig.axes[0].get_xlabel() == "v"
    reports.to_png(fig)


def test_figures_drawn_side_by_side_are_the_figures_drawn_here():
    """reports.Painter draws in forked workers what the figure functions draw here, byte for byte, and a drawing
    names its figure function rather than holding it (the caller never imports matplotlib for it)."""
    import pandas as pd

    from qcoord import reports

    equity = pd.DataFrame({"quantum": [0.0, 1.0, 3.0, 2.0], "classical": [0.0, 2.0, 1.0, 3.0]})
    drawings = {
        "a": reports.Drawing("cumulative_pnl", (equity,)),
        "b": reports.Drawing(
            "win_rate_by_input",
            ({"quantum": {c: {"win_rate": 0.8, "ci95": [0.7, 0.9]} for c in ("00", "01", "10", "11")}},),
        ),
    }
    with reports.Painter(2) as painter:
        forked = painter.pngs(drawings)
    here = reports.pngs(drawings, processes=1)
    assert forked == here and list(forked) == ["a", "b"] and all(png[:4] == b"\x89PNG" for png in here.values())


def test_a_global_theme_set_by_another_library_leaves_our_figures_alone():
    """quantstats (which the risk tables import) sets seaborn's theme process-wide: bigger fonts and ticks, under
    which the report's legends outgrew their figures. The figure functions draw in the house style whatever the
    process's rcParams say, and leave the caller's rcParams as they were."""
    import matplotlib

    equity = pd.DataFrame({"classical": np.cumsum(np.ones(50)), "delayed_comm (= always_hedge)": np.arange(50.0)})
    plain = reports.to_png(reports.cumulative_pnl(equity))
    with matplotlib.rc_context(
        {
            "font.size": 13.2,
            "legend.fontsize": 12.1,
            "xtick.labelsize": 12.1,
            "axes.grid": True,
            "figure.figsize": [10.0, 6.0],
        }
    ):
        themed_fig = reports.cumulative_pnl(equity)
        assert matplotlib.rcParams["legend.fontsize"] == 12.1  # the caller's settings are back
        themed = reports.to_png(themed_fig)
    assert themed == plain
