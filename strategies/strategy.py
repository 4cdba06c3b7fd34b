"""Strategies that cannot signal: two local rules and a shared resource.

A ``Strategy`` plays rounds as arrays through one flow, ``play_rounds``, which the engine calls: server
A's rule is called with A's inputs only and chooses a *setting*; B's likewise. The ``Resource`` sees the
two settings (never the inputs) and answers each side with an outcome; each rule maps (own input, own
outcome) to its output. ``Strategy.play`` is that flow and cannot be overridden (a subclass that tries
is refused when it is defined), and a resource outside this package cannot bring its own sampler: it
declares its joint behaviour ``P(o_A, o_B | s_A, s_B)`` and the flow samples that table. What the flow
cannot see by construction (rules sharing state, a declared table that signals or exceeds quantum
correlations) ``strategies.nosignal.certify`` checks before a backtest plays.

Resources: ``NoResource`` (deterministic rules), ``SharedRandomness`` (a common fair bit),
``LocalRandomness`` (an independent fair bit each) and, in ``strategies.quantum``, ``EntangledPair``.
Every resource has a joint outcome table ``P(o_A, o_B | s_A, s_B)``; the default sampler draws from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from .errors import StrategyError
from . import kernels
from .game import MAX_LEVELS, Game, check_p_xy
from .trust import OWN_SAMPLER, engine_owned, is_engine_owned

BITS = np.uint8


def as_bits(x: np.ndarray, name: str, levels: int = 2) -> np.ndarray:
    """Validate an array of rounds' inputs in 0..levels-1 (bits by default; any integer or bool dtype) and
    return it as uint8."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise StrategyError(f"{name} must be a 1-D array of rounds, got shape {x.shape}")
    # uint8 inputs are checked too: a table rule indexes its rows with them (a compiled lookup, no bounds check)
    if x.size and (x.max() > levels - 1 or (x.dtype != BITS and x.min() < 0)):
        what = "bits 0/1" if levels == 2 else f"levels 0..{levels - 1}"
        raise StrategyError(f"{name} must hold {what}, got values in [{x.min()}, {x.max()}]")
    return x.astype(BITS, copy=False)


# -- sampling -----------------------------------------------------------------------------------
def sample_table(table: np.ndarray, setting_a: np.ndarray, setting_b: np.ndarray, rng: np.random.Generator):
    """Draw (o_A, o_B) per round from ``table[s_A, s_B, o_A, o_B]`` by inverse CDF, one uniform per round."""
    n_a, n_b, k_a, k_b = table.shape
    cum = np.cumsum(table.reshape(n_a * n_b, k_a * k_b), axis=1)
    cum[:, -1] = 1.0  # guard against round-off leaving a gap below 1
    return kernels.sample_cells(cum, setting_a, setting_b, n_b, k_b, rng.random(setting_a.size))


# -- resources ----------------------------------------------------------------------------------
class Resource(ABC):
    """What the two servers share. Sees settings, never inputs.

    A user's resource declares ``joint`` only: certification reads that table once, checks and freezes it, and
    the engine samples the frozen copy (``strategies.trust``). Overriding ``sample`` is refused when the class is
    defined (and, should that be sidestepped, never called).
    """

    n_outcomes: int = 1
    kind: str = "none"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "sample" in cls.__dict__ and cls.__dict__.get("_own_sampler") is not OWN_SAMPLER:
            raise StrategyError(
                f"resource {cls.__name__} overrides Resource.sample: a custom resource declares its joint behaviour "
                "P(o_A, o_B | s_A, s_B) in joint(), which is checked for no-signalling and against the quantum bound, "
                "and the engine samples that table; it cannot bring its own sampler"
            )

    @abstractmethod
    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        """P(o_A, o_B | s_A, s_B), shape (n_settings_a, n_settings_b, n_outcomes, n_outcomes)."""

    def sample(self, setting_a: np.ndarray, setting_b: np.ndarray, rng: np.random.Generator, ages=None):
        """Outcomes per round (uint8 arrays) for the given settings."""
        n_a = int(setting_a.max(initial=0)) + 1
        n_b = int(setting_b.max(initial=0)) + 1
        return sample_table(self.joint(n_a, n_b), setting_a, setting_b, rng)

    def describe(self) -> dict:
        return {"kind": self.kind}


@engine_owned
class NoResource(Resource):
    """Nothing shared: deterministic local rules. Outcome always 0."""

    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        return np.ones((n_settings_a, n_settings_b, 1, 1))

    _own_sampler = OWN_SAMPLER

    def sample(self, setting_a, setting_b, rng, ages=None):
        zeros = np.zeros(setting_a.size, dtype=BITS)
        return zeros, zeros


@engine_owned
class SharedRandomness(Resource):
    """A fair random bit that both servers receive (the same bit)."""

    n_outcomes = 2
    kind = "shared_randomness"

    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        return np.broadcast_to(np.diag([0.5, 0.5]), (n_settings_a, n_settings_b, 2, 2)).copy()


@engine_owned
class LocalRandomness(Resource):
    """An independent fair coin for each server (nothing shared)."""

    n_outcomes = 2
    kind = "local_randomness"

    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        return np.full((n_settings_a, n_settings_b, 2, 2), 0.25)


# -- local rules and strategies -------------------------------------------------------------------
@engine_owned
@dataclass(frozen=True)
class LocalRule:
    """One server's rule, given only its own input x per round (a bit, or a level 0..K-1).

    ``settings[x]``: the resource setting it uses on input x (for an entangled pair: which direction).
    ``outputs[x][o]``: its output (0 = ask first, 1 = bid first) on input x and resource outcome o.
    One row per input level (2 to ``MAX_LEVELS``). Subclass and override ``setting``/``output`` for rules that
    are not tables; they still receive only the server's own arrays.
    """

    outputs: tuple[tuple[int, ...], ...]
    settings: tuple[int, ...] | None = None  # default: setting 0 on every input

    def __post_init__(self) -> None:
        outs = tuple(tuple(int(v) for v in row) for row in self.outputs)
        if (
            not 2 <= len(outs) <= MAX_LEVELS
            or len({len(r) for r in outs}) != 1
            or any(v not in (0, 1) for row in outs for v in row)
        ):
            raise StrategyError(
                f"outputs must be 2 to {MAX_LEVELS} equal rows of bits (one per input level), got {self.outputs!r}"
            )
        object.__setattr__(self, "outputs", outs)
        sets = tuple(int(s) for s in (self.settings if self.settings is not None else (0,) * len(outs)))
        if len(sets) != len(outs) or min(sets) < 0:
            raise StrategyError(
                f"settings must be {len(outs)} non-negative indices (one per input level), got {self.settings!r}"
            )
        object.__setattr__(self, "settings", sets)

    @property
    def levels(self) -> int:
        """Input levels the rule reads (2 for a bit)."""
        return len(self.outputs)

    @classmethod
    def constant(cls, f: tuple[int, ...], n_outcomes: int = 1) -> LocalRule:
        """Output f[x] whatever the resource says."""
        return cls(outputs=tuple((int(v),) * n_outcomes for v in f))

    def setting(self, x: np.ndarray) -> np.ndarray:
        return kernels.lookup(np.asarray(self.settings, dtype=BITS), x)

    def output(self, x: np.ndarray, outcome: np.ndarray) -> np.ndarray:
        table = np.asarray(self.outputs, dtype=BITS)
        return kernels.lookup2(table.ravel(), x, outcome, table.shape[1])

    def output_probabilities(self, n_outcomes: int) -> np.ndarray:
        """P(output = 1 | x, outcome), shape (levels, n_outcomes), for exact values."""
        out = np.asarray(self.outputs, dtype=float)
        if out.shape[1] < n_outcomes:
            raise StrategyError(f"rule has outputs for {out.shape[1]} outcomes, resource gives {n_outcomes}")
        return out[:, :n_outcomes]


@dataclass(frozen=True)
class Strategy:
    """Two local rules and a shared resource; ``play`` runs rounds as arrays."""

    name: str
    rule_a: LocalRule
    rule_b: LocalRule
    resource: Resource = field(default_factory=NoResource)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "play" in cls.__dict__:
            raise StrategyError(
                f"strategy class {cls.__name__} overrides Strategy.play: the engine runs every strategy through one "
                "flow (each server's rule sees its own inputs only, the resource sees settings only), so that no "
                "strategy can signal; change the local rules or the resource instead"
            )

    @property
    def quantum(self) -> bool:
        return self.resource.kind == "entangled_pair"

    def play(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, ages=None) -> tuple[np.ndarray, np.ndarray]:
        """Outputs (a, b) per round for inputs (x, y); ``ages`` (seconds) per round for a stored pair."""
        return play_rounds(self, x, y, rng, ages)

    @property
    def levels(self) -> tuple[int, int]:
        """(K_A, K_B): input levels the two rules read."""
        return self.rule_a.levels, self.rule_b.levels

    def behaviour(self) -> np.ndarray:
        """Exact P(a, b | x, y), shape (K_A, K_B, 2, 2) indexed [x, y, a, b]."""
        sa, sb = self.rule_a.settings, self.rule_b.settings
        assert sa is not None and sb is not None  # LocalRule.__post_init__ fills unset settings
        table = self.resource.joint(max(sa) + 1, max(sb) + 1)
        k = table.shape[-1]
        fa, fb = self.rule_a.output_probabilities(k), self.rule_b.output_probabilities(k)
        out = np.zeros((*self.levels, 2, 2))
        for x in range(self.levels[0]):
            for y in range(self.levels[1]):
                p = table[sa[x], sb[y]]
                pa1 = fa[x][:, None] * np.ones((1, k))
                pb1 = np.ones((k, 1)) * fb[y][None, :]
                for a in (0, 1):
                    for b in (0, 1):
                        wa = pa1 if a else 1 - pa1
                        wb = pb1 if b else 1 - pb1
                        out[x, y, a, b] = float((p * wa * wb).sum())
        return out

    def value(self, game: Game, p_xy) -> float:
        """Exact expected utility under the input distribution ``p_xy``."""
        p = check_p_xy(p_xy, self.levels)
        beh = self.behaviour()
        u = game.table  # [x, y, o]
        same = beh[..., 0, 0] + beh[..., 1, 1]
        return float((p * (same * u[..., 0] + (1 - same) * u[..., 1])).sum())

    def describe(self) -> dict:
        assert self.rule_a.settings is not None and self.rule_b.settings is not None  # filled by __post_init__
        return {
            "name": self.name,
            "A": {"settings": list(self.rule_a.settings), "outputs": [list(r) for r in self.rule_a.outputs]},
            "B": {"settings": list(self.rule_b.settings), "outputs": [list(r) for r in self.rule_b.outputs]},
            "resource": self.resource.describe(),
        }


def sample_resource(resource: Resource, setting_a, setting_b, rng: np.random.Generator, ages=None):
    """Outcomes per round: an engine-owned resource's own sampler, or a user resource's declared table (the engine
    plays certified strategies, whose user resources are frozen tables: ``strategies.nosignal.certify``)."""
    if is_engine_owned(resource):
        return resource.sample(setting_a, setting_b, rng, ages=ages)
    return Resource.sample(resource, setting_a, setting_b, rng)


def play_rounds(strategy: Strategy, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, ages=None):
    """The one flow every strategy plays through: A's rule gets x only, B's rule y only, the resource the two
    settings only. Returns outputs (a, b) per round (uint8); ``ages`` (seconds) per round for a stored pair."""
    x, y = as_bits(x, "x", strategy.rule_a.levels), as_bits(y, "y", strategy.rule_b.levels)
    if x.shape != y.shape:
        raise StrategyError(f"x and y must have the same number of rounds, got {x.size} and {y.size}")
    sa = strategy.rule_a.setting(x)
    sb = strategy.rule_b.setting(y)
    oa, ob = sample_resource(strategy.resource, sa, sb, rng, ages)
    return strategy.rule_a.output(x, oa), strategy.rule_b.output(y, ob)
