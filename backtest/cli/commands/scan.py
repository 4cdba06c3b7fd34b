"""``qcoord scan [source] [backtest options] [filters] [--grid PARAM=V1,V2 ...] --out DIR``: which pairs of a universe
does entanglement pay for, ranked, with intervals and false-discovery control, locally or on a Dask cluster.

Writes ``scan.csv`` and ``scan.parquet`` (one row per pair and grid point), ``scan.json`` (the ranking, the
filters, the FDR summary), ``report.html`` with its figures, and ``pairs/`` (one file per finished pair: the
resume points). Columns and statistics: README, ``backtest.batch.scan``.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from ..arguments import (
    add_json_and_progress,
    add_run_arguments,
    add_scheduler_argument,
    bounded,
    parse_param,
    positive_int,
    terminal_width,
)
from ...output.jsondoc import dumps
from ...errors import BacktestError


HELP = "rank every pair of a universe by what entanglement is worth to it"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help=HELP,
        description="One backtest per pair of a universe (a sample, CSV files or a folder, Yahoo "
        "tickers), ranked by quantum's book variance against the best local classical "
        "strategy, with Benjamini-Hochberg q-values; on a local Dask cluster or "
        "--scheduler. Resumable: rerun the same command to finish.",
    )
    from ...feed.sources import SYNTHETIC_FIELDS

    # a scan runs on real tickers: the synthetic pair's options and its length in rounds do not apply
    synthetic = ("run.rounds", "run.in_memory_rows", "source.mode", *(f"source.{k}" for k in SYNTHETIC_FIELDS))
    add_run_arguments(p, exclude=synthetic)
    f = p.add_argument_group("pairs")
    f.add_argument("--pairs", metavar="FILE", help="scan these pairs (one 'A,B' per line) instead of all pairs")
    f.add_argument(
        "--min-rows",
        type=positive_int,
        default=250,
        metavar="N",
        help="skip pairs with fewer common rows (default 250)",
    )
    f.add_argument(
        "--min-corr",
        type=bounded(float, -1.0, 1.0, "a correlation in [-1, 1]"),
        metavar="R",
        help="skip pairs whose returns correlate less than R on the training window",
    )
    f.add_argument("--sectors", metavar="FILE", help="CSV with columns ticker,sector")
    f.add_argument("--same-sector", action="store_true", help="only pairs within a sector (needs --sectors)")
    f.add_argument(
        "--grid",
        nargs="+",
        metavar="PARAM=V1,V2",
        default=[],
        help="also scan these option values (as qcoord sweep): one row per pair and grid point",
    )
    add_scheduler_argument(p)
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=4,
        metavar="N",
        help="pairs per task (default 4; results do not depend on it)",
    )
    p.add_argument(
        "--fdr",
        type=bounded(float, 0.0, 1.0, "a false-discovery rate in (0, 1]", open_lo=True),
        default=0.05,
        metavar="Q",
        help="false-discovery rate for the Benjamini-Hochberg step, in (0, 1] (default 0.05)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="scan folder (default runs/scan-<timestamp>); rerun to resume")
    o.add_argument("--force", action="store_true", help="let a scan with other options reuse --out")
    add_json_and_progress(o, "scan.json", " across pairs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...batch import scan
    from ..arguments import resolve
    from ...output.runs import new_run_dir

    base = resolve(args)
    grid = dict(parse_param(t) for t in args.grid)
    if len(grid) != len(args.grid):
        raise BacktestError("a --grid parameter is given twice; give each once with all its values")
    out = Path(args.out) if args.out else new_run_dir("runs", "scan-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    result = scan.run_scan(
        None,
        base,
        pairs=args.pairs,
        min_rows=args.min_rows,
        min_corr=args.min_corr,
        sectors=args.sectors,
        same_sector=args.same_sector,
        grid=grid,
        out=out,
        force=args.force,
        scheduler=args.scheduler,
        workers=args.workers,
        batch_size=args.batch_size,
        fdr_level=args.fdr,
        progress=args.progress,
    )
    result.write(out)
    if args.json:
        print(dumps(result.doc))
        return 0
    print(render(result.doc, result.ranking, terminal_width()))
    print(f"written: {out}/ (scan.csv, scan.parquet, scan.json, report.html)")
    return 0


SHOWN = 15  # pairs the terminal lists (all are in scan.csv and the report)


def render(doc: dict, ranked, width: int = 80) -> str:
    """The headline, wrapped to ``width``, and the top pairs, with their count out of all: by the variance ratio
    where some pair uses entanglement, else by how far each is from paying (``move_needed``)."""
    import textwrap

    from ...output.text import fit_table

    lines = textwrap.wrap(doc["headline"], width, break_long_words=False)
    if ranked.empty:
        return "\n".join(lines)
    from .... import reports

    uses = reports.uses_entanglement(ranked).any()
    if uses:
        cols = (
            "a",
            "b",
            *doc["grid"],
            "best_local",
            "variance_ratio",
            "variance_ratio_lo",
            "variance_ratio_hi",
            "q_value",
            "uses_entanglement",
        )
        what = "by quantum's book variance against the best local classical strategy (lower first)"
    else:
        cols = ("a", "b", *doc["grid"], "best_local", "move_needed")
        what = (
            "no pair uses entanglement with these indicators; ranked by move_needed, the change of one input "
            "cell's return correlation that would make entanglement pay (smaller is closer"
            + ("; — where no single cell would do)" if ranked["move_needed"].isna().any() else ")")
        )
    shown = min(SHOWN, len(ranked))
    count = f"top {shown} of {len(ranked)} pairs" if shown < len(ranked) else f"all {len(ranked)} pairs"
    lines += textwrap.wrap(f"{count}, {what}:", width, break_long_words=False)
    table = ranked[[c for c in cols if c in ranked]].head(shown)
    table = table.set_index(table["a"] + "/" + table["b"]).drop(columns=["a", "b"]).rename_axis(None)
    lines += fit_table(table, width, lambda v: f"{v:.4g}")
    return "\n".join(lines)
