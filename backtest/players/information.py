"""Strategies on derived information, fitted on the training window: history rules (a server's own past readings)
and the smoothed K-level indicator (``backtest.players.history``).

During the training pass every candidate rule of ``HISTORY_RULES`` and ``level_rules(K)`` turns each server's
readings into its derived inputs, and the co-movement is summed per derived input cell; the hedge game is then
fitted on those cells exactly as for the one-bit indicator (``players.hedge.HedgeFit``), so every value
is the book variance saved against independent coins, in the same currency^2 per round whatever the
information (coins' variance does not depend on how the rounds are partitioned). Chosen on the training window:

- ``history``: the family member whose best classical rule pair saves the most variance;
- the smoothed K-level indicator: the count window whose two-qubit quantum optimum saves the most (one
  measurement direction per level, ``strategies.solve``); ``classical_levels`` plays the exhaustive classical
  optimum on the same K-level inputs, ``quantum_levels`` the quantum one (falling back to it without a pair).

The family runs when the inputs persist in time (``history.persistence``, ``--history auto``), always with
``--history on``, never with ``off``; it needs the fitted hedge game. Persistence is measured on the first
chunk of training rounds (all of them unless the run is streamed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...strategies import Noise, Solution, classical_optimum, solve
from ...strategies.classical import rule_name

from ..stats.cells import CellSums
from ..players.hedge import HedgeFit
from .history import HISTORY_RULES, Channels, HistoryRule, level_rules, persistence

MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class IndicatorLevels:
    """The K-level information of a K-level indicator pair (``--levels-indicator``): the feed computes it, each
    server from its own view, like any indicator."""

    indicator: str
    levels: int
    params: tuple = ()

    @property
    def name(self) -> str:
        return f"{self.indicator} ({self.levels} levels)"

    def describe(self) -> dict:
        return {"rule": "indicator", "indicator": self.indicator, "levels": self.levels, **dict(self.params)}


class InfoTraining:
    """The training pass's share of the work: candidate channels and co-movement sums per derived cell."""

    def __init__(self, mode: str, levels: int, possible: bool, indicator: IndicatorLevels | None = None):
        self.mode, self.levels, self.possible, self.indicator = mode, int(levels), possible, indicator
        self.history_on: bool | None = None  # decided on the first chunk
        self.levels_on = False
        self.persistence: dict | None = None
        self.channels: Channels | None = None
        self.sums: dict[str, CellSums] = {}

    def add(self, x: np.ndarray, y: np.ndarray, returns: np.ndarray, extra=None) -> None:
        if self.history_on is None:
            self.persistence = persistence(x, y)
            self.history_on = self.possible and (
                self.mode == "on" or (self.mode == "auto" and self.persistence["persistent"])
            )
            self.levels_on = self.possible and (self.indicator is not None or self.history_on)
            rules = (HISTORY_RULES if self.history_on else ()) + (
                level_rules(self.levels) if self.history_on and self.indicator is None else ()
            )
            self.channels = Channels(rules) if rules else None
            self.sums = {r.name: CellSums(r.levels) for r in rules}
            if self.levels_on and self.indicator is not None:
                self.sums[self.indicator.name] = CellSums(self.indicator.levels)
        if self.channels is not None:
            for name, (xa, yb) in self.channels.step(x, y).items():
                self.sums[name].add(xa, yb, returns)
        if self.levels_on and self.indicator is not None:
            self.sums[self.indicator.name].add(extra[0], extra[1], returns)


@dataclass
class InfoFit:
    """What was fitted on derived information; ``history``/``levels`` None where it did not run (``note``)."""

    persistence: dict | None
    note: str | None = None
    history: HistoryRule | None = None
    history_rule: tuple | None = None  # (f_a, f_b) on the smoothed bits
    history_value: float | None = None  # variance saved against coins, currency^2 per round
    levels: HistoryRule | IndicatorLevels | None = None
    levels_solution: Solution | None = None  # of the K x K hedge game
    levels_cal: HedgeFit | None = None
    candidates: dict = field(default_factory=dict)
    channels: Channels | None = None  # the chosen history rules' state at the end of training
    tsirelson: float | None = None

    @property
    def active(self) -> bool:
        return self.history is not None or self.levels is not None

    def channel_rules(self) -> list[HistoryRule]:
        """The history rules the players read (the K-level indicator, if any, comes from the feed)."""
        return [r for r in (self.history, self.levels) if isinstance(r, HistoryRule)]

    def to_dict(self) -> dict:
        out = {
            "persistence": self.persistence,
            "note": self.note,
            "family": [r.name for r in HISTORY_RULES],
            "candidates": self.candidates,
        }
        if self.history is not None:
            assert self.history_rule is not None  # fitted with the rule
            out["history"] = {
                **self.history.describe(),
                "name": self.history.name,
                "saved": self.history_value,
                "classical_rule": {
                    "A": list(self.history_rule[0]),
                    "B": list(self.history_rule[1]),
                    "A_name": rule_name(self.history_rule[0]),
                    "B_name": rule_name(self.history_rule[1]),
                },
            }
        if self.levels is not None:
            s = self.levels_solution
            assert s is not None and self.levels_cal is not None  # fitted with the levels
            out["levels"] = {
                **self.levels.describe(),
                "name": self.levels.name,
                "p_xy": s.p_xy.tolist(),
                "classical_saved": s.classical_value,
                "quantum_saved": s.quantum_value,
                "tsirelson_bound": self.tsirelson,
                "uses_entanglement": s.uses_entanglement,
                "classical_rule": {"A": list(s.classical_rule[0]), "B": list(s.classical_rule[1])},
                "angles": {p: list(v) for p, v in s.angles.items()},
                "azimuths": {p: list(v) for p, v in (s.azimuths or {}).items()},
                "coin_variance": self.levels_cal.coin_variance,
            }
        return out


def fit_information(train: InfoTraining | None, exposure: float, noise: Noise, device=None) -> InfoFit | None:
    """Choose the history rule and the smoothed K-level indicator on the training window (module docstring)."""
    if train is None:
        return None
    note = None  # why the history rules did not run: output.verdict.information_note says it in words
    if not train.possible:
        note = "fixed_game"
    elif not train.history_on:
        note = "off" if train.mode == "off" else "not_persistent"
    fit = InfoFit(train.persistence, note)
    if train.history_on:
        fit.candidates["history"] = {}
        best: tuple[float, HistoryRule, tuple] | None = None
        for rule in HISTORY_RULES:
            cal = HedgeFit.fit(train.sums[rule.name].stats(), exposure)
            value, fa, fb = classical_optimum(cal.game, cal.p_xy)
            fit.candidates["history"][rule.name] = value
            if best is None or value > best[0] + 1e-12:
                best = (value, rule, (fa, fb))
        assert best is not None  # HISTORY_RULES is not empty
        fit.history_value, fit.history, fit.history_rule = best
    if train.levels_on:
        fit.candidates["levels"] = {}
        chosen: tuple[float, HistoryRule | IndicatorLevels, Solution, HedgeFit] | None = None
        for cand in [train.indicator] if train.indicator is not None else level_rules(train.levels):
            cal = HedgeFit.fit(train.sums[cand.name].stats(), exposure)
            sol = solve(cal.game, cal.p_xy, noise, device=device)
            fit.candidates["levels"][cand.name] = {"classical": sol.classical_value, "quantum": sol.quantum_value}
            if chosen is None or sol.quantum_value > chosen[0] + 1e-12:
                chosen = (sol.quantum_value, cand, sol, cal)
        assert chosen is not None  # at least one candidate
        _, fit.levels, fit.levels_solution, fit.levels_cal = chosen
        fit.tsirelson = _tsirelson(fit.levels_solution)
    if train.channels is not None:
        fit.channels = train.channels.subset([r.name for r in fit.channel_rules()])
    return fit


def _tsirelson(sol) -> float | None:
    """The K x K game's bound for any entangled state (SDP; None without cvxpy or when it fails)."""
    from ...strategies import StrategyError
    from ...strategies.solver import tsirelson_sdp

    try:
        return tsirelson_sdp(sol.game, sol.p_xy)
    except StrategyError:  # cvxpy (the sdp extra) is not installed: the report leaves the bound out
        return None
