"""The options of ``qcoord balance`` / ``run_balance``, declared once (``backtest.options``): the scenario
(``[balance]``), the background task (``[background]``), and the run configuration's own ``[noise]`` and ``[link]``
sections (the same options as ``qcoord backtest``; a link's decision rate is the request rate here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...strategies.balance import LEVELS, REFERENCE_C_T
from ..errors import BacktestError
from ..options import Spec, check_ranges, option, specs_of, values_of
from .servers import Background
from .routers import ROUTERS

MAX_PAIRS = 10**10  # chunked: memory does not grow with pairs, only time does
OWN = ("balance", "background")
SHARED = ("noise", "link")
# the link's decision rate is the request rate (pairs a second); the command sets it, so it is not an option here
NOT_TAKEN = ("link.link_decision_rate",)


@dataclass(frozen=True)
class BalanceSettings:
    """The load-balancing scenario: rates, the threshold t*, the QoS bound, the run's length and its routers."""

    arrival_rate: float = option(
        400.0, help="customer pairs arriving a second (Poisson)", unit="Hz", lo=0, open_lo=True, finite=True
    )
    service_rate: float = option(
        1000.0,
        help="mu: customers a server completes a second (service times Exp(mu))",
        unit="Hz",
        lo=0,
        open_lo=True,
        finite=True,
    )
    c_t: float | None = option(
        None,
        help="the game's threshold C_t = exp(-mu t*): bunch a pair when (1-a)(1-b) >= C_t (or give --t-star)",
        lo=0,
        hi=1,
        open_lo=True,
        open_hi=True,
        flag="--c-t",
        shown_default=REFERENCE_C_T,
    )
    t_star: float | None = option(
        None,
        help="the threshold as a time: bunch a pair when X1 + X2 <= t* (instead of --c-t)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
    )
    qos_wait: float | None = option(
        None,
        help="QoS bound on waiting time: the frontier compares throughput at this "
        "mean wait, and a customer waiting longer violates it (unset: one mean "
        "service time 1/mu)",
        unit="s",
        lo=0,
        open_lo=True,
        finite=True,
    )
    pairs: int = option(
        1_000_000, help="customer pairs simulated at t* (every router on the same arrivals)", lo=1000, hi=MAX_PAIRS
    )
    frontier_points: int = option(
        16,
        help="thresholds t* of the Pareto frontier (besides t* itself), spread over bunch probabilities 0.03 to 0.95",
        lo=0,
        hi=40,
    )
    frontier_pairs: int = option(
        1_000_000, help="customer pairs simulated at each frontier threshold", lo=1000, hi=MAX_PAIRS
    )
    warmup: int = option(10_000, help="pairs played before recording (the system starts empty)", lo=0)
    block_pairs: int = option(1000, help="pairs per block of the paired HAC tests", lo=10)
    routers: tuple[str, ...] = option(ROUTERS, help=f"routers to play: {','.join(ROUTERS)}", metavar="A,B,...")
    levels: tuple[int, ...] = option(
        LEVELS,
        help="input levels K of the K x K games whose values are reported (a "
        "doubling sequence; Tsirelson's SDP takes minutes at 64)",
        metavar="K,K,...",
    )
    split_probability: float | None = option(
        None,
        help="also report the game's values with the routers' splitting probability P(different servers) fixed "
        "at this value, the paper's comparison at fixed p (game.at_split in metrics.json)",
        lo=0,
        hi=1,
    )
    seed: int = option(0, help="random seed (arrivals, service times, routers' randomness)", lo=0)

    def __post_init__(self) -> None:
        check_ranges(self, "balance")
        if self.c_t is not None and self.t_star is not None:
            raise BacktestError("give the threshold once: --c-t or --t-star, not both")
        ks = list(self.levels)
        if len(ks) < 3 or any(b != 2 * a for a, b in zip(ks, ks[1:])) or ks[0] < 2 or ks[-1] > 64:
            raise BacktestError(
                f"--levels must be a doubling sequence of at least three levels from 2 to 64 "
                f"(e.g. 2,4,8,16,32), got {ks}"
            )
        unknown = [r for r in self.routers if r not in ROUTERS]
        if unknown or not self.routers:
            raise BacktestError(
                f"--routers: unknown router(s) {unknown} (known: {', '.join(ROUTERS)})"
                if unknown
                else "--routers: give at least one router"
            )
        if self.arrival_rate >= self.service_rate:
            raise BacktestError(
                f"--arrival-rate {self.arrival_rate:g} pairs/s loads each server at rho = "
                f"{self.arrival_rate / self.service_rate:.3g} >= 1 with --service-rate "
                f"{self.service_rate:g}/s: the queues would grow without bound"
            )

    @property
    def rho(self) -> float:
        return self.arrival_rate / self.service_rate

    @property
    def threshold(self) -> float:
        """C_t of the run."""
        if self.t_star is not None:
            return math.exp(-self.service_rate * self.t_star)
        return REFERENCE_C_T if self.c_t is None else self.c_t

    @property
    def qos(self) -> float:
        return 1.0 / self.service_rate if self.qos_wait is None else self.qos_wait


def _check_background(b: Background) -> Background:
    check_ranges(b, "background")
    return b


@dataclass(frozen=True)
class BalanceConfig:
    """Everything that decides a ``qcoord balance`` run: ``balance``, ``background`` and the run configuration's
    ``noise`` and ``link`` sections (a ``backtest.config.RunConfig`` holds those two)."""

    balance: BalanceSettings = field(default_factory=BalanceSettings)
    background: Background = field(default_factory=Background)
    shared: Any = None  # a RunConfig: its noise and link sections

    def __post_init__(self) -> None:
        if self.shared is None:
            from ..config import RunConfig

            object.__setattr__(self, "shared", RunConfig())

    @property
    def noise(self):
        return self.shared.noise.build()

    @property
    def link(self):
        return self.shared.link.build()

    def with_values(self, values: dict[str, Any], where: str = "") -> BalanceConfig:
        """A copy with options set by name: ``balance.pairs`` or ``pairs``, ``background.kind``, and every noise and
        link option by any of its names (``visibility``, ``noise.visibility``, ``link.preset``, ...)."""
        from ..config import resolve_name

        own: dict[str, dict] = {s: {} for s in OWN}
        shared: dict[str, Any] = {}
        specs = {
            s.path: s
            for sec, cls in (("balance", BalanceSettings), ("background", Background))
            for s in specs_of(cls, sec)
        }
        by_name = {s.name: s for s in specs.values()}  # and by flag: background=, background_exponent=, ...
        by_name.update({s.flag[2:].replace("-", "_"): s for s in specs.values() if s.flag})
        for name, value in values.items():
            s = specs.get(name) or (by_name.get(name.replace("-", "_")) if "." not in name else None)
            if s is not None:
                label = f"{where}{name}" if where else (s.flag or "--" + s.name.replace("_", "-"))
                parsed = s.parse(value, label)
                own[s.section][s.name] = tuple(parsed) if isinstance(parsed, list) else parsed
                continue
            try:
                paths = resolve_name(name)
            except BacktestError:
                raise BacktestError(f"{where}unknown balance option {name!r}") from None
            if any(p.split(".")[0] not in SHARED or p in NOT_TAKEN for p in paths):
                raise BacktestError(
                    f"{where}option {name!r} does not apply to qcoord balance (it takes the "
                    "[balance], [background], [noise] and [link] options)"
                )
            shared[name] = value
        balance = replace(self.balance, **own["balance"])
        background = _check_background(replace(self.background, **own["background"]))
        return BalanceConfig(balance, background, self.shared.with_values(shared, where) if shared else self.shared)

    def to_dict(self) -> dict[str, dict]:
        return {
            "balance": values_of(self.balance),
            "background": values_of(self.background),
            "noise": values_of(self.shared.noise),
            "link": values_of(self.shared.link),
        }

    def to_toml(self) -> str:
        return self.shared.to_toml(
            extra={"balance": values_of(self.balance), "background": values_of(self.background)},
            sections=SHARED,
            header="# qcoord balance configuration: `qcoord balance --config THIS_FILE` repeats the run bit for bit.",
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> BalanceConfig:
        from ..config import read_toml

        path = Path(path)
        raw = read_toml(path)
        stray = sorted(set(raw) - set(OWN) - set(SHARED))
        if stray:
            raise BacktestError(f"{path}: sections {stray} do not belong to a balance configuration")
        values = {f"{sec}.{k}": v for sec, d in raw.items() for k, v in d.items()}
        return cls().with_values(values, f"{path}: ")


def specs() -> list[Spec]:
    """The command's own options (the noise and link options come from the run configuration's tree)."""
    return [*specs_of(BalanceSettings, "balance"), *specs_of(Background, "background")]
