"""The routers: talking is the oracle when its message arrives in time and the best local rule when not; the quantum
routers win the game they were fitted on; a user's router is certified and checked as a user's market-making rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord.backtest.balance import run_balance
from qcoord.strategies import LocalRule, NoResource, Resource, SignallingError, Strategy, StrategyError
from qcoord.strategies import balance as B

SMALL = dict(pairs=40_000, frontier_points=0, frontier_pairs=5_000, warmup=1000, levels=(2, 4, 8))


def _same(m1: dict, m2: dict) -> bool:
    keys = ("mean_wait", "p99_wait", "qos_violation", "throughput", "bunch_rate", "win_rate")
    return all(m1[k] == m2[k] for k in keys)


def test_talking_in_time_is_the_oracle():
    """A 100 m fibre carries the message in 0.49 us, within a 1 us decision: the talking routers route every pair as
    the oracle does, and the verdict says first that the routers can talk."""
    r = run_balance(routers=("threshold", "oracle", "talk"), distance_km=0.1, decision_latency=1e-6, **SMALL)
    assert r.talk["in_time"] and r.talk["message_s"] < 1e-6
    assert _same(r.metrics["talk"], r.metrics["oracle"]) and r.metrics["talk"]["win_rate"] == 1.0
    assert r.metrics["talk"]["communicates"]
    assert r.headline.startswith("The routers can talk")


def test_talking_too_slowly_is_the_best_local_rule():
    """Over the default 56 km (NYSE-NASDAQ) the message takes 274 us: each router decides alone, by the threshold
    rule."""
    r = run_balance(routers=("threshold", "oracle", "talk"), **SMALL)
    assert not r.talk["in_time"] and r.talk["message_s"] == pytest.approx(56.0 * 1.468 / 299_792.458)
    assert _same(r.metrics["talk"], r.metrics["threshold"]) and not r.metrics["talk"]["communicates"]
    assert "Talking is too slow" in r.verdict and not r.headline.startswith("The routers can talk")


def test_routers_win_the_games_they_were_fitted_on():
    """Share of pairs routed as the oracle would: the threshold rule's continuum value, the quantum routers' fitted
    K = 8 value (measured on Bell pairs), random coins 1/2; 4-sigma binomial bands."""
    n = 200_000
    r = run_balance(routers=("random", "threshold", "quantum"), **{**SMALL, "pairs": n})
    expect = {"random": 0.5, "threshold": B.best_threshold(B.REFERENCE_C_T).value, "quantum": r.fitted["quantum_value"]}
    for name, p in expect.items():
        assert abs(r.metrics[name]["win_rate"] - p) < 4 * math.sqrt(p * (1 - p) / n), name
    assert r.metrics["quantum"]["entangled"] and r.metrics["quantum"]["pair_share"] == 1.0
    assert r.fitted["quantum_value"] > r.fitted["classical_value"] + 0.05


def test_a_pair_below_the_visibility_threshold_routes_classically():
    r = run_balance(routers=("threshold", "quantum"), visibility=0.75, **SMALL)
    assert r.visibility_threshold == pytest.approx(0.806, abs=0.005) and not r.fitted["uses_entanglement"]
    assert _same(r.metrics["quantum"], r.metrics["threshold"]) and not r.metrics["quantum"]["entangled"]
    assert "Entanglement cannot pay here" in r.headline and "0.80" in r.headline


def test_a_link_short_of_pairs_falls_back_and_says_so():
    """li2026 delivers 8,000 pairs a second for 400 requests: every request finds a pair. At 100 pairs a second most
    requests route by the threshold rule, and the feasibility chain's rate stage fails first."""
    r = run_balance(routers=("threshold", "quantum"), link="li2026", link_pair_rate=100.0, **SMALL)
    share = r.metrics["quantum"]["pair_share"]
    assert 0.15 < share < 0.35  # 100 / 400, less what the one-slot memory drops
    assert r.feasibility["first_failing"] == "rate"
    assert "pair" in r.verdict and "rate" in r.verdict


class ShortFirst(LocalRule):
    """A user's rule on the input's level: server 0 for short service times (level < 4), else server 1."""

    def output(self, x, outcome):
        return (np.asarray(x) >= 4).astype(np.uint8)


class Whisper(LocalRule):
    """Two rules sharing a dict: A writes its levels, B reads them (would route as the oracle on the levels)."""

    def __init__(self, mailbox: dict, speaks: bool):
        super().__init__(outputs=((0,),) * 8)
        object.__setattr__(self, "mailbox", mailbox)
        object.__setattr__(self, "speaks", speaks)

    def setting(self, x):
        if self.speaks:
            self.mailbox["x"] = np.array(x, copy=True)
        return np.zeros(x.size, dtype=np.uint8)

    def output(self, x, outcome):
        if self.speaks:
            return np.zeros(x.size, dtype=np.uint8)
        return (self.mailbox["x"].astype(int) + x > 6).astype(np.uint8)


class PRBox(Resource):
    n_outcomes = 2
    kind = "pr_box"

    def joint(self, n_a, n_b):
        t = np.zeros((n_a, n_b, 2, 2))
        for sa in range(n_a):
            for sb in range(n_b):
                for oa in (0, 1):
                    t[sa, sb, oa, oa ^ (sa & sb)] = 0.5
        return t


def test_a_users_router_plays_checked_and_wins_its_exact_value():
    rule = ShortFirst(outputs=((0,),) * 8)
    mine = Strategy("mine", rule, rule, NoResource())
    n = 200_000
    r = run_balance(routers=("threshold",), user_routers={"mine": mine}, **{**SMALL, "pairs": n})
    table = LocalRule(outputs=tuple((int(x >= 4),) for x in range(8)))  # the same rule as a table, for its value
    exact = Strategy("table", table, table).value(B.threshold_game(8, B.REFERENCE_C_T), B.uniform_levels(8))
    assert abs(r.metrics["mine"]["win_rate"] - exact) < 4 * math.sqrt(exact * (1 - exact) / n)
    assert r.metrics["mine"]["local"] is True


def test_users_routers_that_signal_or_exceed_quantum_are_refused():
    mailbox: dict = {}
    whisper = Strategy("whisper", Whisper(mailbox, True), Whisper(mailbox, False), NoResource())
    with pytest.raises(StrategyError, match="whisper"):
        run_balance(routers=("threshold",), user_routers={"whisper": whisper}, **SMALL)
    pr = Strategy(
        "pr",
        LocalRule(outputs=((0, 1),) * 8, settings=(0,) * 4 + (1,) * 4),
        LocalRule(outputs=((0, 1),) * 8, settings=(0,) * 4 + (1,) * 4),
        PRBox(),
    )
    with pytest.raises(SignallingError, match="exceed what any shared quantum state allows"):
        run_balance(routers=("threshold",), user_routers={"pr": pr}, **SMALL)
