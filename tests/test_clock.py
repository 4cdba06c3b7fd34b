"""One clock (issue 40): every decision has a time in seconds; rates, windows, pair ages and message delays come from
it; talk plays the oracle's information where a message beats the decision and the best local rule where it never
does, and the verdict says so first."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import BacktestError, BellPairSupply, RunConfig, run_backtest
from qcoord.backtest.feed.clock import C_KM_PER_S, FIBRE_INDEX, message_delay
from qcoord.backtest.players.supply import SupplyState, latest_arrivals

DAY = 86_400.0


def test_talk_is_the_oracle_where_a_message_beats_the_decision():
    """On the synthetic minute pair a message crosses 56 km of fibre in 274 us and decisions are a minute apart:
    talk plays exactly the oracle's outputs, quantum is compared with it, and the verdict says so first."""
    r = run_backtest("signals", rounds=20_000, seed=4)
    assert r.clock["decision_interval_s"] == 60.0 and r.clock["can_talk"]
    assert r.clock["message_delay_s"] == pytest.approx(56.0 * FIBRE_INDEX / C_KM_PER_S, rel=1e-12)
    for key in ("a", "b", "pnl"):
        assert np.array_equal(r.series["talk"][key], r.series["oracle"][key])
    assert r.comparison["quantum_vs_talk"]["opponent"] == "talk"
    for text in (r.verdict(), r.headline()):
        assert text.startswith(
            "A message crosses between the venues in 274 us and decisions are 1 min apart: the "
            "servers can talk, and entanglement is moot here"
        )
    assert r.summary().splitlines()[0].startswith("verdict: A message crosses between the venues in 274 us")
    assert r.pays["reason"] == "talk" and r.pays["pays"] is False  # the one answer agrees: talking, not entanglement
    assert r.answer().startswith("quantum does not pay after costs: the servers can talk")


def test_talk_is_the_best_local_rule_where_no_message_arrives_in_time():
    """With a microsecond deadline no message can arrive: talk plays the fitted classical rule, round for round, and
    the verdict does not claim the servers can talk."""
    r = run_backtest("signals", rounds=20_000, seed=4, decision_deadline=1e-6)
    assert not r.clock["can_talk"] and r.clock["deadline_s"] == 1e-6
    for key in ("a", "b", "pnl"):
        assert np.array_equal(r.series["talk"][key], r.series["classical"][key])
    assert "quantum_vs_talk" not in r.comparison
    assert "can talk" not in r.verdict() and "can talk" not in r.headline()
    assert r.pays["reason"] != "talk"


def test_delayed_comm_and_the_partner_latency_count_the_decisions_a_message_misses():
    """A synthetic step of 100 us (declared by a supply's decision rate): a message across 56 km of fibre (274 us)
    misses 3 decisions, so delayed_comm waits 3 and an indicator sees the partner's prices 3 bars late; a message by
    microwave over the straight line (187 us) misses 2."""
    supply = BellPairSupply(pair_rate=5e3, decision_rate=1e4)
    fibre = run_backtest("signals", rounds=4_000, seed=1, supply=supply, decision_deadline=1e-6)
    assert fibre.clock["decision_interval_s"] == pytest.approx(1e-4, rel=1e-9)
    assert fibre.clock["rounds_late"] == math.ceil(56.0 * FIBRE_INDEX / C_KM_PER_S / 1e-4) == 3
    assert fibre.players["delayed_comm"]["delay"] == 3 and fibre.indicators["latency"] == 3
    micro = run_backtest(
        "signals", rounds=4_000, seed=1, supply=supply, decision_deadline=1e-6, message_path="microwave"
    )
    assert micro.clock["message_delay_s"] == pytest.approx(56.0 / C_KM_PER_S, rel=1e-12)
    assert micro.clock["rounds_late"] == 2 and micro.players["delayed_comm"]["delay"] == 2
    given = run_backtest("signals", rounds=4_000, seed=1, supply=supply, decision_deadline=1e-6, delay=5, latency=1)
    assert given.players["delayed_comm"]["delay"] == 5 and given.indicators["latency"] == 1


def test_the_daily_sample_with_a_link_decides_once_a_day():
    """The shipped JPM/BAC daily sample with the NYSE-NASDAQ link: one decision a day (median gap), a stationary
    window of years (the test window, not the run), talk played, and the verdict opening with the message time and
    the decision interval; the link's rate stage divides its pair rate by the data's decision rate."""
    r = run_backtest(data.load_sample("jpm_bac"), link="nyse-nasdaq")
    clock = r.clock
    assert clock["decision_interval_s"] == DAY and clock["source"] == "timestamps"
    assert clock["can_talk"] and clock["window_s"] >= 3.15e7
    test_days = r.timestamps(r.test_start + r.n_test - 1, 1)[0] - r.timestamps(r.test_start - 1, 1)[0]
    assert clock["window_s"] == test_days.total_seconds()
    stages = {s["stage"]: s for s in r.link["stages"]}
    assert stages["rate"]["decision_rate_hz"] == pytest.approx(1.0 / DAY)
    assert stages["detectable"]["window_s"] == clock["window_s"] and stages["detectable"]["window_rounds"] == r.n_test
    assert stages["deadline"]["passed"] is False and "the servers can talk" in stages["deadline"]["text"]
    assert "talk" in r.metrics_dict
    assert r.verdict().startswith("A message crosses between the venues in ")
    assert "and decisions are 1 day apart: the servers can talk" in r.verdict()


def test_a_decision_rate_that_contradicts_the_data_is_refused_and_a_presets_gives_way():
    md = data.load_sample("jpm_bac")
    with pytest.raises(BacktestError, match="--decision-rate 1000 contradicts the data's own clock"):
        run_backtest(md, supply=BellPairSupply(pair_rate=100, decision_rate=1000))
    with pytest.raises(BacktestError, match="--link-decision-rate 10 contradicts the data's own clock"):
        run_backtest(md, link="li2026", link_decision_rate=10)
    r = run_backtest(md, link="li2026", strategies=["classical", "quantum"])  # the preset's 8000/s: only a default
    assert r.clock["decision_interval_s"] == DAY
    synthetic = run_backtest("signals", rounds=4_000, link="li2026", strategies=["classical", "quantum"])
    assert synthetic.clock["decision_rate_hz"] == pytest.approx(8e3, rel=1e-9) and synthetic.clock["source"] == (
        "declared step"
    )


def test_the_clock_round_trips_through_config_toml(tmp_path):
    cfg = RunConfig().with_values(
        {"rounds": 3_000, "venue_distance_km": 12.5, "message_path": "microwave", "decision_deadline": 2e-6}
    )
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml())
    again = RunConfig.from_toml(path)
    assert again == cfg and again.clock.venue_distance_km == 12.5
    a, b = run_backtest(config=cfg, strategies=["classical"]), run_backtest(config=again, strategies=["classical"])
    assert a.clock == b.clock and a.clock["message_delay_s"] == message_delay(12.5, "microwave")
    assert a.clock["deadline_s"] == 2e-6 and not a.clock["can_talk"]


def test_the_latest_arrivals_of_a_gap_are_the_poisson_process_s():
    """Pairs arriving between two decisions a day apart: only the latest the memory can hold are drawn. Their ages
    at the decision are those of a Poisson process seen backwards, Gamma(j, rate) for the j-th latest, checked on
    the mean and variance within their 99.9% intervals; with one slot the freshest pair's mean age is 1/rate."""
    rate, n, slots = 8_000.0, 20_000, 3
    times = np.arange(1, n + 1) * DAY
    gaps = np.full(n, DAY)
    rng = np.random.default_rng(11)
    k = rng.poisson(rate * gaps)
    m = np.minimum(k, slots)
    arr = latest_arrivals(times, gaps, k, m, rng.random(int(m.sum()))).reshape(n, slots)
    ages = times[:, None] - arr[:, ::-1]  # column j: the (j+1)-th latest
    for j in range(slots):
        mean, var = (j + 1) / rate, (j + 1) / rate**2
        assert abs(ages[:, j].mean() - mean) < 3.3 * math.sqrt(var / n)
    # ascending (equal where two arrivals fall within one float64 step of a time 20,000 days into the run)
    assert np.all(np.diff(arr, axis=1) >= 0) and np.all(arr <= times[:, None]) and np.all(arr > times[:, None] - DAY)
    # the supply played on a daily clock: the freshest of 8000 a second is about 125 us old, plus the herald
    state = SupplyState(BellPairSupply(pair_rate=rate, memory_slots=1, herald_delay=1e-4))
    has, age = state.schedule(1, n, np.random.default_rng(3), lambda rows: rows * DAY)
    assert has.all() and abs(age.mean() - (1 / rate + 1e-4)) < 3.3 / rate / math.sqrt(n)


def test_the_event_source_plays_on_its_own_clock():
    """--synthetic events decides every 10 us: no message can arrive, a venue sees the other 28 decisions late (the
    source's own lag), and the link's chain runs against 100,000 decisions a second."""
    r = run_backtest("events", rounds=20_000, link="nyse-nasdaq", strategies=["classical", "quantum", "talk"])
    pair = data.EventPair(distance_km=56.0)
    assert r.clock["decision_interval_s"] == pytest.approx(1e-5, rel=1e-12) and not r.clock["can_talk"]
    assert r.indicators["latency"] == r.clock["rounds_late"] >= pair.lag_rows - 1
    rate = next(s for s in r.link["stages"] if s["stage"] == "rate")
    assert rate["decision_rate_hz"] == pytest.approx(1e5, rel=1e-9)
    assert r.source["mode"] == "events" and "talk" in r.metrics_dict


def test_timestamped_quote_files_run_on_their_own_clock(tmp_path):
    """The 2013 minute quote files through the event path (`--quotes`, each decision at the quote in force on the
    cadence): a decision a minute, so the servers can talk; the quotes' spread earns the income."""
    from tests.conftest import qcoord, shared_file

    files = [
        shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"),
        shared_file("AIG_minute_quotes_2013-10-04_2013-10-11.csv"),
    ]
    res = qcoord(
        "backtest",
        "--quotes",
        *map(str, files),
        "--cadence-s",
        "60",
        "--session",
        "regular",
        "--json",
        "--out",
        "q",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    import json

    doc = json.loads(res.stdout)
    assert doc["clock"]["decision_interval_s"] == 60.0 and doc["clock"]["can_talk"]
    assert doc["source"]["tickers"] == ["BAC", "AIG"]
    assert doc["config"]["resolved"]["income"].startswith("income earned at the data's quoted half-spread")
    assert doc["verdict"].startswith("A message crosses between the venues in 274 us and decisions are 1 min apart")


def test_a_sweep_of_the_decision_horizon_says_where_the_servers_can_talk(tmp_path):
    """The event-time market swept over its cadence: with the default deadline (until the next decision) a message
    across 56 km of fibre (274 us) arrives in time from a 1 ms cadence on, not at 100 us; with a microsecond deadline
    at none. The sweep draws each strategy's saving against the horizon."""
    from qcoord.backtest import run_sweep

    grid = {"dt_s": [1e-4, 1e-3]}
    base = RunConfig().with_values({"synthetic": "events", "rounds": 20_000, "strategies": "classical,quantum,talk"})
    res = run_sweep(config=base, grid=grid)
    t = res.table.drop_duplicates("dt_s").set_index("dt_s")
    assert t["decision_interval_s"].tolist() == pytest.approx([1e-4, 1e-3], rel=1e-12)
    assert t["can_talk"].tolist() == [False, True]
    tight = run_sweep(config=base.with_values({"decision_deadline": 1e-6}), grid=grid)
    assert not tight.table["can_talk"].astype(bool).any()
    tight.write(tmp_path / "sw")
    assert (tmp_path / "sw" / "sweep_horizon.png").stat().st_size > 10_000


def test_the_events_cadence_the_help_shows_is_the_sources():
    from qcoord.backtest.feed.sources import EVENTS_DT_S

    assert EVENTS_DT_S == data.EventPair().dt_s
