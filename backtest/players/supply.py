"""Bell-pair supply: pairs arrive as a Poisson process into a small quantum memory; rounds use a stored pair
(the freshest, or the oldest still usable) or fall back to the classical strategy.

Rounds happen at their times on the run's clock (``feed.clock``: the data's timestamps or a synthetic source's
step; round i at i / ``decision_rate`` when the supply is used on its own). A round with a pair
uses the freshest one (``memory_policy`` "freshest") or the oldest one not past ``max_age`` ("fifo"); its age
(seconds since it arrived) is its storage time, which drives the storage decoherence of the noise model (T1, T2).
A full memory of ``memory_slots`` drops its oldest pair when a new one arrives; pairs older than ``max_age`` are
discarded. Only the latest ``memory_slots`` arrivals between two rounds can still be in the memory at the second, so
those are all that is drawn (the top order statistics of the gap's Poisson count): a day between two decisions at
thousands of pairs a second costs no more than a microsecond.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from ..._jit import njit

from ..errors import BacktestError
from ..options import option


MAX_SLOTS = 10**6  # pairs a memory can hold: far beyond any device, and the buffer is allocated
POLICIES = ("freshest", "fifo")


@dataclass(frozen=True)
class BellPairSupply:
    """``pair_rate`` (pairs per second), ``decision_rate`` (rounds per second), ``memory_slots``, ``max_age`` (s),
    ``herald_delay`` (s): a pair's age when it becomes usable (a herald's delay; ``strategies.Link`` derives it)."""

    pair_rate: float = option(
        help="Bell pairs generated per second (set with --decision-rate to limit the supply; "
        "unset: a fresh pair every round)",
        unit="Hz",
        lo=0,
        open_lo=True,
        finite=True,
    )
    decision_rate: float | None = option(
        help="decisions per second: declares a synthetic source's step (unset: the "
        "data's own clock; real data always decides at its timestamps)",
        unit="Hz",
        lo=0,
        open_lo=True,
        finite=True,
    )
    memory_slots: int = option(1, help="pairs the quantum memory holds", lo=1, hi=MAX_SLOTS)
    max_age: float = option(math.inf, help="discard stored pairs older than this", unit="s", lo=0, open_lo=True)
    herald_delay: float = option(
        0.0,
        help="seconds from a pair's creation until it can be used (its herald's delay), added to every pair's age",
        unit="s",
        lo=0,
        finite=True,
    )
    memory_policy: str = option(
        "freshest",
        help="which stored pair a round uses: freshest (the youngest) or fifo (the oldest not older than max_age)",
        choices=POLICIES,
    )

    def __post_init__(self) -> None:
        for name in ("pair_rate", "decision_rate"):
            v = getattr(self, name)
            if name == "decision_rate" and v is None:
                continue
            if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
                raise BacktestError(f"Bell-pair supply: {name} must be a positive number per second, got {v!r}")
        if not isinstance(self.memory_slots, (int, np.integer)) or not 1 <= self.memory_slots <= MAX_SLOTS:
            raise BacktestError(
                f"Bell-pair supply: memory_slots must be a whole number in 1..{MAX_SLOTS:.0e} (no "
                f"quantum memory holds more pairs), got {self.memory_slots!r}"
            )
        if not (math.isfinite(self.herald_delay) and self.herald_delay >= 0):
            raise BacktestError(
                f"Bell-pair supply: herald_delay must be non-negative seconds, got {self.herald_delay!r}"
            )
        if not (self.max_age > 0):
            raise BacktestError(f"Bell-pair supply: max_age must be positive seconds, got {self.max_age!r}")
        if self.memory_policy not in POLICIES:
            raise BacktestError(
                f"Bell-pair supply: memory_policy must be one of {', '.join(POLICIES)}, got {self.memory_policy!r}"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        if math.isinf(d["max_age"]):
            d["max_age"] = "inf"
        return d


def link_supply(link) -> BellPairSupply:
    """The Bell-pair supply of a ``strategies.Link``: its delivered rate (decisions on the run's clock), its memory
    slots and policy, and its herald's delay as every pair's youngest age."""
    return BellPairSupply(
        pair_rate=link.delivered_pair_rate,
        decision_rate=None,
        memory_slots=link.link_memory_slots,
        herald_delay=link.herald_delay,
        memory_policy=link.link_memory_policy,
    )


class SupplyState:
    """The memory's contents between chunks of rounds."""

    def __init__(self, supply: BellPairSupply):
        self.supply = supply
        self.buffer = np.zeros(supply.memory_slots)
        self.count = 0

    def schedule(
        self, first_round: int, n: int, rng: np.random.Generator, seconds_at=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(has_pair, age seconds) for rounds first_round .. first_round + n - 1. ``seconds_at``: rows -> their
        decision times in seconds (the run's clock, ``feed.seconds_at``); without it round i is at i /
        ``decision_rate``."""
        s = self.supply
        if seconds_at is not None:
            t = seconds_at(np.arange(first_round - 1, first_round + n))
        elif s.decision_rate is not None:
            t = np.arange(first_round - 1, first_round + n) / s.decision_rate
        else:
            raise BacktestError("internal: a Bell-pair supply without a decision rate needs the run's clock")
        times, gaps = t[1:], np.diff(t)
        k = rng.poisson(s.pair_rate * gaps)  # arrivals between each round and the one before it
        m = np.minimum(k, s.memory_slots)  # the latest of them are all the memory can still hold
        arrivals = latest_arrivals(times, gaps, k, m, rng.random(int(m.sum())))
        has, age, self.count = pair_buffer(
            times, arrivals, s.memory_slots, s.max_age, self.buffer, self.count, s.memory_policy == "fifo"
        )
        if s.herald_delay:  # a pair usable at arrival was created one herald delay earlier
            age[has] += s.herald_delay
        return has, age


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).


@njit(cache=True, nogil=True)
def latest_arrivals(times, gaps, counts, keep, uniforms):  # pragma: no cover - compiled
    """Arrival times, ascending, of the latest ``keep[i]`` of ``counts[i]`` Poisson arrivals in the gap of
    ``gaps[i]`` seconds before ``times[i]``. Given their count, arrivals are uniform in the gap; the largest of k
    uniforms is V^(1/k), and each next one down is the last times W^(1/(k - j)) (Renyi), so the j-th latest lies
    ``gap x (1 - x_j)`` before the round, with 1 - x_j = -expm1(sum of log(V)/(k - j)) kept exact for tiny gaps
    between arrivals. Consumes ``keep.sum()`` uniforms."""
    out = np.empty(uniforms.size)
    pos = 0
    for i in range(times.size):
        m = keep[i]
        log_x = 0.0
        for j in range(m):  # the j-th latest goes to out[pos + m - 1 - j]
            log_x += math.log(1.0 - uniforms[pos + j]) / (counts[i] - j)  # 1 - u in (0, 1]: log is finite
            out[pos + m - 1 - j] = times[i] - gaps[i] * -math.expm1(log_x)
        pos += m
    return out


@njit(cache=True, nogil=True)
def pair_buffer(round_times, arrivals, slots, max_age, buffer, count, fifo):  # pragma: no cover - compiled
    """Bell pairs arriving at ``arrivals`` (sorted, seconds) into a memory of ``slots``; each round at
    ``round_times`` uses the freshest stored pair not older than ``max_age`` (``fifo`` False), or the oldest one not
    older than that (``fifo`` True: older ones are discarded first), or none.

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
        if fifo:
            drop = 0
            while drop < count and t - buffer[drop] > max_age:
                drop += 1
            if drop < count:
                has[i] = True
                age[i] = t - buffer[drop]
                drop += 1
            if drop:
                for k in range(count - drop):
                    buffer[k] = buffer[k + drop]
                count -= drop
        elif count > 0:
            a = t - buffer[count - 1]
            if a <= max_age:
                has[i] = True
                age[i] = a
                count -= 1
            else:
                count = 0  # the freshest is too old, so are all the others
    return has, age, count
