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
from qcoord.strategies.link import (C_KM_PER_S, LINK_PRESETS, Link, fidelity_from_visibility, rounds_to_certify,
                                    rounds_to_detect, visibility_from_fidelity)


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
    vals = {**{f: getattr(Link(), f) for f in ("attenuation_db_km", "refractive_index", "source_at", "attempt_rate",
                                                "multiplexing", "photon_efficiency", "herald_efficiency", "fidelity",
                                                "gate_error", "retrieval_efficiency", "decision_latency")},
            **LINK_PRESETS[name]["values"]}
    L = vals["distance_km"]
    n = vals["refractive_index"]
    fibre_s = L * n / 299_792.458
    straight_s = vals.get("straight_km", L) / 299_792.458
    assert link.fibre_time == pytest.approx(fibre_s, rel=1e-12)
    assert link.straight_line_time == pytest.approx(straight_s, rel=1e-12)
    assert link.deadline_met == (vals["decision_latency"] < straight_s)
    # midpoint: each photon crosses L/2, both must arrive; the herald returns after L n / c
    t = 10 ** (-vals["attenuation_db_km"] * (L / 2) / 10)
    p = vals["herald_efficiency"] * (vals["photon_efficiency"] * t) ** 2
    assert link.herald_probability == pytest.approx(p, rel=1e-12)
    attempts = min(vals["attempt_rate"], vals["multiplexing"] / fibre_s)
    rate = vals.get("link_pair_rate", attempts * p)
    assert link.delivered_pair_rate == pytest.approx(rate, rel=1e-12)
    v = (4 * vals["fidelity"] - 1) / 3 * (1 - vals["gate_error"]) ** 2
    assert link.visibility == pytest.approx(v, rel=1e-12)
    noise = link.noise()
    assert noise.visibility == pytest.approx(v, rel=1e-12)
    assert noise.loss_a == noise.loss_b == pytest.approx(1 - vals["retrieval_efficiency"])
    assert noise.storage_time == pytest.approx(fibre_s, rel=1e-12)  # at least the herald's delay
    assert LINK_PRESETS[name]["source"]  # every preset names where its numbers come from


def test_seed_scenario_numbers():
    """NYSE (Mahwah) to NASDAQ (Carteret): 57.3 km, light in 191 us straight, 281 us through fibre of index 1.468."""
    link = Link.preset("nyse-nasdaq")
    assert link.straight_line_time * 1e6 == pytest.approx(191.1, abs=0.1)
    assert link.fibre_time * 1e6 == pytest.approx(57.3 * 1.468 / C_KM_PER_S * 1e6, rel=1e-12)
    assert link.fibre_time * 1e6 == pytest.approx(280.6, abs=0.1)


def test_li2026_abstract_figures():
    """Li et al. 2026, abstract: a 50 km fibre, a decision latency of a microsecond, 8e3 decisions/s per channel.
    At 50 km the straight-line light time (167 us) leaves the 1 us decision far inside the deadline, and one-way
    fibre light takes 245 us."""
    link = Link.preset("li2026")
    assert link.deadline_met
    assert link.straight_line_time * 1e6 == pytest.approx(50 / C_KM_PER_S * 1e6, rel=1e-12)
    assert link.straight_line_time * 1e6 == pytest.approx(166.8, abs=0.1)
    assert link.fibre_time * 1e6 == pytest.approx(244.8, abs=0.1)
    assert link.delivered_pair_rate == link.link_decision_rate == 8e3


def test_source_at_a_and_multiplexing():
    """A's photon crosses the whole fibre (one photon, herald back and forth); modes multiply the attempts until
    the attempt rate caps them."""
    link = Link(distance_km=20.0, source_at="a", photon_efficiency=0.5, herald_efficiency=0.9, attempt_rate=1e9,
                multiplexing=10)
    t = 10 ** (-0.2 * 20 / 10)
    assert link.herald_probability == pytest.approx(0.9 * 0.5 * t, rel=1e-12)
    assert link.herald_delay == pytest.approx(2 * 20 * 1.468 / C_KM_PER_S, rel=1e-12)
    assert link.attempts_per_second == pytest.approx(10 / link.herald_delay, rel=1e-12)
    assert Link(distance_km=20.0, attempt_rate=10.0, multiplexing=10).attempts_per_second == 10.0
    assert Link(distance_km=0.0).attempts_per_second == Link().attempt_rate


@pytest.mark.parametrize("source_at, clicks", [("midpoint", 2), ("a", 1)])
def test_dark_counts_by_hand(source_at, clicks):
    """A heralding click is its photon (eta_p T) or, failing that, a dark count (p_d): q = eta_p T + (1 - eta_p T)
    p_d per click, a herald needs 2 clicks at a midpoint and 1 from A, so it happens with eta_h q^k and is all
    photons with share (eta_p T / q)^k; the rest leave a maximally mixed pair, so the visibility is that share of the
    heralded Werner pair's, times (1 - p_gate)^2. Without dark counts every number is the one without the option."""
    eta, pd, F, g, L = 0.3, 2e-4, 0.95, 0.01, 40.0
    link = Link(distance_km=L, source_at=source_at, photon_efficiency=eta, dark_count_prob=pd, fidelity=F,
                gate_error=g)
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


@pytest.mark.parametrize("kwargs, words", [
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
])
def test_bad_physical_inputs(kwargs, words):
    with pytest.raises(StrategyError, match=words):
        Link(**kwargs)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "qcoord", "backtest", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, words", [
    (["--link", "li2026", "--distance-km", "-5"], "--distance-km"),
    (["--link", "li2026", "--fidelity", "1.1"], "--fidelity"),
    (["--link", "li2026", "--memory-t2", "1e-7"], "shorter than one decision"),
    (["--link", "nowhere"], "--link"),
    (["--link", "li2026", "--visibility", "0.9"], "--visibility"),
    (["--link", "li2026", "--pair-rate", "10", "--decision-rate", "5"], "--pair-rate"),
    (["--link", "li2026", "--dark-count-prob", "1"], "--dark-count-prob"),
    (["--link", "li2026", "--memory-cutoff", "1e-6"], "herald's delay"),
])
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
        run_sweep(config=RunConfig().with_values({"link": "li2026", "visibility": 0.9, "rounds": 2000}),
                  grid={"distance_km": [10.0, 20.0]}, out=tmp_path / "sw")
    assert not (tmp_path / "sw" / "points").exists() or not any((tmp_path / "sw" / "points").iterdir())


def test_distance_sweep_finds_the_frontier(tmp_path):
    """On the synthetic signals pair with ideal hardware at 1000 decisions/s, the derived pair rate falls below
    the decision rate between 20 and 40 km (hand: 2.1e3 at 20 km, 4.0e2 at 40 km), so the chain passes up to 20 km."""
    grid = {"distance_km": [5.0, 20.0, 40.0, 80.0]}
    res = run_sweep(config=RunConfig().with_values({"link": "nyse-nasdaq", "link_decision_rate": 1000,
                                                    "rounds": 20_000}), grid=grid)
    front = res.doc["link_frontier"]
    for km, rate in ((20.0, 2.1e3), (40.0, 4.0e2)):
        hand = min(1e6, 1 / (km * 1.468 / C_KM_PER_S)) * 0.5 * 10 ** (-0.2 * km / 10)
        assert hand == pytest.approx(rate, rel=0.05)
    assert front["detectable_up_to"] == 20.0
    assert front["first_failing"][40.0] == "rate"
    # between 20 and 40 km the derived rate meets the 1000 decisions/s: check the crossing with the formula by hand
    km = front["rate_frontier"]
    assert 20.0 < km < 40.0
    hand = min(1e6, 1 / (km * 1.468 / C_KM_PER_S)) * 0.5 * 10 ** (-0.2 * km / 10)
    assert hand == pytest.approx(1000.0, rel=1e-6)
    res.write(tmp_path / "sw")
    assert (tmp_path / "sw" / "sweep_link_frontier.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["link_frontier"]["detectable_up_to"] == 20.0


def test_dark_counts_stop_a_distance_sweep_at_the_fidelity_stage(tmp_path):
    """A published pair rate (so distance costs no rate), collection 5% and dark counts 1e-3 a window on the synthetic
    signals pair: the fidelity falls to the hedge game's threshold between the grid's 55 and 70 km. The chain's own
    reach at each point (the closed form for the fitted threshold) and the sweep's bisection on the link's physics
    find the same distance, two methods, to 1e-6 relative."""
    base = {"link": "nyse-nasdaq", "photon_efficiency": 0.05, "dark_count_prob": 1e-3, "link_pair_rate": 2000,
            "link_decision_rate": 1000, "stationary_window": 1000.0, "rounds": 20_000}
    res = run_sweep(config=RunConfig().with_values(base), grid={"distance_km": [40.0, 55.0, 70.0, 85.0]})
    front = res.doc["link_frontier"]
    assert front["detectable_up_to"] == 55.0
    assert front["first_failing"][70.0] == front["first_failing"][85.0] == "fidelity"
    assert front["rate_frontier"] is None
    km = front["fidelity_frontier"]
    assert 55.0 < km < 70.0
    one = run_backtest(**base, distance_km=55.0).link["stages"][1]
    assert one["passed"] and one["max_distance_km"] == pytest.approx(km, rel=1e-6)
    assert Link.preset("nyse-nasdaq", photon_efficiency=0.05, dark_count_prob=1e-3, distance_km=km).effective_fidelity \
        == pytest.approx(one["threshold"], abs=1e-9)
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


def test_link_drops_pairs_past_the_memory_cutoff():
    """A dephasing memory (T2 = 1.5 ms) holding 20 pairs of a 2e4/s link at 8e3 decisions/s: the engine plays no pair
    older than the age at which the fitted strategy stops beating the classical rule (the affine closed form on the
    run's own fitted game), the supply as played says so, and fewer, younger pairs are played than with no cutoff."""
    kw = dict(link="li2026", rounds=40_000, memory_t2=1.5e-3, link_memory_slots=20, link_pair_rate=2e4)
    r = run_backtest(**kw)
    keep = run_backtest(**kw, memory_cutoff=math.inf)
    mem = r.link["stages"][4]
    cut = mem["memory_cutoff_s"]
    link = Link.preset("li2026", memory_t2=1.5e-3, link_memory_slots=20, link_pair_rate=2e4)
    g = r.to_dict()["game"]
    game, p = Game.from_table(np.array(g["table"])), np.array(g["p_xy"])
    q = solve(game, p, link.noise(storage_time=mem["storage_time_s"])).quantum_strategy()
    assert cut == pytest.approx(_dephasing_cutoff(q, game, p, g["classical_value"]), rel=1e-8)
    assert r.config["resolved"]["supply"]["max_age"] == pytest.approx(cut - link.herald_delay, rel=1e-12)
    assert keep.config["resolved"]["supply"]["max_age"] == "inf" and keep.link["stages"][4]["memory_cutoff_s"] is None
    assert "are not played (they no longer beat the classical rule)" in mem["text"]
    mine, theirs = r.metrics_dict["quantum"], keep.metrics_dict["quantum"]
    assert mine["quantum_share"] < theirs["quantum_share"] and mine["mean_pair_age"] < theirs["mean_pair_age"]
