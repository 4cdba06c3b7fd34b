"""The run's one clock: every decision's time in seconds, and what follows from it.

A decision happens at its round's time: a bar's timestamp on real data, ``row x step`` on a synthetic source that
declares its step (``SyntheticPair``: one trading minute unless ``dt`` says otherwise; ``EventPair``: ``dt_s``).
From those times come the decision interval (the median gap between decisions), the stationary window (seconds
spanned by the test window), the ages of stored Bell pairs and their arrivals, and the delay of a classical message
between the two venues counted in decisions.

The game exists only where a message cannot beat the decision: a server may take until its ``deadline`` (by
default its next decision) to decide, and a message from the other venue takes ``message_delay_s`` (the venues'
distance through fibre at c / 1.468, or in a straight line at c for microwave). Where the message arrives first the
servers can simply talk, and entanglement is moot: the run says so first (``output.verdict``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BacktestError
from ..options import check_ranges, option

C_KM_PER_S = 299_792.458  # light in vacuum
FIBRE_INDEX = 1.468  # group index of telecom fibre: light runs at c / 1.468, about 4.9 us a km
# NYSE's data centre (Mahwah, NJ) and NASDAQ's (Carteret, NJ) are about 56 km apart (../shared/REFERENCE.md: about
# 188 us straight-line, more in fibre): the venues of the problem when neither a link nor the source says otherwise
DEFAULT_DISTANCE_KM = 56.0
PATHS = ("fibre", "microwave")


@dataclass(frozen=True)
class ClockSettings:
    """The ``[clock]`` section: where the venues are and how long a server may take to decide."""

    venue_distance_km: float | None = option(
        help="straight-line distance between the two venues' servers (unset: the link's, else the event source's, "
        "else 56 km, NYSE-NASDAQ)",
        unit="km",
        lo=0,
        finite=True,
    )
    message_path: str = option(
        "fibre",
        choices=PATHS,
        help="the fastest classical path between the venues, for talk and delayed_comm: fibre "
        "(c/1.468 over the link's fibre, else the straight line) or microwave (c over "
        "the straight line)",
    )
    decision_deadline: float | None = option(
        help="how long after its input a server may take to decide (unset: until its next decision, the data's "
        "decision interval)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self, "clock")


@dataclass(frozen=True)
class Clock:
    """A run's clock, in seconds: ``interval_s`` between decisions (median), ``deadline_s`` a server may take to
    decide, ``message_delay_s`` of a classical message between the venues (``distance_km`` by ``message_path``),
    ``window_s`` spanned by the test window and ``train_s`` by the training window, and where the interval comes
    from (``source``: "timestamps" or "declared step")."""

    interval_s: float
    deadline_s: float
    message_delay_s: float
    distance_km: float
    message_path: str
    window_s: float
    train_s: float
    source: str

    @property
    def decision_rate_hz(self) -> float:
        return 1.0 / self.interval_s

    @property
    def can_talk(self) -> bool:
        """A message from the other venue arrives before the server must decide: the servers can coordinate by
        talking, so the no-communication game does not arise."""
        return self.message_delay_s < self.deadline_s

    @property
    def rounds_late(self) -> int:
        """Decisions a message sent at one decision misses: a server that decides at once sees the partner's input
        of that many rounds ago at the latest (delayed_comm's delay): ceil(delay / interval), at least 1."""
        return max(1, math.ceil(self.message_delay_s / self.interval_s - 1e-9))

    def to_dict(self) -> dict:
        return {
            "decision_interval_s": self.interval_s,
            "decision_rate_hz": self.decision_rate_hz,
            "deadline_s": self.deadline_s,
            "message_delay_s": self.message_delay_s,
            "distance_km": self.distance_km,
            "message_path": self.message_path,
            "can_talk": self.can_talk,
            "rounds_late": self.rounds_late,
            "window_s": self.window_s,
            "train_s": self.train_s,
            "source": self.source,
        }


def message_delay(distance_km: float, path: str, fibre_km: float | None = None) -> float:
    """One-way seconds of a classical message between venues ``distance_km`` apart in a straight line: through
    ``fibre_km`` of fibre (default: a straight fibre) at c / 1.468, or by microwave in a straight line at c."""
    if path == "microwave":
        return distance_km / C_KM_PER_S
    return (distance_km if fibre_km is None else fibre_km) * FIBRE_INDEX / C_KM_PER_S


def data_interval(source) -> tuple[float, str]:
    """(median seconds between consecutive rows, where that comes from) of a source: a synthetic source's declared
    step, or a MarketData's timestamps."""
    step = getattr(source, "step_seconds", None)
    if step is not None:
        return float(step), "declared step"
    if hasattr(source, "seconds"):  # a synthetic source on business days: its calendar
        seconds = source.seconds(0, 2_000)
    else:
        values = source.index.values  # in the index's own unit (nanoseconds would overflow a long daily index)
        seconds = (values - values[0]) / np.timedelta64(1, "s")
    gaps = np.diff(seconds)
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        raise BacktestError("the data's clock does not advance: every row has the same time")
    return float(np.median(gaps)), "timestamps"


def plan_clock(settings: ClockSettings, source, link=None) -> Clock:
    """The clock of a run before its windows are known: the decision interval from the source (``data_interval``),
    the venues from the settings, else the link (its straight line and its fibre), else an event source's own
    distance and news delay, else NYSE-NASDAQ. ``spanning`` adds the windows."""
    interval, kind = data_interval(source)
    distance, fibre, source_delay = settings.venue_distance_km, None, None
    if distance is None and link is not None:
        distance, fibre = link.straight_line_km, link.distance_km
    elif distance is None and hasattr(source, "delay_s"):
        distance, source_delay = source.distance_km, source.delay_s
    if distance is None:
        distance = DEFAULT_DISTANCE_KM
    delay = message_delay(distance, settings.message_path, fibre)
    if source_delay is not None and settings.message_path == "fibre":
        delay = source_delay  # the speed the event source's own cross-venue news travels at
    deadline = interval if settings.decision_deadline is None else settings.decision_deadline
    return Clock(interval, deadline, delay, float(distance), settings.message_path, 0.0, 0.0, kind)


def spanning(clock: Clock, feed, t0: int, train_end: int, end: int) -> Clock:
    """``clock`` with the seconds its windows span on ``feed``'s rows: training ``[t0, train_end)`` and test
    ``[train_end, end)``, each from the time the round before its first opens it."""
    from dataclasses import replace

    times = feed.seconds_at(np.array([t0 - 1, train_end - 1, end - 1]))
    return replace(clock, train_s=float(times[1] - times[0]), window_s=float(times[2] - times[1]))
