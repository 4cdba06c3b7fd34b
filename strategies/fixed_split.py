"""The routers' threshold game at a fixed splitting probability (``strategies.balance``'s game, one more constraint).

Da Silva & Wehner (arXiv:2602.04588) compare routing policies at a fixed splitting probability p: the share of
pairs sent to different servers sets how much waiting the pairs cost and how often the background task is
interrupted, so a policy is judged against the others that split as often. This module gives the threshold game's
values under that constraint, P(o_A != o_B) = p:

- **Quantum**, per K: Tsirelson's SDP with one linear constraint. P(split) = sum_xy p(x, y) (1 - E_xy) / 2 depends on
  the correlators only, which the SDP describes exactly (any entangled state), so the constrained SDP is the K x K
  game's exact quantum value at that p. The limit: Richardson's extrapolation over K, 2K, 4K (``balance.richardson``).
- **Classical**: the best mixture (a shared coin) of threshold pairs on the continuum, i.e. the upper concave envelope
  of (P(split), P(win)) over every pair of thresholds and orientations. The paper reports threshold strategies
  certifiably optimal at fixed p; ``tests/test_balance_game.py`` checks it against every pair of deterministic rules
  at K = 8 (2^16 pairs).

Without the constraint the two are ``balance.game_values``'s limits. This module imports nothing outside
``strategies``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .balance import LEVELS, check_c_t, richardson, threshold_value, threshold_weights
from .errors import StrategyError


def _checked_split(split) -> float:
    s = float(split)
    if not 0.0 <= s <= 1.0:
        raise StrategyError(f"the splitting probability must be in [0, 1], got {split!r}")
    return s


def upper_envelope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (sorted by x) of the upper concave envelope of the points (x, y): at each x, the most a shared coin
    mixing two of the points can reach. Exact (monotone chain over every point; 0.2 s for the 321,602 threshold
    pairs of ``classical_envelope``)."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    order = np.lexsort((-y, x))
    x, y = x[order], y[order]
    keep = np.r_[True, x[1:] != x[:-1]]  # the highest point at each x
    x, y = x[keep], y[keep]
    hull: list[int] = []
    for i in range(len(x)):  # monotone chain, upper part: drop the last vertex while it is not above the chord
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            if (x[k] - x[j]) * (y[i] - y[j]) - (y[k] - y[j]) * (x[i] - x[j]) >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return x[hull], y[hull]


@lru_cache(maxsize=8)
def classical_envelope(c_t: float, grid: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(P(split), P(win)) vertices of the classical envelope on the continuum: threshold pairs on a (grid + 1)^2 grid
    in both orientations (B's output flipped: every bunch a split, so P(win) -> 1 - P(win)), mixed by a shared coin."""
    c = check_c_t(c_t)
    g = np.linspace(0.0, 1.0, grid + 1)
    a, b = g[:, None], g[None, :]
    win = threshold_value(a, b, c)
    split = a * (1.0 - b) + (1.0 - a) * b  # outputs differ: one router below its threshold, the other above
    xs, ys = upper_envelope(np.r_[split.ravel(), 1.0 - split.ravel()], np.r_[win.ravel(), 1.0 - win.ravel()])
    xs.setflags(write=False)  # cached and shared: read-only
    ys.setflags(write=False)
    return xs, ys


def classical_at_split(c_t: float, split: float, grid: int = 400) -> float:
    """The best classical win probability of routers that split with probability ``split`` (continuum thresholds,
    shared randomness)."""
    x, y = classical_envelope(check_c_t(c_t), grid)
    return float(np.interp(_checked_split(split), x, y))


@lru_cache(maxsize=None)
def _problem(k: int):
    """Tsirelson's SDP for the K x K game with P(split) fixed, weights and target as cvxpy Parameters (compiled once
    per K)."""
    import cvxpy as cp

    weights, mean_correlator = cp.Parameter((k, k)), cp.Parameter()
    G = cp.Variable((2 * k, 2 * k), symmetric=True)
    E = G[:k, k:]
    constraints = [G >> 0, cp.diag(G) == 1, cp.sum(E) / (k * k) == mean_correlator]
    return cp.Problem(cp.Maximize(cp.sum(cp.multiply(weights, E))), constraints), weights, mean_correlator


def quantum_at_split(k: int, c_t: float, split: float) -> float:
    """The K x K game's quantum value (any entangled state) with P(split) = ``split``; needs cvxpy."""
    import cvxpy as cp

    s = _checked_split(split)
    problem, weights, target = _problem(int(k))
    weights.value = threshold_weights(int(k), check_c_t(c_t)) * (2 * k * k)  # scaled to 1: absolute tolerances
    target.value = 1.0 - 2.0 * s  # uniform levels: P(split) = (1 - mean E) / 2
    problem.solve(solver=cp.CLARABEL)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise StrategyError(f"Tsirelson's SDP at split probability {s:g} did not solve: {problem.status}")
    return 0.5 + float(problem.value) / (2 * k * k)


@dataclass(frozen=True)
class SplitValues:
    """The threshold game's values at one splitting probability, as the levels refine and in the limit."""

    c_t: float
    split_probability: float
    levels: tuple[int, ...]
    quantum: tuple[float, ...]
    quantum_limit: dict
    classical_limit: float

    def to_dict(self) -> dict:
        q = self.quantum_limit
        return {
            "c_t": self.c_t,
            "split_probability": self.split_probability,
            "levels": list(self.levels),
            "quantum": list(self.quantum),
            "quantum_limit": q["limit"],
            "quantum_convergence": q,
            "classical_limit": self.classical_limit,
            "advantage_limit": q["limit"] - self.classical_limit,
        }


def split_values(c_t: float, split: float, levels=LEVELS) -> SplitValues:
    """Classical and quantum values of the threshold game with P(split) = ``split``: the SDP for each K in
    ``levels`` (a doubling sequence) and its Richardson limit, and the classical envelope on the continuum."""
    c, s = check_c_t(c_t), _checked_split(split)
    ks = tuple(int(k) for k in levels)
    quantum = tuple(quantum_at_split(k, c, s) for k in ks)
    return SplitValues(c, s, ks, quantum, richardson(ks, quantum), classical_at_split(c, s))


def split_curve(c_t: float, splits, k: int = 16) -> dict:
    """The K x K quantum value and the continuum's classical value at each splitting probability of ``splits``, and
    the splits where entanglement wins by more than 1e-6 (``advantage``)."""
    c = check_c_t(c_t)
    ps = [_checked_split(p) for p in splits]
    q = np.array([quantum_at_split(k, c, p) for p in ps])
    cl = np.array([classical_at_split(c, p) for p in ps])
    return {
        "levels": k,
        "split": ps,
        "quantum": q.tolist(),
        "classical": cl.tolist(),
        "advantage": (q - cl > 1e-6).tolist(),
    }
