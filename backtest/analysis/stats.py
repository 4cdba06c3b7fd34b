"""Small statistics helpers shared by the game simulation and the risk metrics."""

from __future__ import annotations

import math

import numpy as np
from statsmodels.stats.proportion import proportion_confint

Z95 = 1.959963984540054  # two-sided 95% normal quantile, the one constant every interval here uses
P_MIN = float(np.finfo(float).tiny)  # a p-value that underflows is reported as this, never as 0


def p_value(p: float) -> float:
    """A p-value as stored: at least ``P_MIN`` (2.2e-308), so a tiny p never reads as an impossible 0."""
    return max(float(p), P_MIN) if math.isfinite(p) else float(p)


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion (statsmodels), (nan, nan) without observations."""
    if n <= 0:
        return (float("nan"), float("nan"))
    lo, hi = proportion_confint(int(successes), int(n), alpha=alpha, method="wilson")
    return (float(lo), float(hi))


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
