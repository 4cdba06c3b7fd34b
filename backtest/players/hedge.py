"""The book's hedge game, fitted on the training window: what the market pays for, not an assumed game.

With the bias fill a server holds s = +1 (bid first) or -1 (ask first) times its exposure e, so the book's
directional P&L per round is e (s_A r_X + s_B r_Y). Outputs as +-1 (0 -> +1, 1 -> -1) give s_A s_B = A B and

    E[P&L^2] = e^2 sum_xy p(x,y) (E[r_X^2 | x,y] + E[r_Y^2 | x,y]) + 2 e^2 sum_xy p(x,y) m(x,y) E[A_x B_y],
    m(x,y) = E[r_X r_Y | x,y]   (the co-movement of the cell).

Strategies see only inputs, so their outputs are independent of the returns given (x, y). Minimising
E[P&L^2] is the XOR game with round utility -2 e^2 m(x,y) A B: the *variance saved against independent
coins* (for which E[A B] = 0), in currency^2 per round. The paper's game is the special case where m is
negative exactly in cell (1,1) with equal magnitudes. If m has the same sign in every cell, a constant
relation (always opposite biases when m > 0) already gets every cell right: nothing, classical or quantum,
beats it, and entanglement is worth exactly nothing.

"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...strategies import Game, best_constant

from ..stats.cells import CellStats

UNIT = "currency^2 per round: book variance saved against independent coins"


@dataclass(frozen=True)
class HedgeFit:
    """The hedge game fitted on a training window: cells, shrinkage, and the game in currency^2 per round."""

    cells: CellStats
    exposure: float  # currency per server and round (the bias fill's exposure, or its queue equivalent)
    comove: np.ndarray  # shrunk m per cell (4,)
    weight: np.ndarray  # shrinkage weight per cell (4,): 1 = the cell's own estimate, 0 = pooled
    tau2: float
    mu: float

    @classmethod
    def fit(cls, cells: CellStats, exposure: float) -> HedgeFit:
        m, w, tau2, mu = cells.shrunk()
        return cls(cells, float(exposure), m, w, tau2, mu)

    @property
    def game(self) -> Game:
        return hedge_game(self.comove, self.exposure)

    @property
    def p_xy(self) -> np.ndarray:
        return self.cells.p

    @property
    def coin_variance(self) -> float:
        """E[P&L^2] of independent coins: e^2 sum p (E[r_X^2] + E[r_Y^2]) (currency^2 per round)."""
        p = self.cells.p.ravel()
        v = np.nan_to_num(self.cells.var_x) + np.nan_to_num(self.cells.var_y)
        return float(self.exposure**2 * (p * v).sum())

    def constant_hedge(self) -> tuple[float, tuple[tuple[int, int], tuple[int, int]]]:
        """(variance saved, rules) of the better constant relation (``strategies.best_constant``)."""
        return best_constant(self.game, self.p_xy)

    def values(self, solution) -> dict:
        """The game's values in variance units: saved against coins (currency^2 per round), the book variance
        left, and both as a share of the coins' variance."""
        v0 = self.coin_variance
        oracle = float((self.p_xy * np.abs(self.game.table[..., 0] - self.game.table[..., 1]) / 2).sum())
        const, _ = self.constant_hedge()
        out = {}
        for name, saved in (
            ("uncoordinated", 0.0),
            ("constant_hedge", const),
            ("classical", solution.classical_value),
            ("quantum", solution.quantum_value),
            ("oracle", oracle),
        ):
            out[name] = {"saved": saved, "book_variance": v0 - saved, "saved_share": saved / v0 if v0 > 0 else None}
        return out

    def to_dict(self, solution) -> dict:
        return {
            "exposure": self.exposure,
            "coin_variance": self.coin_variance,
            "shrinkage": {
                "rule": "DerSimonian-Laird random effects: w = tau^2 / (tau^2 + se^2)",
                "tau2": self.tau2,
                "pooled": self.mu,
                "weights": dict(zip(self.cells.labels, self.weight.tolist())),
            },
            "comove_shrunk": dict(zip(self.cells.labels, self.comove.tolist())),
            "values": self.values(solution),
            "unit": UNIT,
        }


def cell_moments(cells: CellStats, comove: np.ndarray | None = None) -> np.ndarray:
    """E[r_X^2], E[r_Y^2], E[r_X r_Y] per input cell (rows 2x + y) of bit inputs: the oracle's objective where the
    fill model carries inventory (``FillModel.steer``). ``comove``: the shrunk co-movements of a HedgeFit (else the
    cells' own); an empty cell takes the pooled moments."""
    n = np.maximum(cells.n.sum(), 1)
    pooled = np.array([cells.sum_xx.sum(), cells.sum_yy.sum(), cells.sum_q.sum()]) / n
    out = np.column_stack([cells.var_x, cells.var_y, cells.comove if comove is None else comove])
    return np.where(np.isfinite(out), out, pooled)


def hedge_game(comove: np.ndarray, exposure: float) -> Game:
    """The hedge game for co-movements m per cell (K^2 or KxK): round utility -2 e^2 m A B (module docstring)."""
    m = np.asarray(comove, dtype=float)
    k = math.isqrt(m.size)
    m = m.reshape(k, k)
    return Game.from_weights(-2.0 * exposure**2 * m, kind="hedge", unit=UNIT)
