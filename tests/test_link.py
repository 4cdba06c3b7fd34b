"""The physical link (strategies.link, --link): formulas against hand computation, presets, bad input, the
feasibility chain in summary/report/metrics.json, and the distance frontier of a sweep."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import RunConfig, run_backtest
from qcoord.backtest.analysis.feasibility import STAGES, visibility_threshold
from qcoord.backtest.batch.sweep import run_sweep
from qcoord.backtest.errors import BacktestError
from qcoord.backtest.output import sweeps
from qcoord.strategies import Game, Noise, StrategyError, solve
from qcoord.strategies.lifetime import useful_lifetime, value_at_age
from qcoord.strategies.link import (
    C_KM_PER_S,
    LINK_PRESETS,
    Link,
    fidelity_from_visibility,
    rounds_to_certify,
    rounds_to_detect,
    visibility_from_fidelity,
)


UNIFORM = np.full((2, 2), 0.25)


def test_werner_threshold_of_the_chsh_game():
    """F = (1 + 3/sqrt 2)/4 ~ 0.7803 (REFERENCE.md), found by the chain's threshold search on the full solver
    (tolerance 1e-10 in v, the solver's values exact to 1e-9, so the threshold to better than 1e-6)."""
    v = visibility_threshold(Game(), UNIFORM)
    assert v == pytest.approx(1 / math.sqrt(2), abs=1e-6)
    assert fidelity_from_visibility(v) == pytest.approx((1 + 3 / math.sqrt(2)) / 4, abs=1e-6)
    assert fidelity_from_visibility(v) == pytest.approx(0.7803, abs=5e-5)
    # just above the threshold entanglement is used, just below it is not
    assert solve(Game(), UNIFORM, Noise(visibility=v + 1e-4)).uses_entanglement
    assert not solve(Game(), UNIFORM, Noise(visibility=v - 1e-4)).uses_entanglement


def test_threshold_secant_equals_plain_bisection_on_random_games():
    """The secant search against a plain bisection on the solver's uses_entanglement (tolerance 1e-10 each), on
    random 2x2 games that have an advantage: the same threshold within 1e-8 (their tolerances plus the solver's)."""
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 6:
        game = Game.from_table(rng.normal(size=(2, 2, 2)))
        p = rng.dirichlet(np.ones(4)).reshape(2, 2)
        fast = visibility_threshold(game, p)
        if fast is None:
            assert not solve(game, p, Noise()).uses_entanglement
            continue
        lo, hi = 0.0, 1.0
        while hi - lo > 1e-10:
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if solve(game, p, Noise(visibility=mid)).uses_entanglement else (mid, hi)
        assert fast == pytest.approx(hi, abs=1e-8)
        checked += 1


def test_no_threshold_without_an_advantage():
    """A game with no quantum advantage even on a perfect link has no fidelity threshold."""
    same = Game.from_table(np.tile([1.0, 0.0], (2, 2, 1)))  # win when a == b on every input: trivial classically
    assert visibility_threshold(same, UNIFORM) is None


def test_fidelity_visibility_round_trip():
    for f in (0.25, 0.5, 0.7803, 0.9, 1.0):
        assert fidelity_from_visibility(visibility_from_fidelity(f)) == pytest.approx(f, abs=1e-15)


@pytest.mark.parametrize("name", list(LINK_PRESETS))
def test_preset_derived_numbers_by_hand(name):
    """Each preset's rate, visibility, loss and deadline against the stated formulas, computed here by hand."""
    link = Link.preset(name)
    vals = {
        **{
            f: getattr(Link(), f)
            for f in (
                "attenuation_db_km",
                "refractive_index",
                "source_at",
                "attempt_rate",
                "multiplexing",
                "photon_efficiency",
                "herald_efficiency",
                "fidelity",
                "gate_error",
                "retrieval_efficiency",
                "decision_latency",
                "reset_time",
                "link_channels",
            )
        },
        **LINK_PRESETS[name]["values"],
    }
    L = vals["distance_km"]
    n = vals["refractive_index"]
    fibre_s = L * n / 299_792.458
    straight_s = vals.get("straight_km", L) / 299_792.458
    assert link.fibre_time == pytest.approx(fibre_s, rel=1e-12)
    assert link.straight_line_time == pytest.approx(straight_s, rel=1e-12)
    assert link.deadline_met == (vals["decision_latency"] < straight_s)
    # midpoint: each photon crosses L/2, both must arrive; the herald returns after L n / c; a memory qubit is busy
    # for the attempt, the herald's round trip, the decision and the reset (Li et al.'s occupancy)
    t = 10 ** (-vals["attenuation_db_km"] * (L / 2) / 10)
    p = vals["herald_efficiency"] * (vals["photon_efficiency"] * t) ** 2
    assert link.herald_probability == pytest.approx(p, rel=1e-12)
    occupancy = 1 / vals["attempt_rate"] + fibre_s + vals["decision_latency"] + vals["reset_time"]
    assert link.occupancy == pytest.approx(occupancy, rel=1e-12)
    attempts = min(vals["attempt_rate"], vals["multiplexing"] / occupancy)
    rate = vals.get("link_pair_rate", vals["link_channels"] * attempts * p)
    assert link.delivered_pair_rate == pytest.approx(rate, rel=1e-12)
    v = (4 * vals["fidelity"] - 1) / 3 * (1 - vals["gate_error"]) ** 2
    assert link.visibility == pytest.approx(v, rel=1e-12)
    noise = link.noise()
    assert noise.visibility == pytest.approx(v, rel=1e-12)
    assert noise.loss_a == noise.loss_b == pytest.approx(1 - vals["retrieval_efficiency"])
    assert noise.storage_time == pytest.approx(fibre_s, rel=1e-12)  # at least the herald's delay
    assert LINK_PRESETS[name]["source"]  # every preset names where its numbers come from


def test_seed_scenario_numbers():
    """NYSE (Mahwah) to NASDAQ (Carteret): about 56 km at 0.17 dB/km (REFERENCE.md), light in 186.8 us straight,
    274.2 us through fibre of index 1.468; ideal hardware derives 202 pairs a second: each photon crosses 28 km
    (10^-0.476 of them arrive), heralds succeed with 0.5 x 0.334^2, and one memory qubit is busy 276 us an attempt."""
    link = Link.preset("nyse-nasdaq")
    assert link.straight_line_time * 1e6 == pytest.approx(56 / C_KM_PER_S * 1e6, rel=1e-12)
    assert link.straight_line_time * 1e6 == pytest.approx(186.8, abs=0.05)
    assert link.fibre_time * 1e6 == pytest.approx(274.2, abs=0.05)
    t = 10 ** (-0.17 * 28 / 10)
    busy = 1e-6 + 56 * 1.468 / C_KM_PER_S + 1e-6
    assert link.derived_pair_rate == pytest.approx(0.5 * t**2 / busy, rel=1e-12)
    assert link.derived_pair_rate == pytest.approx(202.2, abs=0.05)


def test_li2026_is_the_table_iii_node():
    """Li et al. 2026: from the abstract a 50 km fibre, a decision latency of a microsecond, 8e3 decisions/s; from its
    Table III as an independent implementation reads it, 580 ns attempts, 250 memory qubits, eta_p 0.504, eta_h 0.5,
    0.25 dB/km, light at 2.1e8 m/s, 1 us reset. The pair rate is derived, 7.3e3-8.1e3 a second (7419 here: the
    occupancy 0.58 + 238.1 + 1 + 1 us). On the independent implementation's own inputs (its displayed transmission
    0.06 and link latency 240 us, decision 0.97 us) both give 7854.545... pairs a second."""
    link = Link.preset("li2026")
    assert link.deadline_met and link.link_pair_rate is None
    assert link.straight_line_time * 1e6 == pytest.approx(166.8, abs=0.1)
    assert link.herald_delay == pytest.approx(50 / 2.1e5, rel=1e-12)
    assert 7.3e3 <= link.delivered_pair_rate <= 8.1e3
    busy = 580e-9 + 50 / 2.1e5 + 1e-6 + 1e-6
    hand = 0.5 * 0.504**2 * 10 ** (-0.25 * 50 / 10) * min(1 / 580e-9, 250 / busy)
    assert link.delivered_pair_rate == pytest.approx(hand, rel=1e-12)
    same_inputs = Link.preset(
        "li2026",
        attenuation_db_km=-10 * math.log10(0.06) / 50,
        refractive_index=240e-6 * C_KM_PER_S / 50,
        decision_latency=0.97e-6,
    )
    assert same_inputs.occupancy == pytest.approx(242.55e-6, rel=1e-12)
    assert same_inputs.delivered_pair_rate == pytest.approx(7854.545454545455, rel=1e-12)
    # the node's combined infidelity: Werner F = 0.96 and 0.002 readout flips, 1 - (1 - 4(0.04)/3)(1 - 0.004)^2
    assert 1 - link.visibility * (1 - 2 * 0.002) ** 2 == pytest.approx(0.06089152, abs=1e-8)
    assert link.channels_needed(link.link_decision_rate) == 2
    assert Link.preset("li2026", link_channels=2).delivered_pair_rate == pytest.approx(2 * link.delivered_pair_rate)


def test_heralding_efficiency_enters_once_per_pair():
    """p = eta_h (eta_p T)^2: the Bell-state measurement succeeds once per pair (the Ding-Jiang memory-link reading,
    and Li et al.'s p_e^2/2 eta_att eta_det^2 eta_misc^2), each photon's collection and fibre once per photon: halving
    eta_h halves the rate, halving eta_p quarters it."""
    link = Link.preset("li2026")
    assert Link.preset("li2026", herald_efficiency=0.25).herald_probability == pytest.approx(
        link.herald_probability / 2, rel=1e-12
    )
    assert Link.preset("li2026", photon_efficiency=0.252).herald_probability == pytest.approx(
        link.herald_probability / 4, rel=1e-12
    )


def test_source_at_a_and_multiplexing():
    """A's photon crosses the whole fibre (one photon, herald back and forth); modes multiply the attempts until
    the attempt rate caps them."""
    link = Link(
        distance_km=20.0, source_at="a", photon_efficiency=0.5, herald_efficiency=0.9, attempt_rate=1e9, multiplexing=10
    )
    t = 10 ** (-0.2 * 20 / 10)
    assert link.herald_probability == pytest.approx(0.9 * 0.5 * t, rel=1e-12)
    assert link.herald_delay == pytest.approx(2 * 20 * 1.468 / C_KM_PER_S, rel=1e-12)
    assert link.attempts_per_second == pytest.approx(10 / (1e-9 + link.herald_delay + 1e-6), rel=1e-12)
    assert Link(distance_km=20.0, attempt_rate=10.0, multiplexing=10).attempts_per_second == 10.0
    # no fibre: a qubit is still busy for its attempt and the decision; with enough modes the emitter caps the rate
    assert Link(distance_km=0.0).attempts_per_second == pytest.approx(1 / (1e-6 + 1e-6), rel=1e-12)
    assert Link(distance_km=0.0, multiplexing=2).attempts_per_second == Link().attempt_rate


@pytest.mark.parametrize("source_at, clicks", [("midpoint", 2), ("a", 1)])
def test_dark_counts_by_hand(source_at, clicks):
    """A heralding click is its photon (eta_p T) or, failing that, a dark count (p_d): q = eta_p T + (1 - eta_p T)
    p_d per click, a herald needs 2 clicks at a midpoint and 1 from A, so it happens with eta_h q^k and is all
    photons with share (eta_p T / q)^k; the rest leave a maximally mixed pair, so the visibility is that share of the
    heralded Werner pair's, times (1 - p_gate)^2. Without dark counts every number is the one without the option."""
    eta, pd, F, g, L = 0.3, 2e-4, 0.95, 0.01, 40.0
    link = Link(distance_km=L, source_at=source_at, photon_efficiency=eta, dark_count_prob=pd, fidelity=F, gate_error=g)
    t = 10 ** (-0.2 * (L / 2 if source_at == "midpoint" else L) / 10)  # each photon's fibre
    q = eta * t + (1 - eta * t) * pd
    assert link.herald_probability == pytest.approx(0.5 * q**clicks, rel=1e-12)
    assert link.herald_purity == pytest.approx((eta * t / q) ** clicks, rel=1e-12)
    v = (4 * F - 1) / 3 * (eta * t / q) ** clicks * (1 - g) ** 2
    assert link.visibility == pytest.approx(v, rel=1e-12)
    assert link.noise().visibility == pytest.approx(v, rel=1e-12)
    assert link.effective_fidelity == pytest.approx((1 + 3 * v) / 4, rel=1e-12)
    assert link.derived()["herald_purity"] == link.herald_purity
    clean = Link(distance_km=L, source_at=source_at, photon_efficiency=eta, fidelity=F, gate_error=g)
    assert clean.herald_purity == 1.0
    assert clean.herald_probability == pytest.approx(0.5 * (eta * t) ** clicks, rel=1e-12)
    assert clean.visibility == pytest.approx((4 * F - 1) / 3 * (1 - g) ** 2, rel=1e-12)
    # false heralds add rate and take visibility: more pairs, worse ones
    assert link.derived_pair_rate > clean.derived_pair_rate and link.visibility < clean.visibility


@pytest.mark.parametrize("source_at", ["midpoint", "a"])
@pytest.mark.parametrize("eta, pd, v", [(1.0, 1e-6, 1 / math.sqrt(2)), (0.05, 1e-4, 0.9), (0.3, 3e-3, 0.8)])
def test_dark_count_reach_closed_form_against_bisection(source_at, eta, pd, v):
    """The longest fibre whose visibility still exceeds v: the closed form against a bisection of the visibility in
    distance (it falls monotonically as the photons fade), to 1e-9 relative; at that length the visibility is v."""
    link = Link(source_at=source_at, photon_efficiency=eta, dark_count_prob=pd)
    km = link.max_distance_km(v)

    def vis(length):
        return Link(distance_km=length, source_at=source_at, photon_efficiency=eta, dark_count_prob=pd).visibility

    lo, hi = 0.0, 5000.0
    assert vis(lo) > v > vis(hi)
    while hi - lo > 1e-10 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if vis(mid) > v else (lo, mid)
    assert km == pytest.approx(lo, rel=1e-9)
    assert vis(km) == pytest.approx(v, rel=1e-9)


def test_dark_count_reach_edges():
    assert Link().max_distance_km(0.7) == math.inf  # no dark counts: distance costs rate, not visibility
    assert Link(fidelity=0.8).max_distance_km(0.8) == 0.0  # the heralded pair itself falls short
    assert Link(dark_count_prob=1e-6, attenuation_db_km=0.0).max_distance_km(0.9) == math.inf  # lossless fibre
    # a detector so noisy that even a fibre of no length leaves too few genuine heralds
    assert Link(photon_efficiency=0.01, dark_count_prob=0.05).max_distance_km(0.95) == 0.0


def test_rounds_to_detect_is_hoeffding():
    """n = span^2 ln(1/(1-conf)) / (2 gap^2): CHSH's ideal gap 0.1036 at 99% needs 215 rounds; and at that n the
    Hoeffding bound exp(-2 n gap^2) is below 1%, at n - 1 above it."""
    gap = math.cos(math.pi / 8) ** 2 - 0.75
    n = rounds_to_detect(gap, 1.0, 0.99)
    assert n == math.ceil(math.log(100) / (2 * gap**2)) == 215
    assert math.exp(-2 * n * gap**2) <= 0.01 < math.exp(-2 * (n - 1) * gap**2)
    assert rounds_to_detect(0.0, 1.0, 0.99) == math.inf
    assert rounds_to_detect(gap, 2.0, 0.99) == math.ceil(4 * math.log(100) / (2 * gap**2))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"distance_km": -1.0}, "distance_km"),
        ({"fidelity": 1.2}, "fidelity"),
        ({"fidelity": 0.1}, "fidelity"),
        ({"memory_t2": 1e-7, "decision_latency": 1e-6}, "shorter than one decision"),
        ({"memory_t1": 1e-3, "memory_t2": 5e-3}, "2*T1"),
        ({"straight_km": 80.0, "distance_km": 50.0}, "shorter than the straight line"),
        ({"source_at": "b"}, "source_at"),
        ({"multiplexing": 0}, "multiplexing"),
        ({"dark_count_prob": 1.0}, "dark_count_prob"),
        ({"dark_count_prob": -1e-6}, "dark_count_prob"),
        ({"memory_cutoff": "soon"}, "memory_cutoff"),
        ({"memory_cutoff": 1e-5, "distance_km": 50.0}, "not longer than the herald's delay"),
    ],
)
def test_bad_physical_inputs(kwargs, words):
    with pytest.raises(StrategyError, match=words):
        Link(**kwargs)


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "qcoord", "backtest", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["--link", "li2026", "--distance-km", "-5"], "--distance-km"),
        (["--link", "li2026", "--fidelity", "1.1"], "--fidelity"),
        (["--link", "li2026", "--memory-t2", "1e-7"], "shorter than one decision"),
        (["--link", "nowhere"], "--link"),
        (["--link", "li2026", "--visibility", "0.9"], "--visibility"),
        (["--link", "li2026", "--pair-rate", "10", "--decision-rate", "5"], "--pair-rate"),
        (["--link", "li2026", "--dark-count-prob", "1"], "--dark-count-prob"),
        (["--link", "li2026", "--memory-cutoff", "1e-6"], "herald's delay"),
    ],
)
def test_bad_link_options_are_one_line_errors_before_any_work(tmp_path, args, words):
    out = tmp_path / "run"
    proc = _cli(*args, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert "Traceback" not in err and not out.exists()


@pytest.fixture(scope="module")
def li_run():
    return run_backtest(link="li2026", rounds=20_000)


def test_link_plays_the_derived_noise_and_supply(li_run):
    link = Link.preset("li2026")
    res = li_run.config["resolved"]
    assert res["noise"]["visibility"] == pytest.approx(link.visibility)
    assert res["supply"]["pair_rate"] == link.delivered_pair_rate
    assert res["supply"]["decision_rate"] is None  # decisions at their times on the run's clock
    # one clock: the preset's decision rate sets the synthetic source's step, and the clock says so
    assert li_run.clock["decision_rate_hz"] == pytest.approx(link.link_decision_rate, rel=1e-9)
    assert res["supply"]["herald_delay"] == pytest.approx(link.herald_delay)
    # the pairs' ages include the herald's delay: none younger
    age = li_run.metrics_dict["quantum"].get("mean_pair_age")
    assert age is not None and age >= link.herald_delay


def test_chain_in_summary_metrics_and_verdict(li_run):
    doc = li_run.to_dict()["link"]
    assert [s["stage"] for s in doc["stages"]] == list(STAGES)
    for s in doc["stages"]:
        assert s["passed"] in (True, False, None) and s["text"]
        assert s["result"] == {True: "pass", False: "FAIL", None: "n/a"}[s["passed"]]
    first = doc["first_failing"]
    assert first == next((s["stage"] for s in doc["stages"] if s["passed"] is False), None)
    summary = li_run.summary()
    assert "feasibility chain:" in summary
    for stage in STAGES:
        assert f"  {stage}" in summary
    assert doc["sentence"] in li_run.verdict().replace("\n", " ")
    # the fidelity stage's threshold is the fitted game's, found as the CHSH one is
    fid = doc["stages"][1]
    assert fid["threshold"] == pytest.approx(fidelity_from_visibility(fid["visibility_threshold"]))
    # detection: the Hoeffding count for the memory stage's gap, against the pairs within the window
    det, mem = doc["stages"][5], doc["stages"][4]
    assert det["rounds_needed"] == rounds_to_detect(mem["gap"], det["utility_span"], 0.99)
    assert det["rounds_available"] == pytest.approx(doc["stages"][3]["pair_share"] * det["window_rounds"])


def test_won_or_lost_game_also_gets_the_exact_binomial_count(li_run):
    """The paper's game (rounds won or lost): the detectable stage adds the exact binomial count for the fitted
    values, below Hoeffding's; the hedge game (money utilities) has none."""
    r = run_backtest(link="li2026", rounds=20_000, game="paper")
    doc = r.to_dict()
    det, game = doc["link"]["stages"][5], doc["game"]
    assert det["rounds_needed_binomial"] == rounds_to_certify(game["classical_value"], game["quantum_value"], 0.01)
    assert det["rounds_needed_binomial"] < det["rounds_needed"]
    assert li_run.to_dict()["link"]["stages"][5]["rounds_needed_binomial"] is None


def test_market_stage_fails_first_where_there_is_no_advantage():
    """Indicators that carry no information: the market stage fails first and the verdict says so."""
    r = run_backtest(link="li2026", rounds=20_000, indicator="noisy_signal", flip=0.5)
    doc = r.link
    assert doc["first_failing"] == "market"
    assert "at the market" in r.verdict()


def test_real_pair_says_which_stage_fails_first():
    """A shipped daily pair (JPM/BAC) on the li2026 link: its indicators never change the sign of the co-movement,
    so the fitted game has no quantum advantage even on a perfect link; the chain fails first at the market stage,
    before any hardware stage, and the verdict says so."""
    r = run_backtest(data.load_sample("jpm_bac"), link="li2026")
    assert not r.hedge["informativeness"]["train"]["sign_differs"]
    doc = r.link
    assert doc["stages"][0]["stage"] == "market" and doc["stages"][0]["passed"] is False
    assert doc["first_failing"] == "market" and "at the market" in r.verdict()
    assert doc["stages"][1]["passed"] is None  # no threshold where there is no advantage to keep


def test_low_fidelity_preset_fails_at_fidelity():
    r = run_backtest(link="vanleent2022", rounds=20_000)
    assert r.link["first_failing"] == "fidelity"
    assert r.link["stages"][1]["fidelity"] == pytest.approx(0.622)


def test_config_round_trip_and_conflicts(tmp_path):
    cfg = RunConfig().with_values({"link": "li2026", "distance_km": 30})
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    back = RunConfig.from_toml(path)
    assert back.link.build() == cfg.link.build() == Link.preset("li2026", distance_km=30.0)
    with pytest.raises(BacktestError, match="visibility"):
        run_backtest(link="li2026", visibility=0.9, rounds=2000)
    with pytest.raises(BacktestError, match="device"):
        run_backtest(link="li2026", device="fake_manila", rounds=2000)


def test_sweep_checks_the_link_before_any_point(tmp_path):
    """A link with the abstract noise options is refused when the sweep is planned, naming the point and option."""
    with pytest.raises(BacktestError, match="sweep point .*--visibility"):
        run_sweep(
            config=RunConfig().with_values({"link": "li2026", "visibility": 0.9, "rounds": 2000}),
            grid={"distance_km": [10.0, 20.0]},
            out=tmp_path / "sw",
        )
    assert not (tmp_path / "sw" / "points").exists() or not any((tmp_path / "sw" / "points").iterdir())


def _ideal_rate(km: float) -> float:
    """The nyse-nasdaq link's derived rate at ``km``, by hand: heralds 0.5 T_photon^2 (0.17 dB/km over km/2 each), one
    memory qubit busy 1 us attempt + km n / c herald + 1 us decision an attempt."""
    return 0.5 * 10 ** (-0.17 * km / 10) * min(1e6, 1 / (1e-6 + km * 1.468 / C_KM_PER_S + 1e-6))


def test_distance_sweep_finds_the_frontier(tmp_path):
    """On the synthetic signals pair with ideal hardware at 1000 decisions/s, the derived pair rate falls below
    the decision rate between 20 and 40 km (hand: 2.29e3 at 20 km, 5.28e2 at 40 km), so the chain passes up to 20 km;
    Li et al.'s criterion (the certification rounds the window needs, far fewer than a pair a decision) reaches
    further, and the sweep finds where the rate meets each need from the physics between the grid points."""
    grid = {"distance_km": [5.0, 20.0, 40.0, 80.0]}
    # decisions at 1000 a second, each taken within a microsecond of its input (the run's clock: faster than light
    # crosses even 5 km, so the servers cannot talk at any grid distance)
    res = run_sweep(
        config=RunConfig().with_values(
            {"link": "nyse-nasdaq", "link_decision_rate": 1000, "decision_deadline": 1e-6, "rounds": 20_000}
        ),
        grid=grid,
    )
    front = res.doc["link_frontier"]
    for km, rate in ((20.0, 2.288e3), (40.0, 5.278e2)):
        assert _ideal_rate(km) == pytest.approx(rate, rel=1e-3)
    assert front["detectable_up_to"] == 20.0
    assert front["first_failing"][40.0] == "rate"
    # between 20 and 40 km the derived rate meets the 1000 decisions/s: check the crossing with the formula by hand
    km = front["rate_frontier"]
    assert 20.0 < km < 40.0
    assert _ideal_rate(km) == pytest.approx(1000.0, rel=1e-6)
    li = front["li_rate_frontier"]
    assert front["li_feasible_up_to"] >= 40.0 and li > km
    t = res.table.drop_duplicates("distance_km").set_index("distance_km")
    after = min(x for x in grid["distance_km"] if x > front["li_feasible_up_to"])
    assert _ideal_rate(li) == pytest.approx(t.loc[after, "li_required_rate_hz"], rel=1e-6)
    assert any(line.startswith("link: by Li et al.'s criterion") for line in sweeps.link_frontier_lines(front))
    res.write(tmp_path / "sw")
    assert (tmp_path / "sw" / "sweep_link_frontier.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["link_frontier"]["detectable_up_to"] == 20.0


def test_li_criterion_frontier_for_chsh_on_the_table_iii_node():
    """Li et al.'s criterion for CHSH on the Table III node at T_env = 10 ms: the node's combined infidelity 0.0609
    (Werner F = 0.96, readout flips 0.002) leaves CHSH 0.8320, 65 certification rounds at alpha 0.05, so the pair rate
    must exceed 6500/s: it does up to 51.72 km (the independent implementation's figure), where one pair a decision at
    8000 a second holds only to 49.03 km."""
    from scipy.optimize import brentq

    base = Link.preset("li2026")
    w = 0.5 + base.visibility * (1 - 2 * base.measurement_error) ** 2 * math.sqrt(2) / 4
    n = rounds_to_certify(0.75, w, 0.05)
    assert n == 65

    def rate(km):
        return Link.preset("li2026", distance_km=km).delivered_pair_rate

    li = brentq(lambda km: rate(km) - n / 0.01, 10, 200, xtol=1e-9)
    ours = brentq(lambda km: rate(km) - 8000, 10, 200, xtol=1e-9)
    assert li == pytest.approx(51.72, abs=0.005)
    assert ours == pytest.approx(49.03, abs=0.005)


def test_dark_counts_stop_a_distance_sweep_at_the_fidelity_stage(tmp_path):
    """A link whose every number is derived: 250 memory modes, collection 0.5 and gated detectors with dark counts of
    1e-3 a window, at 10 decisions/s on the synthetic signals pair. The pair rate still exceeds the decisions at 200 km
    (15 a second) but the fidelity has fallen to the hedge game's threshold between the grid's 150 and 200 km. The
    chain's own reach at 150 km (the closed form for the fitted threshold) and the sweep's bisection on the link's
    physics find the same distance, two methods, to 1e-6 relative."""
    base = {
        "link": "nyse-nasdaq",
        "multiplexing": 250,
        "photon_efficiency": 0.5,
        "dark_count_prob": 1e-3,
        "link_decision_rate": 10,
        "decision_deadline": 1e-6,
        "stationary_window": 1000.0,
        "rounds": 20_000,
    }
    res = run_sweep(config=RunConfig().with_values(base), grid={"distance_km": [120.0, 150.0, 200.0, 230.0]})
    front = res.doc["link_frontier"]
    assert front["detectable_up_to"] == 150.0
    assert front["first_failing"][200.0] == front["first_failing"][230.0] == "fidelity"
    assert front["rate_frontier"] is None
    link_at = {k: v for k, v in base.items() if k not in ("link", "stationary_window", "rounds", "decision_deadline")}
    assert Link.preset("nyse-nasdaq", **link_at, distance_km=200.0).delivered_pair_rate > 10
    km = front["fidelity_frontier"]
    assert 150.0 < km < 200.0
    one = run_backtest(**base, distance_km=150.0).link["stages"][1]
    assert one["passed"] and one["max_distance_km"] == pytest.approx(km, rel=1e-6)
    assert Link.preset("nyse-nasdaq", **link_at, distance_km=km).effective_fidelity == pytest.approx(
        one["threshold"], abs=1e-9
    )
    assert "dark counts keep it above up to" in one["text"]
    assert any(f"threshold at distance_km = {km:.4g}" in line for line in sweeps.link_frontier_lines(front))
    res.write(tmp_path / "sw")
    assert (tmp_path / "sw" / "sweep_link_frontier.png").stat().st_size > 10_000


def _classical_tail(n: int, wins: int, p: float) -> float:
    """P[Binomial(n, p) >= wins] summed term by term with exact binomial coefficients (independent of scipy)."""
    return math.fsum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(wins, n + 1))


@pytest.mark.parametrize("eps, alpha", [(0.0, 0.05), (0.0, 0.001), (0.1, 0.05), (0.1, 0.001)])
def test_rounds_to_certify_is_the_least_certifying_count(eps, alpha):
    """The exact binomial count for the CHSH game with a Werner pair of visibility 1 - eps: at n rounds the expected
    quantum wins would come from the best classical strategy (3/4) with probability <= alpha, at no smaller n (checked
    round by round with a term-by-term tail, not scipy's); far below Hoeffding's distribution-free bound; none
    without a gap."""
    wq = (1 + (1 - eps) / math.sqrt(2)) / 2
    n = rounds_to_certify(0.75, wq, alpha)
    assert _classical_tail(n, math.ceil(n * wq), 0.75) <= alpha
    assert all(_classical_tail(m, math.ceil(m * wq), 0.75) > alpha for m in range(1, n))
    assert n < rounds_to_detect(wq - 0.75, 1.0, 1 - alpha) / 2
    assert rounds_to_certify(0.75, 0.75, alpha) == math.inf
    assert rounds_to_certify(0.75, 0.7, alpha) == math.inf


def _dephasing_cutoff(strategy, game, p, classical):
    """Under pure dephasing a |Phi+>-based pair's correlations in X and Y decay by d^2 = exp(-2t/T2) and nothing else
    moves (no local Bloch vector, Z unchanged), so a fixed strategy's value is affine in d^2: V = V_inf + (V_0 -
    V_inf) d^2. Its cutoff in closed form from two ages (0 and effectively infinite), no search."""
    t2 = strategy.resource.noise.t2
    v0, vinf = value_at_age(strategy, game, p, 0.0), value_at_age(strategy, game, p, 1e3 * t2)
    return -t2 / 2 * math.log((classical - vinf) / (v0 - vinf))


def test_useful_lifetime_of_the_chsh_pair():
    """The CHSH optimum (ideal angles) on a memory dephasing with T2 alone: S = sqrt2 (1 + d^2) with d = exp(-t/T2),
    so it beats 3/4 until 1 + d^2 = sqrt2, t = (T2/2) ln(1 + sqrt2) ~ 0.4407 T2; the search finds it to 1e-9, and the
    affine closed form agrees."""
    from dataclasses import replace

    q = solve(Game(), UNIFORM, Noise()).quantum_strategy()
    for t2 in (1e-3, 2.5):
        qs = replace(q, resource=replace(q.resource, noise=Noise(t2=t2)))
        t = useful_lifetime(qs, Game(), UNIFORM, 0.75)
        assert t == pytest.approx(t2 / 2 * math.log(1 + math.sqrt(2)), rel=1e-9)
        assert t == pytest.approx(_dephasing_cutoff(qs, Game(), UNIFORM, 0.75), rel=1e-9)
        assert useful_lifetime(qs, Game(), UNIFORM, 0.75, youngest=t * 1.01) == t * 1.01  # too old from the start
    assert useful_lifetime(q, Game(), UNIFORM, 0.75) == math.inf  # a memory that does not decay


def test_useful_lifetime_on_random_games_against_the_closed_form():
    """Random 2x2 games and input statistics, with Werner noise and readout errors on a dephasing memory: the search's
    cutoff equals the affine closed form to 1e-8; with T1 too (amplitude damping, not affine) the pair pays at every
    age before the cutoff on a fine grid and not just after it."""
    from dataclasses import replace

    rng = np.random.default_rng(11)
    checked = 0
    while checked < 5:
        game = Game.from_table(rng.normal(size=(2, 2, 2)))
        p = rng.dirichlet(np.ones(4)).reshape(2, 2)
        noise = Noise.make(visibility=0.97, readout_error=0.01, t2=1e-3)
        sol = solve(game, p, noise)
        if not sol.uses_entanglement:
            continue
        q = sol.quantum_strategy()
        t = useful_lifetime(q, game, p, sol.classical_value)
        assert t == pytest.approx(_dephasing_cutoff(q, game, p, sol.classical_value), rel=1e-8)
        damped = replace(q, resource=replace(q.resource, noise=Noise.make(visibility=0.97, t1=1e-3, t2=1.5e-3)))
        td = useful_lifetime(damped, game, p, sol.classical_value)
        assert 0 < td < math.inf  # amplitude damping ends in a product state, which no game rewards above classical
        assert all(value_at_age(damped, game, p, a) > sol.classical_value for a in np.linspace(0, td, 60)[:-1])
        assert value_at_age(damped, game, p, td * (1 + 1e-9)) <= sol.classical_value + 1e-12
        checked += 1


def test_link_drops_pairs_past_the_re_aimed_cutoff():
    """A dephasing memory (T2 = 1.5 ms) holding 20 pairs of a 2e4/s link at 8e3 decisions/s, on the book's hedge game:
    even with settings re-aimed for each pair's age the pair stops beating the classical rule at an age, found on the
    age grid and closed by bisection; a plain bisection of the solver's verdict in age from scratch finds the same age
    (two methods, to 1e-8). Settings aimed once for the typical age stop sooner (the affine closed form). The supply as
    played drops older pairs, so fewer, younger pairs are played than with no cutoff."""
    kw = dict(
        link="li2026",
        rounds=40_000,
        memory_t2=1.5e-3,
        link_memory_slots=20,
        link_pair_rate=2e4,
        fidelity=1.0,
        measurement_error=0.0,
    )
    r = run_backtest(**kw)
    keep = run_backtest(**kw, memory_cutoff=math.inf)
    mem = r.link["stages"][4]
    cut = mem["memory_cutoff_s"]
    link = Link.preset("li2026", **{k: v for k, v in kw.items() if k not in ("link", "rounds")})
    g = r.to_dict()["game"]
    game, p = Game.from_table(np.array(g["table"])), np.array(g["p_xy"])
    lo, hi = link.herald_delay, 0.05
    assert solve(game, p, link.noise(storage_time=lo)).uses_entanglement
    assert not solve(game, p, link.noise(storage_time=hi)).uses_entanglement
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if solve(game, p, link.noise(storage_time=mid)).uses_entanglement else (lo, mid)
    assert cut == pytest.approx(hi, rel=1e-8)
    q = solve(game, p, link.noise(storage_time=mem["storage_time_s"])).quantum_strategy()
    fixed = _dephasing_cutoff(q, game, p, g["classical_value"])
    assert mem["fixed_angle_cutoff_s"] == pytest.approx(fixed, rel=1e-8) and fixed < cut
    assert r.config["resolved"]["supply"]["max_age"] == pytest.approx(cut - link.herald_delay, rel=1e-12)
    assert keep.config["resolved"]["supply"]["max_age"] == "inf" and keep.link["stages"][4]["memory_cutoff_s"] is None
    assert "even re-aimed for their age they no longer beat the classical rule" in mem["text"]
    mine, theirs = r.metrics_dict["quantum"], keep.metrics_dict["quantum"]
    assert mine["quantum_share"] < theirs["quantum_share"] and mine["mean_pair_age"] < theirs["mean_pair_age"]


def _power_by_scan(n: int, wc: float, wq: float, alpha: float) -> float:
    """The exact test's power at n rounds from scipy's binomial, with the critical count found by scanning every k
    (not by inverting the tail): k_n = the least k with P[Bin(n, wc) >= k] <= alpha; power P[Bin(n, wq) >= k_n]."""
    from scipy.stats import binom

    ks = np.arange(n + 2)
    k = int(ks[np.flatnonzero(binom.sf(ks - 1, n, wc) <= alpha)[0]])
    return float(binom.sf(k - 1, n, wq))


@pytest.mark.parametrize(
    "wc, wq, alpha", [(0.75, (1 + 1 / math.sqrt(2)) / 2, 0.01), (0.75, 0.82, 0.05), (0.6, 0.7, 0.001)]
)
def test_rounds_to_certify_with_power_matches_scipy(wc, wq, alpha):
    """With power 0.9: the count N has power >= 0.9 at N and at every count after it up to the bound past which
    Hoeffding guarantees it (checked round by round against scipy's binomial, the critical count by a scan), and
    some count before N falls short (the tail is not monotone: that one is N - 1)."""
    n = rounds_to_certify(wc, wq, alpha, power=0.9)
    ab = math.sqrt(math.log(1 / alpha) / 2) + math.sqrt(math.log(10) / 2)
    sure = math.ceil(4 / (math.sqrt(ab**2 + 4 * (wq - wc)) - ab) ** 2)
    assert all(_power_by_scan(m, wc, wq, alpha) >= 0.9 for m in range(n, sure + 1))
    assert _power_by_scan(n - 1, wc, wq, alpha) < 0.9
    assert rounds_to_certify(wc, wq, alpha) < n  # the expected-score count: about half the power


def test_chsh_certification_counts():
    """CHSH: at 99% the expected-score count is 81 rounds, where 70 wins are needed and reached with probability
    0.469; 82-85, 89 and 90 rounds fail again; 90% power takes 207 rounds (Hoeffding: 215 at the expected score, 626
    with 90% power). Li et al.'s '65 rounds' (CHSH at infidelity 0.061, alpha 0.05) is this expected-score count with
    0.061 read as the white-noise weight, visibility 0.939 (Werner F = 0.954): 65, 136 and 238 at alpha 0.05, 0.01 and
    0.001; read as 1 - F of a Werner state it would be 74, 164 and 290."""
    from scipy.stats import binom

    from qcoord.strategies.link import certification_power, critical_wins

    wq = (1 + 1 / math.sqrt(2)) / 2
    assert rounds_to_certify(0.75, wq, 0.01) == 81
    assert int(critical_wins(81, 0.75, 0.01)) == 70 and math.ceil(81 * wq) == 70
    assert float(certification_power(81, 0.75, wq, 0.01)) == pytest.approx(0.469, abs=5e-4)
    fails = [n for n in range(81, 95) if binom.sf(math.ceil(n * wq) - 1, n, 0.75) > 0.01]
    assert fails == [82, 83, 84, 85, 89, 90]
    assert rounds_to_certify(0.75, wq, 0.01, power=0.9) == 207
    assert rounds_to_detect(wq - 0.75, 1.0, 0.99) == 215 and rounds_to_detect(wq - 0.75, 1.0, 0.99, power=0.9) == 626
    li = 0.5 + 0.939 * math.sqrt(2) / 4
    assert [rounds_to_certify(0.75, li, a) for a in (0.05, 0.01, 0.001)] == [65, 136, 238]
    werner = 0.5 + visibility_from_fidelity(0.939) * math.sqrt(2) / 4
    assert [rounds_to_certify(0.75, werner, a) for a in (0.05, 0.01, 0.001)] == [74, 164, 290]


def test_any_won_or_lost_game_gets_the_exact_counts():
    """CHSH given as a table (any 0/1 game) has wins, as the paper's game and the chained game do; a game with
    fractional utilities does not. On a link run the table game's detectable stage gives the exact binomial counts at
    the expected score and with 90% power, beside Hoeffding's."""
    chsh = Game.from_table(Game().table)
    assert chsh.has_wins and Game.chained(3).has_wins and Game(beta=1.0).has_wins
    assert not Game(beta=0.3).has_wins and not Game.from_weights([1, 1, 1, -1]).has_wins
    r = run_backtest(link="li2026", rounds=20_000, game=chsh)
    det, g = r.link["stages"][5], r.to_dict()["game"]
    assert det["rounds_needed_binomial"] == rounds_to_certify(g["classical_value"], g["quantum_value"], 0.01)
    assert det["rounds_needed_binomial_power"] == rounds_to_certify(
        g["classical_value"], g["quantum_value"], 0.01, power=0.9
    )
    assert det["rounds_needed_binomial"] < det["rounds_needed_binomial_power"] < det["rounds_needed_power"]
    assert "about half the time" in det["text"] and "90% power" in det["text"]


def test_stationary_window_counts_test_rounds_only():
    """Unset, the stationary window is the test window, one decision a round at the link's rate: the training
    rounds do not count, so the same test window gives the same window whatever the training length."""
    short = run_backtest(link="li2026", rounds=20_000).link
    long = run_backtest(link="li2026", rounds=40_000, train_fraction=0.75).link
    for doc in (short, long):
        det = doc["stages"][5]
        assert det["window_rounds"] == 10_000 and det["window_s"] == pytest.approx(10_000 / 8e3)
        assert det["window_from"].startswith("the test window")
        assert doc["decision_rate_hz"] == 8e3
    given = run_backtest(link="li2026", rounds=20_000, stationary_window=2.0).link["stages"][5]
    assert given["window_rounds"] == 16_000 and given["window_from"] == "given"


def test_rate_stage_reports_li_criterion():
    """The rate stage keeps one pair a decision as its verdict and gives Li et al.'s criterion beside it: the rounds
    the detectable stage needs (the exact count for won-or-lost games, Hoeffding's otherwise) over the window."""
    doc = run_backtest(link="li2026", rounds=20_000, game="paper").link
    rate, det = doc["stages"][3], doc["stages"][5]
    assert rate["passed"] == (rate["pair_rate_hz"] >= 8e3)
    assert rate["li_rounds_needed"] == det["rounds_needed_binomial"]
    assert rate["li_required_rate_hz"] == pytest.approx(det["rounds_needed_binomial"] / det["window_s"])
    assert rate["li_passed"] == (rate["pair_rate_hz"] > rate["li_required_rate_hz"])
    assert rate["channels_for_decisions"] == 2 and "Li et al.'s criterion" in rate["text"]
