"""``qcoord backtest``: run one backtest and write its folder (metrics, P&L, config, report, figures)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from ...errors import BacktestError
from ..arguments import add_json_and_progress, add_run_arguments, resolve, terminal_width


HELP = "run a backtest and write its report"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help=HELP,
        description="Backtest classical and quantum coordination of two market makers on a pair of "
        "stocks. With no options: the built-in synthetic 'signals' pair, all baselines, "
        "exact quantum path, seed 0, 200000 rounds; output in runs/<timestamp>/.",
    )
    add_run_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--name", help="run folder name under --runs-dir (default: a timestamp)")
    o.add_argument("--out", metavar="DIR", help="write the run into exactly this folder (must not exist)")
    o.add_argument("--runs-dir", default="runs", help="where run folders go (default runs/)")
    add_json_and_progress(o, "metrics.json")
    p.set_defaults(run=run)


def execute(cfg, progress: bool | None = None):
    """Run the configured backtest."""
    from ...engine import run_backtest

    return run_backtest(config=cfg, progress=progress)


def describe_indicators(result) -> str:
    parts = []
    for side in ("A", "B"):
        d = dict(result.indicators[side])
        name = d.pop("name")
        params = ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items() if v is not None
        )
        parts.append(f"{side}: {name}({params})")
    return "indicators: " + "; ".join(parts) + f"; partner latency {result.indicators['latency']} bar(s)"


def run(args: argparse.Namespace) -> int:
    from ...output.runs import new_run_dir, write_run

    from ...output.atomic import check_writable
    from ...output.progress import shows

    if args.out and args.name:
        raise BacktestError("--name names a folder under --runs-dir; --out gives the whole folder: give one of them")
    cfg = resolve(args)
    out = Path(args.out) if args.out else new_run_dir(args.runs_dir, args.name)
    check_writable(out, "--out" if args.out else "run folder")  # before any work: a result is never lost
    from .... import reports

    # the figures' workers start now: their imports (matplotlib) run on the other core while the engine runs
    with reports.Painter() as painter:
        result = execute(cfg, progress=args.progress)
        show = shows(args.progress)
        if show:  # the report (figures, HTML) takes a moment too
            print("report: writing figures and HTML ...", file=sys.stderr, end="\r", flush=True)
        write_run(result, cfg, out, painter)
    if show:
        print("\r\033[K", file=sys.stderr, end="", flush=True)  # clear the stage line before the summary
    if args.json:
        print((out / "metrics.json").read_text(), end="")
        return 0
    width = terminal_width()
    print(result.summary(width))
    print("\n".join(textwrap.wrap(describe_indicators(result), width, subsequent_indent="  ", break_long_words=False)))
    print(
        "\n".join(
            textwrap.wrap(
                f"written: {out}/ (report.html, metrics.json, config.toml, pnl, figures)",
                width,
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    )
    return 0
