"""Imperfections of the shared pair and the detectors, as one small value object.

The order is physical: the source emits |Phi+>, the link depolarizes it (Werner visibility v), each
stored half relaxes while it waits for its server's decision (T1, T2 for a storage time t), the server
rotates and measures, the detector may miss the photon (loss: no click, the server falls back to a
local classical rule) and a click may be misread (readout error).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import cast

import numpy as np

from .errors import StrategyError

STORED = ("both", "a", "b")


def _prob(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise StrategyError(f"{name} must be a probability in [0, 1], got {value!r}")
    return value


def _pair(name: str, value) -> tuple[float, float]:
    if np.ndim(value) == 0:
        return (_prob(name, value), _prob(name, value))
    seq = list(value)
    if len(seq) == 1:  # "E" from a list-valued option: symmetric
        return (_prob(name, seq[0]), _prob(name, seq[0]))
    if len(seq) != 2:
        raise StrategyError(f"{name} takes one probability or a pair (P(1|0), P(0|1)), got {value!r}")
    return (_prob(name, seq[0]), _prob(name, seq[1]))


@dataclass(frozen=True)
class Noise:
    """Imperfections, each a plain parameter with its unit.

    - ``visibility``: Werner visibility v of the pair, state v |Phi+><Phi+| + (1 - v) I/4
      (a two-qubit depolarizing error of parameter p = 1 - v).
    - ``readout_a``, ``readout_b``: (P(read 1 | 0), P(read 0 | 1)) per party; a single number means symmetric.
    - ``storage_time`` (seconds) each stored half waits; ``t1``, ``t2`` (seconds) its relaxation and
      dephasing times, ``t2 <= 2 t1``; ``t1 = inf`` is pure dephasing; ``t2`` unset (None) means limited by
      T1 only, T2 = 2 T1 (inf when T1 is). ``stored``: "both" halves wait
      (default: each server holds its qubit until its decision), or only "a" or "b".
    - ``loss_a``, ``loss_b``: probability that the party's detector does not click; the party then
      outputs its fallback bit (part of its local rule).
    """

    # Field metadata declares each parameter as a run option (help, unit, flag, alias); ``backtest.options``
    # reads it, so the command line, config files and sweeps never repeat it.
    visibility: float = field(default=1.0, metadata={"help": "Werner visibility v of the pair", "lo": 0, "hi": 1})
    readout_a: tuple[float, float] = field(
        default=(0.0, 0.0),
        metadata={
            "help": "A's readout error: E, or P(read 1|0),P(read 0|1)",
            "alias": "readout_error",
            "metavar": "E|E01,E10",
            "lo": 0,
            "hi": 1,
            "counts": (1, 2),
            "alias_help": "readout error of both parties: E, or P(read 1|0),P(read 0|1)",
            "sweep": True,
        },
    )
    readout_b: tuple[float, float] = field(
        default=(0.0, 0.0),
        metadata={
            "help": "B's readout error: E, or P(read 1|0),P(read 0|1)",
            "alias": "readout_error",
            "metavar": "E|E01,E10",
            "lo": 0,
            "hi": 1,
            "counts": (1, 2),
            "sweep": True,
        },
    )
    storage_time: float = field(
        default=0.0, metadata={"help": "time each stored half waits", "unit": "s", "lo": 0, "finite": True}
    )
    t1: float = field(
        default=math.inf,
        metadata={"help": "T1 relaxation time of a stored half (inf: none)", "unit": "s", "lo": 0, "open_lo": True},
    )
    t2: float | None = field(
        default=None,
        metadata={
            "help": "T2 dephasing time, <= 2*T1 (unset: 2*T1, limited by T1 only)",
            "unit": "s",
            "lo": 0,
            "open_lo": True,
        },
    )
    stored: str = field(default="both", metadata={"help": "which halves wait", "choices": STORED})
    loss_a: float = field(
        default=0.0,
        metadata={
            "help": "P(no click) at A; A then plays its fallback bit",
            "alias": "loss",
            "lo": 0,
            "hi": 1,
            "alias_help": "P(no click) per party; a party without a click plays its fallback bit",
        },
    )
    loss_b: float = field(
        default=0.0,
        metadata={"help": "P(no click) at B; B then plays its fallback bit", "alias": "loss", "lo": 0, "hi": 1},
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", _prob("visibility", self.visibility))
        object.__setattr__(self, "readout_a", _pair("readout error", self.readout_a))
        object.__setattr__(self, "readout_b", _pair("readout error", self.readout_b))
        object.__setattr__(self, "loss_a", _prob("loss", self.loss_a))
        object.__setattr__(self, "loss_b", _prob("loss", self.loss_b))
        if self.t2 is None:  # unset: limited by T1 only
            object.__setattr__(self, "t2", 2.0 * float(self.t1))
        for name in ("storage_time", "t1", "t2"):
            v = float(getattr(self, name))
            object.__setattr__(self, name, v)
        if not (math.isfinite(self.storage_time) and self.storage_time >= 0):
            raise StrategyError(f"storage time must be a non-negative number of seconds, got {self.storage_time!r}")
        for name in ("t1", "t2"):
            v = getattr(self, name)
            if math.isnan(v) or v <= 0:
                raise StrategyError(f"{name.upper()} must be a positive number of seconds (or inf), got {v!r}")
        assert self.t2 is not None  # resolved above
        if self.t2 > 2 * self.t1:
            raise StrategyError(f"T2 = {self.t2!r} s exceeds 2*T1 = {2 * self.t1!r} s, which no physical qubit allows")
        if self.stored not in STORED:
            raise StrategyError(f"stored must be one of {', '.join(STORED)}, got {self.stored!r}")

    @classmethod
    def make(
        cls,
        visibility: float = 1.0,
        readout_error: float | tuple[float, float] = 0.0,
        storage_time: float = 0.0,
        t1: float = math.inf,
        t2: float | None = None,
        loss: float = 0.0,
        stored: str = "both",
    ) -> Noise:
        """The same imperfections at both parties (the command line's options)."""
        # __post_init__ makes a single probability a pair (_pair); the generated __init__ is typed with the field's type
        e = cast("tuple[float, float]", readout_error)
        return cls(visibility, e, e, storage_time, t1, t2, stored, loss, loss)

    @property
    def ideal(self) -> bool:
        return self == Noise()

    @property
    def stores(self) -> tuple[bool, bool]:
        """Whether A's and B's halves are stored."""
        return (self.stored in ("both", "a"), self.stored in ("both", "b"))

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("readout_a", "readout_b"):
            d[k] = list(d[k])
        for k in ("t1", "t2"):
            if math.isinf(d[k]):
                d[k] = "inf"
        return d


def readout_affine(e: tuple[float, float]) -> tuple[float, float]:
    """(d, s): the expected reported +-1 value given the true one A is d + s*A (0 -> +1, 1 -> -1)."""
    e01, e10 = e
    return e10 - e01, 1.0 - e01 - e10
