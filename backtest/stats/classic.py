"""The textbook tests a run reports beside its paired HAC tests, on scipy.special's distribution functions.

The same statistics and p-values as ``scipy.stats.levene(center="median")``, ``statsmodels``' ``mcnemar`` and
``scipy.stats.chi2_contingency`` (tests/test_paired.py checks each against them), computed here because importing
``scipy.stats`` alone took 0.34 s of every run, a tenth of the default backtest; ``scipy.special`` is loaded by the
solver anyway.
"""

from __future__ import annotations

import math

import numpy as np


def normal_two_sided(z: float) -> float:
    """P(|N(0, 1)| > |z|) = erfc(|z| / sqrt 2), exact in the far tail (no 1 - cdf)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def levene_median(a: np.ndarray, b: np.ndarray) -> float:
    """Levene's test of equal variances centred on the medians (Brown & Forsythe 1974): the one-way ANOVA F of
    |x - median of its group|, p = F.sf(W; 1, n_a + n_b - 2)."""
    from scipy.special import fdtrc

    groups = [np.abs(np.asarray(g, dtype=float) - np.median(g)) for g in (a, b)]
    n = np.array([g.size for g in groups], dtype=float)
    means = np.array([g.mean() for g in groups])
    total = n.sum()
    grand = float((n * means).sum() / total)
    within = sum(float(((g - m) ** 2).sum()) for g, m in zip(groups, means))
    k = len(groups)
    if within == 0.0:
        return math.nan
    w = (total - k) * float((n * (means - grand) ** 2).sum()) / ((k - 1) * within)
    return float(fdtrc(k - 1, total - k, w))


def mcnemar_p(only_a: int, only_b: int, exact: bool, correction: bool = True) -> float:
    """McNemar's test on the discordant counts (statsmodels' ``mcnemar`` on [[0, only_a], [only_b, 0]]): exact,
    twice the binomial(n, 1/2) cdf at the smaller count (at most 1); else chi-squared with one degree of freedom on
    (|b - c| - 1)^2 / (b + c) (without the 1 when not ``correction``)."""
    from scipy.special import bdtr

    n = only_a + only_b
    if exact:
        return float(min(1.0, 2.0 * bdtr(min(only_a, only_b), n, 0.5)))
    statistic = (abs(only_a - only_b) - int(correction)) ** 2 / n
    return math.erfc(math.sqrt(statistic / 2.0))  # chi2(1).sf


def chi2_independence(table: np.ndarray) -> tuple[float, float]:
    """(statistic, p) of Pearson's chi-squared test of independence of a contingency table, with Yates' continuity
    correction for one degree of freedom, as ``scipy.stats.chi2_contingency`` computes it."""
    from scipy.special import chdtrc

    observed = np.asarray(table, dtype=float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if dof == 0:
        return 0.0, 1.0
    if dof == 1:  # Yates: move each count half a unit toward its expectation (never past it)
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, float(chdtrc(dof, statistic))
