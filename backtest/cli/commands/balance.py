"""``qcoord balance``: distributed load balancing with entangled routers (docs/balance.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...errors import BacktestError
from ..arguments import add_json_and_progress, add_options, add_specs, given, terminal_width

HELP = "load balancing with entangled routers: two servers, paired requests, the Pareto frontier"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ...balance.settings import NOT_TAKEN, specs

    p = sub.add_parser(
        "balance",
        help=HELP,
        description="Two servers process a preemptible background task and customers arriving in "
        "pairs; each of two routers sees only its own customer's service time and sends it "
        "to a server without talking. Plays random, always-bunch, always-split, the best "
        "local threshold rule, entangled routers, the oracle and talking routers on the "
        "same arrivals, draws the waiting-time/throughput frontier over t* and says whether "
        "entanglement pays (docs/balance.md).",
    )
    own = specs()
    add_specs(p.add_argument_group("scenario"), [s for s in own if s.section == "balance"])
    add_specs(p.add_argument_group("background task"), [s for s in own if s.section == "background"])
    add_options(p, sections=("noise", "link"), exclude=NOT_TAKEN)
    o = p.add_argument_group("output")
    o.add_argument("--config", metavar="FILE", help="a balance run's config.toml (options given here override it)")
    o.add_argument("--name", help="run folder name under --runs-dir (default: a timestamp)")
    o.add_argument("--out", metavar="DIR", help="write the run into exactly this folder (must not exist)")
    o.add_argument("--runs-dir", default="runs", help="where run folders go (default runs/)")
    add_json_and_progress(o, "metrics.json", " over the simulated pairs")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...balance.outcome import write_folder
    from ...balance.run import run_balance
    from ...balance.settings import BalanceConfig
    from ...output.atomic import check_writable
    from ...output.runs import new_run_dir

    if args.out and args.name:
        raise BacktestError("--name names a folder under --runs-dir; --out gives the whole folder: give one of them")
    cfg = BalanceConfig.from_toml(args.config) if args.config else BalanceConfig()
    cfg = cfg.with_values(given(args))
    out = Path(args.out) if args.out else new_run_dir(args.runs_dir, args.name)
    check_writable(out, "--out" if args.out else "run folder")  # before any work
    result = run_balance(cfg, progress=args.progress)
    write_folder(result, out)
    if args.json:
        print((out / "metrics.json").read_text(), end="")
        return 0
    print(result.summary(terminal_width()))
    print(f"written: {out}/ (report.html, metrics.json, config.toml, frontier.png, convergence.png)", file=sys.stdout)
    return 0
