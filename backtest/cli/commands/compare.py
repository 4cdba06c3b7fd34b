"""``qcoord compare RUN_DIR RUN_DIR ...``: the chosen metrics side by side, and an overlay of cumulative P&L."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import BacktestError
from ...output.jsondoc import dumps
from ..arguments import comma_list


HELP = "compare finished runs side by side"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help=HELP,
                       description="Compare runs written by `qcoord backtest`: metrics side by side and one figure "
                                   "overlaying a strategy's cumulative P&L across the runs.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (each with a metrics.json)")
    p.add_argument("--metrics", type=comma_list, metavar="M1,M2",
                   help="metrics to show (default pnl_var,variance_share,hedged_rate,win_rate,sharpe,quantum_share)")
    p.add_argument("--strategies", type=comma_list, metavar="S1,S2", help="strategies to show (default all)")
    p.add_argument("--strategy", default="quantum", help="strategy whose cumulative P&L the figure overlays (quantum)")
    p.add_argument("--figure", metavar="FILE.png",
                   help="where to write the overlay figure (default: compare.png in the first run's folder)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .... import reports

    from ...output.atomic import atomic_file, check_writable
    from ...output.metrics import METRIC_KEYS
    from ...output.runs import read_run

    figure = Path(args.figure) if args.figure else Path(args.runs[0]) / "compare.png"
    if figure.suffix != ".png":
        raise BacktestError(f"--figure {figure}: expected a .png file name")
    loaded = {}
    for path in args.runs:
        label = Path(path).name or str(path)
        if label in loaded:
            label = str(path)
        loaded[label] = read_run(path)
    metrics = args.metrics or None
    if metrics:
        unknown = [m for m in metrics if m not in METRIC_KEYS]
        if unknown:
            raise BacktestError(f"unknown metric(s) {unknown}; choose from {', '.join(METRIC_KEYS)}")
    check_writable(figure, "--figure", overwrite=True)  # before the table and figure are computed
    if args.strategies:
        known = {s for doc, _ in loaded.values() for s in doc["strategies"]}
        unknown = [s for s in args.strategies if s not in known]
        if unknown:
            raise BacktestError(f"--strategies: {unknown} ran in none of these runs; they have {', '.join(sorted(known))}")
    table = reports.compare_runs({k: v[0] for k, v in loaded.items()}, metrics, args.strategies)
    curves = {k: eq[args.strategy] for k, (_, eq) in loaded.items() if args.strategy in eq}
    if not curves:
        raise BacktestError(f"no run has an equity curve for strategy {args.strategy!r}")
    png = reports.to_png(reports.overlay(curves, title=f"Cumulative book P&L of '{args.strategy}' by run"))
    with atomic_file(figure, "wb") as fh:
        fh.write(png)
    if args.json:
        out = {run: {f"{s}.{m}": v for (s, m), v in col.items()} for run, col in table.to_dict().items()}
        print(dumps({"runs": out, "figure": str(figure)}))
        return 0
    import textwrap

    from ...output.text import fit_table
    from ..arguments import terminal_width

    width = terminal_width()
    print("\n".join(fit_table(table, width, lambda v: f"{v:.4f}")))
    for run, (doc, _) in loaded.items():  # each run's verdict in short (runs before the headline: in full)
        print("\n".join(textwrap.wrap(f"{run}: {doc.get('headline') or doc['verdict']}", width,
                                       subsequent_indent="  ", break_long_words=False)))
    print(f"figure: {figure}")
    return 0
