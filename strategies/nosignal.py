"""Certify, before a strategy plays, that it cannot signal and that its resource stays within quantum correlations.

``Strategy.play`` is one flow that cannot be overridden (``strategies.strategy``), but three ways to cheat
are outside what the flow can see, and ``certify`` checks each:

1. **The declared resource.** ``P(o_A, o_B | s_A, s_B)`` must be a probability table whose marginals do
   not depend on the partner's setting (no-signalling, to 1e-9).
2. **Beyond quantum.** A no-signalling table can still be stronger than any shared quantum state (a PR box
   wins the CHSH game with certainty). Any XOR game depends only on correlators, and the correlators
   quantum mechanics allows for two settings per side are exactly those that satisfy the
   Tsirelson-Landau-Masanes inequalities |sum_xy asin E_xy - 2 asin E_x'y'| <= pi. They are checked for
   every pair of settings per side and every way of reading the outcomes as +-1; and, for table rules,
   the strategy's value in the game played against Tsirelson's bound of that game.
3. **Rules that share state.** Local rules may be any code, so two rules could share an object and pass
   inputs through it. The counterfactual check plays the strategy on real inputs, then again with the
   partner's inputs permuted and the same uniforms, sampling the resource with the checked party's outcome
   drawn first (by inverse CDF, its outcome then depends on its own marginal only); the party's outputs
   must not change, round by round, like the causality check of indicators.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import kernels
from .errors import StrategyError
from .game import Game, check_p_xy
from .solver import tsirelson_sdp, tsirelson_value
from .strategy import LocalRule, Strategy, is_builtin, as_bits

NS_TOL = 1e-9
QUANTUM_TOL = 1e-9
# asin has an infinite slope at +-1, so round-off of 1e-16 in a correlator near +-1 moves its angle by ~1e-8 rad
TLM_TOL = 1e-6
CHECK_ROUNDS = 20_000


class SignallingError(StrategyError):
    """A strategy could signal, or its resource is stronger than quantum mechanics allows."""


def check_table(name: str, table: np.ndarray) -> np.ndarray:
    """The declared ``P(o_A, o_B | s_A, s_B)`` as a float array, after checking it is a no-signalling table."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 4 or min(t.shape) < 1:
        raise SignallingError(f"strategy {name!r}: its resource's joint() must have shape (settings A, settings B, "
                              f"outcomes A, outcomes B), got {t.shape}")
    if not np.isfinite(t).all() or t.min() < -NS_TOL:
        raise SignallingError(f"strategy {name!r}: its resource's joint() holds negative or non-finite probabilities")
    sums = t.sum(axis=(2, 3))
    if np.abs(sums - 1).max() > NS_TOL:
        i, j = np.unravel_index(int(np.abs(sums - 1).argmax()), sums.shape)
        raise SignallingError(f"strategy {name!r}: its resource's outcome probabilities for settings ({i}, {j}) sum "
                              f"to {sums[i, j]:.12g}, not 1")
    for side, marg in (("A", t.sum(axis=3)), ("B", t.sum(axis=2).transpose(1, 0, 2))):
        spread = np.ptp(marg, axis=1).max(axis=-1)  # per own setting: how far the partner's setting moves it
        if spread.max() > NS_TOL:
            s = int(spread.argmax())
            raise SignallingError(
                f"strategy {name!r} signals: {side}'s outcome distribution at its setting {s} changes with the "
                f"partner's setting (by up to {spread[s]:.3g} in probability), so {side} would learn the partner's "
                "input; a resource without communication has marginals that ignore the partner's setting")
    return t


def tlm_excess(table: np.ndarray) -> tuple[float, tuple]:
    """Largest violation of the Tsirelson-Landau-Masanes inequalities over settings and +-1 readings of outcomes.

    Returns (excess over pi in radians, where) with excess <= 0 for correlations a shared quantum state can give.
    """
    n_a, n_b, k_a, k_b = table.shape
    ga = np.array(list(itertools.product((1.0, -1.0), repeat=k_a)))  # every +-1 reading of A's outcomes
    gb = np.array(list(itertools.product((1.0, -1.0), repeat=k_b)))
    corr = np.arcsin(np.clip(np.einsum("ik,stkl,jl->stij", ga, table, gb), -1.0, 1.0))  # [s_A, s_B, g_A, g_B]
    worst, where = -math.inf, None
    for a0, a1 in itertools.combinations_with_replacement(range(n_a), 2):
        for b0, b1 in itertools.combinations_with_replacement(range(n_b), 2):
            # axes: reading of a0, of a1, of b0, of b1
            e00 = corr[a0, b0][:, None, :, None]
            e01 = corr[a0, b1][:, None, None, :]
            e10 = corr[a1, b0][None, :, :, None]
            e11 = corr[a1, b1][None, :, None, :]
            total = e00 + e01 + e10 + e11
            for neg in (e00, e01, e10, e11):
                excess = float(np.abs(total - 2 * neg).max()) - math.pi
                if excess > worst:
                    worst, where = excess, ((a0, a1), (b0, b1))
    return worst, where


def _flow(strategy: Strategy, x, y, u: np.ndarray, first: str):
    """The play flow with the resource's declared table sampled by inverse CDF, party ``first``'s outcome drawn first."""
    sa, sb = strategy.rule_a.setting(x), strategy.rule_b.setting(y)
    n_a, n_b = int(sa.max(initial=0)) + 1, int(sb.max(initial=0)) + 1
    table = np.asarray(strategy.resource.joint(n_a, n_b), dtype=float)
    if first == "B":
        table, sa, sb = table.transpose(1, 0, 3, 2), sb, sa
    rows, cols, k_major, k_minor = table.shape
    cum = np.cumsum(table.reshape(rows * cols, k_major * k_minor), axis=1)
    cum[:, -1] = 1.0
    major, minor = kernels.sample_cells(cum, sa, sb, cols, k_minor, u)
    oa, ob = (major, minor) if first == "A" else (minor, major)
    return strategy.rule_a.output(x, oa), strategy.rule_b.output(y, ob)


def counterfactual_check(name: str, strategy: Strategy, x, y, rng: np.random.Generator) -> None:
    """Each party's outputs must not move when only the partner's inputs move (same uniforms)."""
    x = as_bits(x, "x", strategy.rule_a.levels)[:CHECK_ROUNDS]
    y = as_bits(y, "y", strategy.rule_b.levels)[:CHECK_ROUNDS]
    if x.size < 2:
        return
    perm, u = rng.permutation(x.size), rng.random(x.size)
    for side, moved in (("A", (x, y[perm])), ("B", (x[perm], y))):
        i = 0 if side == "A" else 1
        before = _flow(strategy, x, y, u, side)[i]
        after = _flow(strategy, *moved, u, side)[i]
        changed = np.flatnonzero(before != after)
        if changed.size:
            partner = "B" if side == "A" else "A"
            raise SignallingError(
                f"strategy {name!r} signals: permuting only {partner}'s inputs changed {side}'s outputs in "
                f"{changed.size} of {x.size} rounds (first at round {int(changed[0])}), with the same randomness; "
                f"{side}'s rule must depend on {side}'s own inputs and outcomes only (do the two rules share an "
                "object or a global?)")


def _game_bound(game: Game, p) -> float | None:
    """The game's Tsirelson bound: closed form for 2x2, the SDP for K x K (None without cvxpy)."""
    if game.levels == (2, 2):
        return tsirelson_value(game, p)
    try:
        return tsirelson_sdp(game, p)
    except StrategyError:  # cvxpy is an optional extra; the resource's TLM check still ran
        return None


def certify(name: str, strategy: Strategy, game: Game | None = None, p_xy=None, x=None, y=None,
            rng: np.random.Generator | None = None) -> None:
    """Refuse (``SignallingError``) a strategy that could signal or exceeds quantum correlations; see the module."""
    if not isinstance(strategy, Strategy):
        raise StrategyError(f"strategy {name!r} must be a qcoord.Strategy, got {type(strategy).__name__}")
    if type(strategy).play is not Strategy.play:
        raise SignallingError(f"strategy {name!r} replaces Strategy.play; strategies play through the engine's flow")
    tables = [isinstance(r, LocalRule) and type(r).setting is LocalRule.setting and type(r).output is LocalRule.output
              for r in (strategy.rule_a, strategy.rule_b)]
    if x is not None and y is not None:
        n_a = int(strategy.rule_a.setting(as_bits(x, "x", strategy.rule_a.levels)).max(initial=0)) + 1
        n_b = int(strategy.rule_b.setting(as_bits(y, "y", strategy.rule_b.levels)).max(initial=0)) + 1
    else:
        n_a, n_b = max(strategy.rule_a.settings) + 1, max(strategy.rule_b.settings) + 1
    table = check_table(name, strategy.resource.joint(n_a, n_b))
    if is_builtin(type(strategy.resource)) and all(tables):
        return  # this package's resources are quantum (or classical) by construction, and table rules hold no state
    excess, where = tlm_excess(table)
    if excess > TLM_TOL:
        raise SignallingError(
            f"strategy {name!r}: its resource's correlations at settings A {where[0]}, B {where[1]} exceed what any "
            f"shared quantum state allows (Tsirelson-Landau-Masanes bound broken by {excess:.3g} rad); a "
            "no-signalling box beyond quantum mechanics (such as a PR box) is not a resource two servers can hold")
    if game is not None and p_xy is not None and all(tables) and game.levels == strategy.levels:
        p = check_p_xy(p_xy, game.levels)
        bound = _game_bound(game, p)
        value = strategy.value(game, p)
        if bound is not None and value > bound + QUANTUM_TOL * max(1.0, float(np.abs(game.table).max())):
            raise SignallingError(f"strategy {name!r} reaches {value:.6g} in the game played, above its quantum "
                                  f"(Tsirelson) bound {bound:.6g}")
    if x is not None and y is not None:
        counterfactual_check(name, strategy, x, y, rng if rng is not None else np.random.default_rng(0))
