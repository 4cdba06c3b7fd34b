"""What a server may remember: rules on its own past indicator readings, and the smoothed K-level indicator.

A server that cannot talk to its partner can still remember its *own* readings. When the readings persist
in time (a regime lasts many rounds, a rolling window moves slowly) a local rule on the last ``window``
readings beats a rule on today's reading alone, and that is the classical opponent a quantum strategy has to
beat. Every rule here is causal and local: server A's output on round t depends on A's readings up to t only.

- ``majority(m)``: 1 when more than half of the last m readings are 1;
- ``hysteresis(m)``: switch to 1 when at least 2/3 of the last m readings are 1, back to 0 when at most 1/3
  are, hold otherwise (it remembers beyond the window);
- ``count(m, K)``: the share of ones among the last m readings in K equal bins, 0..K-1 (K = m + 1: the count
  itself): the *smoothed K-level indicator*, the same information given to a quantum strategy with one
  measurement direction per level (``quantum_levels``) and to its classical opponent (``classical_levels``).

Before m readings exist (the first rounds of the training window) the share is over the readings so far.
``HISTORY_RULES`` is the stated family the ``history`` strategy is fitted over on the training window (both
servers use the same member; the best rule pair on its smoothed bits is the classical optimum of the hedge
game fitted on those bits). ``persistence`` decides whether the family runs by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("majority", "hysteresis", "count")
ENTER, LEAVE = 2 / 3, 1 / 3  # hysteresis thresholds on the share of ones
MAJORITY_WINDOWS = (3, 5, 9, 15, 25)  # majority-of-last-m
HYSTERESIS_WINDOWS = (5, 9, 15, 25)
LEVEL_WINDOWS = (3, 7, 15)  # count(m, K) candidates of the smoothed K-level indicator
PERSIST_MIN = 0.05  # lag-1 autocorrelation of a server's readings above which history rules can pay ...
PERSIST_Z = 3.0  # ... and significantly so (z = rho sqrt(n))


@dataclass(frozen=True)
class HistoryRule:
    """A causal function of one server's own readings (bits): ``apply`` maps a chunk of readings and the state
    left by the previous chunk to this chunk's outputs and the new state."""

    kind: str
    window: int
    levels: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"history rule kind must be one of {KINDS}, got {self.kind!r}")
        if self.window < 1 or not 2 <= self.levels <= 8 or (self.kind != "count" and self.levels != 2):
            raise ValueError(f"bad history rule {self.kind}({self.window}, levels={self.levels})")

    @property
    def name(self) -> str:
        if self.kind == "count":
            return f"count({self.window})->{self.levels} levels"
        return f"{self.kind}({self.window})"

    def initial_state(self) -> tuple[np.ndarray, int]:
        """(the last window - 1 readings, the last output): nothing read yet."""
        return np.empty(0, dtype=np.uint8), 0

    def apply(self, bits: np.ndarray, state: tuple[np.ndarray, int]) -> tuple[np.ndarray, tuple[np.ndarray, int]]:
        """Outputs (uint8, 0..levels-1) for ``bits`` and the state after them. Vectorized over rounds."""
        tail, last = state
        bits = np.asarray(bits, dtype=np.uint8)
        joined = np.concatenate([tail, bits])
        csum = np.concatenate([[0], np.cumsum(joined, dtype=np.int64)])
        pos = np.arange(tail.size, joined.size) + 1  # end (exclusive) of each round's window in ``joined``
        start = np.maximum(pos - self.window, 0)
        count, seen = csum[pos] - csum[start], pos - start
        if self.kind == "majority":
            out = (2 * count > seen).astype(np.uint8)
        elif self.kind == "count":
            out = np.minimum(count * self.levels // seen, self.levels - 1).astype(np.uint8)
        else:
            # the tolerance keeps exact shares (6 of 9 = 2/3) on the threshold despite float rounding
            out = _hold(np.where(count >= ENTER * seen - 1e-9, 1, np.where(count <= LEAVE * seen + 1e-9, 0, -1)), last)
        keep = joined[-(self.window - 1) :] if self.window > 1 else joined[:0]
        return out, (keep.copy(), int(out[-1]) if out.size else last)

    def describe(self) -> dict:
        out = {"rule": self.kind, "window": self.window}
        if self.kind == "count":
            out["levels"] = self.levels
        if self.kind == "hysteresis":
            out |= {"enter": ENTER, "leave": LEAVE}
        return out


def _hold(v: np.ndarray, last: int) -> np.ndarray:
    """Forward-fill the -1 entries of v with the previous decided value (``last`` before the first)."""
    idx = np.where(v >= 0, np.arange(v.size), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, v[np.maximum(idx, 0)], last).astype(np.uint8)


HISTORY_RULES = tuple(HistoryRule("majority", m) for m in MAJORITY_WINDOWS) + tuple(
    HistoryRule("hysteresis", m) for m in HYSTERESIS_WINDOWS
)


def level_rules(levels: int) -> tuple[HistoryRule, ...]:
    """The smoothed K-level indicator's candidates: count(m) over LEVEL_WINDOWS in ``levels`` bins (fewer when
    the window has fewer distinct counts)."""
    return tuple(HistoryRule("count", m, min(levels, m + 1)) for m in LEVEL_WINDOWS)


class Channels:
    """Both servers' derived inputs for a set of history rules, carried across chunks: each server's rule sees
    its own readings only (A's outputs from x, B's from y)."""

    def __init__(self, rules, states: dict | None = None):
        self.rules = {r.name: r for r in rules}
        self.states = states or {name: (r.initial_state(), r.initial_state()) for name, r in self.rules.items()}

    def step(self, x: np.ndarray, y: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, rule in self.rules.items():
            sa, sb = self.states[name]
            xa, sa = rule.apply(x, sa)
            yb, sb = rule.apply(y, sb)
            self.states[name] = (sa, sb)
            out[name] = (xa, yb)
        return out

    def subset(self, names) -> Channels:
        """A copy with only these rules, in their current state (to go on from the end of training)."""
        names = [n for n in names if n in self.rules]
        return Channels([self.rules[n] for n in names], {n: self.states[n] for n in names})


def persistence(x: np.ndarray, y: np.ndarray) -> dict:
    """Lag-1 autocorrelation of each server's readings and whether history rules can pay: either side above PERSIST_MIN
    with z = rho sqrt(n) above PERSIST_Z (a constant side has no autocorrelation: 0)."""
    out: dict[str, Any] = {}
    for side, v in (("A", x), ("B", y)):
        v = np.asarray(v, dtype=float)
        rho = 0.0
        if v.size > 2 and v.std() > 0:
            rho = float(np.corrcoef(v[1:], v[:-1])[0, 1])
        out[side] = rho
    n = max(len(x) - 1, 1)
    out["persistent"] = any(out[s] > PERSIST_MIN and out[s] * math.sqrt(n) > PERSIST_Z for s in "AB")
    out["rule"] = f"lag-1 autocorrelation of a server's readings above {PERSIST_MIN} with z > {PERSIST_Z}"
    return out
