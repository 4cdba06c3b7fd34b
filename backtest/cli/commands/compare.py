"""``qcoord compare RUN_DIR RUN_DIR ...``: the chosen metrics side by side, and an overlay of cumulative P&L."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import BacktestError
from ...output.jsondoc import dumps
from ..arguments import comma_list


HELP = "compare finished runs side by side"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help=HELP,
        description="Compare runs written by `qcoord backtest`: metrics side by side and one figure "
        "overlaying a strategy's cumulative P&L across the runs.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (each with a metrics.json)")
    p.add_argument(
        "--metrics",
        type=comma_list,
        metavar="M1,M2",
        help="metrics to show (default pnl_var,variance_share,hedged_rate,win_rate,sharpe,quantum_share)",
    )
    p.add_argument("--strategies", type=comma_list, metavar="S1,S2", help="strategies to show (default all)")
    p.add_argument("--strategy", default="quantum", help="strategy whose cumulative P&L the figure overlays (quantum)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="folder for compare.png and compare.csv (default "
        "runs/compare-<timestamp>; the run folders are never written to)",
    )
    p.add_argument("--figure", metavar="FILE.png", help="write the overlay figure here instead (and no compare.csv)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime

    from .... import reports

    from ...analysis.pays import decide
    from ...output.answer import answer
    from ...output.atomic import atomic_file, atomic_files, check_writable
    from ...output.metrics import METRIC_KEYS
    from ...output.runs import new_run_dir, read_run, run_labels

    if args.figure and args.out:
        raise BacktestError("--out is a folder for compare.png and compare.csv; --figure one file: give one of them")
    out = (
        None
        if args.figure
        else (
            Path(args.out) if args.out else new_run_dir("runs", "compare-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
        )
    )
    figure = Path(args.figure) if out is None else out / "compare.png"
    if figure.suffix != ".png":
        raise BacktestError(f"--figure {figure}: expected a .png file name")
    runs = {}
    for path in args.runs:
        if str(path) in runs:
            raise BacktestError(f"{path} is given twice")
        runs[str(path)] = read_run(path)
    labels = run_labels({path: doc for path, (doc, _) in runs.items()})
    loaded = {labels[path]: run for path, run in runs.items()}
    metrics = args.metrics or None
    if metrics:
        unknown = [m for m in metrics if m not in METRIC_KEYS]
        if unknown:
            raise BacktestError(f"unknown metric(s) {unknown}; choose from {', '.join(METRIC_KEYS)}")
    check_writable(figure, "--figure", overwrite=True)  # before the table and figure are computed
    if args.strategies:
        known = {s for doc, _ in loaded.values() for s in doc["strategies"]}
        if unknown := [s for s in args.strategies if s not in known]:
            raise BacktestError(
                f"--strategies: {unknown} ran in none of these runs; they have {', '.join(sorted(known))}"
            )
    table = reports.compare_runs({k: v[0] for k, v in loaded.items()}, metrics, args.strategies)
    curves = {k: eq[args.strategy] for k, (_, eq) in loaded.items() if args.strategy in eq}
    if not curves:
        raise BacktestError(f"no run has an equity curve for strategy {args.strategy!r}")
    png = reports.to_png(reports.overlay(curves, title=f"Cumulative book P&L of {args.strategy}"))
    if out is None:
        with atomic_file(figure, "wb") as fh:
            fh.write(png)
    else:
        with atomic_files(out) as put:  # both or neither
            with put("compare.png", "wb") as fh:
                fh.write(png)
            with put("compare.csv") as fh:
                table.to_csv(fh)
    # each run's answer to "does quantum pay after costs": as it wrote it, or decided now for a run older than that
    pays = {
        label: doc.get("pays")
        or decide(
            doc.get("game") or {},
            doc.get("comparison") or {},
            doc["strategies"],
            ((doc.get("config") or {}).get("run") or {}).get("risk_aversion", 3.0),
            doc.get("link"),
            clock=doc.get("clock"),
        )
        for label, (doc, _) in loaded.items()
    }
    if args.json:
        out_doc = {run: {f"{s}.{m}": v for (s, m), v in col.items()} for run, col in table.to_dict().items()}
        print(
            dumps(
                {
                    "runs": out_doc,
                    "folders": {labels[p]: p for p in runs},
                    "pays": pays,
                    "answer": {label: answer(p) for label, p in pays.items()},
                    "figure": str(figure),
                }
            )
        )
        return 0
    import textwrap

    from ...output.text import fit_table
    from ..arguments import terminal_width

    width = terminal_width()

    def para(text: str) -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)

    number = {label: str(i) for i, label in enumerate(loaded, 1)}  # the table's columns, named in the first lines
    lines = [x for label, path in zip(loaded, runs) for x in para(f"run {number[label]}: {label}, in {path}")]
    lines += [x for label in loaded for x in para(f"{number[label]}: {answer(pays[label])}")]  # the answer first
    lines += fit_table(table.rename(columns=number), width, lambda v: f"{v:.4f}")
    for label, (doc, _) in loaded.items():  # each run's verdict in short (runs before the headline: in full)
        lines += para(f"{number[label]}: {doc.get('headline') or doc['verdict']}")
    lines += para(f"written: {figure}" + (f", {out / 'compare.csv'}" if out is not None else ""))
    print("\n".join(lines))
    return 0
