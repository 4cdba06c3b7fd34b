"""Small statistics helpers shared by the game simulation and the risk metrics."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile, the one constant every interval here uses
P_MIN = float(np.finfo(float).tiny)  # a p-value that underflows is reported as this, never as 0


def p_value(p: float) -> float:
    """A p-value as stored: at least ``P_MIN`` (2.2e-308), so a tiny p never reads as an impossible 0."""
    return max(float(p), P_MIN) if math.isfinite(p) else float(p)


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927; Agresti & Coull 1998, Eq. 2), (nan, nan) without
    observations: (p + z^2/2n -+ z sqrt(p(1 - p)/n + z^2/4n^2)) / (1 + z^2/n), z the two-sided normal quantile.

    In closed form rather than through statsmodels' ``proportion_confint`` (which tests/test_stats.py checks it
    against): a daily pair asks for it dozens of times, and that call costs a tenth of a millisecond in argument
    handling."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = Z95 if alpha == 0.05 else _z(alpha)
    n = int(n)
    p = int(successes) / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return (center - half, center + half)


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(alpha / 2.0))


def draw_inputs(p_xy: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n rounds of inputs (x, y) drawn from the K_A x K_B distribution p_xy (bits for 2x2)."""
    p = np.asarray(p_xy, dtype=float)
    cells = rng.choice(p.size, size=n, p=p.ravel()).astype(np.uint8)
    if p.shape == (2, 2):  # the bit path, unchanged: same seed, same rounds as before levels existed
        return cells >> 1, cells & 1
    return (cells // p.shape[1]).astype(np.uint8), (cells % p.shape[1]).astype(np.uint8)


def format_p(v: float) -> str:
    """'p = 0.034', 'p = 3.2e-74', or 'p < 1e-300': a p-value that underflowed is not 0."""
    return "p < 1e-300" if v < 1e-300 else f"p = {v:.2g}"
