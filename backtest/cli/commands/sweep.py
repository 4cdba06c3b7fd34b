"""``qcoord sweep PARAM=V1,V2,... [PARAM=...] [backtest options] --out DIR``: where does entanglement stop paying?

The command line of ``batch.sweep.run_sweep``: one backtest per point of the grid on top of the backtest options;
writes ``sweep.csv``, ``sweep.json`` and figures, and prints the table and the crossing points. Resumable: rerun the
same command to finish.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from ...errors import BacktestError
from ...output.jsondoc import dumps
from ..arguments import (
    add_json_and_progress,
    add_run_arguments,
    add_scheduler_argument,
    parse_param,
    resolve,
    sweepable_names,
    terminal_width,
)


HELP = "sweep parameters to see where entanglement stops paying"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help=HELP,
        description="Run one backtest per point of a parameter grid. PARAM is one of: "
        + ", ".join(sweepable_names())
        + " (or any section.field path of a number). "
        "Resumable: rerun the same command to finish.",
    )
    p.add_argument("params", nargs="+", metavar="PARAM=V1,V2,...", help="a parameter and its values (several allowed)")
    add_run_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="sweep folder (default runs/sweep-<timestamp>); rerun to resume")
    o.add_argument(
        "--force",
        action="store_true",
        help="let a sweep with other options reuse --out (its tables are replaced; points are kept)",
    )
    add_json_and_progress(o, "sweep.json", " across points")
    add_scheduler_argument(p)  # points on a Dask cluster (default without either: one after the other, here)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ...batch.sweep import run_sweep
    from ...output import sweeps, text
    from ...output.runs import new_run_dir

    grid = dict(parse_param(t) for t in args.params)
    if len(grid) != len(args.params):
        raise BacktestError("a parameter is swept twice; give each one once with all its values")
    base = resolve(args)
    out = Path(args.out) if args.out else new_run_dir("runs", "sweep-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    result = run_sweep(
        config=base,
        grid=grid,
        out=out,
        force=args.force,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=args.progress,
    )
    result.write(out)
    if args.json:
        print(dumps(result.doc))
        return 0
    import textwrap

    names, table = result.params, result.table
    width = terminal_width()

    def para(text: str) -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)

    answer = result.doc["answer"]  # the answer first: does quantum pay after costs, over the grid and at each point
    lines = para(answer["grid"]) + [x for line in answer["points"] for x in para(line)]
    show = table[table.strategy.isin(["uncoordinated", "always_hedge", "classical", "quantum", "oracle"])]
    show = show[[*names, "strategy", "pnl_var", "variance_share", "hedged_rate", "win_rate", "advantage"]]
    show = show.set_index([*names, "strategy"]).rename(
        columns={"variance_share": "var_share", "hedged_rate": "hedged", "win_rate": "win"}
    )
    with pd.option_context("display.max_rows", 500):
        lines += text.fit_table(show, width, lambda v: f"{v:.4f}")
    lines += para(
        "columns: var_share = variance_share, hedged = hedged_rate, win = win_rate (before costs); "
        "advantage: the fitted game's, quantum - classical (before costs)"
    )
    for line in sweeps.crossing_lines(result.crossings, names[0]) + sweeps.link_frontier_lines(
        result.doc.get("link_frontier")
    ):
        lines += para(line)
    d = result.doc
    lines += para(f"points: {d['points']} ({d['computed']} computed, {d['reused']} reused)")
    lines += para(f"written: {out}/ (report.html, sweep.json, sweep.csv, figures)")
    print("\n".join(lines))
    return 0
