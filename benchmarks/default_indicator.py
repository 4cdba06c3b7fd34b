"""Which built-in indicator should real-data runs use by default? Measured on the shipped 11-stock panel (55 pairs).

For each candidate the backtest runs on every pair (default options, seed 0) and we record how independent the two
servers' bits are (the share of rounds with x = y, and |corr(x, y)|: a coordination problem needs bits that differ)
and how far each pair is from entanglement paying (``move_needed``, the hedge game's "what it would take"): a
default whose distance varies between pairs separates them in a scan. Indicators that both servers compute from the
same bars (rolling_correlation, divergence) give x = y in every round and no coordination problem at all.

    python benchmarks/default_indicator.py [--tickers JPM BAC GM ...] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np


CANDIDATES = ("return_shock", "volatility_burst", "momentum", "rolling_correlation")


def measure(indicator: str, tickers=None) -> dict:
    from qcoord import data
    from qcoord.backtest import BacktestError, run_backtest
    from qcoord.backtest.batch.scan import summarize

    u = data.sample_universe("pypfopt", tickers)
    agree, corr, move, errors = [], [], [], 0
    for a, b in itertools.combinations(u.tickers, 2):
        try:
            r = run_backtest(
                u.pair(a, b), indicators=indicator, seed=0, progress=False, strategies=["classical", "quantum"]
            )
        except BacktestError:
            errors += 1
            continue
        xy = r.rounds["inputs"][["x", "y"]].to_numpy(dtype=float)
        agree.append(float(np.mean(xy[:, 0] == xy[:, 1])))
        c = np.corrcoef(xy[:, 0], xy[:, 1])[0, 1] if xy[:, 0].std() > 0 and xy[:, 1].std() > 0 else 1.0
        corr.append(abs(float(c)))
        m = summarize(r)["move_needed"]
        if m is not None:
            move.append(m)
    return {
        "indicator": indicator,
        "pairs": len(agree),
        "errors": errors,
        "x_equals_y": float(np.mean(agree)),
        "abs_corr_xy": float(np.mean(corr)),
        "move_needed_pairs": len(move),
        "move_needed_mean": float(np.mean(move)) if move else None,
        "move_needed_sd": float(np.std(move)) if move else None,
        "move_needed_range": [float(min(move)), float(max(move))] if move else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickers", nargs="+")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = [measure(ind, args.tickers) for ind in CANDIDATES]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'indicator':<20} {'pairs':>5} {'x = y':>7} {'|corr|':>7} {'move: n':>8} {'mean':>6} {'sd':>6}  range")
    for r in rows:
        lo_hi = r["move_needed_range"]
        rng = "" if lo_hi is None else f"{lo_hi[0]:.2f}-{lo_hi[1]:.2f}"
        mean = "—" if r["move_needed_mean"] is None else f"{r['move_needed_mean']:.3f}"
        sd = "—" if r["move_needed_sd"] is None else f"{r['move_needed_sd']:.3f}"
        print(
            f"{r['indicator']:<20} {r['pairs']:>5} {r['x_equals_y']:>7.1%} {r['abs_corr_xy']:>7.3f} "
            f"{r['move_needed_pairs']:>8} {mean:>6} {sd:>6}  {rng}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
