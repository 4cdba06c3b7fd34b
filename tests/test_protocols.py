"""The engine's declared interfaces, checked against every implementation: feeds, fill models, registered players,
the Result and the running-metrics state."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import RunConfig, run_backtest
from qcoord.backtest.book import risk
from qcoord.backtest.feed.feeds import ArrayFeed, Feed, Rounds, StreamFeed, TrainingTail
from qcoord.backtest.feed.indicators import make_indicator
from qcoord.backtest.fills import FILL_MODELS, BookFills, FillModel, Fills, Market
from qcoord.backtest.output.result import Result
from qcoord.backtest.players.roster import PLAYERS, Registered, names


def _members(protocol) -> dict[str, object]:
    """A protocol's declared methods (name -> function) and attributes (name -> None)."""
    out = {}
    for klass in protocol.__mro__:
        if klass in (object,) or not getattr(klass, "_is_protocol", False):
            continue
        out.update({k: None for k in getattr(klass, "__annotations__", {})})
        out.update({k: v for k, v in vars(klass).items() if inspect.isfunction(v) and not k.startswith("_")})
    return out


def _conforms(obj, protocol) -> None:
    """``obj`` has every member of ``protocol``, and each method takes the protocol's parameters by name."""
    for name, declared in _members(protocol).items():
        assert hasattr(obj, name), f"{type(obj).__name__} lacks {protocol.__name__}.{name}"
        if declared is not None:
            want = list(inspect.signature(declared).parameters)[1:]
            have = list(inspect.signature(getattr(obj, name)).parameters)
            assert have[: len(want)] == want, f"{type(obj).__name__}.{name}{have} does not match {want}"


def _indicators():
    return make_indicator("return_shock"), make_indicator("return_shock")


def test_protocols_declare_what_the_engine_reads():
    """A protocol with nothing declared would make every check below pass vacuously."""
    assert {"inputs", "round_data", "extra_inputs"} <= set(_members(Rounds))
    assert {"warmup", "fit_indicators", "clock", "periods_per_year", "streamed"} <= set(_members(Feed))


def test_array_and_stream_feeds_are_feeds():
    md = data.load_sample("jpm_bac")
    array = ArrayFeed.from_market(md, _indicators(), 1, (1, 2))
    pair = RunConfig().source.pair(0)
    stream = StreamFeed(pair, 5_000, _indicators(), 1, (1, 2), 1_000)
    for feed in (array, stream):
        assert isinstance(feed, Feed)
        _conforms(feed, Feed)
        w = feed.warmup() + 2  # the first rows after the warm-up, past the partner's latency
        feed.fit_indicators(w, w + 500)
        x, y = feed.inputs(w, w + 10)
        assert x.dtype == np.uint8 and x.shape == y.shape == (10,)
        assert feed.round_data(w, w + 10)["returns"].shape == (10, 2)


def test_a_training_tail_reads_as_rounds():
    tail = TrainingTail(0)
    rd = {"returns": np.zeros((4, 2))}
    tail.keep(0, 4, np.zeros(4, np.uint8), np.ones(4, np.uint8), rd, None)
    tail.close()
    assert isinstance(tail, Rounds)
    _conforms(tail, Rounds)
    assert tail.inputs(1, 3)[1].tolist() == [1, 1]


@pytest.mark.parametrize("name", sorted(FILL_MODELS))
def test_every_fill_model_implements_the_interface(name):
    model = FILL_MODELS[name]()
    assert isinstance(model, FillModel) and not inspect.isabstract(type(model))
    n = 50
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 1e-3, n)
    price = np.full(n, 40.0)
    market = Market(returns, returns * price, None, price, 1.0)
    uniforms = tuple(rng.random(n) for _ in range(model.uniform_streams)) or None
    fills = model.pnl(rng.integers(0, 2, n).astype(np.uint8), market, uniforms, model.initial_state())
    assert isinstance(fills, Fills)
    assert fills.pnl.shape == (n,) and np.isfinite(fills.pnl).all()
    assert fills.inventory is None or fills.inventory.shape == (n,)
    # P&L = income - costs + directional: the parts are reported per round or as one number
    for part in (fills.income, fills.costs, fills.assumed):
        assert np.ndim(part) in (0, 1)
    out = {"pnl_book": np.empty(n), "costs_book": np.empty(n), "assumed_book": np.empty(n)}
    book = model.book_pnl(np.zeros(n, np.uint8), np.ones(n, np.uint8), market, market, [model.initial_state()] * 2, out)
    assert book is None or isinstance(book, BookFills)
    assert model.book_size(np.array([40.0, 50.0])) > 0 and model.game_exposure(np.array([40.0, 50.0]), 1.0) > 0


def test_an_incomplete_fill_model_cannot_be_made():
    class NoPnl(FillModel):
        def book_size(self, prices):
            return 1.0

        def game_exposure(self, prices, minutes):
            return 1.0

    with pytest.raises(TypeError, match="pnl"):
        NoPnl()


def test_registered_players_carry_their_metadata():
    assert all(isinstance(r, Registered) for r in PLAYERS.values())
    assert set(names(required=True)) == {"uncoordinated", "oracle"}
    assert set(names(communicates=True)) == {"oracle", "regime_oracle", "talk", "delayed_comm"}
    assert set(names(entangled=True)) == {"quantum", "quantum_levels", "textbook"}
    # what each built player says of itself agrees with its registration
    r = run_backtest("signals", rounds=4_000, seed=2, strategies=list(PLAYERS), history="on")
    assert set(r.players) >= {"quantum", "textbook", "oracle", "regime_oracle", "delayed_comm", "history"}
    for name, described in r.players.items():
        assert described["communicates"] == PLAYERS[name].communicates, name


def test_result_is_a_declared_dataclass_with_every_field_set():
    r = run_backtest("signals", rounds=2_000, seed=1)
    declared = {f.name for f in dataclasses.fields(Result)}
    assert set(vars(r)) <= declared  # nothing set beside the declaration
    for f in dataclasses.fields(Result):
        value = getattr(r, f.name)
        optional = "None" in str(f.type)
        assert value is not None or optional, f"{f.name} is None"
    assert r.to_dict()["text"].keys() == {
        "what_it_would_take",
        "bell_pair",
        "history",
        "levels",
        "money_model",
        "answer",
    }


def test_running_metrics_state_has_named_slots():
    slots = {k: v for k, v in vars(risk).items() if k.isupper() and isinstance(v, int)}
    sums = [
        slots[k]
        for k in (
            "SUM_E",
            "SUM_E2",
            "DOWNSIDE_SQ",
            "UTILITY",
            "CUM_PNL",
            "CUM_PEAK",
            "MAX_DRAWDOWN",
            "MAX_DRAWDOWN_SHARE",
            "EQUITY",
            "EQUITY_PEAK",
        )
    ]
    assert sorted(sums) == list(range(risk.N_SUMS))
    stats = risk.StrategyStats(1.0, 0.0, 1)
    assert stats.sums.size == risk.N_SUMS and stats.counts.size == risk.N_COUNTS
    assert stats.sums[risk.EQUITY] == stats.sums[risk.EQUITY_PEAK] == 1.0  # equity starts at one book
