"""The configuration tree is the single source of every option: CLI, TOML, sweeps, overrides and README."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from pathlib import Path

import pytest

from qcoord.backtest import config, run_backtest, streams
from qcoord.backtest.cli.arguments import add_options, given
from qcoord.backtest.cli.main import build_parser
from qcoord.backtest.cli.arguments import parse_param
from qcoord.backtest.batch.sweep import point_config
from qcoord.backtest.plan import Plan
from qcoord.backtest.errors import BacktestError
from qcoord.strategies import StrategyError

ROOT = Path(__file__).resolve().parents[1]


def _parser_dests(command: str) -> dict[str, str]:
    """flag -> dest of a subcommand's options."""
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {flag: a.dest for a in sub._actions for flag in a.option_strings}


def test_every_option_has_help_and_is_reachable_from_cli_and_toml():
    dests = set(_parser_dests("backtest").values())
    for s in config.all_specs():
        assert s.help and len(s.help) > 10, f"{s.path} lacks a help text"
        reachable = (
            f"opt:{s.path}" in dests
            or (s.alias and f"opt:{s.alias}" in dests)
            or any(d.startswith("opt:choose:") and d.endswith(s.path) for d in dests)
            or (s.path == "source.kind")
        )  # chosen by --synthetic/--sample/--csv/--yahoo
        assert reachable, f"{s.path} cannot be set from the command line"
    toml_keys = {f"{sec}.{k}" for sec, values in config.RunConfig().to_dict().items() for k in values}
    assert toml_keys == {s.path for s in config.all_specs()}


def _non_default(s: config.Spec):
    """A valid value other than the default, per option."""
    special = {
        "source.kind": "sample",
        "source.mode": "regime",
        "source.sample": "jpm_bac",
        "source.files": ("a.csv",),
        "source.quotes": ("a.csv", "b.csv"),
        "source.tickers": ("JPM", "BAC"),
        "source.start": "2020-01-02",
        "source.end": "2021-01-04",
        "source.interval": "1h",
        "source.cache_dir": "/tmp/c",
        "source.session": "regular",
        "source.sigma": (0.3, 0.25),
        "source.mu": (0.01,),
        "run.strategies": ("classical", "quantum"),
        "run.backend": "aer",
        "run.device": "FakeManilaV2",
        "run.qubits": (1, 0),
        "run.check_indicators": False,
        "indicators.name": "rolling_correlation",
        "indicators.name_b": "divergence",
        "game.kind": "paper",
        "game.rule": "challenge",
        "noise.readout_a": (0.01, 0.02),
        "noise.readout_b": (0.03, 0.0),
        "noise.stored": "a",
        "fill.name": "queue",
        "noise.t1": 2e-3,
        "noise.t2": 1e-3,
        "indicators.history": "on",
        "indicators.levels_indicator": "volatility_burst",
        "link.preset": "li2026",
        "link.source_at": "a",
        "clock.message_path": "microwave",
        "supply.memory_policy": "fifo",
        "link.link_memory_policy": "fifo",
    }
    if s.path in special:
        return special[s.path]
    if s.kind is int:
        return (s.default or 3) + 2
    if s.kind is float:
        lo = 0.0 if s.lo is None or not math.isfinite(s.lo) else s.lo
        return 0.37 if (s.hi == 1 or s.lo == 0) else lo + 0.37
    raise AssertionError(f"no test value for {s.path}")


def test_toml_round_trip_of_every_option(tmp_path):
    values = {s.path: _non_default(s) for s in config.all_specs()}
    cfg = config.RunConfig().with_values(values)
    for path, value in values.items():
        got = cfg.get(path)
        assert got == value or (isinstance(value, tuple) and tuple(got) == value), path
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml({"meta": {"x": 1}}))
    assert config.RunConfig.from_toml(path) == cfg


def test_toml_errors_name_the_file_section_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[noise]\nvisibilty = 0.9\n")
    with pytest.raises(BacktestError, match=r"bad.toml: unknown key 'visibilty' in \[noise\]"):
        config.RunConfig.from_toml(path)
    path.write_text("[run]\nrounds = 'many'\n")
    with pytest.raises(BacktestError, match=r"bad.toml: run.rounds: 'many' is not a whole number"):
        config.RunConfig.from_toml(path)


def test_declared_once_no_command_declares_an_option_by_hand():
    """Only backtest/cli/arguments.py turns options into flags; no module lists option names for them."""
    # other options that happen to share a flag name: compare's rows to show, the game simulation's and the data
    # summary's own lengths and seed
    own = {
        ("compare.py", "--strategies"),
        ("game.py", "--rounds"),
        ("data.py", "--rounds"),
        ("data.py", "--seed"),
        ("calibrate.py", "--session"),
    }  # calibrate reads the regular session unless told otherwise
    flags = {s.flag for s in config.all_specs() if s.flag} | {
        "--" + s.alias.replace("_", "-") for s in config.all_specs() if s.alias
    }
    for path in (ROOT / "backtest").rglob("*.py"):
        if path.name == "arguments.py":
            continue
        for flag in re.findall(r'add_argument\(\s*"(--[\w-]+)"', path.read_text()):
            assert flag not in flags or (path.name, flag) in own, (
                f"{path.name} declares {flag} by hand: it belongs to the configuration tree"
            )


def test_sweepable_names_come_from_the_tree():
    sweepable = config.sweepable()
    for name in (
        "visibility",
        "readout_error",
        "loss",
        "t1",
        "t2",
        "p",
        "flip",
        "latency",
        "notional",
        "position_limit",
        "cut_cost",
        "noise.visibility",
        "fill.p_first",
        "memory_slots",
        "sigma",
    ):
        assert name in sweepable, name
    assert "strategies" not in sweepable and "chunk_rounds" not in sweepable
    assert parse_param("loss=0.1,0.2") == ("loss", [0.1, 0.2])
    with pytest.raises(BacktestError, match=r"sweep parameter flip: 2.0 is out of range \[0, 1\]"):
        parse_param("flip=0.5,2")


def test_sweep_points_validated_as_they_run():
    """T2 unset means 2 T1 at every point of a T1 sweep; a T2 sweep with a fixed T1 checks each point."""
    base = config.RunConfig().with_values({"storage_time": 1e-4})
    for t1 in (1e-3, 1e-2):
        cfg = point_config(base, {"t1": t1})
        assert cfg.noise.build().t2 == 2 * t1
    fixed = base.with_values({"t1": 1e-3})
    Plan.check(point_config(fixed, {"t2": 1.5e-3}))
    with pytest.raises(StrategyError, match="exceeds 2\\*T1"):
        Plan.check(point_config(fixed, {"t2": 3e-3}))


def test_cli_flags_and_overrides_are_the_same_names():
    import argparse

    p = argparse.ArgumentParser()
    add_options(p)
    args = p.parse_args(
        [
            "--visibility",
            "0.9",
            "--loss",
            "0.1",
            "--csv",
            "a.csv",
            "--fill",
            "queue",
            "--notional",
            "50",
            "--no-indicator-check",
            "--yahoo",
            "spy",
            "qqq",
        ][:11]
    )
    values = given(args)
    cfg = config.RunConfig().with_values(values)
    assert cfg.noise.visibility == 0.9 and cfg.noise.loss_a == cfg.noise.loss_b == 0.1
    assert cfg.source.kind == "csv" and cfg.source.files == ("a.csv",)
    assert cfg.fill.build().notional == 50 and cfg.run.check_indicators is False
    yahoo = given(p.parse_args(["--yahoo", "spy", "qqq"]))
    assert config.RunConfig().with_values(yahoo).source.tickers == ("SPY", "QQQ")
    same = config.RunConfig().with_values({"noise.visibility": 0.9, "loss_a": 0.1, "loss_b": 0.1})
    assert same.noise == cfg.noise


def test_config_and_keyword_overrides_give_the_same_run():
    cfg = config.RunConfig().with_values({"rounds": 3000, "seed": 2, "visibility": 0.93, "fill": "queue"})
    a = run_backtest(config=cfg)
    b = run_backtest(rounds=3000, seed=2, visibility=0.93, fill="queue")
    assert a.metrics_dict["quantum"]["pnl_var"] == b.metrics_dict["quantum"]["pnl_var"]
    assert a.config == b.config and a.config["noise"]["visibility"] == 0.93
    with pytest.raises(BacktestError, match="unknown option 'visiblity'"):
        run_backtest(rounds=3000, visiblity=0.9)


def test_readme_option_list_matches_the_tree():
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text[text.index("## `qcoord backtest`") : text.index("A run folder holds")]
    mentioned = set(re.findall(r"(--[a-z][\w-]*)", section))
    flags = set(_parser_dests("backtest"))
    tree = {f for f, d in _parser_dests("backtest").items() if d.startswith("opt:")}
    missing = sorted(f for f in tree if f not in mentioned and not f.startswith("--no-"))
    assert not missing, f"docs/cli.md's backtest option list lacks {missing}"
    unknown = sorted(f for f in mentioned if f not in flags)
    assert not unknown, f"docs/cli.md mentions options qcoord backtest does not have: {unknown}"


def test_named_random_streams_are_distinct():
    seed = 12345
    purposes = [p for p in streams.PURPOSES if "<" not in p] + [
        f"strategy:{n}" for n in ("quantum", "classical", "oracle", "delayed_comm", "always_hedge", "uncoordinated")
    ]
    states = {p: tuple(streams.sequence(seed, p, 0).generate_state(4)) for p in purposes}
    states.update({p + "/seed": tuple(streams.sequence(seed, p).generate_state(4)) for p in purposes})
    import numpy as np

    synthetic = {tuple(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(4)) for k in range(64)}
    assert len(set(states.values())) == len(states)
    assert not synthetic & set(states.values())
    assert len({streams.stream_id(p) for p in purposes}) == len(purposes)
    with pytest.raises(KeyError):
        streams.rng(seed, "unregistered")
    # no module seeds by hand any more
    for path in list((ROOT / "backtest").rglob("*.py")):
        assert "spawn_key" not in path.read_text() or path.name == "streams.py", path


def test_longest_function_in_backtest_is_short():
    """Measured in statements (the lines on which one starts), which ruff format's one-argument-per-line layout does
    not change; 70 is where the earlier limit of 80 physical lines, before the code was formatted, left it."""
    longest = []
    for path in (ROOT / "backtest").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                starts = {s.lineno for s in ast.walk(node) if isinstance(s, ast.stmt)}
                longest.append((len(starts), f"{path.name}:{node.name}"))
    n, where = max(longest)
    assert n <= 70, f"{where} is {n} statements long"


def test_sections_are_frozen_value_objects():
    cfg = config.RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.run.seed = 3  # type: ignore[misc]
    assert hash(cfg.noise) == hash(config.RunConfig().noise)


def test_a_registered_player_goes_through_the_same_door():
    """Built-ins and a user's players come from one registry; a Strategy object is registered the same way."""
    from qcoord.backtest.players.roster import PLAYERS, LocalPlayer, register
    from qcoord.strategies import deterministic

    register(
        "same_side",
        lambda name, fitted, ctx: LocalPlayer(name, deterministic((0, 0), (0, 0), name=name)),
        default=False,
    )
    try:
        r = run_backtest(rounds=2000, strategies=["classical", "same_side"])
        Plan.check(config.RunConfig().with_values({"strategies": "classical,same_side"}))
    finally:
        del PLAYERS["same_side"]
    assert r.metrics_dict["same_side"]["hedged_rate"] is not None
    # same decisions as a Strategy object given directly
    s = run_backtest(rounds=2000, strategies=["classical", deterministic((0, 0), (0, 0), name="same_side")])
    assert s.metrics_dict["same_side"]["pnl_var"] == r.metrics_dict["same_side"]["pnl_var"]
    with pytest.raises(BacktestError, match="unknown strategy 'same_side'"):
        Plan.check(config.RunConfig().with_values({"strategies": "classical,same_side"}))
