"""The book's hedge game, calibrated on the training window: what the market pays for, not an assumed game.

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
from numba import njit

from ...strategies import Game, Noise, best_constant, classical_optimum, quantum_lower_bound

from .stats import Z95, format_p, wilson_ci
from .stats import p_value as p_floor

NO_TARGETS = np.zeros(4, dtype=np.uint8)  # for sums alone: the per-round relations are not needed
CELLS = ("00", "01", "10", "11")
UNIT = "currency^2 per round: book variance saved against independent coins"
TARGET_GAIN = 0.01  # "what it would take": quantum must beat the best classical rule by 1% of its book variance


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

    def add_with_targets(self, x: np.ndarray, y: np.ndarray, returns: np.ndarray, target_table: np.ndarray,
                         flip: int) -> tuple[np.ndarray, np.ndarray]:
        """``add`` and, in the same pass, each round's target relation and the relation that hedged its realised
        co-movement (``round_targets``)."""
        return round_targets(x, y, returns[:, 0], returns[:, 1], target_table, np.uint8(flip), self.sums)

    def stats(self) -> CellStats:
        s = self.sums
        return CellStats(n=s[:, 0].astype(np.int64), sum_q=s[:, 1], sum_q2=s[:, 2], sum_xx=s[:, 3], sum_yy=s[:, 4],
                         negative=s[:, 5].astype(np.int64), positive=s[:, 6].astype(np.int64))


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
                "n": int(self.n[c]), "p": float(self.p.flat[c]), "comove": _f(m[c]),
                "comove_ci95": [_f(m[c] - Z95 * se[c]), _f(m[c] + Z95 * se[c])],
                "correlation": _f(m[c] / math.sqrt(self.var_x[c] * self.var_y[c]))
                if self.n[c] and self.var_x[c] > 0 and self.var_y[c] > 0 else None,
                "negative_share": _f(share[c]), "negative_share_ci95": [_f(ci[c, 0]), _f(ci[c, 1])],
                "lift": _f(share[c] / base) if base and base == base else None,
            }
        signs = {int(np.sign(v)) for v in m if np.isfinite(v) and v != 0}
        lo, hi = m - Z95 * se, m + Z95 * se
        significant = bool((hi < 0).any() and (lo > 0).any())
        return {"cells": cells, "negative_share": _f(base), "sign_differs": len(signs) > 1,
                "sign_differs_significantly": significant, "rounds": self.total}


def _f(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class HedgeCalibration:
    """The hedge game fitted on a training window: cells, shrinkage, and the game in currency^2 per round."""

    cells: CellStats
    exposure: float  # currency per server and round (the bias fill's exposure, or its queue equivalent)
    comove: np.ndarray  # shrunk m per cell (4,)
    weight: np.ndarray  # shrinkage weight per cell (4,): 1 = the cell's own estimate, 0 = pooled
    tau2: float
    mu: float

    @classmethod
    def fit(cls, cells: CellStats, exposure: float) -> HedgeCalibration:
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
        for name, saved in (("uncoordinated", 0.0), ("constant_hedge", const),
                            ("classical", solution.classical_value), ("quantum", solution.quantum_value),
                            ("oracle", oracle)):
            out[name] = {"saved": saved, "book_variance": v0 - saved, "saved_share": saved / v0 if v0 > 0 else None}
        return out

    def to_dict(self, solution) -> dict:
        return {
            "exposure": self.exposure,
            "coin_variance": self.coin_variance,
            "shrinkage": {"rule": "DerSimonian-Laird random effects: w = tau^2 / (tau^2 + se^2)",
                          "tau2": self.tau2, "pooled": self.mu,
                          "weights": dict(zip(self.cells.labels, self.weight.tolist()))},
            "comove_shrunk": dict(zip(self.cells.labels, self.comove.tolist())),
            "values": self.values(solution),
            "unit": UNIT,
        }


def hedge_game(comove: np.ndarray, exposure: float) -> Game:
    """The hedge game for co-movements m per cell (K^2 or KxK): round utility -2 e^2 m A B (module docstring)."""
    m = np.asarray(comove, dtype=float)
    k = math.isqrt(m.size)
    m = m.reshape(k, k)
    return Game.from_weights(-2.0 * exposure**2 * m, kind="hedge", unit=UNIT)


def what_it_would_take(cal: HedgeCalibration, noise: Noise, gain: float = TARGET_GAIN, steps: int = 12) -> dict:
    """The least co-movement sign information at which entanglement would pay on this link.

    For each input cell in turn, the other cells kept as fitted, the cell's correlation is moved from its
    fitted value toward -1; the answer is the largest correlation at which the quantum optimum (for
    ``noise``) beats the best classical rule by ``gain`` of the classical book variance. Its normal-equivalent
    share of opposite moves is 1/2 - arcsin(rho)/pi. The cell that needs the smallest move is ``best``.
    Values use the solver's grid bound (``quantum_lower_bound``); ``tests/test_hedge.py`` confirms the reported
    point with the full, polished solver.
    """
    cells, v0 = cal.cells, cal.coin_variance
    p = cal.p_xy
    sx, sy = np.sqrt(np.nan_to_num(cells.var_x)), np.sqrt(np.nan_to_num(cells.var_y))
    share_obs, _ = cells.negative_share()

    def gap(c: int, rhos: np.ndarray) -> np.ndarray:
        games = []
        for r in rhos:
            m = cal.comove.copy()
            m[c] = r * sx[c] * sy[c]
            games.append(hedge_game(m, cal.exposure))
        q = np.array(quantum_lower_bound(games, p, noise))
        cl = np.array([classical_optimum(g, p)[0] for g in games])
        return (q - cl) - gain * (v0 - cl)

    results = {}
    for c, label in enumerate(CELLS):
        scale = sx[c] * sy[c]
        if cells.n[c] == 0 or not scale > 0:
            continue
        rho_obs = float(np.clip(cal.comove[c] / scale, -1.0, 1.0))
        grid = np.linspace(rho_obs, -1.0, steps + 1)
        g = gap(c, grid)
        hit = np.flatnonzero(g >= 0)
        entry = {"cell": label, "p": float(p.flat[c]), "rho_fitted": rho_obs,
                 "negative_share_observed": _f(share_obs[c])}
        if hit.size == 0:
            results[label] = {**entry, "feasible": False}
            continue
        k = int(hit[0])
        if k == 0:
            rho = rho_obs
        else:  # bisect between the last grid point that fails and the first that pays
            lo, hi = grid[k], grid[k - 1]
            for _ in range(12):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if gap(c, np.array([mid]))[0] >= 0 else (lo, mid)
            rho = float(lo)
        results[label] = {**entry, "feasible": True, "rho_needed": rho,
                          "negative_share_needed": 0.5 - math.asin(rho) / math.pi,
                          "move": rho_obs - rho}
    feasible = [r for r in results.values() if r["feasible"]]
    best = min(feasible, key=lambda r: r["move"]) if feasible else None
    both = results.get("11")  # the cell where both servers see signs of negative correlation, on near-ties
    if best is not None and both is not None and both["feasible"] and both["move"] <= best["move"] + 0.02:
        best = both
    out = {"gain": gain, "noise": noise.to_dict(), "cells": results, "best": best,
           "inputs_agree": float(p[0, 0] + p[1, 1])}
    if best is None and noise != Noise():  # is it the link, or the information?
        out["perfect_link"] = what_it_would_take(cal, Noise(), gain, steps)
    return out


def sentence(take: dict) -> str:
    """One sentence saying what would have to change for entanglement to pay."""
    b = take.get("best")
    if b is None:
        ideal = take.get("perfect_link") or {}
        agree = take.get("inputs_agree")
        if ideal.get("best") is not None:
            return ("no co-movement information in a single input cell would make this link beat the best classical "
                    f"rule by {take['gain']:.0%} of book variance: the link itself must improve (with a perfect link, "
                    + _cell_clause(ideal["best"]) + ")")
        agree_txt = f" (x = y in {agree:.0%} of training rounds)" if agree is not None else ""
        return ("no co-movement pattern in a single input cell gives entanglement an edge at these input frequencies, "
                f"even on a perfect link{agree_txt}: the two servers' indicators must carry more independent "
                "information")
    return (f"entanglement would beat the best classical rule by {take['gain']:.0%} of book variance on this link only "
            "if " + _cell_clause(b))


def _cell_clause(b: dict) -> str:
    obs = b.get("negative_share_observed")
    obs_txt = f"; observed {obs:.0%}" if obs is not None else ""
    return (f"the returns in input cell (x,y) = ({b['cell'][0]},{b['cell'][1]}) moved with correlation "
            f"{b['rho_needed']:+.2f} instead of {b['rho_fitted']:+.2f}, i.e. in opposite directions about "
            f"{b['negative_share_needed']:.0%} of the time (normal-equivalent{obs_txt})")


def drift(train: CellStats, test: CellStats, fitted, noise: Noise, exposure: float) -> dict:
    """Does the game fitted on the training window still describe the test window?

    p(x,y) of both windows with a chi-squared test of equal cell frequencies; per cell, the z-score of the change
    in co-movement (m_test - m_train over the combined standard error); and the test window's own game (hedge
    game re-calibrated on it, or the same fixed game at the test p(x,y)): its best classical rule and whether
    entanglement would help there by 1% of the classical book variance (grid bound). ``flag`` says, in words,
    what no longer holds; ``decision_changed`` is set when the fitted play is no longer right for the test
    window (entanglement's usefulness flipped, or a cell's co-movement changed sign with |z| > 3). A different
    best classical rule alone is not flagged: near-equivalent rules trade places on sampling noise.
    """
    from scipy.stats import chi2_contingency

    table = np.array([train.n, test.n])
    keep = table.sum(axis=0) > 0
    chi2, p_value = (math.nan, math.nan)
    if keep.sum() >= 2 and test.total > 0:
        res = chi2_contingency(table[:, keep])
        chi2, p_value = float(res[0]), p_floor(float(res[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (test.comove - train.comove) / np.hypot(train.comove_se, test.comove_se)
    cal = HedgeCalibration.fit(test, exposure) if fitted.hedge is not None else None
    game = cal.game if cal is not None else fitted.game
    p_test = test.p
    reasons = []
    out = {"p_xy_train": train.p.tolist(), "p_xy_test": p_test.tolist(), "chi2": _f(chi2), "chi2_p_value": _f(p_value),
           "comove_z": {c: _f(v) for c, v in zip(CELLS, z)}}
    if test.total > 0:
        cl_value, fa, fb = classical_optimum(game, p_test)
        q_value = quantum_lower_bound(game, p_test, noise)
        # what counts as a material loss: 1% of the classical book variance (hedge game), or of the value (paper)
        scale = (cal.coin_variance - cl_value) if cal is not None else abs(cl_value)
        scale = max(scale, float(np.abs(game.table).max()) * 1e-9, 1e-300)
        helps = q_value > cl_value + TARGET_GAIN * scale
        out["test_game"] = {"classical_rule": {"A": list(fa), "B": list(fb)}, "entanglement_helps": bool(helps)}
        if helps != bool(fitted.solution.uses_entanglement):
            reasons.append("entanglement " + ("would help on the test window but did not on the training window" if helps
                                              else "helped on the training window but would not on the test window"))
    flips = [c for c, tr, te, zz in zip(CELLS, train.comove, test.comove, z)
             if np.isfinite(zz) and abs(zz) > 3 and np.sign(tr) != np.sign(te)]
    if flips:
        reasons.append(f"the co-movement changed sign in cell(s) {', '.join(flips)}")
    out["decision_changed"] = bool(reasons)  # what the verdict mentions: the fitted play is no longer the best
    if p_value == p_value and p_value < 1e-3:
        reasons.append(f"the input frequencies p(x,y) changed (chi-squared {format_p(p_value)})"
                       + ("" if out["decision_changed"] else ", though the test window's best play is the same"))
    out["flag"] = "; ".join(reasons) if reasons else None
    return out


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
    for i in range(n):
        c = 2 * x[i] + y[i]
        tgt[i] = target_table[c]
        q = rx[i] * ry[i]
        if q > 0.0:
            want[i] = 1 ^ flip
            cells[c, 6] += 1.0
        elif q < 0.0:
            want[i] = flip
            cells[c, 5] += 1.0
        else:
            want[i] = 2
        cells[c, 0] += 1.0
        cells[c, 1] += q
        cells[c, 2] += q * q
        cells[c, 3] += rx[i] * rx[i]
        cells[c, 4] += ry[i] * ry[i]
    return tgt, want
