"""Paired statistics of routers played on the same arrivals: means of per-block series, with Newey-West standard
errors, the lag window from the data and fixed-b critical values (``stats.paired``, the tests every backtest
comparison uses); and the frontier read at a common waiting time."""

from __future__ import annotations

import math

import numpy as np

from ..stats.paired import bandwidth_ratio, fixed_b_critical, fixed_b_p, hac_lags, newey_west_variance


def block_mean_test(z: np.ndarray) -> dict:
    """Mean of a per-block series with its 95% interval and the two-sided p-value for mean 0 (HAC, fixed-b)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    m = float(z.mean())
    if n < 10:
        return {
            "mean": m,
            "ci95": [math.nan, math.nan],
            "p_value": math.nan,
            "blocks": n,
            "hac_lags": None,
            "se": math.nan,
            "b": math.nan,
        }
    lags = hac_lags(z)
    se = math.sqrt(newey_west_variance(z, lags) / n)
    b = bandwidth_ratio(lags, n)
    cv = fixed_b_critical(b)
    p = fixed_b_p(m / se, b) if se > 0 else (1.0 if m == 0 else 0.0)
    return {
        "mean": m,
        "ci95": [m - cv * se, m + cv * se],
        "p_value": p,
        "blocks": n,
        "hac_lags": lags,
        "se": se,
        "b": b,
    }


def at_wait(waits: list[np.ndarray], outputs: list[np.ndarray], target: float) -> tuple[float, np.ndarray] | None:
    """A curve's throughput at mean waiting time ``target`` (its points' per-block series, in order along the curve):
    linear between the two consecutive points whose mean waits bracket it (the first such pair), None outside the
    curve's waits. Also its influence series per block (delta method: the interpolation weights move with the
    estimated waits too), so that two curves' difference gets a paired interval."""
    w = np.array([x.mean() for x in waits])
    t = np.array([x.mean() for x in outputs])
    k = next(
        (i for i in range(w.size - 1) if min(w[i], w[i + 1]) <= target <= max(w[i], w[i + 1]) and w[i] != w[i + 1]),
        None,
    )
    if k is None:
        return None
    lam = (target - w[k]) / (w[k + 1] - w[k])
    slope = (t[k + 1] - t[k]) / (w[k + 1] - w[k])
    value = t[k] + slope * (target - w[k])
    influence = (
        (1 - lam) * (outputs[k] - t[k])
        + lam * (outputs[k + 1] - t[k + 1])
        - slope * (1 - lam) * (waits[k] - w[k])
        - slope * lam * (waits[k + 1] - w[k + 1])
    )
    return float(value), influence
