"""Fill parameters from quote and trade bars, each estimator measuring the event it names.

Queue-position model (stated; what ``QueueFill`` plays). At the close of bar t a server rests a bid at the best bid
and an ask at the best ask; each joins the **back** of its price level's queue, behind the displayed size there (the
queue ahead, Q = BidSize[t] or AskSize[t] shares). During bar t+1 an order fills when the volume traded at its price
exceeds the queue ahead of it plus its own size (price-time priority; hftbacktest's conservative RiskAdverse queue
model, in which only trades at the order's price advance it: cancellations ahead are not credited):
- a trade **through** its price (the bid: the next bar's lowest trade ``Low[t+1] < BidClose[t]``) exhausts the level,
  so every order resting there filled whatever its place: ``through_rate``;
- a trade **at** it (``Low[t+1] == BidClose[t]``) fills it only when the bar's volume at that price exceeds Q plus the
  order's shares. Minute trade bars do not split the volume by price: the bar's volume is taken as traded at the
  order's side when only that side was touched, and half of it when both the bid and the ask were (an upper
  estimate: prints inside the spread or hidden liquidity count as at the level). ``queue_fill_rate`` = P(through, or
  touched with that volume above Q + the order's shares), the order sized at ``notional`` / mid (the queue fill's
  money sizing);
- ``touch_rate`` = P(a trade at or through the price): the fill rate of an order at the **front** of the queue, the
  optimistic bound, reported beside the queue-aware rate.
The queue fill's ``p_first`` is the queue-aware rate (an order joining the back of the displayed queue) and
``p_second`` the through rate (one behind it that fills only when the level is exhausted); which of a server's two
orders reaches the exchange first changes its place by microseconds, which minute bars cannot measure: the two rates
bound the order placed second. Quote bars alone cannot tell a level traded away from one cancelled, and without
displayed sizes the queue ahead is unknown: the fill parameters are then reported as not identified, not as numbers.

Adverse selection comes from the mid-price move after fills (queue fills where identified), against the order (down
for a filled bid):
- ``adverse_selection`` a, the queue model's parameter: the model says a resting order fills with probability
  p (1 + a e), e = +1 when the bar's mid moves through it and -1 when it moves away, so with symmetric moves
  E[adverse move over the fill's bar | fill] = a E|mid move over a bar|: a is the ratio of the two means;
- the realised-spread decomposition (SEC Rule 605's definition, ``horizon`` bars after the quote, default 5
  minutes): ``price_impact_share`` = mean adverse move over the horizon / mean half-spread, over fills: the share of
  the effective half-spread the market takes back (the bias fill's ``adverse_selection``); realised half-spread =
  effective x (1 - that share).
A second estimate of a, from the fill rates alone, (P_through - P_away) / (P_through + P_away), is reported beside it
(``adverse_selection_from_rates``): the model makes both equal, the data need not.

Bars count only where the next bar follows one bar-length later (no gaps, no overnight); a bar missing from the trade
file had no trades. Probabilities are per bar; on bars longer than a minute they are converted to per-minute rates,
1 - (1 - p)^(1/m). Intervals: Wilson for proportions, the delta method for ratios of means (bars taken as
independent), an order-statistic interval for medians.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..stats.intervals import wilson_ci

HORIZON = 5  # bars (minutes on minute bars): the realised-spread horizon of SEC Rule 605
NO_TRADES = "not identified: no trade bars (a fill is a print at or through the quote; quotes alone cannot show it)"
NO_DEPTH = (
    "not identified: the quote bars have no displayed sizes (BidSize, AskSize), so the queue ahead of an "
    "order is unknown"
)
FILL_PARAMETERS = ("p_first", "p_second", "adverse_selection")
NOTIONAL = 10_000.0  # currency an order rests (the queue fill's default notional): its shares join the queue


@dataclass(frozen=True)
class Estimate:
    """A value with its interval and the number of observations it rests on; ``why`` says why there is no value."""

    value: float
    lo: float
    hi: float
    n: int
    why: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.why:
            del out["why"]
        return out

    @property
    def identified(self) -> bool:
        return not self.why and math.isfinite(self.value)


def _missing(why: str, n: int = 0) -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, n, why)


def _proportion(k: int, n: int, level: float) -> Estimate:
    if not n:
        return _missing("no bars", 0)
    lo, hi = wilson_ci(k, n, alpha=1 - level)
    return Estimate(k / n, lo, hi, n)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _ratio_of_means(
    num: np.ndarray, den: np.ndarray, level: float, *, lo: float = -math.inf, hi: float = math.inf
) -> Estimate:
    """mean(num) / mean(den) with a delta-method interval (the two samples taken as independent), clipped to
    [lo, hi]."""
    num, den = num[np.isfinite(num)], den[np.isfinite(den)]
    if num.size < 2 or den.size < 2:
        return _missing("too few fills", int(num.size))
    m1, m2 = float(num.mean()), float(den.mean())
    if not m2 > 0:
        return _missing("the mid never moves: nothing to be adversely selected on", int(num.size))
    se1, se2 = num.std(ddof=1) / math.sqrt(num.size), den.std(ddof=1) / math.sqrt(den.size)
    r = m1 / m2
    se = math.sqrt((se1 / m2) ** 2 + (m1 * se2 / m2**2) ** 2)
    z = _z(level)
    return Estimate(r, max(lo, r - z * se), min(hi, r + z * se), int(num.size))


def _mean(values: np.ndarray, level: float) -> Estimate:
    v = values[np.isfinite(values)]
    if v.size < 2:
        return _missing("too few fills", int(v.size))
    m, se = float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))
    return Estimate(m, m - _z(level) * se, m + _z(level) * se, int(v.size))


def _rates_ratio(kt: int, nt: int, ka: int, na: int, level: float) -> Estimate:
    """a = (x - y) / (x + y) of two independent proportions, with a delta-method interval (clipped to [-1, 1])."""
    if not (nt and na) or kt + ka == 0:
        return _missing("no touches", nt + na)
    x, y = kt / nt, ka / na
    a = (x - y) / (x + y)
    gx, gy = 2 * y / (x + y) ** 2, -2 * x / (x + y) ** 2
    se = math.sqrt(gx * gx * x * (1 - x) / nt + gy * gy * y * (1 - y) / na)
    z = _z(level)
    return Estimate(a, max(-1.0, a - z * se), min(1.0, a + z * se), nt + na)


def _median(values: np.ndarray, level: float) -> Estimate:
    """The median with a distribution-free interval from the binomial order statistics."""
    from scipy.stats import binom

    v = np.sort(values[np.isfinite(values)])
    n = v.size
    if n == 0:
        return _missing("no quotes")
    lo_k = max(int(binom.ppf((1 - level) / 2, n, 0.5)) - 1, 0)
    hi_k = min(int(binom.ppf(0.5 + level / 2, n, 0.5)), n - 1)
    return Estimate(float(np.median(v)), float(v[lo_k]), float(v[hi_k]), n)


def _ahead(index: pd.DatetimeIndex, bar: pd.Timedelta, k: int) -> np.ndarray:
    """Rows t whose bar t+k lies exactly k bar-lengths later (no gap in between)."""
    n = len(index)
    if n <= k:
        return np.empty(0, dtype=np.int64)
    rows = np.arange(n - k)
    return rows[np.asarray(index[k:] - index[:-k]) == np.timedelta64(k * bar)]


def _events(
    q: pd.DataFrame, trades: pd.DataFrame | None, horizon: int, notional: float = NOTIONAL
) -> dict[str, np.ndarray]:
    """Per resting order (bid and ask at each bar t with a next bar): touched, traded through, filled from the back
    of the displayed queue (where the quotes have sizes), the mid's move against it over the next bar and over
    ``horizon`` bars, the absolute move over the next bar, its half-spread."""
    bar = q.index.to_series().diff().dropna().mode().iloc[0]
    t = _ahead(q.index, bar, 1)
    bid, ask = q["BidClose"].to_numpy(), q["AskClose"].to_numpy()
    mid = (bid + ask) / 2.0
    move = mid[t + 1] - mid[t]
    far = np.full(t.size, np.nan)
    ok = np.isin(t, _ahead(q.index, bar, horizon))
    far[ok] = mid[t[ok] + horizon] - mid[t[ok]]
    out = {
        "minutes": bar / pd.Timedelta(minutes=1),
        "bars": int(t.size),
        "adverse": np.concatenate([-move, move]),
        "adverse_far": np.concatenate([-far, far]),
        "abs_move": np.abs(move),
        "half": np.concatenate([(ask - bid)[t] / 2.0] * 2),
        "mid": np.concatenate([mid[t]] * 2),
        "tick_spread": np.concatenate([(ask - bid)[t] <= 0.01 + 1e-9] * 2),
    }
    if trades is None:
        return out
    nxt = trades.reindex(q.index[t + 1])  # a bar missing from the trade file had no trades
    low, high = nxt["Low"].to_numpy(), nxt["High"].to_numpy()
    with np.errstate(invalid="ignore"):
        out["touch"] = np.concatenate([low <= bid[t], high >= ask[t]])
        out["through"] = np.concatenate([low < bid[t], high > ask[t]])
    vol = np.nan_to_num(nxt["Volume"].to_numpy(), nan=0.0)
    out["volume"] = vol
    with np.errstate(invalid="ignore"):
        both = (low <= bid[t]) & (high >= ask[t])
    side = np.concatenate([np.where(both, 0.5, 1.0) * vol] * 2)  # the bar's volume at one side (module docstring)
    if "BidSize" in q and "AskSize" in q:
        depth = np.concatenate([q["BidSize"].to_numpy(dtype=float)[t], q["AskSize"].to_numpy(dtype=float)[t]])
        out["depth"] = depth
        own = notional / out["mid"]
        with np.errstate(invalid="ignore"):
            out["queue_fill"] = out["through"] | (out["touch"] & (side >= depth + own))
        out["identified"] = bool(np.isfinite(depth).any())
    return out


def calibrate(
    quotes: dict[str, pd.DataFrame] | pd.DataFrame,
    trades: dict[str, pd.DataFrame] | None = None,
    level: float = 0.95,
    horizon: int = HORIZON,
    notional: float = NOTIONAL,
) -> dict:
    """Estimates per ticker and pooled (see the module docstring).

    ``quotes``: quote bars (``data.load_quote_bars``) by ticker; ``trades``: trade bars (``data.load_trade_bars``)
    by ticker, for those that have them; ``horizon``: bars after the quote over which adverse selection is measured
    for the realised spread; ``notional``: currency an order rests (its shares at the mid join the queue). Returns
    {"tickers": {name: estimates}, "pooled": estimates, "fill": the [fill] section,
    "kept_defaults": parameters the data cannot identify}."""
    if isinstance(quotes, pd.DataFrame):
        quotes = {"quotes": quotes}
        trades = None if trades is None else {"quotes": trades}
    if isinstance(trades, pd.DataFrame):
        raise TypeError("trades: pass trade bars by ticker, like the quotes")
    trades = trades or {}
    unknown = sorted(set(trades) - set(quotes))
    if unknown:
        raise ValueError(f"trade bars for {unknown} without quote bars for them")
    if not (isinstance(horizon, int) and horizon >= 1):
        raise ValueError(f"horizon must be a whole number of bars >= 1, got {horizon!r}")
    if not (math.isfinite(notional) and notional > 0):
        raise ValueError(f"notional must be a positive amount of currency, got {notional!r}")
    events = {name: _events(q, trades.get(name), horizon, notional) for name, q in quotes.items()}
    per = {name: _estimates(ev, level) for name, ev in events.items()}
    with_trades = [ev for ev in events.values() if "touch" in ev]
    pooled_ev = _pool(list(events.values()), with_trades)
    pooled = _estimates(pooled_ev, level)
    fill, kept = fill_section(pooled)
    return {
        "level": level,
        "horizon_bars": horizon,
        "model": "queue position: an order joins the back of the displayed queue and fills when the volume traded "
        "at its price exceeds the queue ahead plus its own shares, or on a print through it (p_first); "
        "p_second fills only on a print through it; touch_rate is the front of the queue's rate; "
        "adverse selection from the mid move after fills (backtest.fills.calibrate)",
        "tickers": per,
        "pooled": pooled,
        "fill": fill,
        "kept_defaults": kept,
    }


def _pool(all_ev: list[dict], with_trades: list[dict]) -> dict:
    """Quote-side events of every ticker; trade-side events (and the moves they are compared with) of the tickers
    with trade bars, so each ratio pools like with like."""
    src = with_trades or all_ev
    out: dict = {k: np.concatenate([e[k] for e in src]) for k in ("adverse", "adverse_far", "abs_move", "mid")}
    out["half"] = np.concatenate([e["half"] for e in all_ev])
    out["mid_all"] = np.concatenate([e["mid"] for e in all_ev])
    out["tick_spread"] = np.concatenate([e["tick_spread"] for e in all_ev])
    out["minutes"] = float(np.median([e["minutes"] for e in all_ev]))
    out["bars"] = sum(e["bars"] for e in all_ev)
    if with_trades:
        out["half_fills"] = np.concatenate([e["half"] for e in with_trades])
        for k in ("touch", "through", "volume"):
            out[k] = np.concatenate([e[k] for e in with_trades])
        if all("queue_fill" in e for e in with_trades):
            out["depth"] = np.concatenate([e["depth"] for e in with_trades])
            out["queue_fill"] = np.concatenate([e["queue_fill"] for e in with_trades])
            out["identified"] = all(e["identified"] for e in with_trades)
    return out


def _estimates(ev: dict, level: float) -> dict:
    m = float(ev["minutes"])
    half = ev["half"]
    mid_all = ev.get("mid_all", ev["mid"])
    one_tick = float(np.mean(ev["tick_spread"])) if ev["tick_spread"].size else math.nan
    out = {
        "bar_minutes": m,
        "bars": int(ev["bars"]),
        "half_spread": _median(half, level),
        "half_spread_bps": _median(half / mid_all * 1e4, level),
        "half_spread_bps_quantiles": {f"p{q}": float(np.nanpercentile(half / mid_all * 1e4, q)) for q in (10, 50, 90)},
        "one_tick_share": one_tick,
        "trade_bars": "touch" in ev,
    }
    fills_keys = (
        *FILL_PARAMETERS,
        "touch_rate",
        "through_rate",
        "queue_fill_rate",
        "queue_ahead",
        "adverse_selection_from_rates",
        "price_impact_share",
        "fill_when_moving_through",
        "fill_when_moving_away",
        "adverse_move_bps",
    )
    if "touch" not in ev:
        for key in fills_keys:
            out[key] = _missing(NO_TRADES)
        return out
    touch, through = ev["touch"], ev["through"]
    adverse, far = ev["adverse"], ev["adverse_far"]
    half_fills = ev.get("half_fills", half)
    out["touch_rate"] = _per_minute(_proportion(int(touch.sum()), touch.size, level), m)
    out["through_rate"] = _per_minute(_proportion(int(through.sum()), through.size, level), m)
    vol = ev["volume"]
    out["volume_per_bar"] = float(np.median(vol)) if vol.size else math.nan
    out["bars_without_trades"] = float(np.mean(vol == 0)) if vol.size else math.nan
    if not ev.get("identified"):
        for key in fills_keys:
            if key not in ("touch_rate", "through_rate"):
                out[key] = _missing(NO_DEPTH)
        return out
    filled = ev["queue_fill"]
    out["displayed_depth"] = float(np.nanmedian(ev["depth"]))
    out["queue_ahead"] = _median(ev["depth"], level)
    out["queue_fill_rate"] = _per_minute(_proportion(int(filled.sum()), filled.size, level), m)
    out["p_first"], out["p_second"] = out["queue_fill_rate"], out["through_rate"]
    effect = np.sign(adverse)
    toward, away = effect > 0, effect < 0
    out["fill_when_moving_through"] = _proportion(int(filled[toward].sum()), int(toward.sum()), level)
    out["fill_when_moving_away"] = _proportion(int(filled[away].sum()), int(away.sum()), level)
    out["adverse_selection"] = _ratio_of_means(adverse[filled], ev["abs_move"], level, lo=-1.0, hi=1.0)
    out["adverse_selection_from_rates"] = _rates_ratio(
        int(filled[toward].sum()), int(toward.sum()), int(filled[away].sum()), int(away.sum()), level
    )
    out["price_impact_share"] = _ratio_of_means(far[filled], half_fills[filled], level)
    out["adverse_move_bps"] = _mean(far[filled] / ev["mid"][filled] * 1e4, level)
    return out


def _per_minute(e: Estimate, minutes: float) -> Estimate:
    if minutes <= 1.0 + 1e-9 or e.why:
        return e
    conv = lambda p: 1.0 - (1.0 - p) ** (1.0 / minutes)  # noqa: E731 - monotone: the interval maps to the interval
    return Estimate(conv(e.value), conv(e.lo), conv(e.hi), e.n)


def fill_section(est: dict) -> tuple[dict, list[str]]:
    """The ``[fill]`` section of a config for these estimates (a queue fill on the data's quoted spreads, the
    median quoted half-spread where a source has no quotes; adverse selection clipped to the model's [0, 1]), and
    the parameters left at the package's defaults because the data cannot identify them."""
    out = {"name": "queue", "half_spread": "quoted", "model_half_spread_bps": est["half_spread_bps"].value}
    kept = [k for k in FILL_PARAMETERS if not est[k].identified]
    if "p_first" not in kept:
        out["p_first"] = est["p_first"].value
    if "p_second" not in kept:
        out["p_second"] = min(est["p_second"].value, out.get("p_first", est["p_second"].value))
    if "adverse_selection" not in kept:
        out["adverse_selection"] = min(1.0, max(0.0, est["adverse_selection"].value))
    return out, kept


def synthetic_bars(
    n: int,
    *,
    touch: float,
    through: float,
    adverse: float,
    volume_share: float = 0.5,
    depth: float = 1_000.0,
    move: float = 0.3,
    half_spread_ticks: float = 1.5,
    tick: float = 0.01,
    start: float = 50.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Minute quote bars (with displayed sizes) and trade bars drawn from the queue-position model with known
    parameters (for checking ``calibrate``): the mid moves a tick up or down with probability ``move`` each; over
    each bar the bid resting at the previous close is traded through with probability through (1 + a e), else
    touched (a print at it) with touch (1 + a e) in all, e = +1 when the mid moved through it, -1 away, 0 flat; the
    ask likewise. ``depth`` shares are displayed at each best quote; in a bar the volume traded at each touched side
    is the same draw, large enough to clear the displayed queue and an order of ``NOTIONAL`` with probability
    ``volume_share`` and a quarter of the depth otherwise, so an order at the back of the queue fills with
    probability through + (touch - through) x volume_share (times 1 + a e). Trade bars hold the lowest and highest
    print and the total volume of each bar and are absent where nothing printed, as in real minute files. Returns
    (quotes, trades)."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, 0.0, 1.0], size=n, p=[move, 1 - 2 * move, move])
    mid = start + tick * np.concatenate([[0.0], np.cumsum(steps[1:])])
    h = half_spread_ticks * tick
    bid, ask = mid - h, mid + h
    prints = []
    for resting, through_dir, sign in ((bid[:-1], -1.0, -1.0), (ask[:-1], 1.0, 1.0)):
        e = np.where(steps[1:] == through_dir, 1.0, np.where(steps[1:] == -through_dir, -1.0, 0.0))
        p_touch = np.clip(touch * (1 + adverse * e), 0, 1)
        p_thru = np.clip(through * (1 + adverse * e), 0, 1)
        u = rng.random(n - 1)
        # a print one tick through the level (sign: below the bid, above the ask), at it, or none
        prints.append(np.where(u < p_thru, resting + sign * tick, np.where(u < p_touch, resting, np.nan)))
    bid_print, ask_print = prints
    low = np.fmin(bid_print, ask_print)
    high = np.fmax(bid_print, ask_print)
    index = pd.date_range("2013-10-07 09:30", periods=n, freq="1min", tz="America/New_York")
    size = np.full(n, float(depth))
    quotes = pd.DataFrame(
        {
            "BidOpen": bid,
            "BidHigh": bid,
            "BidLow": bid,
            "BidClose": bid,
            "BidSize": size,
            "AskOpen": ask,
            "AskHigh": ask,
            "AskLow": ask,
            "AskClose": ask,
            "AskSize": size,
        },
        index=index,
    )
    traded = np.isfinite(low)
    clears = 4.0 * (depth + NOTIONAL / start)  # above the queue ahead and the order while the mid stays above start / 4
    side = np.where(rng.random(n - 1) < volume_share, clears, depth / 4.0)
    sides = np.isfinite(bid_print).astype(float) + np.isfinite(ask_print)
    open_ = np.where(np.isfinite(bid_print), bid_print, ask_print)
    close = np.where(np.isfinite(ask_print), ask_print, bid_print)
    trades = pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": side * sides}, index=index[1:]
    )[traded]
    return quotes, trades
