"""The routers: how each strategy turns a pair's two local inputs into two server choices, chunk by chunk.

Every router outputs one bit per customer (o_A for customer 1, o_B for customer 2): equal bits bunch the pair on one
server, different bits split it. The two routers also share one fair random bit r per pair (classical shared
randomness: free, and it carries no input), and customer i goes to server o_i XOR r: bunched pairs then land on either
server equally often, and which decisions bunch or split is unchanged.

Built-in routers (``ROUTERS``): ``random`` (each router its own fair coin), ``bunch`` (always the same server),
``split`` (always different servers), ``threshold`` (the best local threshold rule on the game at t*), ``weighted``
(the best local threshold rule on the weighted game, ``strategies.balance.weighted_game``), ``quantum`` (the qubit
strategy fitted on the K x K game, each router measuring its half of a Bell pair on its input's level; a request
without a pair plays the threshold rule), ``quantum_weighted`` (the same fitted on the weighted game), ``oracle``
(knows X_1 + X_2: bunches exactly when it is at most t*), and ``talk`` (the routers exchange their inputs over the
link's fibre: when the message arrives within the decision latency the pair is routed as the oracle would, else each
router plays the threshold rule). A user's router is a
``strategies.Strategy`` whose rules read the input's level (``strategies.balance.level_of``); it is certified and
played checked exactly as a user's market-making rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ...strategies.balance import ThresholdRule, level_of

if TYPE_CHECKING:
    from ...strategies import Solution, Strategy

ROUTERS = ("random", "bunch", "split", "threshold", "weighted", "quantum", "quantum_weighted", "oracle", "talk")
LOCAL = ("random", "bunch", "split", "threshold", "weighted")  # no communication, no entanglement
DESCRIPTIONS = {
    "random": "each router flips its own fair coin",
    "bunch": "both customers to the same server, always",
    "split": "the two customers to different servers, always",
    "threshold": "the best local threshold rule on the game at t* (each router sees its own service time only)",
    "weighted": "the best local threshold rule on the weighted game at t* (a wrong call costs by how far X1 + X2 is "
    "from t*)",
    "quantum": "measures its half of a shared Bell pair on its input's level (the qubit strategy fitted on the "
    "K x K game, noise included); without a pair, the threshold rule",
    "quantum_weighted": "the same, with the qubit strategy fitted on the K x K weighted game; without a pair, the "
    "weighted game's threshold rule",
    "oracle": "knows X1 + X2 and bunches exactly when it is at most t* (needs instant communication)",
    "talk": "exchanges the two service times over the fibre: the oracle when the message arrives within the decision "
    "latency, else the threshold rule",
}


@dataclass
class Chunk:
    """One chunk of pairs as the routers may see it: the inputs a, b (uniform on [0, 1)), the service times x1, x2
    (the oracle's and the talking routers' knowledge), the arrival times (s) and each router's own random generator."""

    a: np.ndarray
    b: np.ndarray
    x1: np.ndarray
    x2: np.ndarray
    times: np.ndarray


@dataclass
class Router:
    """A named router: ``play(chunk, rng) -> (o_A, o_B)`` bits per pair. ``communicates``/``entangled`` say what it
    uses beyond its own input; ``rule`` the threshold rule it falls back on or plays; ``t_star`` the threshold (s)."""

    name: str
    kind: str
    t_star: float
    rule: ThresholdRule | None = None
    solution: Solution | None = None  # the fitted strategies.Solution (quantum)
    strategy: Strategy | None = None  # the played strategies.Strategy (quantum, user)
    levels: int = 0
    in_time: bool | None = None  # talk: whether the message arrives in time
    supply: PairSchedule | None = None  # quantum with a link
    user: bool = False
    bunch: float = 0.5  # coin: the probability of bunching (the frontier's random family)
    counts: dict = field(default_factory=lambda: {"pairs": 0, "with_pair": 0})

    @property
    def communicates(self) -> bool:
        return self.kind in ("oracle", "talk") and (self.kind == "oracle" or bool(self.in_time))

    @property
    def entangled(self) -> bool:
        return self.kind == "quantum" and self.solution is not None and bool(self.solution.uses_entanglement)

    def play(self, c: Chunk, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = c.a.size
        k = self.kind
        if k == "random":
            return rng.integers(0, 2, n, dtype=np.uint8), rng.integers(0, 2, n, dtype=np.uint8)
        if k == "bunch":
            return np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        if k == "split":
            return np.zeros(n, np.uint8), np.ones(n, np.uint8)
        if k == "coin":  # a shared coin: bunch with probability ``bunch`` whatever the inputs
            return np.zeros(n, np.uint8), (rng.random(n) >= self.bunch).astype(np.uint8)
        if k == "threshold" or (k == "talk" and not self.in_time):
            assert self.rule is not None  # built with the rule it plays
            return self.rule.outputs(c.a, c.b)
        if k in ("oracle", "talk"):
            return np.zeros(n, np.uint8), (c.x1 + c.x2 > self.t_star).astype(np.uint8)
        if k == "quantum":
            return self._quantum(c, rng)
        if k == "user":
            from ...strategies.nosignal import play_checked

            assert self.strategy is not None  # built with the user's strategy
            return play_checked(self.name, self.strategy, level_of(c.a, self.levels), level_of(c.b, self.levels), rng)
        raise ValueError(f"unknown router kind {k!r}")  # pragma: no cover - names are checked when built

    def _quantum(self, c: Chunk, rng) -> tuple[np.ndarray, np.ndarray]:
        assert self.strategy is not None and self.rule is not None  # built with both (routers.quantum)
        la, lb = level_of(c.a, self.levels), level_of(c.b, self.levels)
        self.counts["pairs"] += c.a.size
        if self.supply is None:  # a fresh pair for every request, as the noise describes it
            self.counts["with_pair"] += c.a.size
            return self.strategy.play(la, lb, rng)
        has, ages = self.supply.schedule(c.times)
        self.counts["with_pair"] += int(has.sum())
        oa, ob = self.rule.outputs(c.a, c.b)
        if has.any():
            qa, qb = self.strategy.play(la[has], lb[has], rng, ages[has])
            oa[has], ob[has] = qa, qb
        return oa, ob


class PairSchedule:
    """Bell pairs of a link arriving as a Poisson process into its memory (``players.supply.pair_buffer``), used by
    requests at their own (Poisson) arrival times: has a pair, and its age (herald delay included)."""

    def __init__(self, rate: float, slots: int, herald_delay: float, max_age: float, rng: np.random.Generator):
        self.rate, self.slots, self.herald_delay, self.max_age = rate, int(slots), herald_delay, max_age
        self.buffer, self.count, self.rng, self.t = np.zeros(int(slots)), 0, rng, 0.0

    def schedule(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from ..players.supply import pair_buffer

        t1 = float(times[-1])
        k = self.rng.poisson(self.rate * (t1 - self.t))
        arrivals = np.sort(self.t + self.rng.random(k) * (t1 - self.t))
        self.t = t1
        has, age, self.count = pair_buffer(
            times, arrivals, self.slots, self.max_age, self.buffer, self.count, False
        )  # the freshest pair first
        if self.herald_delay:
            age[has] += self.herald_delay
        return has, age
