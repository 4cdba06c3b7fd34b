"""Inputs with K levels: K_A x K_B XOR games, the exhaustive classical optimum, the many-start seesaw for one
direction per level, and Tsirelson's SDP as the upper bound it must never cross."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from qcoord.backtest.stats.intervals import draw_inputs
from tests.conftest import qcoord, z_tolerance
from qcoord.strategies import Game, Noise, StrategyError, solve
from qcoord.strategies.classical import classical_optimum, deterministic_value
from qcoord.strategies.game import chained_p_xy
from qcoord.strategies.solver import _solve_levels, tsirelson_sdp
from qcoord.strategies.strategy import LocalRule

cvxpy = pytest.importorskip("cvxpy", reason="cvxpy (the sdp/test extra) is not installed")
SDP_TOL = 1e-6  # CLARABEL's default accuracy is about 1e-8 on these objectives; the seesaw must stay below


def _random_game(rng, ka, kb):
    p = rng.dirichlet(np.ones(ka * kb)).reshape(ka, kb)
    return Game.from_weights(rng.normal(size=(ka, kb))), p


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_chained_bell_values(k):
    g, p = Game.chained(k), chained_p_xy(k)
    s = solve(g, p)
    assert s.classical_value == pytest.approx(1 - 1 / (2 * k), abs=1e-12)
    assert s.quantum_value == pytest.approx(math.cos(math.pi / (4 * k)) ** 2, abs=1e-9)
    assert tsirelson_sdp(g, p) == pytest.approx(math.cos(math.pi / (4 * k)) ** 2, abs=SDP_TOL)
    # the solution's claim is what its strategy scores, computed from qiskit's joint tables
    assert s.quantum_strategy().value(g, p) == pytest.approx(s.quantum_value, abs=1e-9)


def test_classical_optimum_is_exhaustive_over_every_rule_pair():
    rng = np.random.default_rng(3)
    for ka, kb in [(3, 2), (3, 4), (4, 4)]:
        g, p = _random_game(rng, ka, kb)
        brute = max(
            deterministic_value(g, p, fa, fb)
            for fa in itertools.product((0, 1), repeat=ka)
            for fb in itertools.product((0, 1), repeat=kb)
        )
        value, fa, fb = classical_optimum(g, p)
        assert value == pytest.approx(brute, abs=1e-12)
        assert deterministic_value(g, p, fa, fb) == value


def test_k2_through_the_levels_path_reproduces_the_binary_solver():
    """The general seesaw on 2x2 games agrees with the planar grid/sphere solver, noise included."""
    rng = np.random.default_rng(11)
    noises = [
        Noise(),
        Noise(visibility=0.9),
        Noise(readout_a=(0.02, 0.06), loss_b=0.1),
        Noise(t1=1e-3, t2=1.5e-3, storage_time=2e-4, stored="a"),
    ]
    for i in range(8):
        g, p = _random_game(rng, 2, 2)
        noise = noises[i % len(noises)]
        a, b = solve(g, p, noise), _solve_levels(g, p, noise)
        assert b.quantum_value == pytest.approx(a.quantum_value, abs=1e-7), (i, noise)
        assert b.classical_value == a.classical_value


def test_seesaw_never_exceeds_the_sdp_bound_and_noise_only_lowers_it():
    rng = np.random.default_rng(5)
    for ka, kb in [(3, 3), (3, 4), (4, 4), (5, 3)]:
        g, p = _random_game(rng, ka, kb)
        ideal, noisy = solve(g, p), solve(g, p, Noise(visibility=0.85, readout_b=0.03))
        bound = tsirelson_sdp(g, p)
        assert ideal.classical_value - 1e-12 <= ideal.quantum_value <= bound + SDP_TOL
        assert noisy.quantum_value <= ideal.quantum_value + 1e-9
        assert noisy.quantum_strategy().value(g, p) == pytest.approx(noisy.quantum_value, abs=1e-9)


def test_no_advantage_when_the_game_has_no_conflict():
    """All weights positive: agreeing always is optimal; the solver says entanglement is worth nothing."""
    g = Game.from_weights(np.abs(np.random.default_rng(1).normal(size=(3, 3))))
    s = solve(g, np.full((3, 3), 1 / 9))
    assert not s.uses_entanglement and s.advantage == 0.0


def test_simulated_chained_game_matches_its_value():
    k, n = 3, 200_000
    g, p = Game.chained(k), chained_p_xy(k)
    s = solve(g, p)
    x, y = draw_inputs(p, n, np.random.default_rng(8))
    a, b = s.quantum_strategy().play(x, y, np.random.default_rng(9))
    wins = g.utility(x, y, a, b)
    assert abs(wins.mean() - s.quantum_value) < z_tolerance(s.quantum_value, n, z=1.5 * 1.96)  # 1.5x the 95% CI
    assert set(np.unique(x)) == set(range(k))


def test_rules_and_games_refuse_mismatched_levels():
    rule = LocalRule.constant((0, 1, 1))
    assert rule.levels == 3 and rule.settings == (0, 0, 0)
    with pytest.raises(StrategyError, match="2 to 8"):
        LocalRule(outputs=((0,),) * 9)
    with pytest.raises(StrategyError, match="levels 0..2"):
        solve(Game.chained(3), chained_p_xy(3)).classical_strategy().play(
            np.array([0, 3]), np.array([0, 1]), np.random.default_rng(0)
        )
    with pytest.raises(StrategyError, match="p_xy must be 3x3"):
        solve(Game.chained(3), np.full((2, 2), 0.25))
    with pytest.raises(StrategyError, match="from 2 to 8"):
        Game.chained(9)


def _qcoord(*args):
    return qcoord("game", *args)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_qcoord_game_reproduces_the_chained_bell_values(k):
    res = _qcoord("--chained", str(k), "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["classical_value"] == pytest.approx(1 - 1 / (2 * k), abs=1e-12)
    assert r["quantum_value"] == pytest.approx(math.cos(math.pi / (4 * k)) ** 2, abs=1e-9)
    assert r["tsirelson_bound"]["value"] == pytest.approx(math.cos(math.pi / (4 * k)) ** 2, abs=SDP_TOL)


def test_qcoord_game_reads_a_k_by_k_distribution_from_csv(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("0.2,0.1,0\n0.1,0.2,0.1\n0,0.1,0.2\n")
    res = _qcoord("--p-xy", str(path), "--weights", "1,1,-1;1,-1,-1;-1,-1,-1", "--rounds", "1000", "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert np.allclose(r["p_xy"], [[0.2, 0.1, 0], [0.1, 0.2, 0.1], [0, 0.1, 0.2]])
    assert r["classical_value"] <= r["quantum_value"] <= r["tsirelson_bound"]["value"] + SDP_TOL
    assert "textbook" not in r["simulated"]
    bad = _qcoord("--p-xy", str(path))  # 3x3 inputs for the paper's binary game
    assert bad.returncode == 2 and "3x3" in bad.stderr and "Traceback" not in bad.stderr


def _noisy_levels_setting(rng):
    """A perturbed chained game (so that entanglement can pay) on a noisy, partly stored link."""
    k = int(rng.integers(3, 5))
    c, _ = Game.chained(k).correlator_weights(chained_p_xy(k))
    weights = 4 * k * c + rng.normal(0, 0.05, size=(k, k))  # the chained game's correlator weights (+-1), perturbed
    p = 0.85 * chained_p_xy(k) + 0.15 * rng.dirichlet(np.ones(k * k)).reshape(k, k)
    noise = Noise(
        visibility=float(rng.uniform(0.95, 1.0)),
        readout_a=tuple(rng.uniform(0, 0.03, 2)),
        readout_b=tuple(rng.uniform(0, 0.02, 2)),
        loss_a=float(rng.uniform(0, 0.05)),
        t1=1e-3,
        storage_time=float(rng.uniform(0, 1e-4)),
        stored=("both", "a", "b")[int(rng.integers(3))],
    )
    return Game.from_weights(weights), p, noise


@pytest.mark.parametrize("seed", range(3))
def test_levels_solver_agrees_with_an_independent_density_matrix_seesaw(seed):
    """The independent optimiser (tests/bloch_seesaw.py: POVMs on qiskit's density matrix, all 8 output functions
    of {0, 1, no click}, no Pauli tensor) from many random starts finds nothing better than the solver, and the
    solver's claimed value is what its strategy scores on qiskit's joint tables."""
    from qcoord.strategies import pair
    from tests.bloch_seesaw import BlochSeesaw, detector

    game, p, noise = _noisy_levels_setting(np.random.default_rng(100 + seed))
    sol = solve(game, p, noise)
    ind = BlochSeesaw(
        pair.stored_state(noise).data,
        game.table,
        p,
        detector(noise.readout_a, noise.loss_a),
        detector(noise.readout_b, noise.loss_b),
    )
    best = ind.levels_optimum(60, np.random.default_rng(200 + seed))
    assert sol.uses_entanglement  # not a degenerate draw: the quantum search decides the answer
    assert sol.quantum_value >= best - 1e-7, (seed, sol.quantum_value, best)

    def how(P):  # the solver's strategy as (direction, output function of {0, 1, no click}) per level
        out = []
        for t, phi, f, fl in zip(sol.angles[P], sol.azimuths[P], sol.fallback[P], sol.flipped[P]):
            out.append(
                (np.array([0.0, 0.0, 1.0]), (f,) * 3)
                if t is None
                else (pair.direction(t, phi), (int(fl), 1 - int(fl), f))
            )
        return out

    # valued by projectors on the density matrix, the solver's strategy scores exactly what it claims
    assert ind.value(how("A"), how("B")) == pytest.approx(sol.quantum_value, abs=1e-9)
    assert sol.quantum_strategy().value(game, p) == pytest.approx(sol.quantum_value, abs=1e-9)
