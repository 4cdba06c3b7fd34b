"""200 random games, 2x2 to 4x4, with and without noise, for pinning the solver's values (issue 26): the cases come
from a fixed stream, and ``tests/data/solver_values.json`` holds the values the solver gave them at d24aa98, before
any of its speed work, so every faster path is checked against the answers it replaces.

Regenerate the file only when a change is *meant* to move a value: ``python -m tests.solver_cases``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from qcoord.strategies import Game, Noise

N_CASES = 200
SEED = 2026_12_05
PATH = Path(__file__).parent / "data" / "solver_values.json"


def _noise(rng, kind: int) -> Noise:
    if kind == 0:
        return Noise()
    if kind == 1:  # planar-symmetric: Werner noise, symmetric readout, loss
        return Noise.make(
            visibility=float(rng.uniform(0.97, 1.0)),
            readout_error=float(rng.uniform(0, 0.01)),
            loss=float(rng.uniform(0, 0.02)),
        )
    if kind == 2:  # asymmetric readout and loss: the flipped report and fallbacks matter
        return Noise(
            visibility=float(rng.uniform(0.97, 1.0)),
            readout_a=(float(rng.uniform(0, 0.01)), float(rng.uniform(0, 0.01))),
            readout_b=(float(rng.uniform(0, 0.01)), float(rng.uniform(0, 0.01))),
            loss_a=float(rng.uniform(0, 0.02)),
            loss_b=float(rng.uniform(0, 0.02)),
        )
    # amplitude damping while stored: not planar-symmetric, the sphere search
    return Noise(
        visibility=float(rng.uniform(0.98, 1.0)),
        storage_time=float(rng.uniform(1e-4, 6e-4)),
        t1=1e-2,
        t2=float(rng.uniform(1e-2, 2e-2)),
        readout_a=float(rng.uniform(0, 0.01)),
        loss_b=float(rng.uniform(0, 0.02)),
    )


def cases():
    """(game, p_xy, noise) for each case, the same on every machine."""
    rng = np.random.default_rng(SEED)
    out = []
    for i in range(N_CASES):
        ka, kb = (2, 2) if i < 100 else (int(v) for v in rng.integers(2, 5, size=2))
        p = rng.dirichlet(np.full(ka * kb, 1.0 if i % 3 == 0 else 8.0)).reshape(ka, kb)
        scale = 10.0 ** rng.uniform(-6, 1)  # a hedge game's weights are currency^2, of any size
        if i % 5 == 4 and (ka, kb) == (2, 2):  # the hedge game of Ding & Jiang at some beta
            game = Game.paper(beta=float(rng.uniform(0, 1)))
        elif i % 3 == 0:  # any XOR game
            game = Game.from_weights(rng.normal(size=(ka, kb)) * scale)
        else:  # a chained-Bell-like sign pattern, perturbed: games where entanglement tends to help
            signs = np.ones((ka, kb))
            signs[-1, -1] = -1.0
            game = Game.from_weights(signs * rng.uniform(0.8, 1.2, size=(ka, kb)) * scale)
        out.append((game, p, _noise(rng, i % 4)))
    return out


def values(game, p, noise) -> dict:
    from qcoord.strategies import solver

    s = solver.solve(game, p, noise)
    return {
        "levels": list(game.levels),
        "quantum": s.quantum_value,
        "classical": s.classical_value,
        "textbook": None if math.isnan(s.textbook_value) else s.textbook_value,
        "uses_entanglement": s.uses_entanglement,
        "lower_bound": solver.quantum_lower_bound(game, p, noise) if game.levels == (2, 2) else None,
    }


if __name__ == "__main__":
    rows = [values(*c) for c in cases()]
    PATH.write_text(json.dumps(rows, indent=0) + "\n")
    print(f"wrote {len(rows)} cases to {PATH}")
