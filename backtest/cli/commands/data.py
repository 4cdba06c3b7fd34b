"""``qcoord data``: load a data source and describe it (and optionally save its prices)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .... import data

from ...output.atomic import atomic_file
from ...output.jsondoc import dumps
from ..arguments import add_file_output, add_options, check_file_output, given, nonnegative_int, positive_int


HELP = "load a price source and describe it"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help=HELP,
        description="Load a data source (synthetic, shipped sample, CSV or Yahoo) and print a summary.",
    )
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
    print("\n".join(describe(summary)))
    return 0


def _day(stamp: str) -> str:
    """A daily timestamp without its midnight."""
    return stamp.removesuffix(" 00:00:00")


def describe(summary: dict) -> list[str]:
    """``MarketData.summary()`` as lines of text: what a person reads, never a dict."""
    src = summary["source"]
    what = src.get("kind") or "?"
    detail = src.get("mode") if what == "synthetic" else src.get("sample") if what == "sample" else None
    files = src.get("files") if what == "csv" else None
    lines = [
        f"tickers          {' / '.join(summary['tickers'])}",
        f"source           {what}{' ' + detail if detail else ''}"
        + (f" ({', '.join(Path(f).name for f in files)})" if files else ""),
        f"rows             {summary['rows']} ({_day(summary['start'])} to {_day(summary['end'])})",
        f"periods per year {summary['periods_per_year']:g}",
    ]
    parts = src.get("alignment") or {}
    lines.append(
        f"dropped rows     {summary['dropped_rows']}"
        + (" (" + ", ".join(f"{v} {k}" for k, v in parts.items()) + ")" if parts else "")
    )
    corr = summary.get("return_correlation")
    shown = "n/a (one ticker)" if corr is None else "n/a (a price never moves)" if corr != corr else f"{corr:.4f}"
    lines.append(f"return corr      {shown}")
    lines += [f"volatility {t:5s} {v:.2%} a year" for t, v in summary["annual_volatility"].items()]
    lines += [f"mean {k:11s} {v:.4f}" for k, v in summary.get("truth", {}).items()]
    if summary.get("written"):
        lines.append(f"written          {summary['written']}")
    return lines
