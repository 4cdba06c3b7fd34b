"""Paired tests of two strategies played on the same rounds, robust to autocorrelation and volatility clustering.

Both P&L series are earned on the same prices, so they are paired, and market volatility clusters, so neither is
independent over time. Every comparison here is a mean of a per-round series (an influence function) whose
long-run variance is estimated by Newey-West (Bartlett kernel):

- variance ratio Var_q / Var_c: the log ratio has influence ((q - mu_q)^2 - s_q^2)/s_q^2 - ((c - mu_c)^2 - s_c^2)/s_c^2
  (delta method); the interval is exp(log ratio +- 1.96 se), the p-value two-sided for a ratio of 1;
- Sharpe difference: the influence of SR = m/s is (x - m)/s - SR ((x - m)^2 - s^2)/(2 s^2) on excess P&L x,
  annualised by sqrt(N);
- mean squared P&L difference (the hedge game's objective, E[P&L^2]) and mean utility difference: plain paired
  HAC t-tests of the per-round differences.

The lag window is the larger of Newey and West's rule floor(4 (n/100)^(2/9)) and the Politis-White optimal block
length of the influence series (``arch.bootstrap.optimal_block_length``, on the first 2^16 rounds): the window
follows the dependence in the data, not the sample size. ``tests/test_paired.py`` simulates the null (two
strategies with identical behaviour and independent randomness on a GARCH(1,1) feed, 400 times) and checks that
each 5% test rejects between 2% and 9% of the time, and checks the long-run variance against statsmodels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

Z95 = 1.959963984540054
PW_ROWS = 1 << 16  # rounds the Politis-White block length is estimated on


def newey_west_variance(z: np.ndarray, lags: int) -> float:
    """Long-run variance of ``z`` (demeaned here) with Bartlett weights 1 - k/(lags + 1), k = 1..lags."""
    z = np.asarray(z, dtype=float)
    z = z - z.mean()
    n = z.size
    lrv = float(z @ z) / n
    for k in range(1, min(lags, n - 1) + 1):
        lrv += 2.0 * (1.0 - k / (lags + 1.0)) * float(z[k:] @ z[:-k]) / n
    return max(lrv, 0.0)


def hac_lags(*series: np.ndarray) -> int:
    """Lag window for a set of per-round series: max(Newey-West rule, Politis-White block length), capped at n/4."""
    n = series[0].size
    lags = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    try:
        from arch.bootstrap import optimal_block_length
    except ImportError:  # pragma: no cover - arch is a dependency; the rule alone is the fallback
        return max(1, min(lags, n // 4))
    for s in series:
        head = np.asarray(s[:PW_ROWS], dtype=float)
        if head.size > 16 and np.ptp(head) > 0:
            pw = float(optimal_block_length(head)["circular"].iloc[0])
            if math.isfinite(pw):
                lags = max(lags, int(math.ceil(pw)))
    return max(1, min(lags, n // 4))


def _mean_test(z: np.ndarray, lags: int) -> tuple[float, float, float]:
    """(mean, HAC standard error, two-sided p-value for mean 0)."""
    m = float(z.mean())
    se = math.sqrt(newey_west_variance(z, lags) / z.size)
    if se == 0.0:
        return m, 0.0, (1.0 if m == 0.0 else 0.0)
    return m, se, float(2.0 * norm.sf(abs(m) / se))


def paired_tests(q: np.ndarray, c: np.ndarray, *, periods_per_year: float, rf_per_period: float, book: float,
                 utility_q: np.ndarray | None = None, utility_c: np.ndarray | None = None,
                 lags: int | None = None) -> dict:
    """Quantum (``q``) against an opponent (``c``): book P&L per round (currency) on the same rounds. ``lags``
    fixes the lag window (default: chosen from the data, ``hac_lags``)."""
    q = np.asarray(q, dtype=float)
    c = np.asarray(c, dtype=float)
    n = q.size
    out: dict = {"test_rounds": n, "method": "Newey-West HAC (delta method for ratios)"}
    if n < 10:
        out["undefined"] = "fewer than 10 rounds"
        return out
    mq, mc = q.mean(), c.mean()
    dq, dc = q - mq, c - mc
    vq, vc = float(dq @ dq) / (n - 1), float(dc @ dc) / (n - 1)
    excess = rf_per_period * book
    series = {}
    if vq > 0 and vc > 0:
        series["log_var"] = (dq**2 - vq) / vq - (dc**2 - vc) / vc
        sq, sc = math.sqrt(vq), math.sqrt(vc)
        sr_q, sr_c = (mq - excess) / sq, (mc - excess) / sc
        series["sharpe"] = (dq / sq - sr_q * (dq**2 - vq) / (2 * vq)) - (dc / sc - sr_c * (dc**2 - vc) / (2 * vc))
    series["squared_pnl"] = q**2 - c**2
    if utility_q is not None and utility_c is not None:
        series["utility"] = np.asarray(utility_q, dtype=float) - np.asarray(utility_c, dtype=float)
    lags = hac_lags(*series.values()) if lags is None else max(1, int(lags))
    out["hac_lags"] = lags
    if "log_var" in series:
        log_ratio = math.log(vq / vc)
        _, se, _ = _mean_test(series["log_var"], lags)
        out["variance_ratio"] = vq / vc
        out["variance_ratio_ci95"] = [math.exp(log_ratio - Z95 * se), math.exp(log_ratio + Z95 * se)]
        out["variance_p_value"] = float(2.0 * norm.sf(abs(log_ratio) / se)) if se > 0 else float(log_ratio == 0)
        root = math.sqrt(periods_per_year)
        diff = (sr_q - sr_c) * root
        _, se_s, _ = _mean_test(series["sharpe"], lags)
        out["sharpe_diff"] = diff
        out["sharpe_diff_ci95"] = [diff - Z95 * se_s * root, diff + Z95 * se_s * root]
        out["sharpe_p_value"] = float(2.0 * norm.sf(abs(diff) / (se_s * root))) if se_s > 0 else float(diff == 0)
    else:
        out.setdefault("undefined", "a strategy's book P&L has zero variance")
    m, _, p = _mean_test(series["squared_pnl"], lags)
    out["squared_pnl_diff"], out["squared_pnl_p_value"] = m, p
    if "utility" in series:
        m, _, p = _mean_test(series["utility"], lags)
        out["utility_diff"], out["utility_p_value"] = m, p
    return out
