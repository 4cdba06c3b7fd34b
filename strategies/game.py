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

Inputs may have K levels (0..K-1, K from 2 to ``MAX_LEVELS``, per side): a table of shape (K_A, K_B, 2) is a
K_A x K_B XOR game (an indicator with several levels, e.g. a smoothed count of a server's own readings).
``Game.chained(K)`` is the chained Bell game (Braunstein-Caves): inputs (x, x) and (x, x+1 mod K), uniform,
win when the outputs agree except on (K-1, 0); classical value 1 - 1/(2K), quantum cos^2(pi/(4K)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .errors import StrategyError

RULES = ("hedge", "challenge")
KINDS = ("paper", "table", "hedge", "chained")
MAX_LEVELS = 8  # inputs per side: the exhaustive classical search is 2^K x 2^K rule pairs


@dataclass(frozen=True)
class Game:
    """An XOR coordination game: the utility ``u[x, y, o]`` of o = a XOR b on inputs (x, y).

    The default is Ding & Jiang's game with parameter ``beta`` in [0, 1] and ``rule`` "hedge" (default)
    or "challenge" (``Game.paper``). Any other XOR game is a table (``Game.from_table``, or
    ``Game.from_weights`` for correlator weights); ``kind`` says which ("paper", "table", or "hedge" for
    the book's hedge game that ``backtest`` fits on market data) and ``unit`` what a utility
    measures. Tables keep the hedging labels (output 0 = ask first, 1 = bid first).
    """

    beta: float = 0.0
    rule: str = "hedge"
    payoff: tuple[float, ...] | None = None  # u[x, y, o] flattened (K_A * K_B * 2 numbers), for table games
    kind: str = "paper"
    unit: str = "utility"
    levels: tuple[int, int] = (2, 2)  # (K_A, K_B): input levels per side

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and 0.0 <= self.beta <= 1.0):
            raise StrategyError(f"beta must be in [0, 1], got {self.beta!r}")
        if self.rule not in RULES:
            raise StrategyError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.kind not in KINDS:
            raise StrategyError(f"game kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        ka, kb = (int(v) for v in self.levels)
        if not (2 <= ka <= MAX_LEVELS and 2 <= kb <= MAX_LEVELS):
            raise StrategyError(f"input levels per side must be 2 to {MAX_LEVELS}, got {tuple(self.levels)}")
        object.__setattr__(self, "levels", (ka, kb))
        if self.payoff is None:
            if self.kind != "paper":
                raise StrategyError(f"a {self.kind} game needs a payoff table")
            if self.levels != (2, 2):
                raise StrategyError("the paper's game has binary inputs; give a K x K game as a table")
            return
        u = np.asarray(self.payoff, dtype=float)
        if u.size != ka * kb * 2 or not np.isfinite(u).all():
            raise StrategyError(
                f"a {ka}x{kb} game table needs {ka * kb * 2} finite utilities u[x, y, o], "
                f"got {list(np.ravel(self.payoff))}"
            )
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
        """Any XOR game from ``table[x, y, o]`` (shape (K_A, K_B, 2)): utility of o = a XOR b on inputs (x, y)."""
        t = np.asarray(table, dtype=float)
        if t.ndim != 3 or t.shape[-1] != 2:
            raise StrategyError(f"a game table must have shape (K_A, K_B, 2) = [x, y, o], got {t.shape}")
        return cls(payoff=tuple(t.ravel()), kind=kind, unit=unit, levels=t.shape[:2])

    @classmethod
    def from_weights(cls, weights, kind: str = "table", unit: str = "utility") -> Game:
        """The XOR game whose round utility is ``w[x, y] * A B`` (outputs as +-1): +w when the two outputs
        agree (o = 0), -w when they differ. Expected utility = sum_xy p(x,y) w[x,y] E[A_x B_y]."""
        w = np.asarray(weights, dtype=float)
        if w.shape == (4,):
            w = w.reshape(2, 2)
        if w.ndim != 2:
            raise StrategyError(
                f"correlator weights must be a K_A x K_B matrix (or four numbers w00,w01,w10,w11), got shape {w.shape}"
            )
        return cls.from_table(np.stack([w, -w], axis=-1), kind=kind, unit=unit)

    @classmethod
    def chained(cls, k: int) -> Game:
        """The chained Bell game with ``k`` inputs per side (play it with ``chained_p_xy(k)``): the outputs should
        agree on inputs (x, x) and (x, x+1), except on (k-1, 0) where they should differ. Utility 1 for a win.
        k = 2 is CHSH in the challenge labels."""
        k = _levels_check(k, "chained game inputs")
        u = np.zeros((k, k, 2))
        for x in range(k):
            u[x, x, 0] = 1.0
            u[x, (x + 1) % k, 1 if x == k - 1 else 0] = 1.0
        return cls(payoff=tuple(u.ravel()), kind="chained", levels=(k, k))

    # -- the table and what follows from it -----------------------------------------------------------
    @property
    def table(self) -> np.ndarray:
        """Utility ``u[x, y, o]`` of o = a XOR b, shape (K_A, K_B, 2)."""
        if self.payoff is not None:
            return np.array(self.payoff).reshape(*self.levels, 2)
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
        return kernels.utility(self.table.ravel(), x, y, a, b, self.levels[1])

    @property
    def has_wins(self) -> bool:
        """Whether every round has a winning relation worth 1 and a losing one worth 0 (the paper's game at
        beta 0 or 1, the chained game, CHSH or any other 0/1 game given as a table): only then is a win rate the
        game's score and the exact binomial count applies; otherwise compare utilities."""
        if self.kind == "chained":  # its cells off the input support are worth nothing either way, and never played
            return True
        u = np.sort(self.table, axis=-1)
        return bool(np.all(u[..., 0] == 0.0) and np.all(u[..., 1] == 1.0))

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
        x, y = np.asarray(x), np.asarray(y)
        table = self.target_table()
        if (
            x.dtype == np.uint8
            and y.dtype == np.uint8
            and x.shape == y.shape
            and x.ndim == 1
            and x.size
            and x.max() < table.shape[0]
            and y.max() < table.shape[1]
        ):  # the engine's bits: a compiled gather
            return kernels.lookup2(table.ravel(), x, y, table.shape[1])
        return table[x.astype(np.intp), y.astype(np.intp)]

    def correlator_weights(self, p_xy: np.ndarray) -> tuple[np.ndarray, float]:
        """(c, k) with expected utility = k + sum_xy c[x, y] E[A_x B_y], outputs as +-1 (0 -> +1, 1 -> -1).

        P(o=0) = (1 + E)/2, so U = sum p (u0 (1+E)/2 + u1 (1-E)/2): the XOR-game form every solver uses.
        """
        p = check_p_xy(p_xy, self.levels)
        t = self.table
        return p * (t[..., 0] - t[..., 1]) / 2.0, float((p * (t[..., 0] + t[..., 1]) / 2.0).sum())

    def to_dict(self) -> dict:
        if self.payoff is None:
            return {"kind": "paper", "beta": self.beta, "rule": self.rule}
        out = {"kind": self.kind, "rule": self.rule, "table": self.table.tolist(), "unit": self.unit}
        return out if self.levels == (2, 2) else {**out, "levels": list(self.levels)}


def _levels_check(k, what: str) -> int:
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= MAX_LEVELS:
        raise StrategyError(f"{what} must be an integer from 2 to {MAX_LEVELS}, got {k!r}")
    return int(k)


def chained_p_xy(k: int) -> np.ndarray:
    """The chained game's input distribution: (x, x) and (x, x+1 mod k) with probability 1/(2k) each."""
    k = _levels_check(k, "chained game inputs")
    p = np.zeros((k, k))
    for x in range(k):
        p[x, x] += 0.5 / k
        p[x, (x + 1) % k] += 0.5 / k
    return p


def check_p_xy(p_xy: np.ndarray | list, levels: tuple[int, int] | None = (2, 2)) -> np.ndarray:
    """An input distribution p[x, y] of shape ``levels`` (default 2x2; None: any K_A x K_B with K from 2 to
    MAX_LEVELS): finite, non-negative, summing to 1 (to 1e-9)."""
    p = np.asarray(p_xy, dtype=float)
    if p.shape == (4,) and levels in (None, (2, 2)):
        p = p.reshape(2, 2)
    if levels is None:
        if p.ndim != 2 or not all(2 <= k <= MAX_LEVELS for k in p.shape):
            raise StrategyError(
                f"p_xy must be a K_A x K_B matrix with 2 to {MAX_LEVELS} levels a side, got shape {p.shape}"
            )
    elif p.shape != tuple(levels):
        want = "2x2 (or four numbers p00,p01,p10,p11)" if tuple(levels) == (2, 2) else "x".join(map(str, levels))
        raise StrategyError(f"p_xy must be {want}, got shape {p.shape}")
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


def empirical_p_xy(x: np.ndarray, y: np.ndarray, levels: tuple[int, int] = (2, 2)) -> np.ndarray:
    """The observed input distribution of paired input arrays (bits, or ``levels`` = (K_A, K_B) levels)."""
    if tuple(levels) != (2, 2):
        x, y = np.asarray(x, dtype=np.intp), np.asarray(y, dtype=np.intp)
        ka, kb = levels
        if x.shape != y.shape or x.size == 0:
            raise StrategyError(f"x and y must be non-empty arrays of equal length, got {x.shape} and {y.shape}")
        if x.min() < 0 or x.max() >= ka or y.min() < 0 or y.max() >= kb:
            raise StrategyError(f"inputs must be levels 0..{ka - 1} (x) and 0..{kb - 1} (y)")
        return np.bincount(x * kb + y, minlength=ka * kb).reshape(ka, kb) / x.size
    x = np.asarray(x).astype(bool, copy=False)
    y = np.asarray(y).astype(bool, copy=False)
    if x.shape != y.shape or x.size == 0:
        raise StrategyError(f"x and y must be non-empty arrays of equal length, got {x.shape} and {y.shape}")
    # three counting passes over bits, instead of widening millions of bits to int64 for a bincount
    n11 = np.count_nonzero(x & y)
    n1_, n_1 = np.count_nonzero(x), np.count_nonzero(y)
    return np.array([[x.size - n1_ - n_1 + n11, n_1 - n11], [n1_ - n11, n11]]) / x.size
