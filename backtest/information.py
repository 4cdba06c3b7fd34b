"""Strategies on derived information, fitted on the training window: rules with memory and the smoothed
K-level indicator (``backtest.memory``).

During the training pass every candidate rule of ``MEMORY_FAMILY`` and ``level_rules(K)`` turns each server's
readings into its derived inputs, and the co-movement is summed per derived input cell; the hedge game is then
calibrated on those cells exactly as for the one-bit indicator (``hedge.HedgeCalibration``), so every value
is the book variance saved against independent coins, in the same currency^2 per round whatever the
information (coins' variance does not depend on how the rounds are partitioned). Chosen on the training window:

- ``memory``: the family member whose best classical rule pair saves the most variance;
- the smoothed K-level indicator: the count window whose two-qubit quantum optimum saves the most (one
  measurement direction per level, ``strategies.solve``); ``classical_levels`` plays the exhaustive classical
  optimum on the same K-level inputs, ``quantum_levels`` the quantum one (falling back to it without a pair).

The family runs when the inputs persist in time (``memory.persistence``, ``--memory auto``), always with
``--memory on``, never with ``off``; it needs the calibrated hedge game. Persistence is measured on the first
chunk of training rounds (all of them unless the run is streamed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strategies import Noise, classical_optimum, solve
from strategies.classical import rule_name

from .hedge import CellSums, HedgeCalibration
from .memory import MEMORY_FAMILY, Channels, HistoryRule, level_rules, persistence

PLAYERS = ("memory", "classical_levels", "quantum_levels")
MODES = ("auto", "on", "off")


class InfoTraining:
    """The training pass's share of the work: candidate channels and co-movement sums per derived cell."""

    def __init__(self, mode: str, levels: int, possible: bool):
        self.mode, self.levels, self.possible = mode, int(levels), possible
        self.active: bool | None = None  # decided on the first chunk
        self.persistence: dict | None = None
        self.channels: Channels | None = None
        self.sums: dict[str, CellSums] = {}

    def add(self, x: np.ndarray, y: np.ndarray, returns: np.ndarray) -> None:
        if self.active is None:
            self.persistence = persistence(x, y)
            self.active = self.possible and (self.mode == "on" or (self.mode == "auto" and self.persistence["persistent"]))
            if self.active:
                rules = MEMORY_FAMILY + level_rules(self.levels)
                self.channels = Channels(rules)
                self.sums = {r.name: CellSums(r.levels) for r in rules}
        if not self.active:
            return
        for name, (xa, yb) in self.channels.step(x, y).items():
            self.sums[name].add(xa, yb, returns)


@dataclass
class InfoFit:
    """What was fitted on derived information; ``memory``/``levels`` None when the family did not run (``note``)."""

    persistence: dict | None
    note: str | None = None
    memory: HistoryRule | None = None
    memory_rule: tuple | None = None  # (f_a, f_b) on the smoothed bits
    memory_value: float | None = None  # variance saved against coins, currency^2 per round
    levels: HistoryRule | None = None
    levels_solution: object = None  # strategies.Solution of the K x K hedge game
    levels_cal: HedgeCalibration | None = None
    candidates: dict = field(default_factory=dict)
    channels: Channels | None = None  # the chosen rules' state at the end of training
    tsirelson: float | None = None

    @property
    def active(self) -> bool:
        return self.memory is not None

    def channel_rules(self) -> list[HistoryRule]:
        return [r for r in (self.memory, self.levels) if r is not None]

    def to_dict(self) -> dict:
        out = {"persistence": self.persistence, "note": self.note, "family": [r.name for r in MEMORY_FAMILY]}
        if not self.active:
            return out
        s = self.levels_solution
        out["memory"] = {**self.memory.describe(), "name": self.memory.name, "saved": self.memory_value,
                         "classical_rule": {"A": list(self.memory_rule[0]), "B": list(self.memory_rule[1]),
                                            "A_name": rule_name(self.memory_rule[0]),
                                            "B_name": rule_name(self.memory_rule[1])}}
        out["levels"] = {**self.levels.describe(), "name": self.levels.name, "p_xy": s.p_xy.tolist(),
                         "classical_saved": s.classical_value, "quantum_saved": s.quantum_value,
                         "tsirelson_bound": self.tsirelson, "uses_entanglement": s.uses_entanglement,
                         "classical_rule": {"A": list(s.classical_rule[0]), "B": list(s.classical_rule[1])},
                         "angles": {p: list(v) for p, v in s.angles.items()},
                         "azimuths": {p: list(v) for p, v in (s.azimuths or {}).items()},
                         "coin_variance": self.levels_cal.coin_variance}
        out["candidates"] = self.candidates
        return out


def fit_information(train: InfoTraining | None, exposure: float, noise: Noise, device=None) -> InfoFit | None:
    """Choose the memory rule and the smoothed K-level indicator on the training window (module docstring)."""
    if train is None:
        return None
    if not train.active:
        p = train.persistence or {}
        if not train.possible:
            note = ("rules with memory and the smoothed K-level indicator need the hedge game calibrated on the book "
                    "(--game hedge)")
        elif train.mode == "off":
            note = "rules with memory and the smoothed K-level indicator are off (--memory off)"
        else:
            note = (f"the readings do not persist in time (lag-1 autocorrelation A {p.get('A', 0):.3f}, "
                    f"B {p.get('B', 0):.3f}): a server's past readings add nothing, so rules with memory were not run "
                    "(--memory on runs them anyway)")
        return InfoFit(train.persistence, note)
    candidates: dict = {"memory": {}, "levels": {}}
    best_memory = None
    for rule in MEMORY_FAMILY:
        cal = HedgeCalibration.fit(train.sums[rule.name].stats(), exposure)
        value, fa, fb = classical_optimum(cal.game, cal.p_xy)
        candidates["memory"][rule.name] = value
        if best_memory is None or value > best_memory[0] + 1e-12:
            best_memory = (value, rule, (fa, fb))
    best_levels = None
    for rule in level_rules(train.levels):
        cal = HedgeCalibration.fit(train.sums[rule.name].stats(), exposure)
        sol = solve(cal.game, cal.p_xy, noise, device=device)
        candidates["levels"][rule.name] = {"classical": sol.classical_value, "quantum": sol.quantum_value}
        if best_levels is None or sol.quantum_value > best_levels[0] + 1e-12:
            best_levels = (sol.quantum_value, rule, sol, cal)
    value, memory, rules = best_memory
    _, levels, sol, cal = best_levels
    return InfoFit(train.persistence, None, memory, rules, value, levels, sol, cal, candidates,
                   train.channels.subset([memory.name, levels.name]), _tsirelson(sol))


def _tsirelson(sol) -> float | None:
    """The K x K game's bound for any entangled state (SDP; None without cvxpy or when it fails)."""
    from strategies import StrategyError
    from strategies.solver import tsirelson_sdp

    try:
        return tsirelson_sdp(sol.game, sol.p_xy)
    except StrategyError:  # cvxpy (the sdp extra) is not installed: the report leaves the bound out
        return None
