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
from numba import njit

from ..errors import BacktestError
from ..options import option


MAX_SLOTS = 10**6  # pairs a memory can hold: far beyond any device, and the buffer is allocated


@dataclass(frozen=True)
class BellPairSupply:
    """``pair_rate`` (pairs per second), ``decision_rate`` (rounds per second), ``memory_slots``, ``max_age`` (s)."""

    pair_rate: float = option(help="Bell pairs generated per second (set with --decision-rate to limit the supply; "
                                   "unset: a fresh pair every round)", unit="Hz", lo=0, open_lo=True, finite=True)
    decision_rate: float = option(help="rounds (decisions) per second", unit="Hz", lo=0, open_lo=True, finite=True)
    memory_slots: int = option(1, help="pairs the quantum memory holds", lo=1, hi=MAX_SLOTS)
    max_age: float = option(math.inf, help="discard stored pairs older than this", unit="s", lo=0, open_lo=True)

    def __post_init__(self) -> None:
        for name in ("pair_rate", "decision_rate"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
                raise BacktestError(f"Bell-pair supply: {name} must be a positive number per second, got {v!r}")
        if not isinstance(self.memory_slots, (int, np.integer)) or not 1 <= self.memory_slots <= MAX_SLOTS:
            raise BacktestError(f"Bell-pair supply: memory_slots must be a whole number in 1..{MAX_SLOTS:.0e} (no "
                                f"quantum memory holds more pairs), got {self.memory_slots!r}")
        if not (self.max_age > 0):
            raise BacktestError(f"Bell-pair supply: max_age must be positive seconds, got {self.max_age!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        if math.isinf(d["max_age"]):
            d["max_age"] = "inf"
        return d


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
