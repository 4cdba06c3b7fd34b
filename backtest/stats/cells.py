"""Co-movement statistics per input cell (x, y), summed chunk by chunk: what the hedge game is fitted on.

Estimates per cell (``CellStats``): m with its standard error s/sqrt(n) (i.i.d. rounds; volatility
clustering makes it optimistic, which only matters for thin cells), the share of rounds with opposite
moves (r_X r_Y < 0) with its Wilson interval, and the cell's volatilities. Thin cells are shrunk toward
the pooled co-movement by random-effects (DerSimonian-Laird) weights: m_shrunk = w m + (1 - w) mu with
w = tau^2 / (tau^2 + se^2), tau^2 the between-cell variance of m beyond its sampling noise (method of
moments, floored at 0) and mu the random-effects mean. A cell with no rounds is the pooled value; when
the cells do not differ beyond noise (tau^2 = 0) all cells are the pooled value and the game says so.
E[P&L^2] differs from the variance by the squared mean P&L, (e E[s r])^2, below 1e-3 of it on every
pair measured (drift per bar is tiny against volatility per bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ..._jit import njit

from .intervals import Z95, wilson_ci

NO_TARGETS = np.zeros(4, dtype=np.uint8)  # for sums alone: the per-round relations are not needed
CELLS = ("00", "01", "10", "11")


class CellSums:
    """Running sums of the co-movement per input cell (a compiled pass per chunk of rounds for bits; ``levels``
    K > 2 for inputs with K levels each, summed with numpy)."""

    def __init__(self, levels: int = 2) -> None:
        self.levels = int(levels)
        self.sums = np.zeros((self.levels**2, 7))

    def add(self, x: np.ndarray, y: np.ndarray, returns: np.ndarray) -> None:
        if self.levels == 2:
            self.add_with_targets(x, y, returns, NO_TARGETS, 0)
            return
        k = self.levels
        cell = x.astype(np.intp) * k + y
        rx, ry = returns[:, 0], returns[:, 1]
        q = rx * ry
        for j, w in enumerate((None, q, q * q, rx * rx, ry * ry, q < 0, q > 0)):
            self.sums[:, j] += np.bincount(cell, weights=None if w is None else w, minlength=k * k)

    def add_with_targets(
        self, x: np.ndarray, y: np.ndarray, returns: np.ndarray, target_table: np.ndarray, flip: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``add`` and, in the same pass, each round's target relation and the relation that hedged its realised
        co-movement (``round_targets``)."""
        return round_targets(x, y, returns[:, 0], returns[:, 1], target_table, np.uint8(flip), self.sums)

    def stats(self) -> CellStats:
        s = self.sums
        return CellStats(
            n=s[:, 0].astype(np.int64),
            sum_q=s[:, 1],
            sum_q2=s[:, 2],
            sum_xx=s[:, 3],
            sum_yy=s[:, 4],
            negative=s[:, 5].astype(np.int64),
            positive=s[:, 6].astype(np.int64),
        )


def cell_stats(x: np.ndarray, y: np.ndarray, returns: np.ndarray) -> CellStats:
    acc = CellSums()
    acc.add(np.asarray(x, dtype=np.uint8), np.asarray(y, dtype=np.uint8), np.asarray(returns, dtype=float))
    return acc.stats()


@dataclass(frozen=True)
class CellStats:
    """Co-movement statistics per input cell, index c = K x + y (arrays of K^2; K = 2 for bits)."""

    n: np.ndarray
    sum_q: np.ndarray
    sum_q2: np.ndarray
    sum_xx: np.ndarray
    sum_yy: np.ndarray
    negative: np.ndarray
    positive: np.ndarray

    @property
    def total(self) -> int:
        return int(self.n.sum())

    @property
    def levels(self) -> int:
        return math.isqrt(self.n.size)

    @property
    def labels(self) -> tuple[str, ...]:
        """Cell names "xy" (or "x,y" when a level has two digits: never, K <= 8)."""
        return tuple(f"{x}{y}" for x in range(self.levels) for y in range(self.levels))

    @property
    def p(self) -> np.ndarray:
        """p(x, y), shape (K, K)."""
        return (self.n / max(self.total, 1)).reshape(self.levels, self.levels)

    def _per(self, v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 0, v / np.maximum(self.n, 1), np.nan)

    @property
    def comove(self) -> np.ndarray:
        """m = E[r_X r_Y | cell] (NaN for an empty cell)."""
        return self._per(self.sum_q)

    @property
    def comove_se(self) -> np.ndarray:
        """Standard error of m: sample std of r_X r_Y / sqrt(n) (inf below two rounds)."""
        n = self.n.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (self.sum_q2 - self.sum_q**2 / n) / (n - 1)
            return np.where(n > 1, np.sqrt(np.maximum(var, 0.0) / n), np.inf)

    @property
    def var_x(self) -> np.ndarray:
        return self._per(self.sum_xx)

    @property
    def var_y(self) -> np.ndarray:
        return self._per(self.sum_yy)

    @property
    def pooled(self) -> float:
        return float(self.sum_q.sum() / max(self.total, 1))

    def negative_share(self) -> tuple[np.ndarray, np.ndarray]:
        """P(r_X r_Y < 0 | cell) among rounds where both moved, and its Wilson 95% interval (4, 2)."""
        moved = self.negative + self.positive
        share = np.where(moved > 0, self.negative / np.maximum(moved, 1), np.nan)
        ci = np.array([wilson_ci(int(k), int(m)) if m else (np.nan, np.nan) for k, m in zip(self.negative, moved)])
        return share, ci

    def shrunk(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(m_shrunk, weights w, tau^2, mu): random-effects (DerSimonian-Laird) shrinkage toward the pooled
        co-movement; see the module docstring."""
        m, se = self.comove, self.comove_se
        ok = np.isfinite(m) & np.isfinite(se) & (se > 0)
        if ok.sum() < 2:  # nothing to compare cells with: everything is the pooled value
            mu = self.pooled
            return np.full(m.size, mu), np.zeros(m.size), 0.0, mu
        wi = 1.0 / se[ok] ** 2
        fixed = float((wi * m[ok]).sum() / wi.sum())
        q = float((wi * (m[ok] - fixed) ** 2).sum())
        denom = float(wi.sum() - (wi**2).sum() / wi.sum())
        tau2 = max(0.0, (q - (ok.sum() - 1)) / denom) if denom > 0 else 0.0
        re_w = 1.0 / (se[ok] ** 2 + tau2)
        mu = float((re_w * m[ok]).sum() / re_w.sum())
        w = np.zeros(m.size)
        w[ok] = tau2 / (tau2 + se[ok] ** 2)
        shrunk = np.where(ok, w * np.nan_to_num(m) + (1.0 - w) * mu, mu)
        return shrunk, w, tau2, mu

    def informativeness(self) -> dict:
        """Whether the indicators tell the sign of the co-movement: per cell p, n, m with its 95% interval,
        the share of opposite moves with its Wilson interval and its lift over the unconditional share."""
        m, se = self.comove, self.comove_se
        share, ci = self.negative_share()
        moved = int((self.negative + self.positive).sum())
        base = float(self.negative.sum() / moved) if moved else math.nan
        cells = {}
        for c, label in enumerate(self.labels):
            cells[label] = {
                "n": int(self.n[c]),
                "p": float(self.p.flat[c]),
                "comove": finite_or_none(m[c]),
                "comove_ci95": [finite_or_none(m[c] - Z95 * se[c]), finite_or_none(m[c] + Z95 * se[c])],
                "correlation": finite_or_none(m[c] / math.sqrt(self.var_x[c] * self.var_y[c]))
                if self.n[c] and self.var_x[c] > 0 and self.var_y[c] > 0
                else None,
                "negative_share": finite_or_none(share[c]),
                "negative_share_ci95": [finite_or_none(ci[c, 0]), finite_or_none(ci[c, 1])],
                "lift": finite_or_none(share[c] / base) if base and base == base else None,
            }
        signs = {int(np.sign(v)) for v in m if np.isfinite(v) and v != 0}
        lo, hi = m - Z95 * se, m + Z95 * se
        significant = bool((hi < 0).any() and (lo > 0).any())
        # a stock whose returns are all 0 (a price that never moved) co-moves with nothing: say which (0: X, 1: Y)
        flat = [i for i, v in enumerate((self.sum_xx.sum(), self.sum_yy.sum())) if self.total and not v > 0]
        return {
            "cells": cells,
            "negative_share": finite_or_none(base),
            "sign_differs": len(signs) > 1,
            "sign_differs_significantly": significant,
            "rounds": self.total,
            "flat": flat,
        }


def finite_or_none(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).


@njit(cache=True, nogil=True)
def round_targets(x, y, rx, ry, target_table, flip, cells):  # pragma: no cover - compiled
    """One pass over a chunk's rounds, shared by every strategy: the cell's better relation ``tgt`` (from
    ``target_table`` indexed 2x + y), the relation ``want`` that hedged the realised co-movement (1 = opposite
    biases when r_X r_Y > 0, 0 when < 0, XOR ``flip`` for the challenge labels, 2 when a stock did not move),
    and the co-movement sums per cell added to ``cells``: [rounds, sum r_X r_Y, sum (r_X r_Y)^2, sum r_X^2,
    sum r_Y^2, rounds with r_X r_Y < 0, rounds with r_X r_Y > 0]."""
    n = x.size
    tgt = np.empty(n, dtype=np.uint8)
    want = np.empty(n, dtype=np.uint8)
    up, down = np.uint8(1) ^ flip, flip
    for i in range(n):
        c = 2 * x[i] + y[i]
        tgt[i] = target_table[c]
        a, b = rx[i], ry[i]
        q = a * b
        # branch-free: the sign of a co-movement is a coin flip, so branching on it mispredicted about every other
        # round (6 ns a round against 2.3); adding 0.0 to a count leaves it exact, so the sums are unchanged
        pos, neg = q > 0.0, q < 0.0
        want[i] = up if pos else (down if neg else np.uint8(2))
        cells[c, 6] += np.float64(pos)
        cells[c, 5] += np.float64(neg)
        cells[c, 0] += 1.0
        cells[c, 1] += q
        cells[c, 2] += q * q
        cells[c, 3] += a * a
        cells[c, 4] += b * b
    return tgt, want
