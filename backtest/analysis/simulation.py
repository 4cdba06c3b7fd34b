"""A solved game played on simulated rounds (``qcoord game --rounds``): classical, quantum and textbook strategies on
the same inputs, with intervals, as a check of the solver's values by sampling."""

from __future__ import annotations

import numpy as np

from .. import streams
from ..stats.intervals import Z95, draw_inputs, wilson_ci


def simulate(solution, rounds: int, backend: str, seed: int) -> dict:
    """Play classical, quantum and textbook strategies on the same simulated rounds (on the solution's device,
    if it has one). Utilities are compared with the classical optimum round by round (same inputs), with a
    95% interval of the mean difference; win rates only where the game has wins."""
    rng = streams.rng(seed, "game:inputs")
    x, y = draw_inputs(solution.p_xy, rounds, rng)
    game = solution.game
    out: dict = {}
    players = {
        "classical": solution.classical_strategy(),
        "quantum": solution.quantum_strategy(backend=backend),
    }
    if game.levels == (2, 2) and game.kind != "chained":  # textbook angles: the paper's binary game
        players["textbook"] = solution.textbook_strategy(backend=backend)
    if solution.device is not None:
        out["device"] = solution.device.describe()
    utilities = {}
    for name, strategy in players.items():
        a, b = strategy.play(x, y, streams.rng(seed, f"strategy:{name}"))
        u = game.utility(x, y, a, b)
        utilities[name] = u
        # one round has no spread to estimate: its standard error and intervals are undefined (null)
        se = float(u.std(ddof=1) / np.sqrt(rounds)) if rounds > 1 else None
        out[name] = {"utility": float(u.mean()), "utility_se": se}
        if game.has_wins:
            wins = int(np.count_nonzero(game.win(x, y, a, b)))
            out[name] |= {"win_rate": wins / rounds, "ci95": list(wilson_ci(wins, rounds))}
    for name in [n for n in ("quantum", "textbook") if n in players]:
        d = utilities[name] - utilities["classical"]
        ci = None
        if rounds > 1:
            half = Z95 * d.std(ddof=1) / np.sqrt(rounds)
            ci = [float(d.mean() - half), float(d.mean() + half)]
        out[name]["vs_classical"] = {"diff": float(d.mean()), "ci95": ci}
    out["backend"] = "aer" if solution.device is not None else backend
    out["rounds"] = rounds
    out["has_wins"] = game.has_wins
    return out
