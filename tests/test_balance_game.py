"""The routers' threshold game (strategies.balance): exact cells, classical and quantum values as K grows, the limits,
the reference figures, the weighted game."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord.strategies import Noise
from qcoord.strategies import balance as B

CS = (0.2, 0.33, 0.45)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_cells_integrate_the_bunch_region_exactly(k):
    """The cells' shares average to P(X1 + X2 <= t*) = 1 - C (1 - ln C) (Erlang-2), and match sampled inputs."""
    for c in CS:
        share = B.bunch_share(k, c)
        assert share.mean() == pytest.approx(B.bunch_probability(c), abs=1e-12)
    rng = np.random.default_rng(5)
    n = 400_000
    a, b = rng.random(n), rng.random(n)
    right = (1 - a) * (1 - b) >= 0.33
    cell = B.level_of(a, k).astype(int) * k + B.level_of(b, k)
    hits, counts = np.bincount(cell, right, k * k), np.bincount(cell, minlength=k * k)
    share = B.bunch_share(k, 0.33).ravel()
    # 4-sigma binomial bounds per cell
    assert np.all(np.abs(hits / counts - share) <= 4 * np.sqrt(share * (1 - share) / counts) + 1e-12)


@pytest.mark.parametrize("c", CS)
def test_threshold_rules_are_the_classical_optimum_on_every_grid(c):
    """Exhaustive search over every pair of deterministic rules (2^K x 2^K) finds nothing better than the best pair
    of thresholds on the levels: the classical value per K, two ways."""
    for k in (2, 4, 8, 12, 16):
        assert B.classical_levels(k, c) == pytest.approx(B.threshold_levels(k, c)[0], abs=1e-12)


def test_the_classical_search_agrees_with_the_game_solver():
    """The Gray-code search against strategies.classical_optimum (all rule pairs as a matrix product) at K <= 8."""
    from qcoord.strategies.classical import classical_optimum

    for k in (3, 6, 8):
        g = B.threshold_game(k, 0.3)
        assert B.classical_levels(k, 0.3) == pytest.approx(classical_optimum(g, B.uniform_levels(k))[0], abs=1e-12)


def test_values_rise_as_the_levels_refine_and_stay_ordered():
    pytest.importorskip("cvxpy")
    v = B.game_values(0.33, (2, 4, 8, 16))
    cl, q = v.classical_threshold, v.quantum
    assert all(b >= a - 1e-9 for a, b in zip(cl, cl[1:]))  # K -> 2K: every K-level rule is a 2K-level rule
    assert all(b >= a - 1e-7 for a, b in zip(q, q[1:]))
    assert all(qq >= cc - 1e-7 for qq, cc in zip(q, cl))
    assert v.classical_limit.value >= max(cl) - 1e-12  # the continuum can do what any grid does
    assert v.bunch_probability == pytest.approx(B.bunch_probability(0.33))


def test_the_qubit_solver_reaches_tsirelsons_bound_on_the_played_game():
    """Two independent methods at K = 8: the seesaw over qubit measurements (solve) and Tsirelson's SDP (any
    entangled state) agree, so a qubit pair is all the K = 8 game needs."""
    pytest.importorskip("cvxpy")
    for c in (0.25, 0.33):
        sol = B.fit(c)
        assert sol.uses_entanglement
        assert sol.quantum_value == pytest.approx(B.quantum_levels(8, c), abs=2e-6)
        assert sol.classical_value == pytest.approx(B.classical_levels(8, c), abs=1e-12)


def test_the_best_threshold_rule_wins_what_it_claims_on_sampled_pairs():
    """The continuum's best threshold pair, played on sampled service times (an independent check of the closed-form
    integrals): its win rate within a 4-sigma binomial band."""
    rng = np.random.default_rng(11)
    n = 1_000_000
    for c in CS:
        rule = B.best_threshold(c)
        a, b = rng.random(n), rng.random(n)
        oa, ob = rule.outputs(a, b)
        win = ((oa == ob) == ((1 - a) * (1 - b) >= c)).mean()
        assert abs(win - rule.value) < 4 * math.sqrt(rule.value * (1 - rule.value) / n)


def test_richardson_recovers_a_known_limit_and_order():
    ks = (8, 16, 32)
    vals = [0.9 - 0.3 * k**-2.0 for k in ks]
    r = B.richardson(ks, vals)
    assert r["order"] == pytest.approx(2.0, abs=1e-9) and r["limit"] == pytest.approx(0.9, abs=1e-12)
    assert B.richardson(ks, [0.5, 0.5, 0.5])["converged"]
    assert not B.richardson(ks, [0.5, 0.6, 0.4])["monotone"]


def test_reference_threshold_and_figures():
    """At the documented C_t = 0.33 the classical limit is 0.76 within +-0.015 -- and 0.33 is where it is lowest, the
    threshold hardest for local rules. The quantum limit there is 0.828, which is 0.018 above the 0.81 figure: the
    discrepancy docs/balance.md states (this pins it, so a change to either number is seen)."""
    pytest.importorskip("cvxpy")
    from scipy.optimize import minimize_scalar

    v = B.game_values(B.REFERENCE_C_T, (8, 16, 32))
    assert abs(v.classical_limit.value - B.REFERENCE["classical"]) <= 0.015
    lowest = minimize_scalar(
        lambda c: B.best_threshold(c, 100).value, bounds=(0.2, 0.45), method="bounded", options={"xatol": 1e-5}
    )
    assert lowest.x == pytest.approx(B.REFERENCE_C_T, abs=0.005)
    q = v.quantum_limit
    assert 1.0 < q["order"] < 3.0 and q["monotone"]
    assert v.quantum[-1] < q["limit"] < v.quantum[-1] + 3 * q["last_step"]
    assert q["limit"] == pytest.approx(0.8277, abs=1e-3)
    assert q["limit"] - B.REFERENCE["quantum"] > 0.015  # the stated discrepancy, not a match
    # at a fixed splitting probability of 0.55 (docs/balance.md: a p we chose, not the paper's) both are within 0.004
    from qcoord.strategies.fixed_split import split_values

    at = split_values(B.REFERENCE_C_T, 0.55, (8, 16, 32))
    assert abs(at.classical_limit - B.REFERENCE["classical"]) < 0.004
    assert abs(at.quantum_limit["limit"] - B.REFERENCE["quantum"]) < 0.004 and at.quantum_limit["monotone"]


def test_the_weighted_game_rewards_short_pairs_and_has_a_quantum_advantage():
    """Its cells hold the mean of w - mu(X1 + X2) (sampled check), its best threshold pair is at least every grid
    rule, and the qubit strategy beats it at C_t = 0.25."""
    k, c = 8, 0.25
    g = B.weighted_game(k, c)
    rng = np.random.default_rng(3)
    a, b = rng.random(2_000_000), rng.random(2_000_000)
    w = -math.log(c) + np.log1p(-a) + np.log1p(-b)
    cell = B.level_of(a, k).astype(int) * k + B.level_of(b, k)
    mean = np.bincount(cell, w, k * k) / np.bincount(cell, minlength=k * k)
    assert np.abs(mean - g.table[..., 0].ravel()).max() < 0.03
    rule = B.best_weighted_threshold(c)
    sol = B.fit_weighted(c)
    assert rule.value >= sol.classical_value - 1e-9
    assert sol.uses_entanglement and sol.quantum_value > rule.value + 0.03


def test_noise_below_the_threshold_leaves_the_classical_rule():
    sol = B.fit(0.33, Noise.make(visibility=0.7))
    assert not sol.uses_entanglement and sol.quantum_value == sol.classical_value


def test_bad_thresholds_are_refused():
    from qcoord.strategies import StrategyError

    for bad in (0.0, 1.0, -0.2, float("nan"), "0.3"):
        with pytest.raises(StrategyError, match="C_t"):
            B.bunch_share(4, bad)


def _deterministic_pairs(k: int, c_t: float):
    """(P(split), P(win)) of every pair of deterministic rules on K levels (2^K x 2^K pairs), and of the threshold
    pairs on the level grid in both orientations."""
    import itertools

    f = B.bunch_share(k, c_t)
    rules = np.array(list(itertools.product((0, 1), repeat=k)))
    same = rules[:, None, :, None] == rules[None, :, None, :]
    every = (1.0 - same.mean(axis=(2, 3))).ravel(), np.where(same, f, 1.0 - f).mean(axis=(2, 3)).ravel()
    levels = np.arange(k)
    thresholds = []
    for a, b, flip in itertools.product(range(k + 1), range(k + 1), (False, True)):
        ra, rb = levels >= a, (levels >= b) ^ flip
        s = ra[:, None] == rb[None, :]
        thresholds.append((1.0 - s.mean(), np.where(s, f, 1.0 - f).mean()))
    return every, tuple(np.array(thresholds).T)


def test_threshold_rules_are_the_classical_optimum_at_every_splitting_probability():
    """The paper's claim, checked: at K = 8 the best shared-coin mixture of threshold pairs equals the best mixture of
    all 2^16 pairs of deterministic rules at every splitting probability; and the continuum's envelope lies above
    the level grid's (finer thresholds) and reaches the unconstrained best threshold pair."""
    from qcoord.strategies.fixed_split import classical_at_split, upper_envelope

    every, thresholds = _deterministic_pairs(8, 0.33)
    ps = np.linspace(0.0, 1.0, 101)
    best = np.interp(ps, *upper_envelope(*every))
    assert np.abs(best - np.interp(ps, *upper_envelope(*thresholds))).max() < 1e-12
    continuum = np.array([classical_at_split(0.33, p) for p in ps])
    assert (continuum >= best - 1e-12).all()
    assert continuum.max() == pytest.approx(B.best_threshold(0.33).value, abs=2e-5)


def test_the_quantum_value_at_a_fixed_split_is_the_lagrange_dual_of_the_free_sdp():
    """Two methods: the SDP with P(split) fixed, and min over lambda of lambda (1 - 2p) + the unconstrained SDP of the
    tilted weights c - lambda / K^2 (strong duality). Where entanglement cannot help (p <= 0.4 here) the value is
    the classical one in closed form, P(bunch right) + p; it never exceeds the free value nor falls below the
    classical envelope of the same levels."""
    pytest.importorskip("cvxpy")
    from scipy.optimize import minimize_scalar

    from qcoord.strategies.fixed_split import quantum_at_split, upper_envelope
    from qcoord.strategies.solver import tsirelson_weights

    k, c_t = 8, 0.33
    c = B.threshold_weights(k, c_t)
    free = B.quantum_levels(k, c_t)
    for p in (0.2, 0.5, 0.55, 0.7, 0.9):
        fixed = quantum_at_split(k, c_t, p)
        dual = minimize_scalar(
            lambda lam: lam * (1 - 2 * p) + tsirelson_weights(c - lam / k**2, 0.5),
            bounds=(-2.0, 2.0),
            method="bounded",
            options={"xatol": 1e-7},
        )
        assert fixed == pytest.approx(dual.fun, abs=2e-6), p
        assert fixed <= free + 1e-7
        assert fixed >= np.interp(p, *upper_envelope(*_deterministic_pairs(k, c_t)[0])) - 1e-7
    assert quantum_at_split(k, c_t, 0.2) == pytest.approx(B.bunch_probability(c_t) + 0.2, abs=1e-6)


def test_a_splitting_probability_outside_zero_to_one_is_refused():
    from qcoord.strategies import StrategyError
    from qcoord.strategies.fixed_split import classical_at_split, quantum_at_split

    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(StrategyError, match="splitting probability"):
            classical_at_split(0.33, bad)
        with pytest.raises(StrategyError, match="splitting probability"):
            quantum_at_split(4, 0.33, bad)
