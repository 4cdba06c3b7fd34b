"""The solver's batched paths (issue 26) against the code they replace, both run here on the same CPU (so the
comparisons hold on any processor): the seesaw over all starts at once (``solver._seesaw_many``) start by start and
through ``solve`` on random games of 2 to 4 input levels per side, with and without noise; and the compiled grid
bound (``kernels.grid_values`` and ``grid_best``) against the numpy grid they replace."""

from __future__ import annotations

import numpy as np
import pytest

from qcoord.strategies import Game, Noise, solve
from qcoord.strategies import solver


def _noise(rng, i: int) -> Noise:
    if i % 2 == 0:
        return Noise()
    return Noise(
        visibility=float(rng.uniform(0.7, 1.0)),
        readout_a=(float(rng.uniform(0, 0.05)), float(rng.uniform(0, 0.05))),
        readout_b=float(rng.uniform(0, 0.05)),
        loss_a=float(rng.uniform(0, 0.2)),
        storage_time=float(rng.uniform(0, 2e-3)),
        t1=1e-2,
        t2=float(rng.uniform(5e-3, 2e-2)),
    )


def _game(rng):
    ka, kb = (int(v) for v in rng.integers(2, 5, size=2))
    p = rng.dirichlet(np.ones(ka * kb)).reshape(ka, kb)
    return Game.from_weights(rng.normal(size=(ka, kb))), p


def _starts(rng, kb: int, n: int) -> list:
    def unit():
        v = rng.normal(size=3)
        return v / np.linalg.norm(v)

    return [
        [
            (None, int(rng.integers(2)), False)
            if rng.random() < 0.2
            else (unit(), int(rng.integers(2)), bool(rng.random() < 0.3))
            for _ in range(kb)
        ]
        for _ in range(n)
    ]


def test_batched_seesaw_matches_the_seesaw_start_by_start():
    """Eight starts on each of 200 random games: the short seesaw of the search, and on every tenth game the seesaw
    run to convergence; the same value to 1e-12 of the game's scale (values, not choices: at a tie either choice is a
    best response)."""
    rng = np.random.default_rng(2026)
    for i in range(200):
        game, p = _game(rng)
        c, k = game.correlator_weights(p)
        R, party_a, party_b = solver._link(_noise(rng, i))
        starts = _starts(rng, game.levels[1], 8)
        scale = float(np.abs(c).sum()) + abs(k)
        for steps in (solver.SEESAW_ROUGH,) if i % 10 else (solver.SEESAW_ROUGH, solver.SEESAW_STEPS):
            one = [solver._seesaw(c, k, R, party_a, party_b, b, steps) for b in starts]
            many = solver._seesaw_many(c, k, R, party_a, party_b, starts, steps)
            for (v1, _, _), (v2, _, _) in zip(one, many):
                assert v2 == pytest.approx(v1, abs=1e-12 * scale), (i, steps)


def _reference(monkeypatch):
    """solve() with the one-start seesaw in place of the batched one."""

    def loop(c, k, R, party_a, party_b, b_hows, steps=solver.SEESAW_STEPS):
        return [solver._seesaw(c, k, R, party_a, party_b, b, steps) for b in b_hows]

    monkeypatch.setattr(solver, "_seesaw_many", loop)


@pytest.mark.parametrize(
    "games", [pytest.param(8, id="8 games"), pytest.param(200, id="200 games", marks=pytest.mark.slow)]
)
def test_solve_gives_the_same_values_as_with_the_one_start_seesaw(games, monkeypatch):
    """The issue's acceptance check: solver answers equal within 1e-9 (relative to the game's scale) on random
    games from 2x2 to 4x4, with and without noise; 2x2 games with noise take the sphere search, the others the
    K-level seesaw."""
    rng = np.random.default_rng(26)
    cases = [(*_game(rng), _noise(rng, i)) for i in range(games)]
    batched = [solve(g, p, n).quantum_value for g, p, n in cases]
    _reference(monkeypatch)
    for (g, p, n), value in zip(cases, batched):
        c, k = g.correlator_weights(p)
        scale = float(np.abs(c).sum()) + abs(k)
        assert value == pytest.approx(solve(g, p, n).quantum_value, abs=1e-9 * scale), (g.levels, n)


def _numpy_grid(c, k, v, party_a):
    """The grid's values in plain numpy, (n, n, dim) temporaries and all: what the compiled kernels replaced."""
    return k + sum(solver._best_response(c[x, 0] * v[:, None, :] + c[x, 1] * v[None, :, :], party_a)[0] for x in (0, 1))


def test_compiled_grids_equal_the_numpy_grid():
    """The compiled grid (``kernels.grid_values``, every candidate pair, used by ``solve``) and its maximum
    (``kernels.grid_best``, in ``quantum_lower_bound``) against plain numpy on 200 random 2x2 games of every scale,
    planar links and links searched over the sphere (T1 storage). The kernels take |w_vec| as a square root of a
    sum and numpy as hypot: 1e-12 relative covers that last bit and another processor's rounding."""
    rng = np.random.default_rng(262)
    for i in range(200):
        game = Game.from_weights(rng.normal(size=(2, 2)) * 10 ** rng.uniform(-8, 3))
        p = rng.dirichlet(np.ones(4)).reshape(2, 2)
        noise = _noise(rng, i)
        c, k = game.correlator_weights(p)
        R4, party_a, party_b = solver._link(noise)
        scale = float(np.abs(c).sum()) + abs(k)
        if solver.planar_symmetric(R4):
            R = R4[np.ix_(solver.IXZ, solver.IXZ)]
            compiled = solver._grid_values(c, k, R, party_a, party_b, 90)[0]
            v = solver._b_candidates(party_b, 90)[0] @ R.T
        else:
            compiled = solver._sphere_grid(c, k, R4, party_a, party_b)[0]
            v = solver._sphere_candidates(party_b)[0] @ R4.T
        reference = _numpy_grid(c, k, v, party_a)
        np.testing.assert_allclose(compiled, reference, rtol=1e-12, atol=1e-12 * scale, err_msg=str((i, noise)))
        assert solver.quantum_lower_bound(game, p, noise) == pytest.approx(
            float(reference.max()), rel=1e-12, abs=1e-12 * scale
        ), (i, noise)


def test_the_polish_gradient_is_the_best_response_value_and_its_derivative():
    """The polishes step on ``_value_gradient``: its value is ``_respond``'s exactly (to rounding), and its gradient
    with respect to B's observables matches central differences of that value, on random games, links and choices."""
    rng = np.random.default_rng(31)
    checked = 0
    for i in range(200):
        game, p = _game(rng)
        c, k = game.correlator_weights(p)
        R, party_a, party_b = solver._link(_noise(rng, i))
        scale = float(np.abs(c).sum())
        for how in _starts(rng, game.levels[1], 3):
            ob = solver._obs_of(how, party_b)
            ref = solver._respond(c, R, party_a, ob)[0]
            value, grad = solver._value_gradient(c, R, party_a, ob)
            assert value == pytest.approx(ref, rel=1e-13, abs=1e-15 * scale), i
            eps, y, j = 1e-6, int(rng.integers(ob.shape[0])), int(rng.integers(4))
            up, down = ob.copy(), ob.copy()
            up[y, j] += eps
            down[y, j] -= eps
            v_up, v_down = solver._respond(c, R, party_a, up)[0], solver._respond(c, R, party_a, down)[0]
            # a kink (A switching between measuring and a constant within eps) is where the gradient is one-sided
            if abs(v_up + v_down - 2 * ref) < 1e-9 * scale:
                assert grad[y, j] == pytest.approx((v_up - v_down) / (2 * eps), rel=1e-5, abs=1e-7 * scale), (i, y, j)
                checked += 1
    assert checked > 400
