"""Small statistics helpers shared by the game simulation and the risk metrics."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import proportion_confint


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion (statsmodels), (nan, nan) without observations."""
    if n <= 0:
        return (float("nan"), float("nan"))
    lo, hi = proportion_confint(int(successes), int(n), alpha=alpha, method="wilson")
    return (float(lo), float(hi))


def draw_inputs(p_xy: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n rounds of input bits (x, y) drawn from the 2x2 distribution p_xy."""
    cells = rng.choice(4, size=n, p=np.asarray(p_xy, dtype=float).ravel()).astype(np.uint8)
    return cells >> 1, cells & 1


def format_p(v: float) -> str:
    """'p = 0.034', 'p = 3.2e-74', or 'p < 1e-300': a p-value that underflowed is not 0."""
    return "p < 1e-300" if v < 1e-300 else f"p = {v:.2g}"
