"""Results pinned: the same seed and options give the same numbers across refactors and processors.

Counts (integers, booleans) must match exactly, floats to a relative 1e-9: numpy dispatches SIMD kernels by CPU, so
another processor rounds sums differently in the last digits (measured: relative 1e-16 to 1e-13), which is not a
change of model. Bit-identity stays the rule on one machine (resume, streamed against in-memory, local against
cluster: those tests compare exactly). Every pinned key must be written by the code: a missing key fails.

``tests/data/pinned_metrics.json`` was written by this module (``QCOORD_REPIN=1 pytest tests/test_pinned.py``)
before the configuration tree replaced the keyword plumbing; a change to a pinned number must be a deliberate
change of the model, named in its commit, never a side effect. Re-pinned: named random streams (flip > 0 cases),
and the fill economics of issue 11 (all cases: spread income per minute, switching costs, adverse selection, book
sized at test-start prices). Issue 13: the digest now reads the per-strategy metrics (it had iterated the metrics
frame's columns, so every strategy number was None and only game and comparison values were pinned); best_local is
chosen on the training window, and the history and K-level players join the runs whose readings persist.
Issue 22 (all cases): the bias fill earns the realised spread (44% adverse selection) and a change of order forgoes
the round's income (re-queueing) instead of crossing the spread; the oracle plays one constant side; the queue
fill's adverse selection is a / sqrt(m) on an m-minute bar and its defaults are recalibrated from trade prints.
Issue 43 (all cases): spread income is in the P&L only at the data's own quotes (every pinned run has none: its
income, re-queueing losses, spread-priced cuts and the queue fill's adverse selection move to the assumed column);
the queue fill's legs are sized in money (notional, position_limit) and its defaults recalibrated on the queue ahead
(p_first 0.75, adverse_selection 0.25); under it the oracle knows both inventories (QueueFill.steer).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from qcoord.backtest import BellPairSupply, run_backtest
from qcoord.backtest.fills import QueueFill
from qcoord.strategies import Game, Noise

PINS = Path(__file__).parent / "data" / "pinned_metrics.json"
KEYS = ("pnl_mean", "pnl_var", "win_rate", "hedged_rate", "sharpe", "max_drawdown", "bell_pairs")
COMPARISON = ("variance_ratio", "variance_p_value", "sharpe_diff", "mcnemar_p_value", "hac_lags")
REL = 1e-9  # floats: rounding across processors, far below any change of model


def _cases():
    return {
        "signals_default": lambda: run_backtest("signals", rounds=20_000, seed=3),
        "regime_queue_noise_supply": lambda: run_backtest(
            "regime",
            rounds=20_000,
            seed=5,
            fill=QueueFill(p_first=0.65, p_second=0.35),
            noise=Noise.make(visibility=0.9, readout_error=0.02, t1=2e-3, storage_time=1e-4, loss=0.05),
            supply=BellPairSupply(5e4, 1e5, 2),
        ),
        "signals_paper_indicator": lambda: run_backtest(
            "signals",
            rounds=12_000,
            seed=1,
            game=Game(beta=0.2),
            indicators="noisy_signal",
            indicator_params={"flip": 0.1},
            strategies=("classical", "quantum", "textbook", "follow_indicator"),
            latency=2,
            delay=3,
        ),
        "sample_refit": lambda: run_backtest(_sample(), refit_every=500, seed=2),
        "sample_rolling": lambda: run_backtest(
            _sample(),
            indicators="rolling_correlation",
            indicator_params={"window": 30, "target": 0.4},
            train_fraction=0.6,
        ),
    }


def _sample():
    from qcoord import data

    return data.load_sample("jpm_bac")


def _streamed(monkeypatch):
    return run_backtest(
        "signals", rounds=30_000, seed=7, strategies=("classical", "quantum"), chunk_rounds=1 << 12, in_memory_rows=1000
    )


def _digest(result) -> dict:
    out = {
        "game": {k: result.game[k] for k in ("quantum_value", "classical_value", "advantage")},
        "strategies": {name: {k: m[k] for k in KEYS} for name, m in result.metrics_dict.items()},
        "comparison": {label: {k: c[k] for k in COMPARISON} for label, c in result.comparison.items()},
        "streamed": result.streamed,
    }
    return json.loads(json.dumps(out))  # floats through repr: exact round trip


def _check(name: str, got: dict) -> None:
    if os.environ.get("QCOORD_REPIN"):
        pins = json.loads(PINS.read_text()) if PINS.exists() else {}
        pins[name] = got
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        return
    pins = json.loads(PINS.read_text())
    _same(got, pins[name], name)


def _same(got, want, where: str) -> None:
    """Equal structure and keys; counts exactly, floats to REL; None only where the pin has None."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, (int, float)):
        assert math.isclose(got, want, rel_tol=REL, abs_tol=1e-300), f"{where}: {got!r} != pinned {want!r}"
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} != pinned {want!r}"


def test_the_comparison_rounds_floats_but_not_counts():
    """The tolerance covers processor rounding only: a count off by one, a float off by 1e-8, a missing key fail."""
    pin = {"a": {"n": 3, "v": 0.25}}
    _same({"a": {"n": 3, "v": 0.25 * (1 + 1e-13)}}, pin, "x")
    for bad in ({"a": {"n": 4, "v": 0.25}}, {"a": {"n": 3, "v": 0.25 * (1 + 1e-8)}}, {"a": {"n": 3}}):
        with pytest.raises(AssertionError):
            _same(bad, pin, "x")


@pytest.mark.parametrize("name", list(_cases()))
def test_pinned(name):
    _check(name, _digest(_cases()[name]()))


CLI = [
    "--rounds",
    "15000",
    "--seed",
    "4",
    "--visibility",
    "0.95",
    "--readout-error",
    "0.01,0.02",
    "--fill",
    "queue",
    "--half-spread",
    "1.5",
    "--pair-rate",
    "8e4",
    "--decision-rate",
    "1e5",
    "--max-age",
    "1e-4",
    "--indicator",
    "noisy_signal",
    "--flip",
    "0.05",
    "--strategies",
    "classical,quantum,textbook",
]


def test_pinned_cli(tmp_path, capsys):
    """The command line's route (options -> configuration -> run), and config.toml repeating it."""
    from qcoord.backtest.cli.main import main

    assert main(["backtest", *CLI, "--out", str(tmp_path / "a"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        main(["backtest", "--config", str(tmp_path / "a" / "config.toml"), "--out", str(tmp_path / "b"), "--json"]) == 0
    )
    again = json.loads(capsys.readouterr().out)
    got = {name: {k: m[k] for k in KEYS} for name, m in doc["strategies"].items()}
    assert got == {name: {k: m[k] for k in KEYS} for name, m in again["strategies"].items()}  # one machine: exact
    _check("cli", json.loads(json.dumps(got)))


def test_pinned_streamed(monkeypatch):
    _check("signals_streamed", _digest(_streamed(monkeypatch)))
