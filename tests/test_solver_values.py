"""The solver's values on 200 random games (``tests/solver_cases.py``: 2x2 to 4x4 inputs, with and without noise,
planar and sphere searches) equal the values it gave before its speed work (issue 26), within 1e-9 of each game's
scale. Values are invariants of the problem (the optimum's directions are not: a family of them is optimal), so
they are what may be compared across processors and versions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qcoord.strategies import solver

from .solver_cases import PATH, cases

CASES = cases()
PINNED = json.loads(PATH.read_text())


def _scale(game, p) -> float:
    # a value is k + sum c E with |E| <= 1: the weights' total is the game's scale (currency^2 for a hedge game)
    c, _ = game.correlator_weights(p)
    return float(np.abs(c).sum()) or 1.0


@pytest.mark.parametrize("i", range(len(CASES)))
def test_solver_values_are_unchanged(i):
    game, p, noise = CASES[i]
    want = PINNED[i]
    tol = 1e-9 * _scale(game, p)
    s = solver.solve(game, p, noise)
    assert list(game.levels) == want["levels"]
    assert abs(s.classical_value - want["classical"]) <= tol
    assert abs(s.quantum_value - want["quantum"]) <= tol, (s.quantum_value, want["quantum"])
    assert s.quantum_value >= s.classical_value
    if want["textbook"] is not None:
        assert abs(s.textbook_value - want["textbook"]) <= tol
    # whether entanglement is used is decided against the absolute ADVANTAGE_TOL: compared where the pinned gap is clear
    # of that threshold by more than the values' own tolerance
    if abs(want["quantum"] - want["classical"] - solver.ADVANTAGE_TOL) > 2 * tol:
        assert s.uses_entanglement == want["uses_entanglement"]
    if want["lower_bound"] is not None:
        assert abs(solver.quantum_lower_bound(game, p, noise) - want["lower_bound"]) <= tol


def test_the_cases_exercise_every_search():
    """Enough of the pinned cases use entanglement, noisy and not, 2x2 and K-level, for the comparison to bite."""
    used = [(CASES[i][0].levels == (2, 2), CASES[i][2].ideal) for i, w in enumerate(PINNED) if w["uses_entanglement"]]
    assert len(used) >= 60
    for key in [(True, True), (True, False), (False, True), (False, False)]:
        assert used.count(key) >= 5, key
