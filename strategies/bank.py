"""A node's memory bank: M memory qubits that take entanglement attempts in turn, hold heralded pairs until a decision
uses them, and are reset; its analytic pair rate and a compiled Monte Carlo of it.

The analytic model is Li et al.'s (arXiv:2604.07451, Eqs. 46-48 and 52 as an independent implementation reads them;
the paper itself was not available here): every attempt keeps its qubit busy for the occupancy
tau_occ = tau_e + t_herald + tau_dec + tau_reset, the emitter starts at most one attempt every tau_e, so attempts run
at Gamma = min(1 / tau_e, M / tau_occ) and pairs at R = N_ch p Gamma. It assumes a heralded pair is used at once
(event-ready decisions).

The Monte Carlo plays the same bank event by event (``simulate``): one emitter, M qubits, each attempt succeeding
with probability p, and decisions at the market's rate that use a stored pair (the freshest or the oldest, FIFO),
so a pair that waits for its decision keeps its qubit busy that much longer (renewal-reward: attempts then run at
M / (tau_occ + p E[wait]) while the qubits, not the emitter, are the bottleneck). Pairs older than a cutoff are
dropped. Units: seconds, Hz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .errors import StrategyError

POLICIES = ("freshest", "fifo")
BATCHES = 40  # batch means for the rate's interval
T_975 = 2.0227  # Student t, 39 degrees of freedom, two-sided 95%


@dataclass(frozen=True)
class BankRun:
    """What ``MemoryBank.simulate`` counted over ``seconds`` after its warm-up. Rates per second; ``*_ci95``: batch
    means over 40 equal stretches, Student t with 39 degrees of freedom."""

    seconds: float
    attempts: int
    heralded: int
    decisions: int
    served: int
    discarded: int
    mean_wait: float  # seconds a used pair waited in its qubit after its herald
    mean_age: float  # seconds of age of the pairs used (herald delay included)
    pair_rate: float
    pair_rate_ci95: tuple[float, float]
    attempt_rate: float
    attempt_rate_ci95: tuple[float, float]

    @property
    def served_share(self) -> float:
        """The share of decisions that got a pair."""
        return self.served / self.decisions if self.decisions else math.nan

    def to_dict(self) -> dict:
        return {
            "seconds": self.seconds,
            "attempts": self.attempts,
            "heralded": self.heralded,
            "decisions": self.decisions,
            "served": self.served,
            "served_share": self.served_share,
            "discarded": self.discarded,
            "mean_wait_s": self.mean_wait,
            "mean_age_s": self.mean_age,
            "pair_rate_hz": self.pair_rate,
            "pair_rate_ci95": list(self.pair_rate_ci95),
            "attempt_rate_hz": self.attempt_rate,
            "attempt_rate_ci95": list(self.attempt_rate_ci95),
        }


@dataclass(frozen=True)
class MemoryBank:
    """``slots`` memory qubits fed by one emitter (``attempt_period`` s between attempts), each attempt succeeding with
    ``success``; ``herald_delay``, ``decision_latency``, ``reset_time`` in seconds; ``policy``: which stored pair a
    decision uses ("freshest" or "fifo"); ``channels``: independent banks in parallel (the rate multiplies)."""

    slots: int
    attempt_period: float
    herald_delay: float
    decision_latency: float
    reset_time: float
    success: float
    policy: str = "freshest"
    channels: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.slots, (int, np.integer)) or self.slots < 1:
            raise StrategyError(f"memory bank slots must be a whole number >= 1, got {self.slots!r}")
        for name in ("attempt_period", "herald_delay", "decision_latency", "reset_time"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0) or (name == "attempt_period" and v <= 0):
                raise StrategyError(
                    f"memory bank {name} must be finite, non-negative seconds (the attempt period positive), got {v!r}"
                )
        if not 0.0 <= self.success <= 1.0:
            raise StrategyError(f"memory bank success must be a probability, got {self.success!r}")
        if self.policy not in POLICIES:
            raise StrategyError(f"memory bank policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")

    @classmethod
    def of(cls, link) -> MemoryBank:
        """The bank of a ``strategies.Link``: its modes, attempt period, herald delay, decision latency, reset time,
        heralding probability, memory policy and channels."""
        return cls(
            link.multiplexing,
            link.attempt_period,
            link.herald_delay,
            link.decision_latency,
            link.reset_time,
            link.herald_probability,
            link.link_memory_policy,
            link.link_channels,
        )

    @property
    def occupancy(self) -> float:
        """Seconds one attempt keeps its qubit busy (used at once): tau_e + t_herald + tau_dec + tau_reset."""
        return self.attempt_period + self.herald_delay + self.decision_latency + self.reset_time

    @property
    def attempt_rate(self) -> float:
        """Attempts per second of one channel, analytic: min(1 / tau_e, M / tau_occ)."""
        return min(1.0 / self.attempt_period, self.slots / self.occupancy)

    @property
    def pair_rate(self) -> float:
        """Heralded pairs per second, analytic: N_ch p min(1 / tau_e, M / tau_occ)."""
        return self.channels * self.success * self.attempt_rate

    def channels_for(self, rate: float) -> float:
        """Channels needed for ``rate`` pairs per second: ceil(rate / (p Gamma)); inf when a channel makes none."""
        per = self.success * self.attempt_rate
        return 0 if not rate > 0 else (math.ceil(rate / per) if per > 0 else math.inf)

    def simulate(
        self,
        seconds: float,
        rng: np.random.Generator,
        decision_rate: float = math.inf,
        cutoff: float = math.inf,
        warmup: float | None = None,
    ) -> BankRun:
        """Play one channel of the bank for ``seconds`` (after ``warmup``, default three occupancies or decision
        periods, whichever is longer) and count. ``decision_rate`` inf: every heralded pair is used the moment it is
        heralded (the analytic model's assumption); finite: decisions at that rate use a stored pair by the policy,
        and a pair waits in its qubit until then. ``cutoff`` (s of age, herald delay included): a stored pair is
        dropped when it gets older. Draws come from ``rng`` (geometric gaps between successes, in blocks)."""
        if not (seconds > 0 and math.isfinite(seconds)):
            raise StrategyError(f"simulate needs a positive, finite number of seconds, got {seconds!r}")
        if not decision_rate > 0:
            raise StrategyError(f"decision_rate must be positive per second (inf: event-ready), got {decision_rate!r}")
        period = 0.0 if math.isinf(decision_rate) else 1.0 / decision_rate
        warm = 3.0 * max(self.occupancy, period) if warmup is None else float(warmup)
        m = int(self.slots)
        # state: the heap of qubits' free times, pending heralds (FIFO), stored pairs (by herald time), counters
        heap_t, heap_s = np.zeros(m), np.arange(m, dtype=np.int64)
        pend_t, pend_s = np.zeros(m), np.zeros(m, dtype=np.int64)
        store_t, store_s = np.zeros(m), np.zeros(m, dtype=np.int64)
        ints = np.zeros(8, dtype=np.int64)  # heap size, pend head, pend size, store head, store size, gap left, gap i
        ints[0] = m
        floats = np.zeros(4)  # emitter free, next decision, counters of waits and ages
        floats[1] = period if period else math.inf
        counts = np.zeros((6, BATCHES), dtype=np.int64)  # attempts, heralded, decisions, served, discarded, (spare)
        sums = np.zeros(2)  # waits, ages of used pairs
        end = warm + seconds
        block = max(1024, int(self.success * seconds / self.attempt_period * 1.1) // 8 + 1)
        p = self.success
        while True:
            gaps = rng.geometric(p, size=block).astype(np.int64) if p > 0 else np.full(block, 2**62, dtype=np.int64)
            done = _bank_run(
                heap_t,
                heap_s,
                pend_t,
                pend_s,
                store_t,
                store_s,
                ints,
                floats,
                counts,
                sums,
                gaps,
                self.attempt_period,
                self.herald_delay,
                self.decision_latency + self.reset_time,
                period,
                cutoff,
                int(self.policy == "fifo"),
                warm,
                end,
            )
            if done:
                break
        att, her, dec, srv, dis = (counts[i] for i in range(5))
        width = seconds / BATCHES

        def rate(c):
            per = c / width
            half = T_975 * per.std(ddof=1) / math.sqrt(BATCHES)
            return float(per.mean()), (float(per.mean() - half), float(per.mean() + half))

        pr, pr_ci = rate(her)
        ar, ar_ci = rate(att)
        served = int(srv.sum())
        return BankRun(
            seconds,
            int(att.sum()),
            int(her.sum()),
            int(dec.sum()),
            served,
            int(dis.sum()),
            sums[0] / served if served else math.nan,
            sums[1] / served if served else math.nan,
            pr,
            pr_ci,
            ar,
            ar_ci,
        )


@njit(cache=True, nogil=True)
def _push(heap_t, heap_s, size, t, s):  # pragma: no cover - compiled
    """Push (t, slot) on a binary min-heap of ``size`` entries; returns the new size."""
    i = size
    heap_t[i] = t
    heap_s[i] = s
    while i > 0:
        parent = (i - 1) // 2
        if heap_t[parent] <= heap_t[i]:
            break
        heap_t[parent], heap_t[i] = heap_t[i], heap_t[parent]
        heap_s[parent], heap_s[i] = heap_s[i], heap_s[parent]
        i = parent
    return size + 1


@njit(cache=True, nogil=True)
def _pop(heap_t, heap_s, size):  # pragma: no cover - compiled
    """Pop the earliest (t, slot); returns (t, slot, new size)."""
    t, s = heap_t[0], heap_s[0]
    size -= 1
    heap_t[0] = heap_t[size]
    heap_s[0] = heap_s[size]
    i = 0
    while True:
        left, small = 2 * i + 1, i
        if left < size and heap_t[left] < heap_t[small]:
            small = left
        if left + 1 < size and heap_t[left + 1] < heap_t[small]:
            small = left + 1
        if small == i:
            break
        heap_t[small], heap_t[i] = heap_t[i], heap_t[small]
        heap_s[small], heap_s[i] = heap_s[i], heap_s[small]
        i = small
    return t, s, size


@njit(cache=True, nogil=True)
def _bank_run(
    heap_t,
    heap_s,
    pend_t,
    pend_s,
    store_t,
    store_s,
    ints,
    floats,
    counts,
    sums,
    gaps,
    tau_e,
    t_h,
    tail,
    period,
    cutoff,
    fifo,
    warm,
    end,
):  # pragma: no cover - compiled
    """Advance the bank event by event until ``end`` (returns True) or until the geometric gaps run out (returns
    False; the state in the arrays carries on). ``tail``: decision + reset seconds after a pair is used or dropped;
    an attempt that fails keeps its qubit for the whole occupancy tau_e + t_h + tail."""
    m = heap_t.size
    nb = counts.shape[1]
    width = (end - warm) / nb
    size, ph, pn, sh, sn, left, gi = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6]
    emit, t_dec = floats[0], floats[1]
    occ = tau_e + t_h + tail
    inf = np.inf
    done = False
    while True:
        t_att = max(emit, heap_t[0]) if size > 0 else inf
        t_her = pend_t[ph] if pn > 0 else inf
        t_dis = store_t[sh] + cutoff - t_h if sn > 0 and cutoff < inf else inf
        t = min(t_att, t_her, t_dec, t_dis)
        if t >= end:
            done = True
            break
        b = min(int((t - warm) / width), nb - 1) if t >= warm else -1
        if t_her == t:  # a success is heralded: its pair enters the store (used at once without decisions)
            h, s = pend_t[ph], pend_s[ph]
            ph = (ph + 1) % m
            pn -= 1
            if b >= 0:
                counts[1, b] += 1
            if period == 0.0:
                if b >= 0:
                    counts[2, b] += 1
                    counts[3, b] += 1
                    sums[1] += t_h
                size = _push(heap_t, heap_s, size, h + tail, s)
            else:
                k = (sh + sn) % m
                store_t[k] = h
                store_s[k] = s
                sn += 1
        elif t_dec == t:  # a decision uses a stored pair, if any
            if b >= 0:
                counts[2, b] += 1
            if sn > 0:
                if fifo:
                    k = sh
                    sh = (sh + 1) % m
                else:
                    k = (sh + sn - 1) % m
                h, s = store_t[k], store_s[k]
                sn -= 1
                if b >= 0:
                    counts[3, b] += 1
                    sums[0] += t - h
                    sums[1] += t_h + (t - h)
                size = _push(heap_t, heap_s, size, t + tail, s)
            t_dec += period
        elif t_dis == t:  # the oldest stored pair passes the cutoff: dropped, its qubit reset
            s = store_s[sh]
            sh = (sh + 1) % m
            sn -= 1
            if b >= 0:
                counts[4, b] += 1
            size = _push(heap_t, heap_s, size, t + tail, s)
        else:  # an attempt on the qubit free the longest
            if left == 0:
                if gi >= gaps.size:
                    break
                left = gaps[gi]
                gi += 1
            ft, s, size = _pop(heap_t, heap_s, size)
            emit = t + tau_e
            if b >= 0:
                counts[0, b] += 1
            left -= 1
            if left == 0:  # this attempt succeeds: heralded after tau_e + t_h
                k = (ph + pn) % m
                pend_t[k] = t + tau_e + t_h
                pend_s[k] = s
                pn += 1
            else:
                size = _push(heap_t, heap_s, size, t + occ, s)
    # a run that stopped for want of gaps resumes on a fresh block, from its start
    ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6] = size, ph, pn, sh, sn, left, 0
    floats[0], floats[1] = emit, t_dec
    return done
