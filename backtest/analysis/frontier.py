"""What it would take: the least change in the market's co-movement at which entanglement would pay on a link."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...strategies import Noise, classical_optimum, quantum_lower_bound

from ..stats.cells import CELLS, finite_or_none
from ..players.hedge import HedgeFit, hedge_game

TARGET_GAIN = 0.01  # "what it would take": quantum must beat the best classical rule by 1% of its book variance


def what_it_would_take(cal: HedgeFit, noise: Noise, gain: float = TARGET_GAIN, steps: int = 12) -> dict:
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

    results: dict[str, dict[str, Any]] = {}
    for c, label in enumerate(CELLS):
        scale = sx[c] * sy[c]
        if cells.n[c] == 0 or not scale > 0:
            continue
        rho_obs = float(np.clip(cal.comove[c] / scale, -1.0, 1.0))
        grid = np.linspace(rho_obs, -1.0, steps + 1)
        # walked from the fitted value, stopping at the first point that pays: only that one matters
        k = next((i for i in range(grid.size) if gap(c, grid[i : i + 1])[0] >= 0), None)
        entry = {
            "cell": label,
            "p": float(p.flat[c]),
            "rho_fitted": rho_obs,
            "negative_share_observed": finite_or_none(share_obs[c]),
        }
        if k is None:
            results[label] = {**entry, "feasible": False}
            continue
        if k == 0:
            rho = rho_obs
        else:  # bisect between the last grid point that fails and the first that pays
            lo, hi = grid[k], grid[k - 1]
            for _ in range(12):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if gap(c, np.array([mid]))[0] >= 0 else (lo, mid)
            rho = float(lo)
        results[label] = {
            **entry,
            "feasible": True,
            "rho_needed": rho,
            "negative_share_needed": 0.5 - math.asin(rho) / math.pi,
            "move": rho_obs - rho,
        }
    feasible = [r for r in results.values() if r["feasible"]]
    best = min(feasible, key=lambda r: r["move"]) if feasible else None
    both = results.get("11")  # the cell where both servers see signs of negative correlation, on near-ties
    if best is not None and both is not None and both["feasible"] and both["move"] <= best["move"] + 0.02:
        best = both
    out = {
        "gain": gain,
        "noise": noise.to_dict(),
        "cells": results,
        "best": best,
        "inputs_agree": float(p[0, 0] + p[1, 1]),
    }
    if best is None and noise != Noise():  # is it the link, or the information?
        out["perfect_link"] = what_it_would_take(cal, Noise(), gain, steps)
    return out
