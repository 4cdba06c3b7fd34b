"""Quantum strategies: measurements on a shared |Phi+> pair, on the exact or the Aer backend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import kernels, pair
from .errors import StrategyError
from .noise import Noise, readout_affine
from .strategy import LocalRule, Resource, Strategy, sample_table
from .trust import OWN_SAMPLER, engine_owned

BACKENDS = ("exact", "aer")

# Textbook CHSH angles (radians) for the challenge rule a XOR b = x AND y (../shared/REFERENCE.md). Each input pair
# then wins with cos^2(pi/8). For the hedge rule a XOR b = NOT(x AND y), A's angles turn by pi/2,
# which flips A's outcome.
CHSH_ANGLES = {"A": (0.0, math.pi / 4), "B": (math.pi / 8, -math.pi / 8)}


def textbook_angles(rule: str = "hedge") -> dict[str, tuple[float, float]]:
    """The textbook CHSH angles for ``rule`` ("hedge" or "challenge")."""
    if rule == "challenge":
        return dict(CHSH_ANGLES)
    a0, a1 = CHSH_ANGLES["A"]
    return {"A": (a0 + math.pi / 2, a1 + math.pi / 2), "B": CHSH_ANGLES["B"]}


@engine_owned
@dataclass(frozen=True, eq=False)
class EntangledPair(Resource):
    """A shared |Phi+> pair; A measures along the Bloch direction (``angles_a[s_A]``, ``azimuths_a[s_A]``),
    B along (``angles_b[s_B]``, ``azimuths_b[s_B]``), radians (``pair.direction``; azimuths default to 0,
    the X-Z plane).

    Outcomes 0, 1, or 2 = no click. ``backend``: "exact" (qiskit.quantum_info distribution sampled with
    numpy) or "aer" (qiskit-aer AerSimulator, one circuit per setting pair, shots = its rounds);
    ``aer_backend`` optionally replaces the ideal AerSimulator (e.g. ``AerSimulator.from_backend`` of a
    fake IBM device). ``sample(..., ages=...)`` gives each round its own storage time in seconds.
    """

    angles_a: tuple[float, ...]
    angles_b: tuple[float, ...]
    noise: Noise = field(default_factory=Noise)
    backend: str = "exact"
    aer_backend: object = None
    azimuths_a: tuple[float, ...] | None = None
    azimuths_b: tuple[float, ...] | None = None

    n_outcomes = 3
    kind = "entangled_pair"
    _own_sampler = OWN_SAMPLER

    def __post_init__(self) -> None:
        for side in "ab":
            angles = tuple(float(a) for a in getattr(self, f"angles_{side}"))
            azimuths = getattr(self, f"azimuths_{side}")
            azimuths = (0.0,) * len(angles) if azimuths is None else tuple(float(p) for p in azimuths)
            if not angles or len(azimuths) != len(angles) or not all(map(math.isfinite, angles + azimuths)):
                raise StrategyError(
                    f"{side.upper()}'s settings must be finite radians, one azimuth per angle; got "
                    f"angles {angles}, azimuths {azimuths}"
                )
            object.__setattr__(self, f"angles_{side}", angles)
            object.__setattr__(self, f"azimuths_{side}", azimuths)
        if self.backend not in BACKENDS:
            raise StrategyError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    @cached_property
    def table(self) -> np.ndarray:
        """P(o_A, o_B | s_A, s_B) at the noise's storage time (from qiskit.quantum_info)."""
        return pair.joint_table(
            self.noise, self.angles_a, self.angles_b, azimuths_a=self.azimuths_a, azimuths_b=self.azimuths_b
        )

    @property
    def planar(self) -> bool:
        """Every setting lies in the X-Z plane (no Y component)."""
        assert self.azimuths_a is not None and self.azimuths_b is not None  # filled in by __post_init__
        return not any(self.azimuths_a) and not any(self.azimuths_b)

    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        if n_settings_a > len(self.angles_a) or n_settings_b > len(self.angles_b):
            raise StrategyError(
                f"settings ({n_settings_a}, {n_settings_b}) exceed the angles given "
                f"({len(self.angles_a)}, {len(self.angles_b)})"
            )
        return self.table

    def sample(self, setting_a, setting_b, rng, ages=None):
        if self.backend == "aer":
            from .aer import sample_aer

            return sample_aer(self, setting_a, setting_b, rng, ages)
        if ages is None:
            return sample_table(self.table, setting_a, setting_b, rng)
        return self._sample_aged(setting_a, setting_b, rng, np.asarray(ages, dtype=float))

    def _sample_aged(self, setting_a, setting_b, rng, ages):
        """Per-round storage times: the closed-form state of each round's pair, sampled in a compiled loop."""
        if ages.shape != setting_a.shape:
            raise StrategyError(f"ages must give one storage time per round, got {ages.shape} for {setting_a.shape}")
        if ages.size and (not np.isfinite(ages).all() or ages.min() < 0):
            raise StrategyError("ages must be finite, non-negative storage times in seconds")
        n = self.noise
        dir_a = pair.direction(self.angles_a, self.azimuths_a)
        dir_b = pair.direction(self.angles_b, self.azimuths_b)
        store_a, store_b = n.stores
        return kernels.sample_stored_pair(
            pair.link_tensor(n.visibility),
            dir_a,
            dir_b,
            setting_a,
            setting_b,
            ages,
            n.t1,
            n.t2,
            store_a,
            store_b,
            np.array(readout_affine(n.readout_a)),
            np.array(readout_affine(n.readout_b)),
            n.loss_a,
            n.loss_b,
            rng.random((setting_a.size, 4)),
        )

    def describe(self) -> dict:
        assert self.azimuths_a is not None and self.azimuths_b is not None  # filled in by __post_init__
        return {
            "kind": self.kind,
            "angles": {"A": list(self.angles_a), "B": list(self.angles_b)},
            "azimuths": {"A": list(self.azimuths_a), "B": list(self.azimuths_b)},
            "noise": self.noise.to_dict(),
            "backend": self.backend,
        }


def quantum_strategy(
    angles_a,
    angles_b,
    noise: Noise | None = None,
    *,
    fallback_a: tuple[int, ...] | None = None,
    fallback_b: tuple[int, ...] | None = None,
    backend: str = "exact",
    name: str = "quantum",
    aer_backend: object = None,
    azimuths_a=None,
    azimuths_b=None,
    flipped_a=None,
    flipped_b=None,
) -> Strategy:
    """Each server measures along its input's direction and outputs the outcome; on no click, its fallback bit.

    ``angles_a[x]`` may be None: A then ignores its qubit on input x and outputs ``fallback_a[x]``
    (the optimum sometimes mixes quantum and classical inputs). Likewise for B. ``azimuths_*[x]`` (radians,
    default 0) turn the direction out of the X-Z plane. ``flipped_*[x]``: report the opposite of the outcome.
    One entry per input level: K directions for an indicator with K levels.
    """

    def zeros(values):
        return None if values is None else tuple(0.0 if v is None else v for v in values)

    resource = EntangledPair(
        zeros(angles_a),
        zeros(angles_b),
        noise or Noise(),
        backend,
        aer_backend,
        zeros(azimuths_a),
        zeros(azimuths_b),
    )

    def rule(angles, fallback, flipped) -> LocalRule:
        flipped = flipped or (False,) * len(angles)
        if not (len(fallback) == len(flipped) == len(angles)):
            raise StrategyError(
                f"one angle, fallback bit and report flag per input level, got {len(angles)}, "
                f"{len(fallback)} and {len(flipped)}"
            )
        rows = tuple(
            (fallback[x],) * 3 if angles[x] is None else (int(flipped[x]), 1 - int(flipped[x]), fallback[x])
            for x in range(len(angles))
        )
        return LocalRule(outputs=rows, settings=tuple(range(len(angles))))

    fallback_a = (0,) * len(angles_a) if fallback_a is None else tuple(fallback_a)  # on no click: A ask first,
    fallback_b = (1,) * len(angles_b) if fallback_b is None else tuple(fallback_b)  # B bid first (opposite biases)
    return Strategy(
        name, rule(list(angles_a), fallback_a, flipped_a), rule(list(angles_b), fallback_b, flipped_b), resource
    )
