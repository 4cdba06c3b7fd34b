"""``qcoord backtest``: run one backtest and write its folder (metrics, P&L, config, report, figures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import BacktestError
from ..sources import (
    add_source_arguments,
    bounded,
    comma_list,
    nonnegative_int,
    per_ticker,
    positive_int,
    probability,
)
from .game import _time, add_game_arguments

# (argparse dest, config section, config key); how a value is converted is in _apply
OPTIONS = [
    ("rounds", "run", "rounds"), ("seed", "run", "seed"), ("backend", "run", "backend"), ("device", "run", "device"),
    ("train_fraction", "run", "train_fraction"), ("refit_every", "run", "refit_every"), ("delay", "run", "delay"),
    ("book_size", "run", "book_size"), ("risk_free", "run", "risk_free"), ("keep_rounds", "run", "keep_rounds"),
    ("indicator", "indicators", "name"), ("indicator_b", "indicators", "name_b"), ("latency", "indicators", "latency"),
    ("flip", "indicators", "flip"), ("window", "indicators", "window"), ("target", "indicators", "target"),
    ("threshold", "indicators", "threshold"),
    ("game", "game", "kind"), ("beta", "game", "beta"), ("rule", "game", "rule"),
    ("risk_aversion", "run", "risk_aversion"),
    ("visibility", "noise", "visibility"), ("storage_time", "noise", "storage_time"), ("t1", "noise", "t1"),
    ("t2", "noise", "t2"), ("stored", "noise", "stored"),
    ("pair_rate", "supply", "pair_rate"), ("decision_rate", "supply", "decision_rate"),
    ("memory_slots", "supply", "memory_slots"), ("max_age", "supply", "max_age"),
    ("fill", "fill", "name"), ("exposure", "fill", "exposure"), ("spread_bps", "fill", "spread_bps"),
    ("p_first", "fill", "p_first"), ("p_second", "fill", "p_second"), ("lot", "fill", "lot"),
    ("half_spread", "fill", "half_spread"), ("fee", "fill", "fee"), ("inventory_limit", "fill", "inventory_limit"),
    ("cut_cost", "fill", "cut_cost"),
    ("tickers", "source", "tickers"), ("start", "source", "start"), ("end", "source", "end"),
    ("interval", "source", "interval"), ("cache_dir", "source", "cache_dir"), ("session", "source", "session"),
    ("p_a", "source", "p_a"), ("p_b", "source", "p_b"), ("rho_pos", "source", "rho_pos"), ("rho_neg", "source", "rho_neg"),
    ("p_break", "source", "p_break"), ("p_recover", "source", "p_recover"), ("dt", "source", "dt"),
]


_positive = bounded(float, 0, None, "must be a positive number", open_lo=True)
_finite = bounded(float, None, None, "must be a finite number")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Every backtest option (shared with ``sweep``). All default to None: config file, then defaults."""
    add_source_arguments(p, defaults=False)
    r = p.add_argument_group("run")
    r.add_argument("--config", metavar="FILE.toml", help="read options from a config file (a run's config.toml "
                                                          "repeats that run); options given here override it")
    r.add_argument("--rounds", type=positive_int, help="synthetic: rounds to play (default 200000)")
    r.add_argument("--seed", type=nonnegative_int, help="random seed (default 0)")
    r.add_argument("--strategies", type=comma_list, metavar="A,B,...",
                   help="uncoordinated,always_hedge,classical,quantum,textbook,follow_indicator,oracle,regime_oracle,"
                        "delayed_comm (default: all that apply but textbook and follow_indicator; uncoordinated and "
                        "oracle always run)")
    r.add_argument("--backend", choices=("exact", "aer"), help="quantum sampler (default exact)")
    r.add_argument("--device", metavar="NAME", help="fake IBM device noise model for the quantum strategy (extra 'ibm')")
    r.add_argument("--train-fraction", type=bounded(float, 0, 1, "in (0, 1)", open_lo=True),
                   help="share of rounds to fit on (default 0.5)")
    r.add_argument("--refit-every", type=positive_int, metavar="K", help="re-fit every K test rounds (walk-forward)")
    r.add_argument("--delay", type=positive_int, help="rounds of delay of delayed_comm's classical link (default 1)")
    r.add_argument("--book-size", type=_positive, help="currency the book returns are measured on (default: fill model's)")
    r.add_argument("--risk-free", type=_finite, help="annual risk-free rate for Sharpe/Sortino (default 0)")
    r.add_argument("--risk-aversion", type=_positive, metavar="GAMMA",
                   help="relative risk aversion of a mean-variance investor in the book, for the certainty "
                        "equivalent of one Bell pair (default 3)")
    r.add_argument("--game", choices=("hedge", "paper"),
                   help="hedge: the book's hedge game calibrated on the training window (default); paper: Ding & "
                        "Jiang's game with --beta and --rule"),
    r.add_argument("--keep-rounds", type=nonnegative_int, help="test rounds kept per round in pnl files (default 1e6)")
    r.add_argument("--no-indicator-check", action="store_true", help="skip the causality check of custom indicators")
    i = p.add_argument_group("indicators")
    i.add_argument("--indicator", metavar="NAME|module:function",
                   help="both servers' indicator: noisy_signal, noisy_regime, rolling_correlation, divergence, "
                        "volatility_burst, return_shock, momentum, volume_spike, spread_widening, or module:function "
                        "(default by source)")
    i.add_argument("--indicator-b", metavar="NAME|module:function", help="server B's indicator, if different")
    i.add_argument("--latency", type=nonnegative_int, help="bars before a server sees the partner's prices (default 1)")
    i.add_argument("--flip", type=probability, help="noisy_signal/noisy_regime: probability a reading is wrong")
    i.add_argument("--window", type=bounded(int, 2, None, "a window of at least 2 bars"), help="rolling window in bars")
    i.add_argument("--target", type=bounded(float, 0, 1, "in (0, 1)", open_lo=True),
                   help="threshold indicators: P(x=1) on the training window (default 0.5)")
    i.add_argument("--threshold", type=_finite, help="threshold indicators: a fixed threshold instead of fitting one")
    add_game_arguments(p, defaults=False)
    s = p.add_argument_group("Bell-pair supply (default: a fresh pair every round)")
    s.add_argument("--pair-rate", type=_positive, metavar="HZ", help="Bell pairs generated per second")
    s.add_argument("--decision-rate", type=_positive, metavar="HZ", help="rounds (decisions) per second")
    s.add_argument("--memory-slots", type=positive_int, help="pairs the memory holds (default 1)")
    s.add_argument("--max-age", type=_time, metavar="SECONDS", help="discard pairs older than this (default inf)")
    f = p.add_argument_group("fill model")
    f.add_argument("--fill", choices=("bias", "queue"), help="bias (default) or queue")
    f.add_argument("--exposure", type=_positive, help="bias: currency held long or short per round (10000)")
    f.add_argument("--spread-bps", type=_finite, help="bias: spread captured per round, bp of exposure (0.25)")
    f.add_argument("--p-first", type=probability, help="queue: fill probability of the order placed first (0.6)")
    f.add_argument("--p-second", type=probability, help="queue: fill probability of the second order (0.4)")
    f.add_argument("--lot", type=_positive, help="queue: shares per fill (100)")
    f.add_argument("--half-spread", type=bounded(float, 0, None, "a half-spread >= 0"),
                   help="queue: currency per share earned per fill (0.01)")
    f.add_argument("--fee", type=_finite, help="queue: fee per share, negative = rebate (0)")
    f.add_argument("--inventory-limit", type=_positive, help="queue: shares beyond which inventory is cut (1000)")
    f.add_argument("--cut-cost", type=bounded(float, 0, None, "a cost >= 0"), help="queue: currency per share cut")


def resolve(args: argparse.Namespace) -> dict:
    """The run configuration: defaults <- --config file <- options given on the command line."""
    from .. import config as cfg_mod

    cfg = cfg_mod.load_toml(args.config) if args.config else cfg_mod.defaults()
    src = cfg["source"]
    if args.csv:
        src.update(kind="csv", files=list(args.csv))
    elif args.sample:
        src.update(kind="sample", sample=args.sample)
    elif args.yahoo:
        src.update(kind="yahoo", tickers=[t.upper() for t in args.yahoo])
    elif args.synthetic:
        src.update(kind="synthetic", mode=args.synthetic)
    for dest, section, key in OPTIONS:
        value = getattr(args, dest, None)
        if value is not None:
            cfg[section][key] = value
    for name in ("sigma", "mu"):
        value = getattr(args, name)
        if value is not None:
            src[name] = per_ticker(name, value)
    if args.strategies is not None:
        cfg["run"]["strategies"] = args.strategies
    if src["kind"] != "synthetic":  # options that would otherwise be ignored without a word
        if args.rounds is not None:
            raise BacktestError("--rounds sets the length of a synthetic run; real data plays all its rows (cut them "
                                "with --start/--end)")
        if args.strategies is not None and "regime_oracle" in args.strategies:
            raise BacktestError("--strategies regime_oracle needs a synthetic source (it knows the true regime)")
    if args.no_indicator_check:
        cfg["run"]["check_indicators"] = False
    n = cfg["noise"]
    if args.readout_error is not None:
        ro = args.readout_error
        if len(ro) not in (1, 2):
            raise BacktestError(f"--readout-error takes E or E01,E10, got {len(ro)} numbers")
        n["readout_a"] = n["readout_b"] = [ro[0], ro[0]] if len(ro) == 1 else list(ro)
    if args.loss is not None:
        n["loss_a"] = n["loss_b"] = args.loss
    return cfg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="run a backtest and write its report",
                       description="Backtest classical and quantum coordination of two market makers on a pair of "
                                   "stocks. With no options: the built-in synthetic 'signals' pair, all baselines, "
                                   "exact quantum path, seed 0, 200000 rounds; output in runs/<timestamp>/.")
    add_run_arguments(p)
    o = p.add_argument_group("output")
    o.add_argument("--name", help="run folder name under --runs-dir (default: a timestamp)")
    o.add_argument("--out", metavar="DIR", help="write the run into exactly this folder (must not exist)")
    o.add_argument("--runs-dir", default="runs", help="where run folders go (default runs/)")
    o.add_argument("--json", action="store_true", help="print metrics.json instead of the summary")
    o.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    p.set_defaults(run=run)


def execute(cfg: dict, progress: bool | None = None):
    """Run the configured backtest."""
    from .. import config as cfg_mod
    from ..engine import run_backtest

    kwargs = cfg_mod.to_kwargs(cfg)
    source = kwargs.pop("source")
    return run_backtest(source, progress=progress, **kwargs)


def describe_indicators(result) -> str:
    parts = []
    for side in ("A", "B"):
        d = dict(result.indicators[side])
        name = d.pop("name")
        params = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items() if v is not None)
        parts.append(f"{side}: {name}({params})")
    return "indicators: " + "; ".join(parts) + f"; partner latency {result.indicators['latency']} bar(s)"


def run(args: argparse.Namespace) -> int:
    from ..runs import new_run_dir, write_run

    from ..atomic import check_writable

    cfg = resolve(args)
    out = Path(args.out) if args.out else new_run_dir(args.runs_dir, args.name)
    check_writable(out, "--out" if args.out else "run folder")  # before any work: a result is never lost
    result = execute(cfg, progress=args.progress)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    if show:  # the report (figures, HTML) takes a moment too
        print("report: writing figures and HTML ...", file=sys.stderr, end="\r", flush=True)
    write_run(result, cfg, out)
    if show:
        print("\r\033[K", file=sys.stderr, end="", flush=True)  # clear the stage line before the summary
    if args.json:
        print((out / "metrics.json").read_text(), end="")
        return 0
    print(result.summary())
    print(describe_indicators(result))
    print(f"written: {out}/ (report.html, metrics.json, config.toml, pnl, figures)")
    return 0
