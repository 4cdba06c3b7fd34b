"""Measurement settings chosen by the pair's age: both nodes saw the same herald, so both know how long their pair has
been stored, and each may aim its measurement for that age without talking.

``AgedPlay`` solves the game (``solve``) on a grid of ages and plays each pair with the settings of its age: between
two grid ages whose optima have the same form (the same outputs, fallbacks and inputs measured) each party's Bloch
direction is interpolated linearly and normalised, else the nearer grid age's strategy plays. The state is always the
pair's own (per-round storage, ``EntangledPair``); only the aim comes from the grid.

Re-optimised for its age, a stored pair's best value can only fall with age: the storage channels form a semigroup of
local channels, so a measurement at age t + s is a (generally unsharp) measurement at age t, and for two-outcome
qubit measurements the solver's projective directions and constant outputs are the extreme points of that set. The
memory cutoff is therefore one age, the first at which the re-optimised pair no longer beats the classical rule (to
the solver's resolution, ``solver.ADVANTAGE_TOL``); it is looked for only over the grid's ages, and there may be none.

For CHSH under pure dephasing the re-optimised value is Horodecki's 1/2 + sqrt(1 + exp(-4t/T2)) / 4, above 3/4 at
every age, where settings fitted once stop beating 3/4 at (T2/2) ln(1 + sqrt 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from . import kernels, pair
from .game import Game
from .noise import Noise, readout_affine
from .quantum import EntangledPair
from .solver import Solution, observable, pair_tensor, solve, strategy_value
from .strategy import BITS, Strategy, play_rounds

MAX_POINTS = 33  # solves on the age grid
STEP = 1 / 8  # grid spacing, in units of the memory's shortest time (T1 or T2)
MAX_TURN = math.radians(30)  # interpolate a direction only between grid optima this close
CUTOFF_TOL = 1e-9  # relative tolerance of the cutoff's bisection


def age_grid(youngest: float, oldest: float, memory: float) -> np.ndarray:
    """Ages (s) from ``youngest`` to ``oldest``: evenly spaced, about ``STEP`` x ``memory`` apart (the memory's
    shortest time), 2 to ``MAX_POINTS`` points; one point when the memory does not decay or the span is empty."""
    if not (math.isfinite(memory) and oldest > youngest):
        return np.array([float(youngest)])
    n = int(min(MAX_POINTS, max(2, math.ceil((oldest - youngest) / (STEP * memory)) + 1)))
    return np.linspace(youngest, oldest, n)


@dataclass(frozen=True, eq=False)
class AgedPlay:
    """The game's optimum on a grid of ages (``ages``, seconds, increasing; ``solutions`` one per age) and the
    cutoff (s) past which no pair beats the classical rule even re-optimised (inf: none over the grid)."""

    game: Game
    p_xy: np.ndarray
    noise: Noise
    ages: tuple[float, ...]
    solutions: tuple[Solution, ...]
    cutoff: float
    backend: str = "exact"

    @classmethod
    def solve(cls, game: Game, p_xy, noise: Noise, youngest: float, oldest: float, backend: str = "exact"):
        """Solve ``game`` at ``p_xy`` with ``noise`` (its storage time replaced by each grid age) from ``youngest``
        to ``oldest`` seconds of age; find the cutoff by bisection between the last grid age that pays and the
        first that does not."""
        assert noise.t2 is not None  # Noise.__post_init__ resolves an unset T2 (2 T1)
        memory = min(t for t in (noise.t1, noise.t2, math.inf) if t > 0) if any(noise.stores) else math.inf
        ages = age_grid(float(youngest), float(oldest), memory)
        sols: list[Solution] = []
        for a in ages:
            here = solve(game, p_xy, replace(noise, storage_time=float(a)))
            if sols and sols[-1].uses_entanglement and here.uses_entanglement:
                here = _continued(sols[-1], here) or here
            sols.append(here)
        cutoff = math.inf
        first = next((i for i, s in enumerate(sols) if not s.uses_entanglement), None)
        if first == 0:
            cutoff = float(ages[0])
        elif first is not None:
            lo, hi = float(ages[first - 1]), float(ages[first])
            while hi - lo > CUTOFF_TOL * hi:
                mid = 0.5 * (lo + hi)
                lo, hi = (
                    (mid, hi) if solve(game, p_xy, replace(noise, storage_time=mid)).uses_entanglement else (lo, mid)
                )
            cutoff = hi
        return cls(
            game, np.asarray(p_xy, dtype=float), noise, tuple(float(a) for a in ages), tuple(sols), cutoff, backend
        )

    # -- values ---------------------------------------------------------------------------------------------------
    def value(self, age: float) -> float:
        """The re-optimised value at ``age`` (the solver at that age, not the grid): the best any setting can do."""
        return solve(self.game, self.p_xy, replace(self.noise, storage_time=float(age))).quantum_value

    def played_value(self, age: float) -> float:
        """Exact expected utility of what is played at ``age`` (the grid's settings for it, the pair stored that
        long); the classical value at or past the cutoff."""
        return replace_noise(self.strategy_at(age), self.noise, age).value(self.game, self.p_xy)

    @property
    def classical_value(self) -> float:
        return self.solutions[0].classical_value

    # -- what is played at an age -------------------------------------------------------------------------------
    def _segment(self, age: float) -> tuple[int, float]:
        """(i, w): the grid interval [ages[i], ages[i+1]] holding ``age`` and its weight towards ages[i+1]
        (clamped to the grid's ends)."""
        a = np.asarray(self.ages)
        if a.size == 1:
            return 0, 0.0
        i = int(np.clip(np.searchsorted(a, age, side="right") - 1, 0, a.size - 2))
        w = float(np.clip((age - a[i]) / (a[i + 1] - a[i]), 0.0, 1.0))
        return i, w

    @cached_property
    def _quantum(self) -> tuple[Strategy, ...]:
        """Each grid age's optimal strategy (the classical rule where the pair does not help)."""
        return tuple(s.quantum_strategy(backend=self.backend) for s in self.solutions)

    @cached_property
    def _blend_ok(self) -> tuple[bool, ...]:
        """Per grid interval: whether the optima at its two ends have the same form (outputs, fallbacks, inputs
        measured, both using the pair) and directions within ``MAX_TURN``, so that their directions interpolate
        (exact sampler only: the Aer backend plays the nearer grid age)."""
        out = []
        for i in range(len(self.solutions) - 1):
            s0, s1 = self.solutions[i], self.solutions[i + 1]
            q0, q1 = self._quantum[i], self._quantum[i + 1]
            ok = (
                self.backend == "exact"
                and s0.uses_entanglement
                and s1.uses_entanglement
                and (q0.rule_a, q0.rule_b) == (q1.rule_a, q1.rule_b)
            )
            ok = ok and all(
                np.all(np.sum(_directions(q0, side) * _directions(q1, side), axis=1) >= math.cos(MAX_TURN))
                for side in "ab"
            )
            out.append(bool(ok))
        return tuple(out)

    def _blendable(self, i: int) -> bool:
        return i < len(self._blend_ok) and self._blend_ok[i]

    def strategy_at(self, age: float) -> Strategy:
        """The strategy played on a pair of ``age`` seconds (its resource's noise is the grid's; the state's age is
        applied when played): the classical rule at or past the cutoff, else the grid's settings for that age."""
        if age >= self.cutoff:
            return self.solutions[0].classical_strategy("quantum")
        i, w = self._segment(age)
        if self._blendable(i):
            q0, q1 = self._quantum[i], self._quantum[i + 1]
            res = q0.resource
            assert isinstance(res, EntangledPair)  # blendable: both ends use the pair
            angles = {}
            for side in "ab":
                d = _blend(_directions(q0, side), _directions(q1, side), np.array([w]))[..., 0, :]
                theta, phi = zip(*(pair.setting_of(v) for v in d))
                angles[side] = (theta, phi)
            resource = replace(
                res,
                angles_a=angles["a"][0],
                azimuths_a=angles["a"][1],
                angles_b=angles["b"][0],
                azimuths_b=angles["b"][1],
            )
            return replace(q0, resource=resource)
        j = i + 1 if w >= 0.5 and i + 1 < len(self.solutions) else i
        return self._quantum[j]

    def play(
        self, x: np.ndarray, y: np.ndarray, ages: np.ndarray, rng: np.random.Generator, fallback: Strategy
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outputs (a, b) of rounds whose pairs are ``ages`` seconds old: each grid interval's rounds together, on the
        pair's own stored state; rounds at or past the cutoff play ``fallback`` (the classical rule)."""
        ages = np.asarray(ages, dtype=float)
        n = ages.size
        a_out, b_out = np.empty(n, dtype=BITS), np.empty(n, dtype=BITS)
        late = ages >= self.cutoff
        if late.any():
            a_out[late], b_out[late] = play_rounds(fallback, x[late], y[late], rng)
        grid = np.asarray(self.ages)
        if grid.size == 1:
            seg, w = np.zeros(n, dtype=np.int64), np.zeros(n)
        else:
            seg = np.clip(np.searchsorted(grid, ages, side="right") - 1, 0, grid.size - 2)
            w = np.clip((ages - grid[seg]) / (grid[seg + 1] - grid[seg]), 0.0, 1.0)
        for i in np.unique(seg[~late]):
            rows = np.flatnonzero((seg == i) & ~late)
            if self._blendable(int(i)):
                a_out[rows], b_out[rows] = self._play_blended(int(i), x[rows], y[rows], ages[rows], w[rows], rng)
                continue
            upper = (w[rows] >= 0.5) & (i + 1 < len(self.solutions))
            for j, part in ((int(i), rows[~upper]), (int(i) + 1, rows[upper])):
                if part.size:
                    strat = self._quantum[j] if self.solutions[j].uses_entanglement else fallback
                    a_out[part], b_out[part] = play_rounds(
                        strat, x[part], y[part], rng, ages=ages[part] if strat.quantum else None
                    )
        return a_out, b_out

    def _play_blended(self, i: int, x, y, ages, w, rng):
        """Rounds of grid interval i with interpolated directions, each on its own pair state (compiled sampling)."""
        q0, q1 = self._quantum[i], self._quantum[i + 1]
        sa, sb = q0.rule_a.setting(x), q0.rule_b.setting(y)
        da = _blend(_directions(q0, "a"), _directions(q1, "a"), w)[sa, np.arange(w.size)]
        db = _blend(_directions(q0, "b"), _directions(q1, "b"), w)[sb, np.arange(w.size)]
        nz = self.noise
        store_a, store_b = nz.stores
        idx = np.arange(w.size, dtype=np.int64)
        oa, ob = kernels.sample_stored_pair(
            pair.link_tensor(nz.visibility),
            np.ascontiguousarray(da),
            np.ascontiguousarray(db),
            idx,
            idx,
            ages,
            nz.t1,
            nz.t2,
            store_a,
            store_b,
            np.array(readout_affine(nz.readout_a)),
            np.array(readout_affine(nz.readout_b)),
            nz.loss_a,
            nz.loss_b,
            rng.random((w.size, 4)),
        )
        return q0.rule_a.output(x, oa), q0.rule_b.output(y, ob)

    def strategies(self) -> list[Strategy]:
        """Every grid strategy (for certification before play)."""
        return list(self._quantum)

    def describe(self) -> dict:
        """The grid (metrics.json: the quantum player's ``age_table``): ages, re-optimised values, whether the pair is
        used, and the cutoff (None: none over the grid)."""
        return {
            "ages_s": list(self.ages),
            "quantum_values": [s.quantum_value for s in self.solutions],
            "uses_entanglement": [bool(s.uses_entanglement) for s in self.solutions],
            "classical_value": self.classical_value,
            "cutoff_s": self.cutoff if math.isfinite(self.cutoff) else None,
        }


def _continued(prev: Solution, here: Solution) -> Solution | None:
    """The optimum at ``here``'s age in ``prev``'s form: ``prev``'s angles (and azimuths, off the X-Z plane) ascended
    locally on ``here``'s pair, with ``prev``'s fallbacks and reports. The solver picks one member of a degenerate
    optimum's family at each age, and neighbouring ages may get members that do not interpolate; this keeps one
    member along the grid. None unless it reaches the solver's value (to 1e-10 of the game's scale)."""
    from scipy.optimize import minimize

    if prev.game.levels != here.game.levels or prev.flipped is None:
        return None
    c, k = here.game.correlator_weights(here.p_xy)
    R = pair_tensor(here.noise)
    parties = {P: _party(here.noise, P) for P in "AB"}
    planar = prev.planar and here.planar
    az: Mapping[str, tuple[float | None, ...]] = prev.azimuths or {P: (0.0,) * len(prev.angles[P]) for P in "AB"}
    slots = [(P, x) for P in "AB" for x, t in enumerate(prev.angles[P]) if t is not None]
    start = [prev.angles[P][x] for P, x in slots] + ([] if planar else [az[P][x] or 0.0 for P, x in slots])

    def settings(v):
        ang = {P: list(prev.angles[P]) for P in "AB"}
        phi = {P: [0.0] * len(prev.angles[P]) for P in "AB"}
        for i, (P, x) in enumerate(slots):
            ang[P][x] = float(v[i])
            phi[P][x] = 0.0 if planar else float(v[len(slots) + i])
        return ang, phi

    def value(v):
        ang, phi = settings(v)
        obs = {
            P: np.array(
                [
                    observable(ang[P][x], prev.fallback[P][x], parties[P], phi[P][x], prev.flipped[P][x])
                    for x in range(len(ang[P]))
                ]
            )
            for P in "AB"
        }
        return strategy_value(c, k, R, obs["A"], obs["B"])

    best = minimize(lambda v: -value(v), np.asarray(start, dtype=float), method="BFGS", options={"gtol": 1e-12})
    v = value(best.x)
    scale = max(1.0, float(np.abs(here.game.table).max()))
    if not v >= here.quantum_value - 1e-10 * scale:
        return None
    ang, phi = settings(best.x)
    # one entry per input level (any count): typed loosely, as solver.Solution annotates its angles as pairs
    angles: dict[str, Any] = {
        P: tuple(None if prev.angles[P][x] is None else float(np.mod(ang[P][x], math.pi)) for x in range(len(ang[P])))
        for P in "AB"
    }
    azimuths: dict[str, Any] = {P: tuple(phi[P]) for P in "AB"}
    return replace(
        here,
        angles=angles,
        azimuths=azimuths,
        fallback=prev.fallback,
        flipped=prev.flipped,
        quantum_value=max(v, here.quantum_value),
        planar=planar,
    )


def _party(noise: Noise, side: str) -> tuple[float, float, float]:
    """(loss, readout offset d, readout scale s) of party ``side`` ("A" or "B"), as the solver reads it."""
    d, s = readout_affine(noise.readout_a if side == "A" else noise.readout_b)
    return (noise.loss_a if side == "A" else noise.loss_b), d, s


def _directions(strategy: Strategy, side: str) -> np.ndarray:
    """Bloch directions (settings, 3) of a quantum strategy's party ``side`` ("a" or "b")."""
    res = strategy.resource
    return pair.direction(np.asarray(getattr(res, f"angles_{side}")), np.asarray(getattr(res, f"azimuths_{side}")))


def _blend(d0: np.ndarray, d1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Normalised (1 - w) d0 + w d1 per setting and weight: shape (settings, len(w), 3)."""
    out = (1.0 - w)[None, :, None] * d0[:, None, :] + w[None, :, None] * d1[:, None, :]
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def replace_noise(strategy: Strategy, noise: Noise, age: float) -> Strategy:
    """``strategy`` with its pair (if any) stored ``age`` seconds under ``noise``."""
    if not strategy.quantum:
        return strategy
    assert isinstance(strategy.resource, EntangledPair)  # the only resource of kind "entangled_pair"
    return replace(strategy, resource=replace(strategy.resource, noise=replace(noise, storage_time=float(age))))
