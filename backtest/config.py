"""A run's configuration: defaults <- config file <- command-line options; written back as TOML.

The resolved configuration lists every parameter, so ``qcoord backtest --config runs/X/config.toml``
repeats run X bit for bit. TOML has no null: unset optional values are simply absent; infinities are
written as "inf".
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

from .errors import BacktestError
from .players import DEFAULT_STRATEGIES

DEFAULTS: dict[str, dict[str, Any]] = {
    "source": {"kind": "synthetic", "mode": "signals", "sample": None, "files": None, "tickers": None, "start": None,
               "end": None, "interval": "1d", "cache_dir": None, "session": "all", "p_a": None, "p_b": None,
               "rho_pos": None, "rho_neg": None, "p_break": None, "p_recover": None, "mu": None, "sigma": None,
               "dt": None},
    "run": {"rounds": 200_000, "seed": 0, "strategies": list(DEFAULT_STRATEGIES),
            "backend": "exact", "device": None, "train_fraction": 0.5, "refit_every": None, "delay": 1,
            "book_size": None, "risk_free": 0.0, "risk_aversion": 3.0, "keep_rounds": 1_000_000, "check_indicators": True},
    "indicators": {"name": None, "name_b": None, "latency": 1, "flip": None, "window": None, "target": None,
                   "threshold": None},
    "game": {"kind": "hedge", "beta": 0.0, "rule": "hedge"},
    "noise": {"visibility": 1.0, "readout_a": [0.0, 0.0], "readout_b": [0.0, 0.0], "storage_time": 0.0,
              "t1": math.inf, "t2": None, "stored": "both", "loss_a": 0.0, "loss_b": 0.0},
    "supply": {"pair_rate": None, "decision_rate": None, "memory_slots": 1, "max_age": math.inf},
    "fill": {"name": "bias", "exposure": None, "spread_bps": None, "p_first": None, "p_second": None, "lot": None,
             "half_spread": None, "fee": None, "inventory_limit": None, "cut_cost": None},
}
SYNTHETIC_KEYS = ("p_a", "p_b", "rho_pos", "rho_neg", "p_break", "p_recover", "mu", "sigma", "dt")
FILL_KEYS = {"bias": ("exposure", "spread_bps"),
             "queue": ("p_first", "p_second", "lot", "half_spread", "fee", "inventory_limit", "cut_cost")}
INDICATOR_KEYS = ("flip", "window", "target", "threshold")


def defaults() -> dict:
    return copy.deepcopy(DEFAULTS)


def _inf(value):
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    return value


def load_toml(path: str | Path) -> dict:
    """A config file merged over the defaults; unknown sections or keys are errors naming them."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BacktestError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise BacktestError(f"{path}: unreadable config ({exc})") from None
    cfg = defaults()
    for section, values in raw.items():
        if section in ("fitted", "meta"):  # informational sections written with a run
            continue
        if section not in cfg or not isinstance(values, dict):
            raise BacktestError(f"{path}: unknown config section [{section}]; known: {', '.join(cfg)}")
        for key, value in values.items():
            if key not in cfg[section]:
                raise BacktestError(f"{path}: unknown key {key!r} in [{section}]")
            cfg[section][key] = _inf(value)
    strategies = cfg["run"]["strategies"]
    if isinstance(strategies, str):  # `strategies = "quantum,classical"`: a list in one string, not its letters
        cfg["run"]["strategies"] = [s.strip() for s in strategies.split(",") if s.strip()]
    elif not (isinstance(strategies, list) and all(isinstance(s, str) for s in strategies)):
        raise BacktestError(f"{path}: [run] strategies must be a list of names, got {strategies!r}")
    return cfg


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isinf(value):
            return '"inf"'
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise BacktestError(f"cannot write {value!r} to TOML")


def dumps(cfg: dict, extra: dict | None = None) -> str:
    """TOML text of a configuration (None values left out), plus informational sections."""
    lines = ["# qcoord run configuration: `qcoord backtest --config THIS_FILE` repeats the run bit for bit."]
    for section, values in {**cfg, **(extra or {})}.items():
        if not values and section in (extra or {}):
            continue
        lines.append(f"\n[{section}]")
        for key, value in values.items():
            if value is None or isinstance(value, dict):
                continue
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def to_kwargs(cfg: dict, source=None) -> dict:
    """run_backtest keyword arguments (and the source) from a resolved configuration; ``source`` reuses an
    already loaded real-data source (synthetic pairs are always rebuilt: they depend on the seed)."""
    from data import SyntheticPair
    from strategies import Game, Noise

    from .fills import make_fill
    from .sources import SourceSpec, load
    from .supply import BellPairSupply

    s, run, ind = cfg["source"], cfg["run"], cfg["indicators"]
    seed = run["seed"]
    if s["kind"] == "synthetic":
        synth = {k: s[k] for k in SYNTHETIC_KEYS if s[k] is not None}
        if s.get("tickers"):
            synth["tickers"] = tuple(s["tickers"])
        try:
            source = SyntheticPair(mode=s["mode"], seed=seed, **synth)
        except TypeError as exc:
            raise BacktestError(f"[source]: {exc}") from None
    elif source is None:
        spec = SourceSpec(kind=s["kind"], sample=s["sample"], files=list(s["files"] or []), tickers=s["tickers"],
                          start=s["start"], end=s["end"], interval=s["interval"], cache_dir=s["cache_dir"],
                          session=s["session"])
        source = load(spec)
    params = {k: ind[k] for k in INDICATOR_KEYS if ind[k] is not None}
    indicators = None
    if ind["name"] is not None or ind["name_b"] is not None:
        from .indicators import make_indicator

        name_a = ind["name"] or ind["name_b"]
        name_b = ind["name_b"] or name_a
        pa, pb = _params_for(name_a, params), _params_for(name_b, params)
        unused = sorted(set(params) - set(pa) - set(pb))
        if unused:
            raise BacktestError(f"indicator option(s) {unused} apply to neither {name_a} nor {name_b}")
        indicators = (make_indicator(name_a, **pa), make_indicator(name_b, **pb))
    n = cfg["noise"]
    noise = Noise(visibility=n["visibility"], readout_a=tuple(n["readout_a"]), readout_b=tuple(n["readout_b"]),
                  storage_time=n["storage_time"], t1=_inf(n["t1"]), t2=_inf(n["t2"]), stored=n["stored"],
                  loss_a=n["loss_a"], loss_b=n["loss_b"])
    sup = cfg["supply"]
    supply = None
    if sup["pair_rate"] is not None or sup["decision_rate"] is not None:
        if sup["pair_rate"] is None or sup["decision_rate"] is None:
            raise BacktestError("a Bell-pair supply needs both --pair-rate and --decision-rate")
        supply = BellPairSupply(float(sup["pair_rate"]), float(sup["decision_rate"]), int(sup["memory_slots"]),
                                float(_inf(sup["max_age"])))
    f = cfg["fill"]
    if f["name"] not in FILL_KEYS:
        raise BacktestError(f"unknown fill model {f['name']!r}; choose {', '.join(FILL_KEYS)}")
    stray = [k for keys in FILL_KEYS.values() for k in keys if k not in FILL_KEYS[f["name"]] and f.get(k) is not None]
    if stray:
        raise BacktestError(f"fill option(s) {stray} do not apply to the {f['name']} fill model")
    fill = make_fill(f["name"], **{k: f[k] for k in FILL_KEYS[f["name"]] if f[k] is not None})
    g = cfg["game"]
    if g["kind"] not in ("hedge", "paper"):
        raise BacktestError(f"[game] kind must be 'hedge' or 'paper', got {g['kind']!r}")
    if g["kind"] == "hedge" and (g["beta"] != 0.0 or g["rule"] != "hedge"):
        raise BacktestError("--beta and --rule set the paper's game: add --game paper (the hedge game is calibrated "
                            "on the market and has neither)")
    return {
        "source": source,
        "rounds": run["rounds"],
        "indicators": indicators,
        "indicator_params": (params or None) if indicators is None else None,
        "strategies": list(run["strategies"]),
        "game": "hedge" if g["kind"] == "hedge" else Game(beta=g["beta"], rule=g["rule"]),
        "noise": noise,
        "backend": run["backend"],
        "device": run["device"],
        "fill": fill,
        "supply": supply,
        "latency": ind["latency"],
        "delay": run["delay"],
        "train_fraction": run["train_fraction"],
        "refit_every": run["refit_every"],
        "book_size": run["book_size"],
        "risk_free": run["risk_free"],
        "risk_aversion": run["risk_aversion"],
        "seed": seed,
        "keep_rounds": run["keep_rounds"],
        "check_indicators": run["check_indicators"],
    }


def _params_for(name: str, params: dict) -> dict:
    """Only the parameters a built-in takes (a flip for a threshold indicator is someone else's)."""
    from .indicators import BUILTINS, ThresholdIndicator

    cls = BUILTINS.get(name)
    if cls is None:
        return {}
    allowed = ("window", "target", "threshold") if issubclass(cls, ThresholdIndicator) else ("flip",)
    return {k: v for k, v in params.items() if k in allowed}
