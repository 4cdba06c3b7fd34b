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
RULE_NAMES = {
    (0, 0): "always 0 (ask first)",
    (0, 1): "follow input",
    (1, 0): "flip input",
    (1, 1): "always 1 (bid first)",
}


def deterministic_value(game: Game, p_xy, f_a: tuple[int, ...], f_b: tuple[int, ...]) -> float:
    """Expected utility of the deterministic pair a = f_a(x), b = f_b(y)."""
    p = check_p_xy(p_xy, game.levels)
    u = game.table
    ka, kb = game.levels
    return float(sum(p[x, y] * u[x, y, f_a[x] ^ f_b[y]] for x in range(ka) for y in range(kb)))


def rule_tables(levels: int) -> np.ndarray:
    """Every deterministic local rule on ``levels`` inputs, (2^levels, levels) bits, in itertools.product order."""
    return np.array(list(itertools.product((0, 1), repeat=levels)), dtype=np.uint8)


def classical_optimum(game: Game, p_xy) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """(value, f_a, f_b): the best deterministic rule pair, exhaustive over all 2^K_A x 2^K_B pairs (ties: first
    in product order of ``rule_tables``). In correlator form U = k + alpha^T c beta with alpha, beta the +-1
    outputs per input, all pairs at once is one matrix product (65536 pairs at K = 8)."""
    p = check_p_xy(p_xy, game.levels)
    c, k = game.correlator_weights(p)
    ra, rb = rule_tables(game.levels[0]), rule_tables(game.levels[1])
    values = k + (1.0 - 2.0 * ra) @ c @ (1.0 - 2.0 * rb).T
    i, j = np.unravel_index(int(np.argmax(np.round(values, 12))), values.shape)
    f_a, f_b = tuple(int(v) for v in ra[i]), tuple(int(v) for v in rb[j])
    return deterministic_value(game, p, f_a, f_b), f_a, f_b


def constant_rules(levels: tuple[int, int] = (2, 2)) -> tuple:
    """Opposite biases (A ask, B bid first whatever the inputs), then equal biases (both ask first)."""
    ka, kb = levels
    return (((0,) * ka, (1,) * kb), ((0,) * ka, (0,) * kb))


def best_constant(game: Game, p_xy) -> tuple[float, tuple[tuple[int, ...], tuple[int, ...]]]:
    """(value, (f_a, f_b)) of the better constant relation, whatever the inputs: opposite biases or equal ones."""
    rules = constant_rules(game.levels)
    values = [deterministic_value(game, p_xy, fa, fb) for fa, fb in rules]
    i = int(np.argmax(np.round(values, 12)))
    return values[i], rules[i]


def deterministic(f_a: tuple[int, ...], f_b: tuple[int, ...], name: str = "classical") -> Strategy:
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


def rule_name(f: tuple[int, ...]) -> str:
    """A readable name of a deterministic rule (its table for inputs with more than two levels)."""
    f = tuple(int(v) for v in f)
    if f in RULE_NAMES:
        return RULE_NAMES[f]
    if len(set(f)) == 1:
        return RULE_NAMES[(f[0], f[0])]
    return "level -> " + "".join(map(str, f))


def classical_rule_dict(f_a: tuple[int, ...], f_b: tuple[int, ...]) -> dict:
    return {"A": list(f_a), "B": list(f_b), "A_name": rule_name(f_a), "B_name": rule_name(f_b)}
