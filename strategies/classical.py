"""Classical strategies and the classical optimum for any input distribution.

Why deterministic rules suffice: a strategy with shared randomness is a mixture, over the shared
random value, of deterministic pairs of local rules (local randomness too can be moved into the shared
value). Expected utility is linear in the mixture weights, so no mixture beats its best component:
the optimum over all classical strategies is attained by one of the 4 x 4 deterministic rule pairs,
which ``classical_optimum`` searches exhaustively.
"""

from __future__ import annotations

import itertools

import numpy as np

from .game import Game, check_p_xy
from .strategy import LocalRandomness, LocalRule, Strategy

# The four deterministic local rules f: input bit -> output bit, as (f(0), f(1)).
RULES = ((0, 0), (0, 1), (1, 0), (1, 1))
RULE_NAMES = {(0, 0): "always 0 (ask first)", (0, 1): "follow input", (1, 0): "flip input", (1, 1): "always 1 (bid first)"}


def deterministic_value(game: Game, p_xy, f_a: tuple[int, int], f_b: tuple[int, int]) -> float:
    """Expected utility of the deterministic pair a = f_a(x), b = f_b(y)."""
    p = check_p_xy(p_xy)
    u = game.table
    return float(sum(p[x, y] * u[x, y, f_a[x] ^ f_b[y]] for x in (0, 1) for y in (0, 1)))


def classical_optimum(game: Game, p_xy) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """(value, f_a, f_b): the best deterministic rule pair (ties: first in RULES order)."""
    best = max(
        ((deterministic_value(game, p_xy, fa, fb), -i, fa, fb) for i, (fa, fb) in enumerate(itertools.product(RULES, RULES))),
        key=lambda t: (round(t[0], 12), t[1]),
    )
    return best[0], best[2], best[3]


CONSTANT_RULES = (((0, 0), (1, 1)), ((0, 0), (0, 0)))  # opposite biases (A ask, B bid first); equal biases


def best_constant(game: Game, p_xy) -> tuple[float, tuple[tuple[int, int], tuple[int, int]]]:
    """(value, (f_a, f_b)) of the better constant relation, whatever the inputs: opposite biases or equal ones."""
    values = [deterministic_value(game, p_xy, fa, fb) for fa, fb in CONSTANT_RULES]
    i = int(np.argmax(np.round(values, 12)))
    return values[i], CONSTANT_RULES[i]


def deterministic(f_a: tuple[int, int], f_b: tuple[int, int], name: str = "classical") -> Strategy:
    """Server A outputs f_a[x], server B outputs f_b[y]."""
    return Strategy(name, LocalRule.constant(f_a), LocalRule.constant(f_b))


def uncoordinated(name: str = "uncoordinated") -> Strategy:
    """Each server flips its own fair coin for the order of its quotes (nothing shared)."""
    coin = LocalRule(outputs=((0, 1), (0, 1)))
    return Strategy(name, coin, coin, LocalRandomness())


def always_hedge_positive(name: str = "always_hedge") -> Strategy:
    """Assume positive correlation always: A asks first, B bids first (opposite biases)."""
    return deterministic((0, 0), (1, 1), name)


def follow_indicator(name: str = "follow_indicator") -> Strategy:
    """Each server leaves the positive-correlation hedge (A ask first, B bid first) when its own indicator
    fires, not knowing whether the other's fired too: a = x, b = NOT y."""
    return deterministic((0, 1), (1, 0), name)


def classical_rule_dict(f_a: tuple[int, int], f_b: tuple[int, int]) -> dict:
    return {"A": list(f_a), "B": list(f_b), "A_name": RULE_NAMES[tuple(f_a)], "B_name": RULE_NAMES[tuple(f_b)]}
