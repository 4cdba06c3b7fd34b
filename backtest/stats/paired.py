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

The lag window M is the larger of Newey and West's rule floor(4 (n/100)^(2/9)) and the Politis-White optimal block
length of the influence series (``circular_block_length``, as ``arch.bootstrap.optimal_block_length`` computes it, on
the first 2^16 rounds): the window
follows the dependence in the data, not the sample size. A data-chosen window makes the variance estimate noisier
than the normal reference allows for, so intervals and p-values use **fixed-b** critical values (Kiefer & Vogelsang,
"A new asymptotic theory for heteroskedasticity-autocorrelation robust tests", Econometric Theory 21, 2005): with
b = M / n (M = lags + 1, the Bartlett bandwidth), the two-sided 95% critical value of the Bartlett-kernel t statistic is
cv(b) = 1.96 + 2.9694 b + 0.4160 b^2 - 0.5324 b^3 (their Table 1 fit). A p-value is the normal tail of
t * 1.96 / cv(b): exact at the 5% level (p < 0.05 exactly when |t| > cv(b)), an approximation elsewhere.
``tests/test_paired.py`` checks cv(b) against a simulation of the fixed-b limit (Brownian bridge functional),
simulates the null (two strategies with identical behaviour and independent randomness) on a 2,000-round GARCH(1,1)
feed and on a 4,126-round GARCH feed with jumps, and on the shipped real pair, and checks that each 5% test rejects
within [3%, 7%] there, and checks the long-run variance against statsmodels.
"""

from __future__ import annotations

import math

import numpy as np
from ..._jit import njit

from .classic import normal_two_sided
from .intervals import Z95, p_value

PW_ROWS = 1 << 16  # rounds the Politis-White block length is estimated on
KV_BARTLETT = (2.9694, 0.4160, -0.5324)  # Kiefer & Vogelsang (2005): 97.5% quantile of the fixed-b Bartlett t


def fixed_b_critical(b: float) -> float:
    """Two-sided 95% critical value of a Bartlett-kernel HAC t statistic with bandwidth ratio b = lags / n."""
    b = min(max(float(b), 0.0), 1.0)
    c1, c2, c3 = KV_BARTLETT
    return Z95 + c1 * b + c2 * b * b + c3 * b**3


def bandwidth_ratio(lags: int, n: int) -> float:
    """b = M / n, with M = lags + 1 the Bartlett kernel's bandwidth (weights 1 - k/M, as ``newey_west_variance``)."""
    return (lags + 1.0) / n


def fixed_b_p(t: float, b: float) -> float:
    """Two-sided p-value of t against the fixed-b reference (module docstring), never 0."""
    return p_value(normal_two_sided(t * Z95 / fixed_b_critical(b)))


def newey_west_variance(z: np.ndarray, lags: int) -> float:
    """Long-run variance of ``z`` (demeaned here) with Bartlett weights 1 - k/(lags + 1), k = 1..lags:
    (sum z_t^2 + 2 sum_k (1 - k/(lags + 1)) sum_t z_t z_(t-k)) / n, in O(n) (``bartlett_cross``) rather than one pass
    over the series per lag (a queue-fill run's 10^6 kept rounds and about 150 lags took 80 ms a series)."""
    z = np.asarray(z, dtype=float)
    z = z - z.mean()
    n = z.size
    used = min(int(lags), n - 1)  # the weights keep the full window even where the series is shorter
    lrv = (float(z @ z) + (2.0 * bartlett_cross(z, used, lags + 1.0) if used > 0 else 0.0)) / n
    return max(lrv, 0.0)


RESYNC_ROUNDS = 4096  # bartlett_cross recomputes its running sums from scratch this often (or every ``lags`` rounds)


@njit(cache=True, nogil=True)
def bartlett_cross(z, lags, m):  # pragma: no cover - compiled
    """sum_(k=1..lags) (1 - k/m) sum_(t>=k) z_t z_(t-k) (m = lags + 1 but for a series shorter than its window), as
    sum_t z_t (S_t - T_t / m) with the
    running sums S_t = sum_(k=1..lags) z_(t-k) and T_t = sum_(k=1..lags) k z_(t-k) (terms before the series are 0),
    which advance in O(1): S_(t+1) = S_t + z_t - z_(t-lags), T_(t+1) = T_t + S_t + z_t - (lags + 1) z_(t-lags).
    Both are recomputed from scratch every max(RESYNC_ROUNDS, lags) rounds, so rounding does not accumulate over a
    long series (the work stays O(n)); tests/test_paired.py checks the sum against the direct one lag at a time."""
    n = z.size
    every = max(RESYNC_ROUNDS, lags)
    total, s, t_sum = 0.0, 0.0, 0.0
    for t in range(n):
        if t > 0 and t % every == 0:
            s, t_sum = 0.0, 0.0
            for k in range(1, min(lags, t) + 1):
                v = z[t - k]
                s += v
                t_sum += k * v
        total += z[t] * (s - t_sum / m)
        old = z[t - lags] if t >= lags else 0.0
        t_sum += s + z[t] - (lags + 1.0) * old
        s += z[t] - old
    return total


def hac_lags(*series: np.ndarray) -> int:
    """Lag window for a set of per-round series: max(Newey-West rule, Politis-White block length), capped at n/4."""
    n = series[0].size
    lags = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    for s in series:
        head = np.asarray(s[:PW_ROWS], dtype=float)
        if head.size > 16 and np.ptp(head) > 0:
            pw = circular_block_length(head)
            if math.isfinite(pw):
                lags = max(lags, int(math.ceil(pw)))
    return max(1, min(lags, n // 4))


def circular_block_length(x: np.ndarray) -> float:
    """Politis & White's (2004) optimal block length for the circular block bootstrap, with Patton, Politis & White's
    (2009) correction, in the conventions of ``arch.bootstrap.optimal_block_length`` (its "circular" column;
    tests/test_paired.py checks the two agree): autocovariances g(k) = sum (x_t - mean)(x_(t-k) - mean) / n over the
    whole sample; m is the first lag from which k_n = max(5, floor(log10 n)) consecutive absolute autocorrelations
    stay below 2 sqrt(log10(n) / n), doubled and capped at ceil(sqrt n) + k_n; with the flat-top weights
    h(k/M) = min(1, 2 (1 - k/M)) over lags up to M, G = sum h |k| g(k) and sigma^2 = sum h g(k), the block length is
    (2 G^2 / (4/3 sigma^4))^(1/3) n^(1/3), at most ceil(min(3 sqrt n, n / 3)). Written here rather than imported:
    arch's import (its univariate models) alone took 0.4 s of every run."""
    n = x.size
    eps = x - x.mean()
    kn = max(5, int(np.log10(n)))
    m_max = int(np.ceil(np.sqrt(n))) + kn
    lags = np.arange(m_max + 1)
    # every lag's cross product at once by FFT (zero-padded past 2n: no wrap-around), equal to the sums to rounding;
    # a BLAS dot per lag took 0.45 s a series where the paired tests run beside Levene's on the other core
    size = 1 << int(2 * n - 1).bit_length()
    spectrum = np.fft.rfft(eps, size)
    cross = np.fft.irfft(spectrum * np.conj(spectrum), size)[: m_max + 1]
    acv = cross / n
    sq = np.concatenate([[0.0], np.cumsum(eps * eps)])  # sq[j] = sum of eps[:j]^2
    tail = sq[n] - sq[lags + 1]  # sum eps[k+1:]^2
    head = sq[n - lags - 1]  # sum eps[:n-k-1]^2
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_corr = np.abs(cross) / np.sqrt(tail * head)
    small = abs_corr < 2.0 * np.sqrt(np.log10(n) / n)
    first = next((i - kn for i in range(kn, m_max + 1) if small[i - kn : i].all()), None)
    m = min(2 * max(first, 1) if first is not None else m_max, m_max)
    k = np.arange(1, m + 1)
    weight = np.where(k / m <= 0.5, 1.0, 2.0 * (1.0 - k / m))
    g = float(np.sum(2.0 * weight * k * acv[1 : m + 1]))
    sigma2 = float(acv[0] + np.sum(2.0 * weight * acv[1 : m + 1]))
    b = ((2.0 * g * g) / (4.0 / 3.0 * sigma2 * sigma2)) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return float(min(b, np.ceil(min(3.0 * np.sqrt(n), n / 3.0))))


def _mean_test(z: np.ndarray, lags: int) -> tuple[float, float, float]:
    """(mean, HAC standard error, two-sided fixed-b p-value for mean 0)."""
    m = float(z.mean())
    se = math.sqrt(newey_west_variance(z, lags) / z.size)
    if se == 0.0:
        return m, 0.0, (1.0 if m == 0.0 else p_value(0.0))
    return m, se, fixed_b_p(m / se, bandwidth_ratio(lags, z.size))


def paired_tests(
    q: np.ndarray,
    c: np.ndarray,
    *,
    periods_per_year: float,
    rf_per_period: float,
    book: float,
    utility_q: np.ndarray | None = None,
    utility_c: np.ndarray | None = None,
    lags: int | None = None,
) -> dict:
    """Quantum (``q``) against an opponent (``c``): book P&L per round (currency) on the same rounds. ``lags``
    fixes the lag window (default: chosen from the data, ``hac_lags``)."""
    q = np.asarray(q, dtype=float)
    c = np.asarray(c, dtype=float)
    n = q.size
    out: dict = {"test_rounds": n, "method": "Newey-West HAC, fixed-b critical values (delta method for ratios)"}
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
    b = bandwidth_ratio(lags, n)
    cv = fixed_b_critical(b)
    out["fixed_b"] = {"b": b, "critical_value": cv}
    if "log_var" in series:
        log_ratio = math.log(vq / vc)
        _, se, _ = _mean_test(series["log_var"], lags)
        out["variance_ratio"] = vq / vc
        out["variance_ratio_ci95"] = [math.exp(log_ratio - cv * se), math.exp(log_ratio + cv * se)]
        out["variance_p_value"] = fixed_b_p(log_ratio / se, b) if se > 0 else _degenerate_p(log_ratio)
        root = math.sqrt(periods_per_year)
        diff = (sr_q - sr_c) * root
        _, se_s, _ = _mean_test(series["sharpe"], lags)
        out["sharpe_diff"] = diff
        out["sharpe_diff_ci95"] = [diff - cv * se_s * root, diff + cv * se_s * root]
        out["sharpe_p_value"] = fixed_b_p(diff / (se_s * root), b) if se_s > 0 else _degenerate_p(diff)
    else:
        out.setdefault("undefined", "a strategy's book P&L has zero variance")
    m, _, p = _mean_test(series["squared_pnl"], lags)
    out["squared_pnl_diff"], out["squared_pnl_p_value"] = m, p
    if "utility" in series:
        m, _, p = _mean_test(series["utility"], lags)
        out["utility_diff"], out["utility_p_value"] = m, p
    return out


def _degenerate_p(estimate: float) -> float:
    """A difference with zero standard error: 1 if it is 0, else as small as a p-value can be stored."""
    return 1.0 if estimate == 0 else p_value(0.0)
