"""Paired statistics of routers played on the same arrivals: means of per-block series, with Newey-West standard
errors, the lag window from the data and fixed-b critical values (``analysis.paired``, the tests every backtest
comparison uses); and the frontier read at a common waiting time."""

from __future__ import annotations

import math

import numpy as np

from ..analysis.paired import bandwidth_ratio, fixed_b_critical, fixed_b_p, hac_lags, newey_west_variance


def block_mean_test(z: np.ndarray) -> dict:
    """Mean of a per-block series with its 95% interval and the two-sided p-value for mean 0 (HAC, fixed-b)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    m = float(z.mean())
    if n < 10:
        return {"mean": m, "ci95": [math.nan, math.nan], "p_value": math.nan, "blocks": n, "hac_lags": None,
                "se": math.nan, "b": math.nan}
    lags = hac_lags(z)
    se = math.sqrt(newey_west_variance(z, lags) / n)
    b = bandwidth_ratio(lags, n)
    cv = fixed_b_critical(b)
    p = fixed_b_p(m / se, b) if se > 0 else (1.0 if m == 0 else 0.0)
    return {"mean": m, "ci95": [m - cv * se, m + cv * se], "p_value": p, "blocks": n, "hac_lags": lags, "se": se,
            "b": b}


def at_wait(waits: list[np.ndarray], outputs: list[np.ndarray], target: float) -> tuple[float, np.ndarray] | None:
    """A curve's throughput at mean waiting time ``target``, linearly between the two points that bracket it (points
    in any order), and its influence series per block (delta method: the interpolation weights move with the
    estimated waits too), so that two curves' difference gets a paired interval. None when no two points bracket
    ``target``."""
    w = np.array([x.mean() for x in waits])
    t = np.array([x.mean() for x in outputs])
    order = np.argsort(w)
    w, t = w[order], t[order]
    k = int(np.searchsorted(w, target, side="right")) - 1
    if k < 0 or k >= w.size - 1 or not w[k] <= target <= w[k + 1] or w[k + 1] == w[k]:
        return None
    i, j = order[k], order[k + 1]
    lam = (target - w[k]) / (w[k + 1] - w[k])
    slope = (t[k + 1] - t[k]) / (w[k + 1] - w[k])
    value = t[k] + slope * (target - w[k])
    influence = ((1 - lam) * (outputs[i] - t[k]) + lam * (outputs[j] - t[k + 1])
                 - slope * (1 - lam) * (waits[i] - w[k]) - slope * lam * (waits[j] - w[k + 1]))
    return float(value), influence


def compare_at_wait(q: tuple[list, list], c: tuple[list, list], target: float) -> dict | None:
    """Quantum's curve against the classical one at mean wait ``target``: throughput difference with its paired
    interval (per-block influence series of both interpolations, HAC)."""
    a, b = at_wait(*q, target), at_wait(*c, target)
    if a is None or b is None:
        return None
    test = block_mean_test(a[1] - b[1])  # the influence series: mean 0, its spread is the estimate's
    diff, se = a[0] - b[0], test["se"]
    half = fixed_b_critical(test["b"]) * se if math.isfinite(se) else math.nan
    p = fixed_b_p(diff / se, test["b"]) if math.isfinite(se) and se > 0 else math.nan
    return {"wait": target, "quantum": a[0], "classical": b[0], "difference": diff,
            "difference_ci95": [diff - half, diff + half], "relative": diff / b[0] if b[0] else math.nan,
            "p_value": p}
