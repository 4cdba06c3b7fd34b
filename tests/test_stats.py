"""The closed-form Wilson interval against statsmodels' implementation, an independent one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from qcoord.backtest.stats.intervals import wilson_ci


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_wilson_interval_equals_statsmodels(alpha):
    rng = np.random.default_rng(5)
    cases = [(0, 1), (1, 1), (0, 40), (40, 40), (3, 7)] + [
        (int(rng.integers(0, n + 1)), n) for n in rng.integers(1, 10**7, size=300)
    ]
    for k, n in cases:
        lo, hi = wilson_ci(k, n, alpha=alpha)
        ref = proportion_confint(k, n, alpha=alpha, method="wilson")
        assert lo == pytest.approx(ref[0], rel=1e-12, abs=1e-15), (k, n)
        assert hi == pytest.approx(ref[1], rel=1e-12, abs=1e-15), (k, n)
        assert -1e-15 <= lo <= k / n + 1e-15 and k / n - 1e-15 <= hi <= 1.0 + 1e-15


def test_wilson_interval_without_observations_is_undefined():
    assert all(math.isnan(v) for v in wilson_ci(0, 0))
