"""Threads change nothing but the time: a run on several threads equals the run on one, bit for bit.

The strategies of a chunk run on ``Lanes`` (their decisions, fills and running sums), the training sums are added on
a lane while the next chunk's inputs are computed, and the synthetic path's blocks are drawn on several threads; a
player that decided as an earlier one with the same sums takes that one's sums instead of adding them again.
Each is checked here against the plain serial computation on chunks long enough to run in parallel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.book import lanes
from qcoord.backtest.book.risk import StrategyStats
from qcoord.data import SyntheticPair
from qcoord.strategies import LocalRule, NoResource, Strategy

CHUNK = lanes.PARALLEL_ROUNDS  # the shortest chunk that runs on several threads
STREAMED = dict(rounds=6 * CHUNK, chunk_rounds=CHUNK, in_memory_rows=1_000, seed=7, progress=False)


def _same(u, v, path: str = "") -> None:
    """Exact equality of two results' documents (NaN equals NaN), naming the first difference."""
    if isinstance(u, dict):
        assert set(u) == set(v), path
        for k in u:
            _same(u[k], v[k], f"{path}/{k}")
    elif isinstance(u, (list, tuple)):
        assert len(u) == len(v), path
        for i, (a, b) in enumerate(zip(u, v)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(u, np.ndarray):
        assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), path
    elif isinstance(u, float) and isinstance(v, float) and math.isnan(u):
        assert math.isnan(v), path
    else:
        assert u == v, f"{path}: {u!r} != {v!r}"


def _document(r) -> dict:
    return {
        "metrics": r.metrics_dict,
        "comparison": r.comparison,
        "series": r.series,
        "equity": r.equity_values,
        "training": r.best_local_training,
        "blocks": r.blocks,
        "win_by_input": r.win_by_input,
    }


@pytest.mark.parametrize(
    "source,options",
    [
        ("signals", dict(fill="bias")),
        ("signals", dict(fill="queue")),
        ("regime", dict(fill="bias", **{"supply.pair_rate": 5e5, "supply.decision_rate": 1e6})),  # pairs, K levels
    ],
    ids=["signals_bias", "signals_queue", "regime_supply"],
)
def test_a_streamed_run_on_three_threads_is_the_run_on_one(source, options):
    one = run_backtest(source, threads=1, **STREAMED, **options)
    assert one.streamed
    _same(_document(one), _document(run_backtest(source, threads=3, **STREAMED, **options)))


def test_a_player_that_takes_its_twins_sums_has_the_sums_it_would_have_added(monkeypatch):
    """Classical and always_hedge decide alike on the signals pair, as do oracle and regime_oracle: the run that
    shares their sums equals the run in which every player adds its own."""
    shared = run_backtest("signals", threads=2, **STREAMED)
    monkeypatch.setattr(StrategyStats, "same_state", lambda self, other: False)
    _same(_document(shared), _document(run_backtest("signals", threads=2, **STREAMED)))


def test_twins_are_found_on_the_default_run():
    """The sharing is not vacuous: on the default signals pair these players decide alike, round for round."""
    r = run_backtest("signals", **STREAMED)
    s = r.series
    for a, b in (("classical", "always_hedge"), ("oracle", "regime_oracle")):
        assert np.array_equal(s[a]["a"], s[b]["a"]) and np.array_equal(s[a]["b"], s[b]["b"])
        assert r.metrics_dict[a]["pnl_var"] == r.metrics_dict[b]["pnl_var"]


@pytest.mark.parametrize("mode", ["signals", "regime"])
def test_the_synthetic_path_does_not_depend_on_the_threads_that_draw_it(mode):
    pair = SyntheticPair(mode=mode, seed=11)
    n = 3 * (1 << 18) + 5  # three whole internal blocks and part of a fourth
    one = list(pair.arrays(n, 300_000, threads=1))
    for threads in (2, 4):
        other = list(pair.arrays(n, 300_000, threads=threads))
        assert [f for f, *_ in one] == [f for f, *_ in other]
        for (_, p1, t1), (_, p2, t2) in zip(one, other):
            assert np.array_equal(p1, p2)
            assert t1.keys() == t2.keys() and all(np.array_equal(t1[k], t2[k]) for k in t1)


class _Refuses(LocalRule):
    """A user rule that fails on the test window's long chunks (after certification on short arrays)."""

    def output(self, x, outcome):
        if x.size >= CHUNK // 2:
            raise ValueError(f"refusing {x.size} rounds")
        return super().output(x, outcome)


def test_an_error_in_a_player_on_a_lane_is_the_error_of_the_serial_run():
    rule = Strategy("refuses", _Refuses(outputs=((0,), (1,))), _Refuses(outputs=((1,), (1,))), NoResource())
    messages = []
    for threads in (1, 2):
        with pytest.raises(Exception) as caught:
            run_backtest("signals", strategies=["classical", rule], threads=threads, **STREAMED)
        messages.append((type(caught.value), str(caught.value)))
    assert messages[0] == messages[1] and "refusing" in messages[0][1]


def test_lanes_keep_the_items_order_and_refuse_zero_threads():
    lane = lanes.Lanes(2)
    assert lane.map(lambda i: i * i, list(range(9)), CHUNK) == [i * i for i in range(9)]
    assert lane.start(lambda: 5, CHUNK)() == 5
    with pytest.raises(ValueError, match="threads must be at least 1"):
        lanes.Lanes(0)
    assert 1 <= lanes.default_threads() <= lanes.MAX_THREADS
