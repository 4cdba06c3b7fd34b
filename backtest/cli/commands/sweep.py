"""``qcoord sweep PARAM=V1,V2,... [PARAM=...] [backtest options] --out DIR``: where does entanglement stop paying?

Runs one backtest per point of the grid (the product of the swept values) on top of the backtest
options, and writes ``sweep.csv`` (one row per point and strategy), ``sweep.json`` (the grid and the
crossing points) and figures of win rate, variance and hedging efficiency against the first swept
parameter, with the classical strategy drawn and the crossing (where quantum stops paying) marked.
Resumable: each finished point is saved under ``DIR/points/``; a rerun computes only the missing ones.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from datetime import datetime
from pathlib import Path

from ... import config
from ...errors import BacktestError
from ..arguments import (add_json_and_progress, add_run_arguments, add_scheduler_argument, parse_param, resolve,
                         sweepable_names)

COLUMNS = ["win_rate", "utility", "hedged_rate", "pnl_mean", "pnl_var", "variance_share", "sharpe",
           "hedging_efficiency", "bell_pairs", "quantum_share", "mean_pair_age"]


def point_config(base: config.RunConfig, point: dict) -> config.RunConfig:
    return base.with_values(point, "sweep parameter ")


def point_key(cfg: config.RunConfig) -> str:
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="sweep parameters to see where entanglement stops paying",
                       description="Run one backtest per point of a parameter grid. PARAM is one of: "
                                   + ", ".join(sweepable_names()) + " (or any section.field path of a number). "
                                   "Resumable: rerun the same command to finish.")
    p.add_argument("params", nargs="+", metavar="PARAM=V1,V2,...", help="a parameter and its values (several allowed)")
    add_run_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="sweep folder (default runs/sweep-<timestamp>); rerun to resume")
    o.add_argument("--force", action="store_true",
                   help="let a sweep with other options reuse --out (its tables are replaced; points are kept)")
    add_json_and_progress(o, "sweep.json", " across points")
    add_scheduler_argument(p)  # points on a Dask cluster (default without either: one after the other, here)
    p.set_defaults(run=run)


def _crossing(xs: list[float], ds: list[float]) -> float | None:
    """First x where d (quantum's edge over classical) changes sign, on the sorted grid.

    A genuine sign change is interpolated linearly. Where quantum has simply *become* the classical rule
    (edge exactly 0 past the threshold), the threshold lies between the grid points: it is extrapolated
    from the two nearest points where quantum pays, and kept within the bracketing interval.
    """
    pts = [(x, d) for x, d in zip(xs, ds) if d is not None and d == d]
    for i in range(len(pts) - 1):
        (x0, d0), (x1, d1) = pts[i], pts[i + 1]
        if (d0 > 0) == (d1 > 0):
            continue
        if d0 != 0 and d1 != 0:
            return x0 + (x1 - x0) * d0 / (d0 - d1)
        # one side is exactly zero: extrapolate from the paying side's two nearest points
        if d0 > 0 and i >= 1 and pts[i - 1][1] != d0:
            xa, da = pts[i - 1]
            x = x0 - d0 * (x0 - xa) / (d0 - da)
        elif d1 > 0 and i + 2 < len(pts) and pts[i + 2][1] != d1:
            xb, db = pts[i + 2]
            x = x1 - d1 * (xb - x1) / (db - d1)
        else:
            return x1 if d0 > 0 else x0
        lo, hi = min(x0, x1), max(x0, x1)
        return min(max(x, lo), hi)
    return None


def crossings(table, names: list[str]) -> dict:
    """Crossing points per group of the other swept parameters, for win rate, variance and fitted advantage."""
    import numpy as np

    first, others = names[0], names[1:]
    out = {}
    groups = [((), table)] if not others else list(table.groupby(others))
    for key, sub in groups:
        q = sub[sub.strategy == "quantum"].sort_values(first)
        c = sub[sub.strategy == "classical"].sort_values(first)
        if q.empty or c.empty:
            continue
        xs = q[first].tolist()
        label = "all" if not others else ", ".join(f"{n}={v}" for n, v in zip(others, np.atleast_1d(key)))
        edges = {
            "win_rate": (q.win_rate.to_numpy() - c.win_rate.to_numpy()).tolist(),
            "pnl_var": (c.pnl_var.to_numpy() - q.pnl_var.to_numpy()).tolist(),
            "advantage": q.advantage.tolist(),
        }
        out[label] = {}
        for metric, ds in edges.items():
            x = _crossing(xs, ds)
            pays = [d > 0 for d in ds]
            out[label][metric] = {"crossing": x, "quantum_pays_at": [v for v, ok in zip(xs, pays) if ok]}
    return out


def _grid(args: argparse.Namespace):
    """(grid, base config, points, their configs, the loaded real source per point or None), every point checked
    as it will run and real data loaded once, before anything is written."""
    from ...engine import Plan

    grid = dict(parse_param(t) for t in args.params)
    if len(grid) != len(args.params):
        raise BacktestError("a parameter is swept twice; give each one once with all its values")
    base = resolve(args)
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    configs = [point_config(base, pt) for pt in points]
    real = None if base.source.kind == "synthetic" else base.source.load()
    for pt, cfg in zip(points, configs):
        try:
            Plan.check(cfg)
        except BacktestError as exc:
            raise BacktestError(f"sweep point {pt}: {exc}") from None
    sources = [real if real is not None and cfg.source == base.source else None for cfg in configs]
    return grid, base, points, configs, sources


def _folder(args: argparse.Namespace, grid: dict, base) -> Path:
    """The sweep folder: new, or the same sweep's to resume (another sweep's only with --force)."""
    from ...output.atomic import atomic_file, check_writable
    from ...output.runs import new_run_dir

    out = Path(args.out) if args.out else new_run_dir("runs", "sweep-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    if out.exists() and not (out / "points").is_dir():
        raise BacktestError(f"{out} exists and is not a sweep folder")
    if not out.exists():
        check_writable(out, "--out")
    # a rerun resumes the same sweep; a sweep with other options would silently replace its tables
    signature = json.loads(json.dumps({"grid": grid, "base": base.to_dict()}, default=str))
    sig_path = out / "sweep_options.json"
    if sig_path.is_file() and json.loads(sig_path.read_text()) != signature and not args.force:
        raise BacktestError(f"--out {out} holds a sweep with other options; choose another --out, or add --force to "
                            "replace its tables")
    (out / "points").mkdir(parents=True, exist_ok=True)
    with atomic_file(sig_path) as fh:
        json.dump(signature, fh)
    return out


def compute_point(source, cfg, pt: dict, use_source: bool = True) -> dict:
    """One sweep point's record (a task on a cluster: ``source`` is the real data, scattered once, or None; with
    ``use_source`` False the point loads its own source from ``cfg``)."""
    from ...engine import run_backtest

    doc = run_backtest(source if use_source else None, cfg, progress=False).to_dict()
    return {"point": pt, "game": {k: doc["game"][k] for k in ("quantum_value", "classical_value", "advantage",
                                                                "uses_entanglement")},
            "strategies": doc["strategies"], "verdict": doc["verdict"]}


def _points(out: Path, points, configs, sources, progress: bool | None, ex=None) -> tuple[list[dict], int]:
    """One row per point and strategy; finished points are read back, the others computed (here, or on the
    executor ``ex``: ``backtest.cluster``) and saved as each finishes."""
    from ...output.atomic import atomic_file

    bar = None
    if sys.stderr.isatty() if progress is None else progress:
        from tqdm import tqdm

        bar = tqdm(total=len(points), unit="point", file=sys.stderr, desc="sweep", leave=False)
    paths = [out / "points" / f"{point_key(cfg)}.json" for cfg in configs]
    records: dict[int, dict] = {i: json.loads(p.read_text()) for i, p in enumerate(paths) if p.is_file()}
    todo = [i for i in range(len(points)) if i not in records]
    if bar is not None:
        bar.update(len(records))

    def save(i: int, record: dict) -> None:
        with atomic_file(paths[i]) as fh:
            json.dump(record, fh)
        records[i] = record
        if bar is not None:
            bar.update(1)

    if ex is None:
        for i in todo:
            save(i, compute_point(sources[i], configs[i], points[i]))
    else:  # the real source (one for every point, or none) is shipped to the workers once
        shared = next((src for src in sources if src is not None), None)
        tasks = [(configs[i], points[i], sources[i] is not None) for i in todo]
        for k, record in ex.map(compute_point, shared, tasks):
            save(todo[k], record)
    if bar is not None:
        bar.close()
    rows = []
    for i, pt in enumerate(points):
        record = records[i]
        for name, m in record["strategies"].items():
            row = {**pt, "strategy": name, **{k: m.get(k) for k in COLUMNS}}
            row["win_rate_lo"], row["win_rate_hi"] = m.get("win_rate_ci95") or [None, None]
            row.update(record["game"])
            rows.append(row)
    return rows, len(todo)


def _figures(out: Path, table, names: list[str], cross: dict) -> None:
    from .... import reports

    from ...output.atomic import atomic_file

    first_cross = next(iter(cross.values()), {})
    figs = {
        "sweep_win_rate": ("win_rate", "win rate"),
        "sweep_variance": ("pnl_var", "book P&L variance"),
        "sweep_hedging_efficiency": ("hedging_efficiency", "hedging efficiency"),
    }
    for fname, (metric, label) in figs.items():
        x = first_cross.get(metric, {}).get("crossing") if len(cross) == 1 else None
        fig = reports.sweep_metric(table.astype({metric: float}), names[0], metric, x, label, names[1:] or None)
        with atomic_file(out / f"{fname}.png", "wb") as fh:
            fh.write(reports.to_png(fig))


def _print(table, names: list[str], cross: dict) -> None:
    import pandas as pd

    show = table[table.strategy.isin(["uncoordinated", "always_hedge", "classical", "quantum", "oracle"])]
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(show[[*names, "strategy", "pnl_var", "variance_share", "hedged_rate", "win_rate", "advantage"]]
              .to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="—"))
    for label, c in cross.items():
        where = "" if label == "all" else f" ({label})"
        for metric, info in c.items():
            if info["crossing"] is not None:
                print(f"quantum stops paying{where} on {metric} at {names[0]} = {info['crossing']:.4g}")
            elif not info["quantum_pays_at"]:
                print(f"quantum never pays{where} on {metric} over this grid")
            else:
                print(f"quantum pays{where} on {metric} over the whole grid")


def run(args: argparse.Namespace) -> int:
    import os

    import pandas as pd

    from ...batch import cluster
    from ...output.atomic import atomic_file

    grid, base, points, configs, sources = _grid(args)
    names = list(grid)
    ex = None
    if args.scheduler or args.workers is not None or os.environ.get(cluster.ENV):
        ex = cluster.executor(args.scheduler, args.workers)  # before the folder: a wrong address writes nothing
    try:
        out = _folder(args, grid, base)
        if ex is not None:
            cluster.announce(ex)
        rows, computed = _points(out, points, configs, sources, args.progress, ex)
    finally:
        if ex is not None:
            ex.close()
    table = pd.DataFrame(rows)
    with atomic_file(out / "sweep.csv") as fh:
        table.to_csv(fh, index=False)
    cross = crossings(table, names)
    _figures(out, table, names, cross)
    doc = {"params": grid, "points": len(points), "computed": computed, "reused": len(points) - computed,
           "crossing": cross, "config": base.to_dict()}
    with atomic_file(out / "sweep.json") as fh:
        json.dump(doc, fh, indent=2, default=str)
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return 0
    _print(table, names, cross)
    print(f"points: {len(points)} ({computed} computed, {len(points) - computed} reused); written: {out}/")
    return 0
