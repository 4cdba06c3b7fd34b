"""``qcoord calibrate QUOTES.csv [TRADES.csv ...]``: fill parameters from quote and trade bars, with intervals, and a
[fill] config section."""

from __future__ import annotations

import argparse

from ...output.jsondoc import dumps
from ..arguments import add_file_output, check_file_output


HELP = "estimate fill parameters from quote and trade bars"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help=HELP,
        description="Estimate the half-spread, the queue ahead of a resting quote (the displayed size "
        "at its price), how often it fills (queue-position model: from the back of the "
        "displayed queue it fills when the volume traded at its price exceeds the queue "
        "ahead, or on a trade through it; beside it the touch rate, an order at the front), "
        "and adverse selection (the mid move after fills), per ticker and pooled, with 95 "
        "percent intervals. Give each ticker's quote bars "
        "(BidOpen..BidClose, AskOpen..AskClose) and its trade bars (Open, High, Low, Close, "
        "Volume), paired by the file name's ticker (BAC_minute_quotes.csv with "
        "BAC_minute.csv). Without trade bars, or without displayed sizes in the quote "
        "bars, the fill rates and adverse selection cannot be identified and are reported "
        "as such. --out writes a [fill] section for "
        "`qcoord backtest --config`.",
    )
    p.add_argument("files", nargs="+", metavar="FILE.csv", help="quote-bar and trade-bar files, paired by ticker")
    p.add_argument(
        "--session",
        choices=("all", "regular"),
        default="regular",
        help="intraday bars: the regular session 09:30-16:00 (default) or all",
    )
    p.add_argument(
        "--horizon",
        type=int,
        default=None,
        metavar="BARS",
        help="bars after the quote over which the realised spread's adverse selection is measured "
        "(default 5: SEC Rule 605's five minutes on minute bars)",
    )
    p.add_argument(
        "--order-notional",
        type=float,
        default=None,
        metavar="CURRENCY",
        help="currency a resting order holds, whose shares at the mid join the queue behind the displayed "
        "size (default 10,000: the queue fill's notional)",
    )
    add_file_output(p, ".toml", "write the pooled estimates as a [fill] section")
    p.set_defaults(run=run)


def _files_by_kind(files: list[str], session: str) -> tuple[dict, dict]:
    """Quote and trade bars by ticker, told apart by their columns."""
    from pathlib import Path

    import pandas as pd

    from .... import data
    from ....data.files import file_kind, ticker_from_filename
    from ...errors import BacktestError

    quotes: dict[str, pd.DataFrame] = {}
    trades: dict[str, pd.DataFrame] = {}
    for f in files:
        path = Path(f)
        name = ticker_from_filename(path)
        try:
            header = list(pd.read_csv(path, nrows=0).columns) if path.is_file() else []
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
            header = []
        kind = file_kind([str(c).strip() for c in header]) if header else "quotes"
        target = quotes if kind == "quotes" else trades
        if name in target:
            raise BacktestError(f"{f}: a second {'quote' if kind == 'quotes' else 'trade'}-bar file for ticker {name}")
        target[name] = (
            data.load_quote_bars(f, session=session) if kind == "quotes" else data.load_trade_bars(f, session=session)
        )
    orphans = sorted(set(trades) - set(quotes))
    if orphans:
        raise BacktestError(
            f"trade bars for {orphans} but no quote bars for them: give each ticker's quote file too "
            "(its half-spread and quotes are what the fills are measured against)"
        )
    return quotes, trades


def run(args: argparse.Namespace) -> int:
    from ...output.atomic import atomic_file
    from ...fills.calibrate import HORIZON, NOTIONAL, calibrate
    from ...config import RunConfig
    from ...errors import BacktestError

    check_file_output(args.out, ".toml", args.force)
    horizon = HORIZON if args.horizon is None else args.horizon
    if horizon < 1:
        raise BacktestError(f"--horizon must be a whole number of bars >= 1, got {args.horizon}")
    notional = NOTIONAL if args.order_notional is None else args.order_notional
    if not (notional == notional and 0 < notional < float("inf")):
        raise BacktestError(f"--order-notional must be a positive amount of currency, got {args.order_notional}")
    quotes, trades = _files_by_kind(args.files, args.session)
    result = calibrate(quotes, trades, horizon=horizon, notional=notional)
    section = result["fill"]
    cfg = RunConfig().with_values({f"fill.{k}": v for k, v in section.items()}, "calibrated ")
    cfg.fill.build()  # the section is a valid fill model
    if args.out:
        kept = result["kept_defaults"]
        with atomic_file(args.out) as fh:
            fh.write(
                cfg.to_toml(
                    sections=("fill",),
                    header=(
                        f"# qcoord calibrate {' '.join(args.files)} (session {args.session}): the pooled estimates.\n"
                        + (
                            f"# Not identified by these files, left at the package defaults: {', '.join(kept)}\n"
                            if kept
                            else ""
                        )
                        + "# Use with: qcoord backtest --config THIS_FILE (a [fill] section; other options as given)"
                    ),
                )
            )
    if args.json:
        print(dumps(_plain(result)))
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


ROWS = [
    ("half-spread (median)", "half_spread", "{:.4f}", " currency/share"),
    ("half-spread (median)", "half_spread_bps", "{:.3f}", " bp"),
    ("queue ahead (median)", "queue_ahead", "{:,.0f}", " shares displayed at the order's price"),
    ("touch rate (front)", "touch_rate", "{:.4f}", " per minute: a print at or through the order"),
    ("fill rate (queue) p_first", "queue_fill_rate", "{:.4f}", " per minute: volume at it beyond the queue"),
    ("through rate p_second", "through_rate", "{:.4f}", " per minute: a print through it"),
    ("adverse selection a", "adverse_selection", "{:.4f}", " (mid move after fills)"),
    ("  a from fill rates", "adverse_selection_from_rates", "{:.4f}", " (second method)"),
    ("price impact / half-spr", "price_impact_share", "{:.3f}", " (realised-spread horizon)"),
    ("adverse move", "adverse_move_bps", "{:.3f}", " bp"),
]


def render(result: dict) -> str:
    """One block per ticker and pooled: each estimate with its interval, or why the data cannot identify it."""
    docs = {**result["tickers"], "pooled": result["pooled"]}
    lines = [
        f"model: {result['model']}; {result['level']:.0%} intervals; realised spread over {result['horizon_bars']} bars"
    ]
    for name, d in docs.items():
        lines.append(
            f"{name}: {d['bars']} bar pairs of {d['bar_minutes']:g} min"
            + (f", median {d['volume_per_bar']:,.0f} shares traded a bar" if "volume_per_bar" in d else "")
            + (f", median displayed depth {d['displayed_depth']:,.0f} shares" if "displayed_depth" in d else "")
        )
        why = ""
        for label, key, fmt, unit in ROWS:
            e = d[key]
            if e.why:
                why = why or e.why
                lines.append(f"  {label:26s} —")
                continue
            lines.append(f"  {label:26s} {fmt.format(e.value)} [{fmt.format(e.lo)}, {fmt.format(e.hi)}]{unit}")
        if why:
            lines.append(f"  —: {why}")
        q, t = d.get("queue_fill_rate"), d.get("touch_rate")
        if q is not None and t is not None and q.identified and t.identified and q.value < t.value:
            lines.append(
                f"  note: an order behind the displayed queue fills in {q.value:.0%} of minutes, one at its "
                f"front would in {t.value:.0%}: reading a touch as a fill assumes the front of the queue"
            )
        if d["one_tick_share"] > 0.5 and d["trade_bars"]:
            lines.append(
                f"  note: the spread is one tick in {d['one_tick_share']:.0%} of bars: an order that fills "
                "only when its level is exhausted (p_second) is adversely selected by construction"
            )
    fill = result["fill"]
    lines.append(
        "[fill] " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in fill.items())
    )
    if result["kept_defaults"]:
        lines.append(
            f"not identified by these files, left at the package defaults: {', '.join(result['kept_defaults'])}"
        )
    return "\n".join(lines)
