"""``qcoord data``: load a data source and describe it (and optionally save its prices)."""

from __future__ import annotations

import argparse

from .... import data

from ...output.atomic import atomic_file
from ...output.jsondoc import dumps
from ..arguments import add_file_output, add_options, check_file_output, given, nonnegative_int, positive_int


HELP = "load a price source and describe it"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help=HELP,
                       description="Load a data source (synthetic, shipped sample, CSV or Yahoo) and print a summary.")
    add_options(p, sections=("source",))
    p.add_argument("--rounds", type=positive_int, default=10_000, help="synthetic: number of returns (default 10000)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="synthetic: random seed (default 0)")
    p.add_argument("--list-samples", action="store_true", help="list the shipped samples and exit")
    add_file_output(p, ".csv", "also write the prices (and synthetic truth) to this CSV")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list_samples:
        for name, text in data.samples().items():
            print(f"{name:10s} {text}")
        return 0
    check_file_output(args.out, ".csv", args.force)
    from ...config import RunConfig

    source = RunConfig().with_values(given(args)).source
    md = source.load(seed=args.seed, n_rows=args.rounds + 1)
    summary = md.summary()
    truth = md.truth
    if truth is not None:
        summary["truth"] = {c: float(truth[c].iloc[1:].mean()) for c in truth.columns if c != "rho"}
    if args.out:
        frame = md.prices if truth is None else md.prices.join(truth)
        with atomic_file(args.out) as fh:
            frame.to_csv(fh, index_label="Date")
        summary["written"] = args.out
    if args.json:
        print(dumps(summary))
        return 0
    print(f"tickers          {' / '.join(summary['tickers'])}")
    print(f"source           {summary['source'].get('kind')}")
    print(f"rows             {summary['rows']}  ({summary['start']} → {summary['end']})")
    print(f"periods per year {summary['periods_per_year']:g}")
    print(f"dropped rows     {summary['dropped_rows']}  {summary['source'].get('alignment', '')}")
    corr = summary.get("return_correlation")
    print(f"return corr      {'n/a (one ticker)' if corr is None else f'{corr:.4f}'}")
    for t, v in summary["annual_volatility"].items():
        print(f"volatility {t:5s} {v:.2%} a year")
    for k, v in summary.get("truth", {}).items():
        print(f"mean {k:11s} {v:.4f}")
    if args.out:
        print(f"written          {args.out}")
    return 0
