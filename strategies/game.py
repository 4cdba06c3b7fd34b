"""The hedging coordination game: labels, the utility of Ding & Jiang (arXiv:2407.21723 v3, Eq. 3.1), inputs.

Labels (both servers): output 0 = ask first (slight short), 1 = bid first (slight long); input 1 = "I see
signs of negative correlation". Utility of o = a XOR b:

    inputs (0,0):  different (o=1) -> 1,      same (o=0) -> 0
    mixed inputs:  same -> beta,               different -> 1 - beta
    inputs (1,1):  same -> 1,                  different -> 0

beta = 0 is the hedging game a XOR b = NOT(x AND y): with positive correlation the book is hedged when the
two biases are opposite, with negative correlation when they agree. ``rule="challenge"`` is the
challenge text's literal a XOR b = x AND y, i.e. the same game with one server's labels flipped.

Any other XOR game is a table u[x, y, o] (``Game.from_table``/``Game.from_weights``): the solver, the
classical optimum, Tsirelson's bound and the simulators only ever see the correlator form
U = k + sum_xy p(x,y) c[x,y] E[A_x B_y]. ``backtest`` builds the book's hedge game this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .errors import StrategyError

RULES = ("hedge", "challenge")
KINDS = ("paper", "table", "hedge")


@dataclass(frozen=True)
class Game:
    """An XOR coordination game: the utility ``u[x, y, o]`` of o = a XOR b on inputs (x, y).

    The default is Ding & Jiang's game with parameter ``beta`` in [0, 1] and ``rule`` "hedge" (default)
    or "challenge" (``Game.paper``). Any other XOR game is a table (``Game.from_table``, or
    ``Game.from_weights`` for correlator weights); ``kind`` says which ("paper", "table", or "hedge" for
    the book's hedge game that ``backtest`` calibrates on market data) and ``unit`` what a utility
    measures. Tables keep the hedging labels (output 0 = ask first, 1 = bid first).
    """

    beta: float = 0.0
    rule: str = "hedge"
    payoff: tuple[float, ...] | None = None  # u[x, y, o] flattened (8 numbers), for table games
    kind: str = "paper"
    unit: str = "utility"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and 0.0 <= self.beta <= 1.0):
            raise StrategyError(f"beta must be in [0, 1], got {self.beta!r}")
        if self.rule not in RULES:
            raise StrategyError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.kind not in KINDS:
            raise StrategyError(f"game kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.payoff is None:
            if self.kind != "paper":
                raise StrategyError(f"a {self.kind} game needs a payoff table")
            return
        u = np.asarray(self.payoff, dtype=float)
        if u.size != 8 or not np.isfinite(u).all():
            raise StrategyError(f"a game table needs 8 finite utilities u[x, y, o], got {list(np.ravel(self.payoff))}")
        if self.kind == "paper" or self.beta != 0.0 or self.rule != "hedge":
            raise StrategyError("a table game has no beta or rule (its table says everything)")
        object.__setattr__(self, "payoff", tuple(float(v) for v in u.ravel()))

    # -- constructors -------------------------------------------------------------------------------
    @classmethod
    def paper(cls, beta: float = 0.0, rule: str = "hedge") -> Game:
        """Ding & Jiang's game (arXiv:2407.21723 v3, Eq. 3.1)."""
        return cls(beta=beta, rule=rule)

    @classmethod
    def from_table(cls, table, kind: str = "table", unit: str = "utility") -> Game:
        """Any XOR game from ``table[x, y, o]`` (shape (2, 2, 2)): utility of o = a XOR b on inputs (x, y)."""
        t = np.asarray(table, dtype=float)
        if t.shape != (2, 2, 2):
            raise StrategyError(f"a game table must have shape (2, 2, 2) = [x, y, o], got {t.shape}")
        return cls(payoff=tuple(t.ravel()), kind=kind, unit=unit)

    @classmethod
    def from_weights(cls, weights, kind: str = "table", unit: str = "utility") -> Game:
        """The XOR game whose round utility is ``w[x, y] * A B`` (outputs as +-1): +w when the two outputs
        agree (o = 0), -w when they differ. Expected utility = sum_xy p(x,y) w[x,y] E[A_x B_y]."""
        w = np.asarray(weights, dtype=float)
        if w.shape == (4,):
            w = w.reshape(2, 2)
        if w.shape != (2, 2):
            raise StrategyError(f"correlator weights must be 2x2 (or four numbers w00,w01,w10,w11), got shape {w.shape}")
        return cls.from_table(np.stack([w, -w], axis=-1), kind=kind, unit=unit)

    # -- the table and what follows from it -----------------------------------------------------------
    @property
    def table(self) -> np.ndarray:
        """Utility ``u[x, y, o]`` of o = a XOR b, shape (2, 2, 2)."""
        if self.payoff is not None:
            return np.array(self.payoff).reshape(2, 2, 2)
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

    @property
    def has_wins(self) -> bool:
        """Whether every round has a winning relation worth 1 and a losing one worth 0 (the paper's game at
        beta 0 or 1): only then is a win rate the game's score; otherwise compare utilities."""
        return self.kind == "paper" and self.beta in (0.0, 1.0)

    def win(self, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where the round chose its inputs' better relation, o = a XOR b = ``target(x, y)``.

        For the paper's game at beta = 0 this is exactly "utility 1"; for mixed inputs at 0 < beta < 1 it
        is the relation worth max(beta, 1 - beta), the best any strategy can do in that round.
        """
        o = np.bitwise_xor(np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
        return o == self.target(x, y)

    def target_table(self) -> np.ndarray:
        """The better o per input cell, ``[x, y]`` (ties go to 'different', o = 1)."""
        t = self.table
        return (t[..., 1] >= t[..., 0]).astype(np.uint8)

    def target(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The best o = a XOR b for each round's inputs (ties at beta = 1/2 go to 'different')."""
        return self.target_table()[np.asarray(x, dtype=np.intp), np.asarray(y, dtype=np.intp)]

    def correlator_weights(self, p_xy: np.ndarray) -> tuple[np.ndarray, float]:
        """(c, k) with expected utility = k + sum_xy c[x, y] E[A_x B_y], outputs as +-1 (0 -> +1, 1 -> -1).

        P(o=0) = (1 + E)/2, so U = sum p (u0 (1+E)/2 + u1 (1-E)/2): the XOR-game form every solver uses.
        """
        p = check_p_xy(p_xy)
        t = self.table
        return p * (t[..., 0] - t[..., 1]) / 2.0, float((p * (t[..., 0] + t[..., 1]) / 2.0).sum())

    def to_dict(self) -> dict:
        if self.payoff is None:
            return {"kind": "paper", "beta": self.beta, "rule": self.rule}
        return {"kind": self.kind, "rule": self.rule, "table": self.table.tolist(), "unit": self.unit}


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
