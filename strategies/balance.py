"""The routers' threshold game of distributed load balancing (Da Silva & Wehner, arXiv:2602.04588), discretised.

Two routers each see one customer of a pair: service times X_1, X_2 ~ Exp(mu), so a = 1 - exp(-mu X_1) and
b = 1 - exp(-mu X_2) are uniform on [0, 1). Each outputs a bit o (0 or 1; as +-1, 0 -> +1). The two customers go to
the same server ("bunch") when o_A = o_B and to different servers ("split") when they differ. The pair is served
best by bunching exactly when X_1 + X_2 <= t*, i.e. when (1 - a)(1 - b) >= C_t = exp(-mu t*); the routers win when
they bunch exactly then. In correlator form the win probability is

    P(win) = 1/2 + 1/2 E[w(a, b) A(a) B(b)],   w = +1 where (1 - a)(1 - b) >= C_t, else -1,

an XOR game with continuous inputs. ``threshold_weights(K, c_t)`` cuts each input into K equal levels (level
floor(a K)) and integrates w exactly over each cell; a strategy that reads only the levels wins the continuous
game with exactly the K x K game's value, so every K x K value is a lower bound on the continuous one, rising as
the levels refine (K, 2K, 4K, ...: every rule on K levels is one on 2K levels).

- Classical, per K: ``classical_levels`` (every pair of deterministic rules, exhaustive, K up to ``CLASSICAL_MAX``)
  and ``threshold_levels`` (A sends to server 0 below a level, B likewise: the best such pair). In the limit the
  best threshold pair is found directly on the continuum (``best_threshold``: the cell integrals in closed form).
- Quantum, per K: Tsirelson's semidefinite program (``solver.tsirelson_weights``: any entangled state); the limit
  by Richardson extrapolation over K, 2K, 4K with the observed order. The qubit strategy the simulator plays is
  ``solve`` on the K x K ``threshold_game`` (K up to ``MAX_LEVELS``), noise included.

The threshold game scores a routing as right or wrong. The queue sees more: bunching a pair makes one of its
customers wait for the other (half its total service on average, the order being a coin), so a pair is worth
bunching by how short it is. ``weighted_game(K, c_t)`` is that game (our reading of the paper's weighted game and its
"w-threshold" policy, from its summary): bunching is worth w - mu (X_1 + X_2) with w = mu t* = -ln C_t, splitting
nothing, so its best play is again "bunch when X_1 + X_2 <= t*", but a wrong call costs by how far the pair is from
the threshold. ``best_weighted_threshold`` is its best threshold pair on the continuum (the classical opponent).

This module imports nothing outside ``strategies``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import kernels
from .errors import StrategyError
from .game import MAX_LEVELS, Game
from .noise import Noise

CLASSICAL_MAX = 20  # levels: the exhaustive classical search takes 2^(K - 1) steps of O(K)
LEVELS = (2, 4, 8, 16, 32)  # the default refinement; Tsirelson's SDP at K = 64 takes minutes
PLAYED_LEVELS = MAX_LEVELS  # the levels the simulator's quantum routers read (the largest a Game takes)
# The figures issue 46 quotes for the threshold game (attributed there to arXiv:2602.04588; docs/balance.md says
# what the library holds of the paper and how REFERENCE_C_T was found).
REFERENCE = {"classical": 0.76, "quantum": 0.81}
REFERENCE_C_T = 0.33


def check_c_t(c_t) -> float:
    """C_t = exp(-mu t*) must lie in (0, 1): t* > 0 and finite."""
    if isinstance(c_t, bool) or not isinstance(c_t, (int, float, np.floating)) or not 0.0 < float(c_t) < 1.0:
        raise StrategyError(f"the threshold C_t = exp(-mu t*) must be a number in (0, 1), got {c_t!r}")
    return float(c_t)


def c_t_of(t_star: float, mu: float) -> float:
    """C_t = exp(-mu t*): t* in seconds, mu in customers a second."""
    return math.exp(-mu * t_star)


def t_star_of(c_t: float, mu: float) -> float:
    """t* = -ln(C_t) / mu, seconds."""
    return -math.log(check_c_t(c_t)) / mu


def bunch_probability(c_t: float) -> float:
    """P((1 - a)(1 - b) >= C_t) = P(X_1 + X_2 <= t*) = 1 - C_t (1 - ln C_t): the Erlang-2 distribution at mu t*."""
    c = check_c_t(c_t)
    return 1.0 - c * (1.0 - math.log(c))


def corner_bunch(alpha, beta, c_t: float) -> np.ndarray:
    """Area of {a < alpha, b < beta, (1 - a)(1 - b) >= C_t} (arrays broadcast). With s = 1 - a the integrand in s is
    0 for s < C_t, 1 - C_t / s up to s = C_t / (1 - beta), beta beyond, over s in [1 - alpha, 1]."""
    alpha, beta = np.broadcast_arrays(np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float))
    lo = 1.0 - alpha
    with np.errstate(divide="ignore"):
        s1 = np.where(beta < 1.0, c_t / np.maximum(1.0 - beta, 0.0), np.inf)
    u0 = np.maximum(lo, c_t)
    u1 = np.minimum(1.0, np.maximum(s1, u0))
    curved = np.where(u1 > u0, (u1 - u0) - c_t * np.log(u1 / u0), 0.0)
    flat = beta * np.maximum(0.0, 1.0 - np.maximum(lo, s1))
    return curved + flat


def bunch_share(k: int, c_t: float) -> np.ndarray:
    """Share of each level cell [x/K, (x+1)/K) x [y/K, (y+1)/K) where bunching is right, exact, shape (K, K)."""
    c = check_c_t(c_t)
    edges = np.linspace(0.0, 1.0, int(k) + 1)
    f = corner_bunch(edges[:, None], edges[None, :], c)
    return np.clip(np.diff(np.diff(f, axis=0), axis=1) * k * k, 0.0, 1.0)  # differences of areas: round-off


def threshold_weights(k: int, c_t: float) -> np.ndarray:
    """Correlator weights of the K x K game with uniform levels: P(win) = 1/2 + sum c[x, y] E[A_x B_y]."""
    return (2.0 * bunch_share(k, c_t) - 1.0) / (2.0 * k * k)


def threshold_game(k: int, c_t: float) -> Game:
    """The K x K game (K up to ``MAX_LEVELS``) as a ``Game`` table: u[x, y, o] = P(win | cell) for o = a XOR b
    (0: the same server), played with uniform levels (``uniform_levels``)."""
    f = bunch_share(k, c_t)
    return Game.from_table(np.stack([f, 1.0 - f], axis=-1), unit="win probability")


def uniform_levels(k: int) -> np.ndarray:
    """p(x, y) of the levels: uniform, 1 / K^2."""
    return np.full((k, k), 1.0 / (k * k))


def level_of(u: np.ndarray, k: int) -> np.ndarray:
    """Level floor(u K) of inputs u in [0, 1), as uint8."""
    return np.minimum((np.asarray(u) * k).astype(np.int64), k - 1).astype(np.uint8)


# -- classical -----------------------------------------------------------------------------------------------------
def classical_levels(k: int, c_t: float) -> float:
    """The K x K game's classical value: every deterministic rule pair (exhaustive; shared randomness adds nothing)."""
    if not 2 <= k <= CLASSICAL_MAX:
        raise StrategyError(f"the exhaustive classical search takes 2 to {CLASSICAL_MAX} levels, got {k!r}")
    value, _ = kernels.xor_classical(np.ascontiguousarray(threshold_weights(k, c_t)))
    return 0.5 + float(value)


def threshold_value(alpha, beta, c_t: float):
    """Win probability of the threshold pair "A outputs 0 when a < alpha, else 1; B likewise with beta" on the
    continuous game (alpha or beta 0 or 1: that router's output is constant). Arrays broadcast."""
    c = check_c_t(c_t)
    alpha, beta = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    both_low = corner_bunch(alpha, beta, c)  # bunch-right area in each quadrant, by inclusion-exclusion
    a_low = corner_bunch(alpha, 1.0, c) - both_low
    b_low = corner_bunch(1.0, beta, c) - both_low
    both_high = corner_bunch(1.0, 1.0, c) - both_low - a_low - b_low
    area_a_low, area_b_low = alpha * (1.0 - beta), (1.0 - alpha) * beta
    return both_low + both_high + (area_a_low - a_low) + (area_b_low - b_low)


def threshold_levels(k: int, c_t: float) -> tuple[float, float, float]:
    """(value, alpha, beta): the best threshold pair whose thresholds sit on the K-level grid (multiples of 1/K)."""
    g = np.linspace(0.0, 1.0, int(k) + 1)
    v = threshold_value(g[:, None], g[None, :], c_t)
    i, j = np.unravel_index(int(np.argmax(np.round(v, 14))), v.shape)
    return float(v[i, j]), float(g[i]), float(g[j])


@dataclass(frozen=True)
class ThresholdRule:
    """A router pair's best local threshold rule on the continuous game: A outputs 0 (server 0, before the shared
    relabelling) when a < ``alpha``, else 1; B likewise with ``beta``; ``value`` is its win probability."""

    alpha: float
    beta: float
    value: float
    c_t: float
    flip_b: bool = False  # B outputs 0 when b >= beta instead (bunches A's short customers with B's long ones)

    def outputs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ob = np.asarray(b) < self.beta if self.flip_b else np.asarray(b) >= self.beta
        return (np.asarray(a) >= self.alpha).astype(np.uint8), ob.astype(np.uint8)

    def to_dict(self) -> dict:
        b_rule = "B: server 0 when b >= beta" if self.flip_b else "B: server 0 when b < beta"
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "value": self.value,
            "c_t": self.c_t,
            "flip_b": self.flip_b,
            "rule": f"A: server 0 when a < alpha; {b_rule} (before the shared relabelling)",
        }


@lru_cache(maxsize=256)
def best_threshold(c_t: float, grid: int = 400) -> ThresholdRule:
    """The best threshold pair on the continuous game: the value on a (grid + 1)^2 grid of thresholds, then refined
    by a bounded Nelder-Mead from the best grid points (the value is smooth between grid points; its maximum can sit
    on the boundary, a constant router). Kept per (C_t, grid): a frozen answer, asked again by every run of the
    same scenario (a balance run and its frontier's points, a sweep)."""
    from scipy.optimize import minimize

    c = check_c_t(c_t)
    g = np.linspace(0.0, 1.0, grid + 1)
    v = threshold_value(g[:, None], g[None, :], c)
    best = (float(v.max()), *(float(g[i]) for i in np.unravel_index(int(np.argmax(v)), v.shape)))
    for idx in np.argsort(v, axis=None)[::-1][:4]:
        i, j = np.unravel_index(int(idx), v.shape)
        res = minimize(
            lambda z: -float(threshold_value(z[0], z[1], c)),
            [g[i], g[j]],
            method="Nelder-Mead",
            bounds=[(0.0, 1.0), (0.0, 1.0)],
            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000},
        )
        if -res.fun > best[0]:
            best = (float(-res.fun), float(res.x[0]), float(res.x[1]))
    value, alpha, beta = best
    return ThresholdRule(alpha=alpha, beta=beta, value=value, c_t=c)


# -- the weighted game -------------------------------------------------------------------------------------------
def _service_integral(u):
    """F(u) = integral_0^u -ln(1 - x) dx = (1 - u) ln(1 - u) + u: mu X over inputs below u (F(1) = 1)."""
    u = np.asarray(u, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u < 1.0, (1.0 - u) * np.log1p(-np.minimum(u, 1.0 - 1e-300)) + u, 1.0)


def _weighted_rect(a0, a1, b0, b1, w: float):
    """Integral of w - mu X_1 - mu X_2 over the input rectangle [a0, a1) x [b0, b1): separable, in closed form."""
    fa, fb = _service_integral(a1) - _service_integral(a0), _service_integral(b1) - _service_integral(b0)
    return w * (a1 - a0) * (b1 - b0) - fa * (b1 - b0) - (a1 - a0) * fb


def weighted_game(k: int, c_t: float) -> Game:
    """The K x K weighted game (module docstring): u[x, y, 0] = the cell's mean of w - mu (X_1 + X_2), w = -ln C_t,
    u[x, y, 1] = 0; in units of one mean service time, played with uniform levels."""
    w = -math.log(check_c_t(c_t))
    e = np.linspace(0.0, 1.0, int(k) + 1)
    cell = _weighted_rect(e[:-1, None], e[1:, None], e[None, :-1], e[None, 1:], w) * k * k
    return Game.from_table(np.stack([cell, np.zeros_like(cell)], axis=-1), unit="service times saved")


def weighted_threshold_value(alpha, beta, c_t: float, flip_b: bool = False):
    """The weighted game's value of a threshold pair (``ThresholdRule``'s convention; ``flip_b``: B outputs 0 on
    b >= beta): the integral of w - mu (X_1 + X_2) over the inputs it bunches."""
    w = -math.log(check_c_t(c_t))
    alpha, beta = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    low_low, high_high = _weighted_rect(0, alpha, 0, beta, w), _weighted_rect(alpha, 1, beta, 1, w)
    low_high, high_low = _weighted_rect(0, alpha, beta, 1, w), _weighted_rect(alpha, 1, 0, beta, w)
    return (low_high + high_low) if flip_b else (low_low + high_high)


@lru_cache(maxsize=256)
def best_weighted_threshold(c_t: float, grid: int = 200) -> ThresholdRule:
    """The weighted game's best threshold pair on the continuum (either orientation of B), grid then Nelder-Mead;
    kept per (C_t, grid) as ``best_threshold`` is."""
    from scipy.optimize import minimize

    c = check_c_t(c_t)
    g = np.linspace(0.0, 1.0, grid + 1)
    best: tuple[tuple[float, ...], bool] | None = None
    for flip in (False, True):
        v = weighted_threshold_value(g[:, None], g[None, :], c, flip)
        i, j = np.unravel_index(int(np.argmax(v)), v.shape)
        res = minimize(
            lambda z: -float(weighted_threshold_value(z[0], z[1], c, flip)),
            [g[i], g[j]],
            method="Nelder-Mead",
            bounds=[(0.0, 1.0), (0.0, 1.0)],
            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000},
        )
        cand = max((float(v[i, j]), float(g[i]), float(g[j])), (float(-res.fun), *map(float, res.x)))
        if best is None or cand[0] > best[0][0]:
            best = (cand, flip)
    assert best is not None  # both flips were tried
    (value, alpha, beta), flip = best
    return ThresholdRule(alpha=alpha, beta=beta, value=value, c_t=c, flip_b=flip)


def fit_weighted(c_t: float, noise: Noise | None = None, levels: int = PLAYED_LEVELS, device=None):
    """The qubit strategy fitted on the weighted game (``solve``, noise included)."""
    from .solver import solve

    return solve(weighted_game(levels, c_t), uniform_levels(levels), noise or Noise(), device=device)


# -- quantum -------------------------------------------------------------------------------------------------------
def quantum_levels(k: int, c_t: float) -> float:
    """The K x K game's quantum value: Tsirelson's SDP (any entangled state; needs cvxpy)."""
    from .solver import tsirelson_weights

    return tsirelson_weights(threshold_weights(k, c_t), 0.5)


def richardson(levels, values) -> dict:
    """The K -> infinity limit from the last three values on a doubling sequence of levels: observed order
    p = log2((v2 - v1) / (v3 - v2)) and limit v3 + (v3 - v2) / (2^p - 1). ``converged`` when the last two agree to
    1e-12 (nothing to extrapolate); ``monotone`` False when the differences change sign (then no order is claimed and
    the limit is the last value)."""
    ks, vs = list(levels), [float(v) for v in values]
    if len(ks) < 3 or any(b != 2 * a for a, b in zip(ks[-3:], ks[-2:])):
        raise StrategyError(f"Richardson extrapolation needs three doubling levels, got {ks}")
    v1, v2, v3 = vs[-3:]
    d1, d2 = v2 - v1, v3 - v2
    out = {"levels": ks[-3:], "last_step": d2}
    if abs(d2) < 1e-12:
        return {**out, "limit": v3, "order": None, "converged": True, "monotone": True}
    if d1 * d2 <= 0 or abs(d2) >= abs(d1):
        return {**out, "limit": v3, "order": None, "converged": False, "monotone": False}
    p = math.log2(d1 / d2)
    return {
        **out,
        "limit": v3 + d2 / (2.0**p - 1.0),
        "order": p,
        "converged": False,
        "monotone": True,
        "error_estimate": abs(d2 / (2.0**p - 1.0)),
    }


@dataclass(frozen=True)
class GameValues:
    """The threshold game's values as the levels refine, and their limits (``game_values``)."""

    c_t: float
    levels: tuple[int, ...]
    classical: tuple[float | None, ...]  # exhaustive (None beyond CLASSICAL_MAX)
    classical_threshold: tuple[float, ...]  # best threshold pair on the level grid
    quantum: tuple[float, ...]  # Tsirelson's SDP
    classical_limit: ThresholdRule
    quantum_limit: dict
    bunch_probability: float
    reference: dict = field(default_factory=lambda: dict(REFERENCE))

    def to_dict(self) -> dict:
        q = self.quantum_limit
        return {
            "c_t": self.c_t,
            "bunch_probability": self.bunch_probability,
            "levels": list(self.levels),
            "classical": list(self.classical),
            "classical_threshold": list(self.classical_threshold),
            "quantum": list(self.quantum),
            "classical_limit": self.classical_limit.value,
            "classical_rule": self.classical_limit.to_dict(),
            "quantum_limit": q["limit"],
            "quantum_convergence": q,
            "advantage_limit": q["limit"] - self.classical_limit.value,
            "reference": {
                **self.reference,
                "c_t": REFERENCE_C_T,
                "classical_error": self.classical_limit.value - self.reference["classical"],
                "quantum_error": q["limit"] - self.reference["quantum"],
            },
        }


def game_values(c_t: float, levels=LEVELS) -> GameValues:
    """Classical and quantum values of the K x K threshold game for each K in ``levels`` (a doubling sequence), and
    the K -> infinity limits: the continuum's best threshold pair, and Richardson's limit of the SDP values."""
    c = check_c_t(c_t)
    ks = tuple(int(k) for k in levels)
    if any(k < 2 for k in ks) or list(ks) != sorted(set(ks)):
        raise StrategyError(f"levels must be increasing whole numbers >= 2, got {levels!r}")
    classical = tuple(classical_levels(k, c) if k <= CLASSICAL_MAX else None for k in ks)
    thresholds = tuple(threshold_levels(k, c)[0] for k in ks)
    quantum = tuple(quantum_levels(k, c) for k in ks)
    return GameValues(
        c_t=c,
        levels=ks,
        classical=classical,
        classical_threshold=thresholds,
        quantum=quantum,
        classical_limit=best_threshold(c),
        quantum_limit=richardson(ks, quantum),
        bunch_probability=bunch_probability(c),
    )


def fit(c_t: float, noise: Noise | None = None, levels: int = PLAYED_LEVELS, device=None):
    """The qubit strategy the routers play: ``solve`` on the ``levels`` x ``levels`` game with uniform levels and
    ``noise`` (the routers read level floor(a K) of their input)."""
    from .solver import solve

    return solve(threshold_game(levels, c_t), uniform_levels(levels), noise or Noise(), device=device)
