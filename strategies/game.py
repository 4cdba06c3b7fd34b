"""The hedging coordination game: labels, the utility of Ding & Jiang (arXiv:2407.21723 v3, Eq. 3.1), inputs.

Labels (both servers): output 0 = ask first (slight short), 1 = bid first (slight long); input 1 = "I see
signs of negative correlation". Utility of o = a XOR b:

    inputs (0,0):  different (o=1) -> 1,      same (o=0) -> 0
    mixed inputs:  same -> beta,               different -> 1 - beta
    inputs (1,1):  same -> 1,                  different -> 0

beta = 0 is the hedging game a XOR b = NOT(x AND y): with positive correlation the book is hedged when the
two biases are opposite, with negative correlation when they agree. ``rule="challenge"`` is the
challenge text's literal a XOR b = x AND y, i.e. the same game with one server's labels flipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .errors import StrategyError

RULES = ("hedge", "challenge")


@dataclass(frozen=True)
class Game:
    """The coordination game with parameter ``beta`` in [0, 1] and ``rule`` "hedge" (default) or "challenge"."""

    beta: float = 0.0
    rule: str = "hedge"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and 0.0 <= self.beta <= 1.0):
            raise StrategyError(f"beta must be in [0, 1], got {self.beta!r}")
        if self.rule not in RULES:
            raise StrategyError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")

    @property
    def table(self) -> np.ndarray:
        """Utility ``u[x, y, o]`` of o = a XOR b, shape (2, 2, 2)."""
        b = self.beta
        u = np.array(
            [
                [[0.0, 1.0], [b, 1.0 - b]],
                [[b, 1.0 - b], [1.0, 0.0]],
            ]
        )
        return u[..., ::-1].copy() if self.rule == "challenge" else u

    def utility(self, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Utility per round (float array); inputs and outputs are 0/1 arrays of equal length."""
        x, y, a, b = (np.asarray(v, dtype=np.uint8) for v in (x, y, a, b))
        return kernels.utility(self.table.ravel(), x, y, a, b)

    def win(self, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where the round's utility is 1 (the round is won outright)."""
        return self.utility(x, y, a, b) == 1.0

    def target(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The best o = a XOR b for each round's inputs (ties at beta = 1/2 go to 'different')."""
        t = self.table
        best = (t[..., 1] >= t[..., 0]).astype(np.uint8)
        return best[np.asarray(x, dtype=np.intp), np.asarray(y, dtype=np.intp)]

    def correlator_weights(self, p_xy: np.ndarray) -> tuple[np.ndarray, float]:
        """(c, k) with expected utility = k + sum_xy c[x, y] E[A_x B_y], outputs as +-1 (0 -> +1, 1 -> -1).

        P(o=0) = (1 + E)/2, so U = sum p (u0 (1+E)/2 + u1 (1-E)/2): the XOR-game form every solver uses.
        """
        p = check_p_xy(p_xy)
        t = self.table
        return p * (t[..., 0] - t[..., 1]) / 2.0, float((p * (t[..., 0] + t[..., 1]) / 2.0).sum())

    def to_dict(self) -> dict:
        return {"beta": self.beta, "rule": self.rule}


def check_p_xy(p_xy: np.ndarray | list) -> np.ndarray:
    """A 2x2 input distribution p[x, y]: finite, non-negative, summing to 1 (to 1e-9)."""
    p = np.asarray(p_xy, dtype=float)
    if p.shape == (4,):
        p = p.reshape(2, 2)
    if p.shape != (2, 2):
        raise StrategyError(f"p_xy must be 2x2 (or four numbers p00,p01,p10,p11), got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise StrategyError(f"p_xy entries must be probabilities in [0, 1], got {p.ravel().tolist()}")
    if abs(p.sum() - 1.0) > 1e-9:
        raise StrategyError(f"p_xy must sum to 1, got {p.sum():.12g} from {p.ravel().tolist()}")
    return p


def independent(p_x: float, p_y: float) -> np.ndarray:
    """p[x, y] for independent inputs with P(x=1) = p_x and P(y=1) = p_y."""
    for name, v in (("p_x", p_x), ("p_y", p_y)):
        if not (np.isfinite(v) and 0.0 <= v <= 1.0):
            raise StrategyError(f"{name} must be a probability in [0, 1], got {v!r}")
    return np.outer([1.0 - p_x, p_x], [1.0 - p_y, p_y])


def empirical_p_xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The observed input distribution of paired bit arrays."""
    x = np.asarray(x).astype(bool, copy=False)
    y = np.asarray(y).astype(bool, copy=False)
    if x.shape != y.shape or x.size == 0:
        raise StrategyError(f"x and y must be non-empty arrays of equal length, got {x.shape} and {y.shape}")
    # three counting passes over bits, instead of widening millions of bits to int64 for a bincount
    n11 = np.count_nonzero(x & y)
    n1_, n_1 = np.count_nonzero(x), np.count_nonzero(y)
    return np.array([[x.size - n1_ - n_1 + n11, n_1 - n11], [n1_ - n11, n11]]) / x.size
