"""A run's configuration: one frozen tree, ``RunConfig(source, run, indicators, game, noise, supply, fill, link)``.

Every option is declared once, as a field with metadata (``backtest.options``): the run's own sections here,
the data source in ``sources.Source``, and the value objects' parameters where those objects live
(``strategies.Noise``, the fill models of ``fills``, ``supply.BellPairSupply``), whose sections are
generated from them. From the tree come the command-line options (``arguments``), config.toml (read and
written; a run's config.toml repeats it bit for bit), the sweepable parameters, the keyword overrides of
``run_backtest`` and ``Result.config``. TOML has no null: unset values are left out; infinities are "inf".
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..strategies import Noise
from ..strategies.link import LINK_PRESETS, Link

from .errors import RENAMED_OPTIONS, RENAMED_STRATEGIES, BacktestError, renamed
from .fills import FILL_MODELS, FillModel, make_fill
from .options import Spec, check_ranges, option, specs_of, toml_value, values_of
from .players.roster import DEFAULT_STRATEGIES, PLAYERS
from .feed.clock import ClockSettings
from .feed.sources import Source
from .players.supply import BellPairSupply

CHUNK = 1 << 20
MIN_ROUNDS = 30  # rounds a training or test window needs at least (for a variance and a fit)


@dataclass(frozen=True)
class RunSettings:
    """How the run is played: length, seed, strategies, training window, accounting."""

    rounds: int = option(
        200_000,
        help="rounds to play (synthetic sources; real data plays all its rows, cut them with --start/--end)",
        unit="rounds",
        lo=2 * MIN_ROUNDS,
    )
    seed: int = option(0, help="random seed", lo=0)
    strategies: tuple[str, ...] = option(
        DEFAULT_STRATEGIES,
        metavar="A,B,...",
        help=f"strategies to compare: {','.join(PLAYERS)} (uncoordinated and oracle always run)",
    )
    backend: str = option("exact", help="quantum sampler", choices=("exact", "aer"))
    device: str | None = option(
        help="fake IBM device (extra 'ibm'): every quantum strategy plays on its noise "
        "model and the directions are fitted to the Bell pair it prepares",
        metavar="NAME",
    )
    qubits: tuple[int, ...] | None = option(
        help="the device's physical qubits for A and B (unset: the coupled pair "
        "with the smallest two-qubit + readout error)",
        metavar="A,B",
        counts=(2,),
        lo=0,
    )
    train_fraction: float = option(0.5, help="share of rounds to fit on", lo=0, hi=1, open_lo=True, open_hi=True)
    refit_every: int | None = option(help="re-fit every K test rounds (walk-forward)", unit="rounds", lo=1, metavar="K")
    delay: int | None = option(
        help="delay of delayed_comm's classical link (unset: the decisions a message between "
        "the venues misses on the data's clock, at least 1)",
        unit="rounds",
        lo=1,
    )
    book_size: float | None = option(
        help="currency the book returns are measured on (unset: the fill model's)", unit="currency", lo=0, open_lo=True
    )
    risk_free: float = option(
        0.0, help="annual risk-free rate for Sharpe and Sortino", unit="per year", lo=-1, open_lo=True, hi=math.inf
    )
    risk_aversion: float = option(
        3.0,
        help="relative risk aversion of a mean-variance investor in the book, for "
        "the certainty equivalent of one Bell pair",
        lo=0,
        open_lo=True,
        hi=math.inf,
        metavar="GAMMA",
    )
    keep_rounds: int = option(
        1_000_000, help="test rounds kept round by round in the pnl files", unit="rounds", lo=MIN_ROUNDS
    )
    check_indicators: bool = option(True, help="check custom indicators for causality", flag="--indicator-check")
    chunk_rounds: int = option(
        CHUNK,
        help="rounds per chunk: the unit of randomness and of memory (results depend on it; keep it to repeat a run)",
        unit="rounds",
        lo=1,
        sweep=False,
    )
    threads: int | None = option(
        help="threads for the strategies' work on a chunk of rounds (unset: the cores "
        "this process may use, at most 4); results do not depend on it",
        lo=1,
        sweep=False,
    )
    user_timeout: float = option(
        300.0,
        help="seconds a user rule or indicator may take on one request (a chunk of "
        "rounds, an evaluation) before the run stops",
        unit="s",
        lo=0,
        open_lo=True,
        hi=math.inf,
        sweep=False,
    )
    in_memory_rows: int = option(
        1 << 22,
        help="synthetic runs up to this many rows are generated whole (any "
        "indicator, refits); longer ones are streamed in chunks",
        unit="rows",
        lo=1,
        sweep=False,
    )

    def __post_init__(self) -> None:
        names = []
        for name in self.strategies:
            if name in RENAMED_STRATEGIES:
                renamed("strategy", name, RENAMED_STRATEGIES[name])
                name = RENAMED_STRATEGIES[name]
            names.append(name)
        object.__setattr__(self, "strategies", tuple(names))
        check_ranges(self, "run")


def _indicator_param_fields() -> list:
    """Every built-in indicator's parameters (``Indicator.Params``), unset meaning the chosen indicator's default."""
    from .feed.indicators import parameter_options

    out = []
    for name, (hint, f, defaults) in parameter_options().items():
        shown = set(defaults.values())
        meta = {
            **f.metadata,
            "shown_default": shown.pop() if len(shown) == 1 else ", ".join(f"{k} {v}" for k, v in defaults.items()),
        }
        out.append((name, hint | None, field(default=None, metadata=meta)))
    return out


# generated from the indicators' declarations at import: a type checker cannot see the fields (Any)
_IndicatorParams: Any = dataclasses.make_dataclass("_IndicatorParams", _indicator_param_fields(), frozen=True)
INDICATOR_PARAMS = tuple(f.name for f in dataclasses.fields(_IndicatorParams))


@dataclass(frozen=True)
class IndicatorSettings(_IndicatorParams):
    """Each server's indicator bit (built-in name or ``module:function``) and its parameters (every built-in's, as
    its ``Params`` declares them; unset: the indicator's own default)."""

    name: str | None = option(
        help="both servers' indicator: noisy_signal, noisy_regime, rolling_correlation, "
        "divergence, volatility_burst, return_shock, recent_move, momentum, "
        "volume_spike, spread_widening, or module:function (unset: by source)",
        flag="--indicator",
        metavar="NAME",
    )
    name_b: str | None = option(help="server B's indicator, if different", flag="--indicator-b", metavar="NAME")
    latency: int | None = option(
        help="bars before a server sees the partner's prices (unset: the decisions a message "
        "between the venues misses on the data's clock, at least 1)",
        unit="bars",
        lo=0,
    )
    history: str = option(
        "auto",
        help="rules on a server's own past readings (history rules) and the smoothed K-level "
        "indicator (classical_levels, quantum_levels): auto = when the readings "
        "persist in time",
        choices=("auto", "on", "off"),
    )
    levels: int = option(
        4,
        help="levels K of the K-level indicator (default: the share of ones among a server's "
        "own last readings, in K bins)",
        lo=2,
        hi=8,
    )
    levels_indicator: str | None = option(
        help="K-level indicator for classical_levels and quantum_levels instead of "
        "the smoothed readings: a built-in threshold indicator (quantile bins "
        "of its score, set on the training window) or module:function with "
        "a levels attribute",
        flag="--levels-indicator",
        metavar="NAME",
    )

    def __post_init__(self) -> None:
        check_ranges(self, "indicators")

    def check(self) -> None:
        """Before any work (not while the tree is built): options that contradict each other."""
        if self.threshold is not None and self.target is not None:
            raise BacktestError("--threshold fixes the threshold that --target would fit: give one of them")

    @property
    def params(self) -> dict:
        return {k: getattr(self, k) for k in INDICATOR_PARAMS if getattr(self, k) is not None}

    def build(self):
        """(A's, B's) indicator objects, or None for the source's default (its parameters then in ``params``)."""
        if self.name is None and self.name_b is None:
            return None
        from .feed.indicators import make_indicator

        name_a = self.name or self.name_b
        name_b = self.name_b or name_a
        params = self.params
        pa, pb = params_for(name_a, params), params_for(name_b, params)
        unused = sorted(set(params) - set(pa) - set(pb))
        if unused:
            raise BacktestError(f"indicator option(s) {unused} apply to neither {name_a} nor {name_b}")
        return make_indicator(name_a, **pa), make_indicator(name_b, **pb)


def params_for(name: str, params: dict) -> dict:
    """Only the parameters a built-in takes (a flip for a threshold indicator is someone else's)."""
    from .feed.indicators import BUILTINS

    cls = BUILTINS.get(name)
    if cls is None:
        return {}
    allowed = {f.name for f in dataclasses.fields(cls.Params)}
    return {k: v for k, v in params.items() if k in allowed}


@dataclass(frozen=True)
class GameSettings:
    """The game the strategies are fitted to."""

    kind: str = option(
        "hedge",
        flag="--game",
        choices=("hedge", "paper"),
        help="hedge: the book's hedge game fitted on the training window; paper: Ding & Jiang's "
        "game with --beta and --rule",
    )
    beta: float = option(0.0, help="paper game: utility of 'same' on mixed inputs (Ding & Jiang Eq. 3.1)", lo=0, hi=1)
    rule: str = option(
        "hedge",
        choices=("hedge", "challenge"),
        help="paper game: hedge, a XOR b = NOT(x AND y); challenge: the text's literal a XOR b = x AND y",
    )

    def __post_init__(self) -> None:
        check_ranges(self, "game")
        if self.kind == "hedge" and (self.beta != 0.0 or self.rule != "hedge"):
            raise BacktestError(
                "--beta and --rule set the paper's game: add --game paper (the hedge game is "
                "fitted on the market and has neither)"
            )

    def build(self):
        """A strategies.Game, or None for the fitted hedge game."""
        from ..strategies import Game

        return None if self.kind == "hedge" else Game(beta=self.beta, rule=self.rule)


# -- sections generated from value objects -----------------------------------------------------------------------
def _mirror(cls: type, name: str, *, optional: bool = False, fields: list | None = None, build=None) -> type:
    """A frozen section holding ``cls``'s options as declared (unset stays None), built into a ``cls`` last: a
    sweep of T1 with T2 unset then means T2 = 2 T1 at every point, not the base's resolved T2."""
    hints = typing.get_type_hints(cls)
    spec = (
        fields
        if fields is not None
        else [
            (
                f.name,
                (hints[f.name] | None) if optional else hints[f.name],
                field(default=None if optional else f.default, metadata=f.metadata),
            )
            for f in dataclasses.fields(cls)
            if "help" in f.metadata
        ]
    )

    def default_build(self):
        return cls(**{k: _thaw(v) for k, v in values_of(self).items() if v is not None})

    return dataclasses.make_dataclass(
        name,
        spec,
        frozen=True,
        namespace={
            "build": build or default_build,
            "__doc__": f"The [{name.lower().removesuffix('section')}] section: {cls.__name__}'s options as declared.",
        },
    )


def _thaw(v):
    return list(v) if isinstance(v, tuple) else v


# The sections are generated from their models' declared fields at import: a type checker cannot see the fields,
# so each section's class is typed Any.
NoiseSection: Any = _mirror(Noise, "NoiseSection")


def _build_supply(self) -> BellPairSupply | None:
    if self.pair_rate is None and self.decision_rate is None:
        return None
    if self.pair_rate is None:
        raise BacktestError(
            "--decision-rate declares a synthetic source's step for a Bell-pair supply: give the "
            "supply's --pair-rate too"
        )
    return BellPairSupply(**{k: v for k, v in values_of(self).items() if v is not None})


SupplySection: Any = _mirror(BellPairSupply, "SupplySection", build=_build_supply)


def _fill_fields() -> list:
    """``name`` and every fill model's options (unset: the chosen model's default)."""
    out = [
        (
            "name",
            str,
            option(
                "bias",
                flag="--fill",
                choices=tuple(FILL_MODELS),
                help="fill model: how a server's quoting order becomes P&L",
            ),
        )
    ]
    seen = set()
    for model in FILL_MODELS.values():
        hints = typing.get_type_hints(model)
        for f in dataclasses.fields(model):
            if "help" in f.metadata and f.name not in seen:
                seen.add(f.name)
                meta = {**f.metadata, "shown_default": f.default}
                out.append((f.name, hints[f.name] | None, field(default=None, metadata=meta)))
    return out


def _build_fill(self) -> FillModel:
    cls = FILL_MODELS[self.name]
    own = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in values_of(self).items() if k != "name" and v is not None}
    stray = sorted(k for k in values if k not in own)
    if stray:
        raise BacktestError(f"fill option(s) {stray} do not apply to the {self.name} fill model")
    return make_fill(self.name, **values)


FillSection: Any = _mirror(FillModel, "FillSection", fields=_fill_fields(), build=_build_fill)
FILL_OPTIONS = frozenset(f.name for f in dataclasses.fields(FillSection)) - {"name"}


def _link_fields() -> list:
    """``preset`` (--link) and every Link parameter, unset meaning the preset's value (or Link's default)."""
    hints = typing.get_type_hints(Link)
    out = [
        (
            "preset",
            str | None,
            option(
                None,
                flag="--link",
                choices=tuple(LINK_PRESETS),
                metavar="PRESET",
                help="the quantum link from physics: a preset ("
                + ", ".join(LINK_PRESETS)
                + "; docs/link.md) whose noise and Bell-pair supply the run plays; "
                "the options below change its numbers (unset: the preset's value, "
                "else the default shown)",
            ),
        )
    ]
    for f in dataclasses.fields(Link):
        meta = {**f.metadata, "shown_default": f.default}
        out.append((f.name, hints[f.name] | None, field(default=None, metadata=meta)))
    return out


def _build_link(self) -> Link | None:
    from ..strategies import StrategyError

    values = {k: _thaw(v) for k, v in values_of(self).items() if k != "preset" and v is not None}
    if self.preset is None and not values:
        return None
    try:
        return Link.preset(self.preset, **values) if self.preset else Link(**values)
    except StrategyError as exc:
        raise BacktestError(str(exc)) from None


LinkSection: Any = _mirror(Link, "LinkSection", fields=_link_fields(), build=_build_link)


# -- the tree --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's results, as declared (see the module docstring)."""

    source: Source = field(default_factory=Source)
    run: RunSettings = field(default_factory=RunSettings)
    indicators: IndicatorSettings = field(default_factory=IndicatorSettings)
    game: GameSettings = field(default_factory=GameSettings)
    noise: NoiseSection = field(default_factory=NoiseSection)
    supply: SupplySection = field(default_factory=SupplySection)
    fill: FillSection = field(default_factory=FillSection)
    link: LinkSection = field(default_factory=LinkSection)
    clock: ClockSettings = field(default_factory=ClockSettings)

    # -- reading and writing values ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: values_of(getattr(self, name)) for name in SECTIONS}

    def get(self, path: str):
        section, key = path.split(".")
        return getattr(getattr(self, section), key)

    def with_values(self, values: dict[str, Any], where: str = "") -> RunConfig:
        """A copy with options set by any of their names (``noise.visibility``, ``visibility``, ``loss``, ...);
        each value is read and checked as the option declares (text as typed, or a Python/TOML value)."""
        changes: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            paths = resolve_name(name)
            for s in (spec(p) for p in paths):
                # the name as the user wrote it (a TOML file's path, a keyword); paths from the command line by flag
                label = f"{where}{name}" if where or "." not in name or not s.flag else s.flag
                parsed = s.parse(value, label)
                changes.setdefault(s.section, {})[s.name] = tuple(parsed) if isinstance(parsed, list) else parsed
                key = name.strip().replace("-", "_")
                # a choosing name (the flag without --: yahoo=[...] as --yahoo) chooses its kind too
                kind = next((k for f, k, _ in s.choose_flags if f[2:].replace("-", "_") == key), s.chooses)
                if kind and "kind" not in changes.get("source", {}):
                    changes.setdefault("source", {})["kind"] = kind
        out = self
        for section, kv in changes.items():
            out = replace(out, **{section: _replace(getattr(out, section), section, kv)})
        return out

    @classmethod
    def from_dict(cls, doc: dict, where: str = "") -> RunConfig:
        """From nested sections (TOML or JSON); unknown sections or keys are errors naming them."""
        flat = {}
        for section, values in doc.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise BacktestError(f"{where}unknown config section [{section}]; known: {', '.join(SECTIONS)}")
            for key, value in values.items():
                if f"{section}.{key}" in RENAMED_OPTIONS:  # a config.toml written before the rename
                    renamed("option", f"{section}.{key}", RENAMED_OPTIONS[f"{section}.{key}"])
                    key = RENAMED_OPTIONS[f"{section}.{key}"].split(".", 1)[1]
                if f"{section}.{key}" not in _SPECS:
                    raise BacktestError(f"{where}unknown key {key!r} in [{section}]")
                flat[f"{section}.{key}"] = value
        # a kind given explicitly comes first, so that files or a sample in the same file do not choose again
        flat = dict(sorted(flat.items(), key=lambda kv: kv[0] != "source.kind"))
        return cls().with_values(flat, where)

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        raw = read_toml(path)
        raw = {k: v for k, v in raw.items() if k not in ("fitted", "meta")}  # informational sections of a run
        return cls.from_dict(raw, f"{path}: ")

    def to_toml(
        self,
        extra: dict | None = None,
        sections: tuple[str, ...] | None = None,
        header: str = "# qcoord run configuration: `qcoord backtest --config THIS_FILE` repeats the run bit for bit.",
    ) -> str:
        """TOML text (unset values left out) of all sections or only ``sections``, plus informational ones."""
        lines = [header]
        own = {k: v for k, v in self.to_dict().items() if sections is None or k in sections}
        for section, values in {**own, **(extra or {})}.items():
            if not values and section in (extra or {}):
                continue
            lines.append(f"\n[{section}]")
            for key, value in values.items():
                if value is None or isinstance(value, dict):
                    continue
                lines.append(f"{key} = {toml_value(value)}")
        return "\n".join(lines) + "\n"


def read_toml(path: Path) -> dict:
    """A config file's TOML, or a BacktestError naming the file (missing, unreadable, not TOML)."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BacktestError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise BacktestError(f"{path}: unreadable config ({exc})") from None


# every field of RunConfig is a section made by its class (default_factory is never MISSING; mypy cannot know)
SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)}  # type: ignore[misc]


def _replace(obj, section: str, changes: dict):
    try:
        return replace(obj, **changes)
    except TypeError as exc:  # pragma: no cover - names are resolved against the declared fields first
        raise BacktestError(f"[{section}]: {exc}") from None


_SPECS: dict[str, Spec] = {s.path: s for name, cls in SECTIONS.items() for s in specs_of(cls, name)}


def spec(path: str) -> Spec:
    return _SPECS[path]


def all_specs() -> list[Spec]:
    """Every option of the tree, in section and field order."""
    return list(_SPECS.values())


@cache
def names() -> dict[str, tuple[str, ...]]:
    """Every name an option answers to -> the paths it sets: ``section.field``, the field name when no other
    section has it, the flag's name (``indicator``, ``fill``, ``game``, ``csv``...) and aliases."""
    out: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for s in _SPECS.values():
        counts[s.name] = counts.get(s.name, 0) + 1
    for s in _SPECS.values():
        out[s.path] = [s.path]
        if counts[s.name] == 1:
            out.setdefault(s.name, []).append(s.path)
        if s.flag:
            dest = s.flag[2:].replace("-", "_")
            if dest != s.name:
                out.setdefault(dest, []).append(s.path)
        for flag, _, _ in s.choose_flags:
            out.setdefault(flag[2:].replace("-", "_"), []).append(s.path)
        if s.alias:
            out.setdefault(s.alias, []).append(s.path)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def resolve_name(name: str) -> tuple[str, ...]:
    key = name.strip().replace("-", "_")
    if key in RENAMED_OPTIONS:
        renamed("option", name, RENAMED_OPTIONS[key])
        key = RENAMED_OPTIONS[key]
    found = names().get(key)
    if found is None:
        raise BacktestError(f"unknown option {name!r}")
    return found


def sweepable() -> dict[str, tuple[str, ...]]:
    """Names that can be swept (numbers) -> the paths each sets."""
    return {k: paths for k, paths in names().items() if all(spec(p).sweep for p in paths)}
