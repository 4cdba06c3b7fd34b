"""What ``run_backtest`` was given: keyword overrides by option name, and Python objects (``noise=Noise(...)``,
``fill=QueueFill(...)``, ``game=Game(...)``, strategies, indicators) used as given; and the checks of what a
source, a link or a device rules out. The option tree itself is ``config.RunConfig``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..strategies import Noise

from .config import (
    FILL_OPTIONS,
    INDICATOR_PARAMS,
    SECTIONS,
    FillSection,
    NoiseSection,
    RunConfig,
    SupplySection,
    all_specs,
    resolve_name,
)
from .errors import BacktestError
from .fills import FILL_MODELS, FillModel
from .options import values_of
from .players.supply import BellPairSupply


@dataclass
class Given:
    """Python objects given to ``run_backtest`` in place of options (used as given; ``Result.config`` records
    what they resolved to)."""

    noise: Noise | None = None
    fill: FillModel | None = None
    supply: BellPairSupply | None = None
    game: Any = None  # a strategies.Game played as given
    indicators: tuple | None = None  # indicator objects or functions (A's, B's)
    strategies: dict = field(default_factory=dict)  # name -> strategies.Strategy
    paths: set = field(default_factory=set)  # the option paths set explicitly (checked against the source)


def configure(config: RunConfig | None, overrides: dict[str, Any]) -> tuple[RunConfig, Given]:
    """The run's configuration: ``config`` (default: every default) with ``overrides`` by option name, and the
    Python objects given among them (``noise=Noise(...)``, ``fill=QueueFill(...)``, ``game=Game(...)``...)."""
    from ..strategies import Game, Strategy

    cfg = config if config is not None else RunConfig()
    if not isinstance(cfg, RunConfig):
        raise BacktestError(f"config must be a qcoord.RunConfig, got {type(cfg).__name__}")
    given, plain = Given(), {}
    for key, value in overrides.items():
        if key == "noise" and value is not None:
            if not isinstance(value, Noise):
                raise BacktestError(f"noise must be a qcoord.Noise, got {value!r}")
            given.noise, cfg = value, replace(cfg, noise=NoiseSection(**_frozen(values_of(value))))
        elif key == "fill" and not isinstance(value, str):
            if not isinstance(value, FillModel):
                raise BacktestError(
                    f"fill must be one of {', '.join(map(repr, FILL_MODELS))} or a FillModel, got {value!r}"
                )
            # a model defined after this module was imported has options the [fill] section does not know: the run
            # plays the object as given and records it in full as ``config.resolved.fill``
            known = {k: v for k, v in values_of(value).items() if k in FILL_OPTIONS}
            given.fill, cfg = value, replace(cfg, fill=FillSection(name=value.name, **_frozen(known)))
        elif key == "supply":
            if value is not None and not isinstance(value, BellPairSupply):
                raise BacktestError(f"supply must be a BellPairSupply or None, got {value!r}")
            section = SupplySection() if value is None else SupplySection(**_frozen(values_of(value)))
            given.supply, cfg = value, replace(cfg, supply=section)
        elif key == "game" and not isinstance(value, str):
            if value is not None and not isinstance(value, Game):
                raise BacktestError(f"game must be 'hedge', 'paper' or a qcoord.Game, got {value!r}")
            given.game = value
        elif key == "strategies":
            names = []
            if isinstance(value, str):  # "quantum" or "classical,quantum", as on the command line
                value = [v.strip() for v in value.split(",") if v.strip()]
            for s in value:
                if isinstance(s, Strategy):
                    given.strategies[s.name] = s
                elif not isinstance(s, str):
                    raise BacktestError(f"strategies: give names or strategies.Strategy objects, got {s!r}")
                names.append(s if isinstance(s, str) else s.name)
            plain["run.strategies"] = tuple(names)
        elif key == "indicators":
            pair = list(value) if isinstance(value, (tuple, list)) else [value] if value is not None else []
            if len(pair) > 2:
                raise BacktestError(f"indicators: give one indicator or one per server (two), got {len(pair)}")
            if all(isinstance(v, str) for v in pair):
                plain.update(zip(("indicators.name", "indicators.name_b"), pair))
            else:
                given.indicators = tuple(pair) if len(pair) == 2 else (pair[0], pair[0])
        elif key == "indicator_params":
            for k, v in (value or {}).items():
                if k not in INDICATOR_PARAMS:
                    raise BacktestError(f"indicator_params: unknown parameter {k!r} ({', '.join(INDICATOR_PARAMS)})")
                plain[f"indicators.{k}"] = v
        else:
            plain[key] = value
    given.paths = {path for k in plain for path in resolve_name(k)}
    return cfg.with_values(plain), given


def _frozen(values: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def check_real_source(paths: set, strategies) -> None:
    """Options that a real source would otherwise ignore without a word (the command line and Python alike)."""
    if "run.rounds" in paths:
        raise BacktestError(
            "rounds (--rounds) sets the length of a synthetic run; real data plays all its rows (cut "
            "them with --start/--end)"
        )
    if "run.strategies" in paths and "regime_oracle" in tuple(strategies):  # the default list runs it where it can
        raise BacktestError("strategy regime_oracle needs a synthetic source (it knows the true regime)")


def check_link(cfg: RunConfig, given: Given, run) -> None:
    """A link derives the noise and the Bell-pair supply from physics: the abstract numbers may not be given too."""
    if run.device:
        raise BacktestError(
            f"device {run.device} brings its own noise: --link derives the noise from a physical "
            "link instead; give one of them"
        )
    clash = [
        s.flag or s.path
        for s in all_specs()
        if s.section in ("noise", "supply")
        and getattr(getattr(cfg, s.section), s.name) != getattr(SECTIONS[s.section](), s.name)
    ]
    if given.noise is not None:
        clash.append("noise=")
    if given.supply is not None:
        clash.append("supply=")
    if clash:
        raise BacktestError(
            f"the link (--link and its options) derives the noise and the Bell-pair supply from "
            f"physics; drop {', '.join(dict.fromkeys(clash))} or set the link's own numbers "
            "(docs/link.md)"
        )


def check_device(run, noise: Noise, supply) -> None:
    """A device brings its own gates, T1/T2 and readout: of our noise only photon loss still applies."""
    if run.qubits is not None and not run.device:
        raise BacktestError("qubits chooses the physical qubits of a device: give device too (--device NAME)")
    if not run.device:
        return
    if noise != Noise(loss_a=noise.loss_a, loss_b=noise.loss_b):
        raise BacktestError(
            f"device {run.device} brings its own noise (gates, T1/T2, readout): of the noise options "
            "only loss applies with it; drop visibility, readout error, storage time, T1 and T2"
        )
    if supply is not None:
        raise BacktestError(
            f"device {run.device}: storing pairs in a Bell-pair memory is not modelled on a device; "
            "drop the supply options"
        )
