"""History rules on a server's own readings and the smoothed K-level indicator: causal, local, chunk-invariant,
run where readings persist, fitted and compared on the training window; the verdict names the best local strategy."""

from __future__ import annotations

import numpy as np
import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.players.history import HISTORY_RULES, Channels, HistoryRule, level_rules, persistence


def _naive(rule: HistoryRule, bits: np.ndarray) -> np.ndarray:
    """Round by round, as written in the module docstring."""
    out, last = [], 0
    for t in range(bits.size):
        w = bits[max(0, t - rule.window + 1) : t + 1]
        c, n = int(w.sum()), w.size
        if rule.kind == "majority":
            o = int(2 * c > n)
        elif rule.kind == "count":
            o = min(c * rule.levels // n, rule.levels - 1)
        else:
            o = 1 if 3 * c >= 2 * n else 0 if 3 * c <= n else last
        out.append(o)
        last = o
    return np.array(out, dtype=np.uint8)


@pytest.mark.parametrize(
    "rule", list(HISTORY_RULES) + list(level_rules(4)) + [HistoryRule("count", 9, 8)], ids=lambda r: r.name
)
def test_rules_match_a_round_by_round_loop_whatever_the_chunks(rule):
    rng = np.random.default_rng(1)
    # persistent readings: runs of 1s and 0s, so hysteresis really holds beyond its window
    bits = np.repeat(rng.integers(0, 2, 400), rng.integers(1, 12, 400)).astype(np.uint8)
    bits ^= (rng.random(bits.size) < 0.15).astype(np.uint8)
    want = _naive(rule, bits)
    for pieces in (1, 3, 17):
        state, outs = rule.initial_state(), []
        for part in np.array_split(bits, pieces):
            out, state = rule.apply(part, state)
            outs.append(out)
        assert np.array_equal(np.concatenate(outs), want), (rule.name, pieces)
    assert want.max() < rule.levels


def test_a_servers_derived_input_depends_on_its_own_readings_only():
    rng = np.random.default_rng(2)
    x, y = (rng.random(5000) < 0.4).astype(np.uint8), (rng.random(5000) < 0.6).astype(np.uint8)
    rules = list(HISTORY_RULES) + list(level_rules(4))
    a = Channels(rules).step(x, y)
    b = Channels(rules).step(x, rng.permutation(y))
    for name in a:
        assert np.array_equal(a[name][0], b[name][0]), name  # A's from x alone
        assert not np.array_equal(a[name][1], b[name][1]), name


def test_persistence_tells_markov_readings_from_independent_ones():
    rng = np.random.default_rng(3)
    iid = (rng.random(20000) < 0.5).astype(np.uint8)
    assert not persistence(iid, iid[::-1].copy())["persistent"]
    sticky = np.repeat(rng.integers(0, 2, 2000), 10).astype(np.uint8)
    p = persistence(sticky, iid)
    assert p["persistent"] and p["A"] > 0.8 and abs(p["B"]) < 0.05


@pytest.fixture(scope="module")
def regime():
    return run_backtest("regime", rounds=80_000, seed=3, progress=False)


def test_regime_feed_runs_memory_and_the_k_level_players(regime):
    r = regime
    for name in ("history", "classical_levels", "quantum_levels"):
        assert name in r.metrics_dict, name
    info = r.information
    assert info["persistence"]["persistent"] and info["history"]["name"] in info["family"]
    lv = info["levels"]
    assert lv["levels"] == 4 and np.asarray(lv["p_xy"]).shape == (4, 4)
    # the chosen members are the training optima of their candidate lists
    assert info["history"]["saved"] == max(info["candidates"]["history"].values())
    assert lv["quantum_saved"] == max(v["quantum"] for v in info["candidates"]["levels"].values())
    assert lv["classical_saved"] <= lv["quantum_saved"] <= lv["tsirelson_bound"] + 1e-6 * lv["coin_variance"]
    # quantum_levels measures along one direction per level
    assert len(r.players["quantum_levels"]["resource"]["angles"]["A"]) == 4
    assert r.players["history"]["information"]["rule"] in ("majority", "hysteresis")


def test_best_local_is_chosen_on_the_training_window_and_the_verdict_names_it(regime):
    r = regime
    train = r.best_local_training
    assert r.best_local == min(train, key=train.get)
    assert set(train) == {"uncoordinated", "always_hedge", "classical", "history", "classical_levels"}
    # on this persistent feed a rule on a server's own readings is the best local strategy, on both windows
    assert r.best_local in ("history", "classical_levels")
    classical_local = [s for s in train]
    test_best = min(classical_local, key=lambda s: r.metrics_dict[s]["pnl_var"])
    assert test_best in ("history", "classical_levels")
    verdict = r.verdict()
    assert f"best local classical strategy ({r.best_local}" in verdict
    assert "quantum_levels against " in verdict and verdict.count(". ") <= 3
    assert r.comparison["quantum_vs_best_local"]["opponent"] == r.best_local
    assert r.comparison["quantum_levels_vs_classical_levels"]["opponent"] == "classical_levels"
    assert "history:" in r.summary()


def test_i_i_d_readings_do_not_run_history_rules_and_say_why():
    r = run_backtest("signals", rounds=20_000, seed=1, progress=False)
    assert "history" not in r.metrics_dict and "quantum_levels" not in r.metrics_dict
    assert "do not persist" in r.information["note"]
    forced = run_backtest("signals", rounds=20_000, seed=1, progress=False, history="on", levels=3)
    assert "history" in forced.metrics_dict and forced.information["levels"]["levels"] == 3
    off = run_backtest("regime", rounds=20_000, seed=1, progress=False, history="off")
    assert "history" not in off.metrics_dict and "--history off" in off.information["note"]


def test_same_seed_same_information_and_a_streamed_run_agrees(regime):
    again = run_backtest("regime", rounds=80_000, seed=3, progress=False)
    assert again.information == regime.information
    assert again.best_local_training == regime.best_local_training
    # streamed in chunks, the training rows drawn again for the training replay: same fits, same variances
    streamed = run_backtest(
        "regime", rounds=80_000, seed=3, progress=False, in_memory_rows=30_000, chunk_rounds=1 << 14
    )
    chunked = run_backtest("regime", rounds=80_000, seed=3, progress=False, chunk_rounds=1 << 14)
    assert streamed.information["history"] == chunked.information["history"]
    for name, v in chunked.best_local_training.items():
        assert streamed.best_local_training[name] == pytest.approx(v, rel=1e-9), name
    assert streamed.metrics_dict["history"]["pnl_var"] == pytest.approx(
        chunked.metrics_dict["history"]["pnl_var"], rel=1e-9
    )


def three_levels(view):
    """A user's 3-level indicator: the sign of the last own return, as 0 (down), 1 (flat) or 2 (up)."""
    r = view.returns
    out = np.where(np.isfinite(r), np.sign(np.nan_to_num(r)) + 1, np.nan)
    out[:2] = np.nan
    return out


three_levels.levels = 3
three_levels.lookback = 2


def wrong_levels(view):
    out = np.full(len(view), 5.0)
    out[:2] = np.nan
    return out


wrong_levels.levels = 4
wrong_levels.lookback = 2


def test_quantile_bins_of_a_score_are_causal_equal_frequency_levels():
    from qcoord.backtest.feed.feeds import ArrayFeed
    from qcoord.backtest.feed.causality import check_causality
    from qcoord.backtest.feed.indicators import QuantileBins, VolatilityBurst
    from qcoord.data import synthetic_pair

    md = synthetic_pair(6000, seed=4, mode="regime")
    bins = QuantileBins(VolatilityBurst(window=40), 4)
    feed = ArrayFeed.from_market(md, (VolatilityBurst(window=40), VolatilityBurst(window=40)), 1, (1, 2))
    view = feed.views[0]
    bins.fit(view.rows(0, 3000), start=100)
    out = bins(view)
    train = out[100:3000]
    counts = np.bincount(train[np.isfinite(train)].astype(int), minlength=4) / np.isfinite(train).sum()
    assert np.allclose(counts, 0.25, atol=0.01), counts  # quantile edges of the training scores
    assert set(np.unique(out[np.isfinite(out)])) == {0.0, 1.0, 2.0, 3.0}
    check_causality(bins, view, seed=1)


def test_a_k_level_indicator_feeds_the_levels_players():
    r = run_backtest("regime", rounds=30_000, seed=2, progress=False, levels_indicator="volatility_burst", levels=3)
    lv = r.information["levels"]
    assert lv["rule"] == "indicator" and lv["levels"] == 3 and np.asarray(lv["p_xy"]).shape == (3, 3)
    assert r.players["quantum_levels"]["information"]["indicator"] == "volatility_burst_bins"
    assert "history" in r.metrics_dict  # the regime readings persist: history rules run beside it
    assert list(r.information["candidates"]["levels"]) == [lv["name"]]
    # a user's function declaring levels, checked for causality and for its outputs
    r = run_backtest(
        "regime", rounds=30_000, seed=2, progress=False, levels_indicator="tests.test_history:three_levels"
    )
    assert r.information["levels"]["levels"] == 3 and "quantum_levels" in r.metrics_dict
    from qcoord.backtest import BacktestError

    with pytest.raises(BacktestError, match="wrong_levels returned 5.0; outputs must be whole numbers 0 to 3"):
        run_backtest(
            "regime", rounds=30_000, seed=2, progress=False, levels_indicator="tests.test_history:wrong_levels"
        )


def test_the_replay_of_the_last_training_rounds_agrees_streamed_and_in_memory(monkeypatch):
    """best_local's replay covers the last REPLAY_ROUNDS training rounds: from the training pass's kept tail when
    streamed, from the feed in memory otherwise; the history rules' state comes from the whole training window."""
    import qcoord.backtest.engine as engine

    monkeypatch.setattr(engine, "REPLAY_ROUNDS", 12_345)
    kw = dict(rounds=60_000, seed=4, progress=False, chunk_rounds=1 << 13)
    streamed = run_backtest("regime", in_memory_rows=20_000, **kw)
    memory = run_backtest("regime", **kw)
    assert streamed.streamed and not memory.streamed
    assert set(memory.best_local_training) >= {"history", "classical_levels", "classical"}
    for name, v in memory.best_local_training.items():
        assert streamed.best_local_training[name] == pytest.approx(v, rel=1e-9), name
    monkeypatch.setattr(engine, "REPLAY_ROUNDS", 1 << 20)
    full = run_backtest("regime", **kw)
    # a different window was replayed
    assert full.best_local_training["history"] != memory.best_local_training["history"]


def test_the_old_name_memory_still_works_and_says_it_was_renamed(tmp_path):
    """ "memory" meant the history rules, the quantum memory and RAM; the history rules are now "history". The old
    strategy name, option and config key still run the same thing, with a warning that names the new one."""
    import subprocess
    import sys

    from qcoord.backtest import RunConfig
    from qcoord.backtest.errors import RenamedWarning

    kw = dict(rounds=4_000, seed=1, progress=False)
    new = run_backtest("signals", strategies="history,quantum", history="on", **kw)
    with pytest.warns(RenamedWarning, match="'memory' is now called 'history'"):
        old = run_backtest("signals", strategies="memory,quantum", memory="on", **kw)
    assert old.metrics_dict["history"]["pnl_var"] == new.metrics_dict["history"]["pnl_var"]
    toml = tmp_path / "old.toml"
    toml.write_text('[indicators]\nmemory = "on"\n')
    with pytest.warns(RenamedWarning):
        assert RunConfig.from_toml(toml).indicators.history == "on"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "qcoord",
            "backtest",
            "--rounds",
            "3000",
            "--memory",
            "off",
            "--strategies",
            "memory",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "qcoord: warning: option '--memory' is now called '--history'" in res.stderr
    assert "qcoord: warning: strategy 'memory' is now called 'history'" in res.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "qcoord", "backtest", "--help"], capture_output=True, text=True
    ).stdout
    assert "--history" in helped and "--memory " not in helped  # listed under its new name only


def test_compare_reads_a_run_written_before_the_rename(tmp_path):
    import json

    from qcoord.backtest.output.runs import read_run

    run = tmp_path / "old"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"schema": 4, "strategies": {"memory": {"pnl_var": 1.0}}}))
    doc, _ = read_run(run)
    assert list(doc["strategies"]) == ["history"]
