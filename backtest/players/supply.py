"""Bell-pair supply: pairs arrive as a Poisson process into a small quantum memory; rounds use the
freshest stored pair or fall back to the classical strategy.

Rounds happen at ``decision_rate`` per second (round i at time i / decision_rate). A round with a pair
uses the freshest one; its age (seconds since it arrived) is its storage time, which drives the storage
decoherence of the noise model (T1, T2). A full memory of ``memory_slots`` drops its oldest pair when a
new one arrives; pairs older than ``max_age`` are discarded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from ..._jit import njit

from ..errors import BacktestError
from ..options import option


MAX_SLOTS = 10**6  # pairs a memory can hold: far beyond any device, and the buffer is allocated


@dataclass(frozen=True)
class BellPairSupply:
    """``pair_rate`` (pairs per second), ``decision_rate`` (rounds per second), ``memory_slots``, ``max_age`` (s),
    ``herald_delay`` (s): a pair's age when it becomes usable (a herald's delay; ``strategies.Link`` derives it)."""

    pair_rate: float = option(help="Bell pairs generated per second (set with --decision-rate to limit the supply; "
                                   "unset: a fresh pair every round)", unit="Hz", lo=0, open_lo=True, finite=True)
    decision_rate: float = option(help="rounds (decisions) per second", unit="Hz", lo=0, open_lo=True, finite=True)
    memory_slots: int = option(1, help="pairs the quantum memory holds", lo=1, hi=MAX_SLOTS)
    max_age: float = option(math.inf, help="discard stored pairs older than this", unit="s", lo=0, open_lo=True)
    herald_delay: float = option(0.0, help="seconds from a pair's creation until it can be used (its herald's delay), "
                                    "added to every pair's age", unit="s", lo=0, finite=True)

    def __post_init__(self) -> None:
        for name in ("pair_rate", "decision_rate"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
                raise BacktestError(f"Bell-pair supply: {name} must be a positive number per second, got {v!r}")
        if not isinstance(self.memory_slots, (int, np.integer)) or not 1 <= self.memory_slots <= MAX_SLOTS:
            raise BacktestError(f"Bell-pair supply: memory_slots must be a whole number in 1..{MAX_SLOTS:.0e} (no "
                                f"quantum memory holds more pairs), got {self.memory_slots!r}")
        if not (math.isfinite(self.herald_delay) and self.herald_delay >= 0):
            raise BacktestError(f"Bell-pair supply: herald_delay must be non-negative seconds, got {self.herald_delay!r}")
        if not (self.max_age > 0):
            raise BacktestError(f"Bell-pair supply: max_age must be positive seconds, got {self.max_age!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        if math.isinf(d["max_age"]):
            d["max_age"] = "inf"
        return d


def link_supply(link) -> BellPairSupply:
    """The Bell-pair supply of a ``strategies.Link``: its delivered rate, the market's decision rate, its memory
    slots, and its herald's delay as every pair's youngest age."""
    return BellPairSupply(pair_rate=link.delivered_pair_rate, decision_rate=link.link_decision_rate,
                          memory_slots=link.link_memory_slots, herald_delay=link.herald_delay)


class SupplyState:
    """The memory's contents between chunks of rounds."""

    def __init__(self, supply: BellPairSupply):
        self.supply = supply
        self.buffer = np.zeros(supply.memory_slots)
        self.count = 0

    def schedule(self, first_round: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(has_pair, age seconds) for rounds first_round .. first_round + n - 1."""
        s = self.supply
        t0 = (first_round - 1) / s.decision_rate  # arrivals since the previous round
        t1 = (first_round + n - 1) / s.decision_rate
        k = rng.poisson(s.pair_rate * (t1 - t0))
        arrivals = np.sort(t0 + rng.random(k) * (t1 - t0))  # Poisson process: uniform order statistics
        times = (first_round + np.arange(n)) / s.decision_rate
        has, age, self.count = pair_buffer(times, arrivals, s.memory_slots, s.max_age, self.buffer, self.count)
        if s.herald_delay:  # a pair usable at arrival was created one herald delay earlier
            age[has] += s.herald_delay
        return has, age


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).

@njit(cache=True, nogil=True)
def pair_buffer(round_times, arrivals, slots, max_age, buffer, count):  # pragma: no cover - compiled
    """Bell pairs arriving at ``arrivals`` (sorted, seconds) into a memory of ``slots``; each round at
    ``round_times`` uses the freshest stored pair not older than ``max_age``, or none.

    ``buffer[:count]`` holds stored arrival times, oldest first (carried between chunks). A full memory
    drops its oldest pair for a new one. Returns (has_pair, age in seconds, count).
    """
    n = round_times.size
    has = np.zeros(n, dtype=np.bool_)
    age = np.zeros(n)
    j = 0
    for i in range(n):
        t = round_times[i]
        while j < arrivals.size and arrivals[j] <= t:
            if count == slots:
                for k in range(slots - 1):
                    buffer[k] = buffer[k + 1]
                count -= 1
            buffer[count] = arrivals[j]
            count += 1
            j += 1
        if count > 0:
            a = t - buffer[count - 1]
            if a <= max_age:
                has[i] = True
                age[i] = a
                count -= 1
            else:
                count = 0  # the freshest is too old, so are all the others
    return has, age, count
