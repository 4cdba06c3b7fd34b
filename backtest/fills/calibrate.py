"""Fill parameters from quote bars: the half-spread, how often a resting quote fills, adverse selection.

Queue-position model (stated, and what ``QueueFill`` plays): at the close of bar t a server rests a bid at the
best bid and an ask at the best ask. During bar t+1
- the order placed **first** is at the front of its price level's queue: it fills when the market touches it, i.e.
  the bid when the ask comes down to it (``AskLow[t+1] <= BidClose[t]``), the ask when the bid comes up to it
  (``BidHigh[t+1] >= AskClose[t]``): ``p_first`` = P(touch);
- the order placed **second** joins the back of the queue: it fills only when the level is exhausted and the market
  trades through it (``AskLow[t+1] < BidClose[t]``, ``BidHigh[t+1] > AskClose[t]``): ``p_second`` = P(through).
Adverse selection: a fill is likelier when the mid price moves through the order over the bar (down for a bid, up
for an ask) than when it moves away; with P_t and P_a the touch probabilities in those two cases,
``adverse_selection`` a = (P_t - P_a) / (P_t + P_a), so that P_t = p (1 + a), P_a = p (1 - a) as in the fill model.
Bars count only when the next bar follows one bar-length later (no gaps, no overnight). The probabilities are per
bar; on bars longer than a minute they are converted to per-minute rates, 1 - (1 - p)^(1/m). Intervals: Wilson for
the proportions, the delta method for a (bars taken as independent), an order-statistic interval for the median
half-spread.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..analysis.stats import wilson_ci



@dataclass(frozen=True)
class Estimate:
    """A value with its interval and the number of observations it rests on."""

    value: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def _proportion(k: int, n: int, level: float) -> Estimate:
    lo, hi = wilson_ci(k, n, alpha=1 - level) if n else (math.nan, math.nan)
    return Estimate(k / n if n else math.nan, lo, hi, n)


def _ratio(kt: int, nt: int, ka: int, na: int, level: float) -> Estimate:
    """a = (x - y) / (x + y) of two independent proportions, with a delta-method interval (clipped to [-1, 1])."""
    if not (nt and na) or kt + ka == 0:
        return Estimate(math.nan, math.nan, math.nan, nt + na)
    x, y = kt / nt, ka / na
    a = (x - y) / (x + y)
    gx, gy = 2 * y / (x + y) ** 2, -2 * x / (x + y) ** 2
    se = math.sqrt(gx * gx * x * (1 - x) / nt + gy * gy * y * (1 - y) / na)
    z = _z(level)
    return Estimate(a, max(-1.0, a - z * se), min(1.0, a + z * se), nt + na)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _median(values: np.ndarray, level: float) -> Estimate:
    """The median with a distribution-free interval from the binomial order statistics."""
    from scipy.stats import binom

    v = np.sort(values[np.isfinite(values)])
    n = v.size
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    lo_k = max(int(binom.ppf((1 - level) / 2, n, 0.5)) - 1, 0)
    hi_k = min(int(binom.ppf(0.5 + level / 2, n, 0.5)), n - 1)
    return Estimate(float(np.median(v)), float(v[lo_k]), float(v[hi_k]), n)


def _events(q: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per pair of consecutive bars (t, t+1): touches and trades-through of the bid and ask resting at bar t's close,
    and whether the mid moved through (+1) or away from (-1) each order."""
    step = q.index.to_series().diff().dropna()
    bar = step.mode().iloc[0]
    nxt = np.flatnonzero((q.index[1:] - q.index[:-1]) == bar)  # rows t whose next bar follows directly
    cur, new = q.iloc[nxt], q.iloc[nxt + 1]
    bid, ask = cur["BidClose"].to_numpy(), cur["AskClose"].to_numpy()
    ask_low, bid_high = new["AskLow"].to_numpy(), new["BidHigh"].to_numpy()
    move = ((new["BidClose"] + new["AskClose"]).to_numpy() - (bid + ask)) / 2.0
    sign = np.sign(move)
    return {
        "touch": np.concatenate([ask_low <= bid, bid_high >= ask]),
        "through": np.concatenate([ask_low < bid, bid_high > ask]),
        "effect": np.concatenate([-sign, sign]),  # +1: the mid moved through the order (down for the bid)
        "minutes": np.array([bar / pd.Timedelta(minutes=1)]),
    }


def calibrate(quotes: dict[str, pd.DataFrame] | pd.DataFrame, level: float = 0.95) -> dict:
    """Estimates per ticker and pooled (see the module docstring); ``quotes``: quote bars (``data.load_quote_bars``)
    by ticker. Returns {"tickers": {name: estimates}, "pooled": estimates, "fill": the [fill] section}."""
    if isinstance(quotes, pd.DataFrame):
        quotes = {"quotes": quotes}
    per, events, spreads = {}, [], []
    for name, q in quotes.items():
        ev = _events(q)
        mid = (q["BidClose"] + q["AskClose"]).to_numpy() / 2.0
        half = (q["AskClose"] - q["BidClose"]).to_numpy() / 2.0
        per[name] = _estimates(ev, half, half / mid * 1e4, level)
        events.append(ev)
        spreads.append((half, half / mid * 1e4))
    pooled_ev = {k: np.concatenate([e[k] for e in events]) for k in ("touch", "through", "effect")}
    pooled_ev["minutes"] = np.array([np.median([e["minutes"][0] for e in events])])
    pooled = _estimates(pooled_ev, np.concatenate([s[0] for s in spreads]), np.concatenate([s[1] for s in spreads]),
                        level)
    return {"level": level, "model": "queue position: first-placed fills on a touch, second-placed on a trade "
                                     "through (backtest.fills.calibrate)",
            "tickers": per, "pooled": pooled, "fill": fill_section(pooled)}


def _estimates(ev: dict, half: np.ndarray, half_bps: np.ndarray, level: float) -> dict:
    touch, through, effect = ev["touch"], ev["through"], ev["effect"]
    m = float(ev["minutes"][0])
    toward, away = effect > 0, effect < 0
    first = _proportion(int(touch.sum()), touch.size, level)
    second = _proportion(int(through.sum()), through.size, level)
    out = {
        "bar_minutes": m,
        "half_spread": _median(half, level),
        "half_spread_bps": _median(half_bps, level),
        "half_spread_bps_mean": float(np.nanmean(half_bps)),
        "half_spread_bps_quantiles": {f"p{q}": float(np.nanpercentile(half_bps, q)) for q in (10, 50, 90)},
        "p_first": _per_minute(first, m),
        "p_second": _per_minute(second, m),
        "touch_when_moving_through": _proportion(int(touch[toward].sum()), int(toward.sum()), level),
        "touch_when_moving_away": _proportion(int(touch[away].sum()), int(away.sum()), level),
        "adverse_selection": _ratio(int(touch[toward].sum()), int(toward.sum()), int(touch[away].sum()),
                                    int(away.sum()), level),
    }
    return out


def _per_minute(e: Estimate, minutes: float) -> Estimate:
    if minutes <= 1.0 + 1e-9:
        return e
    conv = lambda p: 1.0 - (1.0 - p) ** (1.0 / minutes)  # noqa: E731 - monotone: the interval maps to the interval
    return Estimate(conv(e.value), conv(e.lo), conv(e.hi), e.n)


def fill_section(est: dict) -> dict:
    """The ``[fill]`` section of a config for these estimates (a queue fill on the data's quoted spreads, the
    median quoted half-spread where a source has no quotes; adverse selection clipped to the model's [0, 1])."""
    a = est["adverse_selection"].value
    p1, p2 = est["p_first"].value, est["p_second"].value
    return {"name": "queue", "p_first": p1, "p_second": min(p2, p1), "half_spread": "quoted",
            "model_half_spread_bps": est["half_spread_bps"].value,
            "adverse_selection": min(1.0, max(0.0, a)) if a == a else 0.0}


def synthetic_quotes(n: int, *, p_first: float, p_second: float, adverse: float, move: float = 0.3,
                     half_spread_ticks: float = 1.5, tick: float = 0.01, start: float = 50.0,
                     seed: int = 0) -> pd.DataFrame:
    """Minute quote bars drawn from the queue-position model with known parameters (for checking ``calibrate``):
    the mid moves a tick up or down with probability ``move`` each, and over each bar the bid resting at the
    previous close is traded through with probability p_second (1 + a e), touched with p_first (1 + a e), e = +1
    when the mid moved through it; the ask likewise."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, 0.0, 1.0], size=n, p=[move, 1 - 2 * move, move])
    mid = start + tick * np.concatenate([[0.0], np.cumsum(steps[1:])])
    h = half_spread_ticks * tick
    bid, ask = mid - h, mid + h
    ask_low, bid_high = ask.copy(), bid.copy()
    for side, through_dir in (("bid", -1.0), ("ask", 1.0)):
        e = np.where(steps[1:] == through_dir, 1.0, np.where(steps[1:] == -through_dir, -1.0, 0.0))
        p_touch = np.clip(p_first * (1 + adverse * e), 0, 1)
        p_thru = np.clip(p_second * (1 + adverse * e), 0, 1)
        u = rng.random(n - 1)
        resting = bid[:-1] if side == "bid" else ask[:-1]
        sign = -1.0 if side == "bid" else 1.0  # through the bid is below it, through the ask above it
        level = np.where(u < p_thru, resting + sign * tick, np.where(u < p_touch, resting, np.nan))
        if side == "bid":  # no touch: the ask's low stays above the old bid
            ask_low[1:] = np.where(np.isnan(level), np.minimum(ask[1:], resting + tick), np.minimum(level, ask[1:]))
        else:
            bid_high[1:] = np.where(np.isnan(level), np.maximum(bid[1:], resting - tick), np.maximum(level, bid[1:]))
    index = pd.date_range("2013-10-07 09:30", periods=n, freq="1min", tz="America/New_York")
    return pd.DataFrame({
        "BidOpen": bid, "BidHigh": np.maximum(bid_high, bid), "BidLow": bid, "BidClose": bid,
        "AskOpen": ask, "AskHigh": ask, "AskLow": np.minimum(ask_low, ask), "AskClose": ask,
    }, index=index)
