"""``qcoord calibrate QUOTES.csv [...]``: fill parameters from quote bars, with intervals, and a [fill] config section."""

from __future__ import annotations

import argparse
import json

from ..arguments import add_file_output, check_file_output


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="estimate fill parameters from bid/ask quote bars",
                       description="Estimate the half-spread, how often a resting quote placed first or second fills "
                                   "(queue-position model: the first fills on a touch, the second on a trade "
                                   "through), and adverse selection, from quote bars with columns BidOpen..BidClose, "
                                   "AskOpen..AskClose; per file and pooled, with 95%% intervals. --out writes a "
                                   "[fill] section for `qcoord backtest --config`.")
    p.add_argument("files", nargs="+", metavar="QUOTES.csv", help="quote-bar files, one per ticker")
    p.add_argument("--session", choices=("all", "regular"), default="regular",
                   help="intraday bars: the regular session 09:30-16:00 (default) or all")
    add_file_output(p, ".toml", "write the pooled estimates as a [fill] config section")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .... import data
    from ....data.files import ticker_from_filename

    from ...output.atomic import atomic_file
    from ...fills.calibrate import calibrate
    from ...config import RunConfig
    from ...errors import BacktestError

    check_file_output(args.out, ".toml", args.force)
    quotes = {}
    for f in args.files:
        name = ticker_from_filename(Path(f))
        if name in quotes:
            raise BacktestError(f"{f}: a second file for ticker {name}")
        quotes[name] = data.load_quote_bars(f, session=args.session)
    result = calibrate(quotes)
    section = result["fill"]
    cfg = RunConfig().with_values({f"fill.{k}": v for k, v in section.items()}, "calibrated ")
    cfg.fill.build()  # the section is a valid fill model
    if args.out:
        with atomic_file(args.out) as fh:
            fh.write(cfg.to_toml(sections=("fill",), header=(
                f"# qcoord calibrate {' '.join(args.files)} (session {args.session}): the pooled estimates.\n"
                "# Use with: qcoord backtest --config THIS_FILE (a [fill] section; other options as given)")))
    if args.json:
        print(json.dumps(_plain(result), indent=2))
        return 0
    print(render(result))
    if args.out:
        print(f"written: {args.out} ([fill] section: qcoord backtest --config {args.out})")
    return 0


def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def render(result: dict) -> str:
    rows = [("half-spread (median)", "half_spread", "{:.4f}", " currency/share"),
            ("half-spread (median)", "half_spread_bps", "{:.3f}", " bp"),
            ("p_first  (touch)", "p_first", "{:.4f}", " per minute"),
            ("p_second (through)", "p_second", "{:.4f}", " per minute"),
            ("touch | moves through", "touch_when_moving_through", "{:.4f}", ""),
            ("touch | moves away", "touch_when_moving_away", "{:.4f}", ""),
            ("adverse selection a", "adverse_selection", "{:.4f}", "")]
    names = [*result["tickers"], "pooled"]
    docs = [*result["tickers"].values(), result["pooled"]]
    lines = [f"model: {result['model']}; {result['level']:.0%} intervals",
             f"{'':24s}" + "".join(f"{n:>28s}" for n in names)]
    for label, key, fmt, unit in rows:
        cells = []
        for d in docs:
            e = d[key]
            cells.append(f"{fmt.format(e.value)} [{fmt.format(e.lo)}, {fmt.format(e.hi)}]")
        lines.append(f"{label:24s}" + "".join(f"{c:>28s}" for c in cells) + unit)
    lines.append(f"{'resting orders (bid+ask)':24s}" + "".join(f"{d['p_first'].n:>28d}" for d in docs))
    fill = result["fill"]
    lines.append("[fill] " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                                       for k, v in fill.items()))
    return "\n".join(lines)
