"""How long a stored Bell pair stays worth playing: the age past which a fixed quantum strategy's pair, decayed by its
memory (T1, T2), no longer beats the classical rule it falls back on.

A pair's age is known at both nodes (each saw the same herald), so "discard pairs older than the lifetime" is a rule
each server applies alone, without talking: the standard memory cutoff of repeater protocols.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .game import Game
from .quantum import EntangledPair
from .strategy import Strategy


def value_at_age(strategy: Strategy, game: Game, p_xy, age: float) -> float:
    """Exact expected utility of ``strategy`` on ``game`` at ``p_xy`` when its pair was stored ``age`` seconds (its
    resource's own noise otherwise); a strategy without a pair does not depend on age."""
    if not strategy.quantum:
        return strategy.value(game, p_xy)
    res = strategy.resource
    assert isinstance(res, EntangledPair)  # the only resource of kind "entangled_pair"
    return replace(strategy, resource=replace(res, noise=replace(res.noise, storage_time=float(age)))).value(game, p_xy)


def useful_lifetime(
    strategy: Strategy, game: Game, p_xy, classical_value: float, youngest: float = 0.0, tol: float = 1e-12
) -> float:
    """The first age (seconds, >= ``youngest``) at which the strategy's pair no longer beats ``classical_value``:
    past it, playing the pair loses to the classical rule. ``youngest`` when even the youngest pair does not beat it
    (or the strategy uses no pair);
    inf when the pair still pays 60 memory lifetimes on (its state decayed to e^-60 of its start), or the memory does
    not decay. Found by scanning ages on a geometric grid for the first that does not pay, then bisection to ``tol``
    relative (the first crossing the grid sees, so a value that rises again with age, as amplitude damping can make
    it, does not hide an earlier loss; a dip narrower than one grid step could go unseen)."""
    if not strategy.quantum:
        return youngest
    assert isinstance(strategy.resource, EntangledPair)  # the only resource of kind "entangled_pair"
    noise = strategy.resource.noise
    assert noise.t2 is not None  # Noise.__post_init__ resolves an unset T2 (2 T1)
    finite = [t for t in (noise.t1, noise.t2) if math.isfinite(t)]
    if not any(noise.stores) or not finite:
        return math.inf

    def pays(t: float) -> bool:
        return value_at_age(strategy, game, p_xy, t) > classical_value

    if not pays(youngest):
        return youngest
    start = max(youngest, min(finite) * 1e-6)
    grid = np.geomspace(start, max(2.0 * start, 60.0 * max(finite)), 160)  # steps of about 1.12x when T1 ~ T2
    lo = youngest
    for t in grid:
        if not pays(float(t)):
            hi = float(t)
            break
        lo = float(t)
    else:
        return math.inf
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if pays(mid) else (lo, mid)
    return hi
