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


def frontier_vertices(waits: list[np.ndarray], outputs: list[np.ndarray]) -> list[int]:
    """Indices of the points on the frontier of a set of (mean wait, throughput) points: the upper concave hull from
    the least wait to the most throughput. Points between two vertices are reachable by time-sharing the two
    policies (shared randomness), so the hull, not the best single point, is what the routers can do; past the most
    throughput, waiting longer buys nothing."""
    w = np.array([x.mean() for x in waits])
    t = np.array([x.mean() for x in outputs])
    order = sorted(range(w.size), key=lambda i: (w[i], -t[i]))
    hull: list[int] = []
    for i in order:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it lies on or below the chord from a to i
            if (t[b] - t[a]) * (w[i] - w[a]) <= (t[i] - t[a]) * (w[b] - w[a]):
                hull.pop()
            else:
                break
        if not hull or w[i] > w[hull[-1]] or t[i] > t[hull[-1]]:
            hull.append(i)
    top = int(np.argmax([t[i] for i in hull]))
    return hull[: top + 1]


def at_wait(waits: list[np.ndarray], outputs: list[np.ndarray], target: float) -> tuple[float, np.ndarray] | None:
    """A frontier's throughput at mean waiting time ``target`` (its points' per-block series, the frontier's vertices
    in order of wait): linear between the two vertices that bracket it, the last vertex's beyond it (more waiting
    buys nothing), None before the first. Also its influence series per block (delta method: the interpolation
    weights move with the estimated waits too), so that two frontiers' difference gets a paired interval."""
    w = np.array([x.mean() for x in waits])
    t = np.array([x.mean() for x in outputs])
    if target < w[0]:
        return None
    if target >= w[-1]:
        return float(t[-1]), outputs[-1] - t[-1]
    k = int(np.searchsorted(w, target, side="right")) - 1
    lam = (target - w[k]) / (w[k + 1] - w[k])
    slope = (t[k + 1] - t[k]) / (w[k + 1] - w[k])
    value = t[k] + slope * (target - w[k])
    influence = ((1 - lam) * (outputs[k] - t[k]) + lam * (outputs[k + 1] - t[k + 1])
                 - slope * (1 - lam) * (waits[k] - w[k]) - slope * lam * (waits[k + 1] - w[k + 1]))
    return float(value), influence


def compare_at_wait(q: tuple[list, list], c: tuple[list, list], target: float) -> dict | None:
    """One frontier against another at mean wait ``target`` (each given as its vertices' per-block series, in order):
    throughput difference with its paired interval (per-block influence series of both readings, HAC)."""
    a, b = at_wait(*q, target), at_wait(*c, target)
    if a is None or b is None:
        return None
    test = block_mean_test(a[1] - b[1])  # the influence series: mean 0, its spread is the estimate's
    diff, se = a[0] - b[0], test["se"]
    half = fixed_b_critical(test["b"]) * se if math.isfinite(se) else math.nan
    if not math.isfinite(se):
        p = math.nan
    else:  # the same vertices on both frontiers read the same numbers: no difference, and no doubt about it
        p = fixed_b_p(diff / se, test["b"]) if se > 0 else (1.0 if diff == 0 else math.nan)
    return {"wait": target, "quantum": a[0], "classical": b[0], "difference": diff,
            "difference_ci95": [diff - half, diff + half], "relative": diff / b[0] if b[0] else math.nan,
            "p_value": p}
