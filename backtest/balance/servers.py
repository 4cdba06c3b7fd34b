"""Two FCFS servers, paired Poisson arrivals, exponential service and a preemptible background task: the compiled
simulator, and the closed forms it is checked against.

Customers arrive in pairs at the epochs of a Poisson process of rate ``lam`` (pairs a second); each customer's service
time is Exp(``mu``). Every pair's two customers are routed (server 0 or 1 each: ``serve`` takes the routing as
arrays); a server serves its queue first come, first served (a bunched pair in the order customer 1, customer 2).
Whenever a server has no customer it works on the background task, which a customer's arrival preempts; an
uninterrupted stretch of L seconds yields ``Background.output(L)`` units of background work. Throughput is that
output per second per server. The two customers of a pair arrive together; a server given both serves them in a
random order (a fair coin per pair), so that bunching a pair costs its second customer, on average, half the pair's
total service X_1 + X_2: the quantity the oracle's rule X_1 + X_2 <= t* weighs.

Closed forms (docs/balance.md derives them). Routing that does not look at the service times turns each server into
an M^X/M/1 queue: batches of N customers (N = 1 with the pair split, 2 with it bunched on this server) at Poisson
rate lam P(N >= 1). With rho = lam / mu per server, the workload V a batch finds has the Pollaczek-Khinchine mean
E[V] = lam_b E[S^2] / (2 (1 - rho)) (S the batch's total service), customer j of a batch waits V + (j - 1)
services, and idle stretches are Exp(lam_b) (the next batch's arrival is memoryless), lam_b (1 - rho) of them a
second. Always splitting makes each server an M/M/1 queue: P(W > t) = rho exp(-(mu - lam) t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import BacktestError
from ..options import option

BACKGROUNDS = ("power", "linear")
KIND = {"linear": 0, "power": 1}

# named slots of the simulator's state and running sums (arrays, so the compiled loop keeps them between chunks)
CLOCK, FREE0, FREE1 = 0, 1, 2  # seconds: the last pair's arrival, when each server runs out of customers
STATE_SLOTS = 3
CUSTOMERS, WAIT, WAIT2, LATE, BUNCHED, OUTPUT, TIME, STRETCHES = range(8)  # running sums over recorded pairs
SUM_SLOTS = 8
HIST_BINS = 1 << 16  # waiting-time histogram bins (the last one collects everything beyond)
HIST_SPAN = 64.0  # mean service times the histogram covers: its bins are 64 / 65535 ~ 0.001 of one


@dataclass(frozen=True)
class Background:
    """The background task's output from an uninterrupted stretch of L seconds: ``linear`` L (throughput is then the
    share of time without customers, whatever the routing), or ``power`` tau (L / tau)^gamma with gamma =
    ``exponent`` > 1 (strictly convex: long stretches are worth more than their length, as for a task that must warm
    caches or rebuild state after each preemption) and tau = ``scale`` seconds. Units: seconds of full-speed work."""

    kind: str = option(
        "power",
        help="the background task's output from an uninterrupted stretch L: power (tau "
        "(L/tau)^gamma, strictly convex for gamma > 1) or linear (L)",
        choices=BACKGROUNDS,
        flag="--background",
    )
    exponent: float = option(
        2.0, help="gamma of the power background output (1: linear)", lo=1, finite=True, flag="--background-exponent"
    )
    scale: float | None = option(
        None,
        help="tau of the power background output (unset: one mean service time 1/mu)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
        flag="--background-scale",
    )

    def __post_init__(self) -> None:
        if self.kind not in BACKGROUNDS:
            raise BacktestError(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.kind!r}")
        if not (isinstance(self.exponent, (int, float)) and math.isfinite(self.exponent) and self.exponent >= 1):
            raise BacktestError(f"background exponent must be a number >= 1, got {self.exponent!r}")
        if self.scale is not None and not (isinstance(self.scale, (int, float)) and 0 < self.scale < math.inf):
            raise BacktestError(f"background scale must be positive seconds, got {self.scale!r}")

    def tau(self, mu: float) -> float:
        return 1.0 / mu if self.scale is None else float(self.scale)

    def params(self, mu: float) -> tuple[int, float, float]:
        """(kind code, gamma, tau) for the compiled loop."""
        gamma = 1.0 if self.kind == "linear" else float(self.exponent)
        return KIND[self.kind], gamma, self.tau(mu)

    @property
    def strictly_convex(self) -> bool:
        return self.kind == "power" and self.exponent > 1

    def output(self, stretch, mu: float):
        _, gamma, tau = self.params(mu)
        return tau * (np.asarray(stretch, dtype=float) / tau) ** gamma

    def mean_output_exp(self, rate: float, mu: float) -> float:
        """E[output(I)] for an idle stretch I ~ Exp(rate): tau Gamma(gamma + 1) / (rate tau)^gamma."""
        _, gamma, tau = self.params(mu)
        return tau * math.gamma(gamma + 1.0) / (rate * tau) ** gamma

    def describe(self, mu: float) -> str:
        if self.kind == "linear":
            return "linear: a stretch of L seconds yields L (throughput = time without customers)"
        _, gamma, tau = self.params(mu)
        return f"power: a stretch of L seconds yields tau (L/tau)^{gamma:g}, tau = {tau:.4g} s (strictly convex)"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "exponent": self.exponent, "scale": self.scale}


def new_state() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state, sums, histogram) of an empty system at time 0."""
    return np.zeros(STATE_SLOTS), np.zeros(SUM_SLOTS), np.zeros(HIST_BINS, dtype=np.int64)


@njit(cache=True, nogil=True)
def serve(
    gaps,
    x1,
    x2,
    server1,
    server2,
    order,
    skip,
    qos,
    kind,
    gamma,
    tau,
    bin_width,
    block_pairs,
    first_pair,
    state,
    sums,
    hist,
    block_wait,
    block_output,
):  # pragma: no cover - compiled
    """Play one chunk of pairs through the two FCFS servers.

    ``gaps``: seconds since the previous pair; ``x1``, ``x2``: the two customers' service times; ``server1``,
    ``server2``: where each goes (0 or 1); ``order``: 1 where customer 2 reaches its server first (a bunched pair is
    served in that order: the two arrive together, and which one the server takes first is a fair coin, so neither
    router's customer is favoured). The first ``skip`` pairs (the warm-up) move the system but are not
    recorded. A customer waits ``max(0, free - t)``; a server idle since ``free`` is preempted at ``t`` after a
    stretch of ``t - free`` seconds, whose background output (``kind`` 0: L; 1: tau (L / tau)^gamma) is recorded
    when its end is. Recorded pair i (counted from ``first_pair``) adds its waits and outputs to block
    ``i // block_pairs`` of ``block_wait``/``block_output``."""
    t = state[CLOCK]
    inv_bin = 1.0 / bin_width
    top = hist.size - 1
    for i in range(gaps.size):
        t += gaps[i]
        rec = i >= skip
        blk = (first_pair + i - skip) // block_pairs
        for jj in range(2):
            j = jj ^ order[i]
            s = server1[i] if j == 0 else server2[i]
            x = x1[i] if j == 0 else x2[i]
            slot = FREE0 + s
            free = state[slot]
            if free < t:
                stretch = t - free
                out = stretch if kind == 0 else tau * (stretch / tau) ** gamma
                wait = 0.0
                state[slot] = t + x
                if rec:
                    sums[OUTPUT] += out
                    sums[STRETCHES] += 1.0
                    block_output[blk] += out
            else:
                wait = free - t
                state[slot] = free + x
            if rec:
                sums[CUSTOMERS] += 1.0
                sums[WAIT] += wait
                sums[WAIT2] += wait * wait
                if wait > qos:
                    sums[LATE] += 1.0
                b = int(wait * inv_bin)
                hist[b if b < top else top] += 1
                block_wait[blk] += wait
        if rec:
            sums[TIME] += gaps[i]
            if server1[i] == server2[i]:
                sums[BUNCHED] += 1.0
    state[CLOCK] = t


def quantile(hist: np.ndarray, bin_width: float, q: float) -> float:
    """The q-quantile of the recorded waits from their histogram (linear within a bin; the point mass at 0 kept)."""
    n = int(hist.sum())
    if n == 0:
        return math.nan
    cum = np.cumsum(hist)
    target = q * n
    b = int(np.searchsorted(cum, target, side="left"))
    if b == 0:
        # bin 0 holds the customers who did not wait (wait exactly 0) and those who waited under one bin
        return 0.0 if target <= hist[0] else bin_width
    below = cum[b - 1]
    return (b + (target - below) / max(hist[b], 1)) * bin_width


# -- closed forms ------------------------------------------------------------------------------------------------
def check_load(lam: float, mu: float) -> float:
    rho = lam / mu
    if not rho < 1:
        raise BacktestError(
            f"arrival rate {lam:g} pairs/s and service rate {mu:g}/s load each server at rho = "
            f"{rho:.3g} >= 1: the queues grow without bound"
        )
    return rho


def batch_closed_form(lam: float, mu: float, q_bunch: float, background: Background | None = None) -> dict:
    """Routing that bunches a pair with probability ``q_bunch`` whatever the service times (each server equally
    likely): each server is M^X/M/1 with batches N = 2 (probability q/2 a pair), 1 (1 - q) or 0 (q/2). Mean wait,
    mean batch workload, share of customers that wait at all, and the background throughput per server."""
    rho = check_load(lam, mu)
    p2, p1 = q_bunch / 2.0, 1.0 - q_bunch
    lam_b = lam * (p1 + p2)  # batches a second at one server
    en = (p1 + 2 * p2) / (p1 + p2)
    en2 = (p1 + 4 * p2) / (p1 + p2)
    # S = sum of N Exp(mu): E[S^2] = (E[N] + E[N^2]) / mu^2
    es2 = (en + en2) / mu**2
    v = lam_b * es2 / (2.0 * (1.0 - rho))
    within = (en2 - en) / (2.0 * en) / mu  # a customer's mean wait behind the earlier ones of its batch
    out = {"rho": rho, "batch_rate": lam_b, "mean_workload_seen": v, "mean_wait": v + within}
    if background is not None:
        out["throughput"] = lam_b * (1.0 - rho) * background.mean_output_exp(lam_b, mu)
    return out


def mm1_wait_tail(lam: float, mu: float, t) -> np.ndarray:
    """P(W > t) of an M/M/1 queue's waiting time: rho exp(-(mu - lam) t)."""
    rho = check_load(lam, mu)
    return rho * np.exp(-(mu - lam) * np.asarray(t, dtype=float))


def bunch_wait_tail(lam: float, mu: float, t) -> tuple[np.ndarray, np.ndarray]:
    """Always bunching (each pair on one server, either equally likely): P(W > t) of the first and of the second
    customer of a pair. The workload a batch finds has the transform (1 - rho)(mu + s)^2 / ((s - r1)(s - r2)) with r1,
    r2 the roots of s^2 + (2 mu - lam_b) s + mu^2 - 2 mu lam_b (lam_b = lam / 2), so P(V > t) = sum k_i exp(r_i t) /
    (-r_i), k_i = (1 - rho)(mu + r_i)^2 / (r_i - r_j); the second customer waits V plus one Exp(mu) service."""
    rho = check_load(lam, mu)
    lb = lam / 2.0
    disc = math.sqrt((2 * mu - lb) ** 2 - 4 * (mu * mu - 2 * mu * lb))
    r = ((-(2 * mu - lb) + disc) / 2.0, (-(2 * mu - lb) - disc) / 2.0)
    k = [(1 - rho) * (mu + r[i]) ** 2 / (r[i] - r[1 - i]) for i in (0, 1)]
    t = np.asarray(t, dtype=float)
    first = sum(k[i] / -r[i] * np.exp(r[i] * t) for i in (0, 1))
    # V + Exp(mu): P(V + X > t) = P(X > t) (atom and all) convolved: e^{-mu t} + int_0^t f_V(u) e^{-mu (t - u)} du
    #   with f_V(u) = sum k_i e^{r_i u} and the atom 1 - rho at 0 included in e^{-mu t} (1 - rho) ... written out:
    second = (1 - rho) * np.exp(-mu * t) + sum(
        k[i] * (np.exp(r[i] * t) / -r[i] + (np.exp(r[i] * t) - np.exp(-mu * t)) / (r[i] + mu)) for i in (0, 1)
    )
    return first, second
