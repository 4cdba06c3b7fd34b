"""``qcoord scan [source] [backtest options] [filters] [--grid PARAM=V1,V2 ...] --out DIR``: which pairs of a universe
does entanglement pay for, ranked, with intervals and false-discovery control, locally or on a Dask cluster.

Writes ``scan.csv`` and ``scan.parquet`` (one row per pair and grid point), ``scan.json`` (the ranking, the
filters, the FDR summary), ``report.html`` with its figures, and ``pairs/`` (one file per finished pair: the
resume points). Columns and statistics: README, ``backtest.scan``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from datetime import datetime
from pathlib import Path

from ..arguments import add_json_and_progress, bounded, nonnegative_int, positive_int, probability
from ..errors import BacktestError
from .backtest import add_run_arguments


def add_scheduler_argument(p: argparse.ArgumentParser) -> None:
    """--scheduler and --workers, shared with ``qcoord sweep``."""
    g = p.add_argument_group("execution")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask scheduler's workers (default $DASK_SCHEDULER_ADDRESS, else a local cluster)")
    g.add_argument("--workers", type=nonnegative_int, metavar="N",
                   help="worker processes of the local cluster (default: the cores; 0: a plain loop here)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="rank every pair of a universe by what entanglement is worth to it",
                       description="One backtest per pair of a universe (a sample, CSV files or a folder, Yahoo "
                                   "tickers), ranked by quantum's book variance against the best local classical "
                                   "strategy, with Benjamini-Hochberg q-values; on a local Dask cluster or "
                                   "--scheduler. Resumable: rerun the same command to finish.")
    add_run_arguments(p)
    f = p.add_argument_group("pairs")
    f.add_argument("--pairs", metavar="FILE", help="scan these pairs (one 'A,B' per line) instead of all pairs")
    f.add_argument("--min-rows", type=positive_int, default=250, metavar="N",
                   help="skip pairs with fewer common rows (default 250)")
    f.add_argument("--min-corr", type=bounded(float, -1.0, 1.0, "a correlation in [-1, 1]"), metavar="R",
                   help="skip pairs whose returns correlate less than R on the training window")
    f.add_argument("--sectors", metavar="FILE", help="CSV with columns ticker,sector")
    f.add_argument("--same-sector", action="store_true", help="only pairs within a sector (needs --sectors)")
    f.add_argument("--grid", nargs="+", metavar="PARAM=V1,V2", default=[],
                   help="also scan these option values (as qcoord sweep): one row per pair and grid point")
    add_scheduler_argument(p)
    p.add_argument("--batch-size", type=positive_int, default=4, metavar="N",
                   help="pairs per task (default 4; results do not depend on it)")
    p.add_argument("--fdr", type=probability, default=0.05, metavar="Q",
                   help="false-discovery rate for the Benjamini-Hochberg step (default 0.05)")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="scan folder (default runs/scan-<timestamp>); rerun to resume")
    o.add_argument("--force", action="store_true", help="let a scan with other options reuse --out")
    add_json_and_progress(o, "scan.json", " across pairs")
    p.set_defaults(run=run)


def _folder(args, signature: dict) -> Path:
    from ..atomic import atomic_file, check_writable
    from ..runs import new_run_dir

    out = Path(args.out) if args.out else new_run_dir("runs", "scan-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    if out.exists() and not (out / "pairs").is_dir():
        raise BacktestError(f"{out} exists and is not a scan folder")
    if not out.exists():
        check_writable(out, "--out")
    sig_path = out / "scan_options.json"
    if sig_path.is_file() and json.loads(sig_path.read_text()) != signature and not args.force:
        raise BacktestError(f"--out {out} holds a scan with other options; choose another --out, or add --force")
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    with atomic_file(sig_path) as fh:
        json.dump(signature, fh)
    return out


def plan(args):
    """(universe, base config, selection, grid, jobs): everything checked before any work."""
    from .. import scan
    from .sweep import parse_param, point_config

    from ..arguments import resolve
    from ..engine import Plan

    base = resolve(args)
    universe = base.source.universe()
    grid = dict(parse_param(t) for t in args.grid)
    if len(grid) != len(args.grid):
        raise BacktestError("a --grid parameter is given twice; give each once with all its values")
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] or [{}]
    for pt in points:
        try:
            Plan.check(point_config(base, pt))
        except BacktestError as exc:
            raise BacktestError(f"scan grid point {pt}: {exc}") from None
    pairs = scan.read_pairs(args.pairs, universe) if args.pairs else None
    sectors = scan.read_sectors(args.sectors, universe) if args.sectors else None
    sel = scan.select_pairs(universe, pairs=pairs, min_rows=args.min_rows, min_corr=args.min_corr, sectors=sectors,
                            same_sector=args.same_sector, train_fraction=base.run.train_fraction)
    if not sel.pairs:
        raise BacktestError(f"no pair left to scan ({len(sel.skipped)} skipped: "
                            + "; ".join(f"{k}: {v}" for k, v in list(sel.skipped.items())[:3]) + ")")
    jobs = [(a, b, pt) for a, b in sel.pairs for pt in points]
    return universe, base, sel, grid, jobs


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .. import cluster, scan
    from ..atomic import atomic_file

    universe, base, sel, grid, jobs = plan(args)
    out = _folder(args, json.loads(json.dumps({"grid": grid, "base": base.to_dict(), "pairs": sel.pairs},
                                              default=str)))
    ex = cluster.executor(args.scheduler, args.workers)
    bar = None
    try:
        cluster.announce(ex)
        if sys.stderr.isatty() if args.progress is None else args.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), unit="pair", file=sys.stderr, desc="scan", leave=False)
        rows, computed = scan.execute(universe, base, jobs, out, ex, args.batch_size, bar)
    finally:
        if bar is not None:
            bar.close()
        ex.close()
    table = scan.fdr(pd.DataFrame([{k: v for k, v in r.items() if k != "equity"} for r in rows]), args.fdr)
    params = list(grid)
    table = table[[c for c in ["a", "b", *params] if c in table] + [c for c in table.columns
                                                                    if c not in ("a", "b", *params)]]
    ranked = scan.ranking(table)
    with atomic_file(out / "scan.csv") as fh:
        table.to_csv(fh, index=False)
    try:
        with atomic_file(out / "scan.parquet", "wb") as fh:
            table.to_parquet(fh, index=False)
    except ImportError:  # pyarrow is optional: the CSV holds the same table
        pass
    doc = summary_doc(universe, base, sel, grid, table, ranked, args.fdr, computed, len(jobs))
    with atomic_file(out / "scan.json") as fh:
        json.dump(doc, fh, indent=2, default=str)
    _report(out, doc, table, ranked, rows, universe.tickers)
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print(render(doc, ranked))
    print(f"written: {out}/ (scan.csv, scan.parquet, scan.json, report.html)")
    return 0


def summary_doc(universe, base, sel, grid, table, ranked, level, computed, n_jobs) -> dict:
    ran = table[table["error"].isna()]
    return {
        "universe": {"tickers": universe.tickers, **{k: v for k, v in universe.meta.items() if k != "files"}},
        "pairs": len(sel.pairs), "skipped": sel.skipped, "grid": grid, "jobs": n_jobs, "computed": computed,
        "reused": n_jobs - computed, "errors": {f"{r.a}/{r.b}": r.error for r in table[table["error"].notna()].itertuples()},
        "fdr": {"method": "Benjamini-Hochberg (statsmodels fdr_bh) on one-sided p-values of quantum's variance "
                          "below best_local's (paired HAC)", "level": level, "tests": int(ran["p_one_sided"].notna().sum()),
                "survivors": int(ran["significant"].sum())},
        "entanglement_used": int(ran["uses_entanglement"].sum()),
        "ranking": json.loads(ranked.head(200).to_json(orient="records")),
        "config": base.to_dict(),
    }


def render(doc: dict, ranked) -> str:
    f = doc["fdr"]
    lines = [f"{doc['pairs']} pairs scanned ({len(doc['skipped'])} skipped by the filters, {len(doc['errors'])} could "
             f"not run), {doc['jobs']} backtests ({doc['computed']} computed, {doc['reused']} reused)",
             f"entanglement used by the fitted strategy in {doc['entanglement_used']} of them; quantum's test-window "
             f"book variance below the best local classical strategy's at FDR {f['level']:g} (Benjamini-Hochberg): "
             f"{f['survivors']} of {f['tests']}"]
    cols = [c for c in ("a", "b", *doc["grid"], "best_local", "variance_ratio", "variance_ratio_lo", "variance_ratio_hi",
                        "q_value", "fitted_advantage_share", "uses_entanglement", "move_needed") if c in ranked]
    lines.append(ranked[cols].head(15).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if f["survivors"] == 0:
        lines.append("no pair shows a quantum advantage that survives the false-discovery control")
    return "\n".join(lines)


def _report(out: Path, doc: dict, table, ranked, rows: list[dict], tickers: list[str]) -> None:
    import reports

    from ..atomic import atomic_file

    first = table
    for p in doc["grid"]:  # figures show the first grid point
        first = first[first[p] == doc["grid"][p][0]]
    curves = {f"{r['a']}/{r['b']}": r["equity"] for r in rows if r.get("equity")
              and all(r.get(p) == doc["grid"][p][0] for p in doc["grid"])}
    top = [f"{a}/{b}" for a, b in zip(ranked["a"], ranked["b"])][:4]
    figs = {
        "scan_heatmap": (reports.scan_heatmap(first, tickers), "Per pair: quantum's test-window book variance "
                         "relative to the best local classical strategy (blue: lower), or, when no pair uses "
                         "entanglement, how far its co-movement is from where entanglement would pay; hatched: "
                         "skipped, failed, or no change of a single input cell would make it pay."),
        "scan_distribution": (reports.scan_distribution(first), "Variance ratios of every pair with their paired 95% "
                              "intervals, sorted; filled: significant after Benjamini-Hochberg."),
    }
    chosen = {k: curves[k] for k in top if k in curves}
    if chosen:
        figs["scan_top_pairs"] = (reports.scan_curves(chosen), "Cumulative book P&L of quantum and of the best local "
                                  "classical strategy over the test window, for the top-ranked pairs.")
    pngs = {name: (reports.to_png(fig), caption) for name, (fig, caption) in figs.items()}
    with atomic_file(out / "report.html") as fh:
        fh.write(reports.scan_report(doc, ranked, pngs))
    for name, (png, _) in pngs.items():
        with atomic_file(out / f"{name}.png", "wb") as fh:
            fh.write(png)
