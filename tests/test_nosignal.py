"""No-signalling, checked before and while a strategy plays: four ways to cheat, each refused loudly inside
run_backtest, and the honest strategies (every built-in, a quantum strategy on a noisy pair, a user's table rules)
still accepted (tests/test_trust.py has the determined user's tricks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcoord.backtest import run_backtest
from qcoord.strategies import (
    Game,
    LocalRule,
    NoResource,
    Noise,
    Resource,
    SharedRandomness,
    SignallingError,
    Strategy,
    StrategyError,
    certify,
    deterministic,
    independent,
    quantum_strategy,
    textbook_angles,
)
from qcoord.strategies.nosignal import tlm_excess

RUN = dict(rounds=6_000, seed=4)
UNIFORM = independent(0.5, 0.5)


def _strategies(run_result) -> set[str]:
    return set(run_result.metrics_dict)


# -- cheat 1: a Strategy subclass that overrides play -------------------------------------------------------
def test_overriding_play_is_refused_when_the_class_is_defined():
    with pytest.raises(StrategyError, match=r"Cheat overrides Strategy.play"):

        class Cheat(Strategy):  # noqa: F841 - never created
            def play(self, x, y, rng, ages=None):
                a = np.zeros(x.size, dtype=np.uint8)
                return a, a ^ (1 - (x & y))  # knows both inputs: wins every round


def test_a_strategy_with_a_monkeypatched_class_play_is_refused_by_certify():
    class Plain(Strategy):
        pass

    s = Plain("plain", LocalRule.constant((0, 0)), LocalRule.constant((1, 1)))
    Plain.play = lambda self, x, y, rng, ages=None: None  # after definition: only certify can see it
    with pytest.raises(SignallingError, match="replaces Strategy.play"):
        certify("plain", s)


# -- cheat 2: a resource that hands A's setting to B ----------------------------------------------------------
def test_a_resource_with_its_own_sampler_is_refused_when_the_class_is_defined():
    with pytest.raises(StrategyError, match=r"Courier overrides Resource.sample"):

        class Courier(Resource):  # noqa: F841
            n_outcomes = 2

            def joint(self, n_a, n_b):
                return np.full((n_a, n_b, 2, 2), 0.25)

            def sample(self, setting_a, setting_b, rng, ages=None):
                return setting_b.copy(), setting_a.copy()  # each side learns the other's setting


def _box(n_a: int, n_b: int, cells) -> np.ndarray:
    """P(o_A, o_B | s_A, s_B) from cells(s_A, s_B) -> [((o_A, o_B), probability), ...]."""
    t = np.zeros((n_a, n_b, 2, 2))
    for sa in range(n_a):
        for sb in range(n_b):
            for (oa, ob), p in cells(sa, sb):
                t[sa, sb, oa, ob] = p
    return t


class Courier(Resource):
    """Declares honestly what it does: B's outcome is A's setting. Signalling, so refused."""

    n_outcomes = 2
    kind = "courier"

    def joint(self, n_a, n_b):
        return _box(n_a, n_b, lambda sa, sb: [((0, sa), 1.0)])  # A's outcome 0, B's outcome = A's setting


def test_a_declared_table_that_signals_is_refused_in_run_backtest():
    a = LocalRule(outputs=((0, 0), (0, 0)), settings=(0, 1))  # A's setting is its input
    b = LocalRule(outputs=((1, 0), (1, 1)), settings=(0, 0))  # B: on y = 0 output NOT x (from the courier), else 1
    cheat = Strategy("courier", a, b, Courier())
    with pytest.raises(SignallingError, match=r"'courier' signals: B's outcome distribution"):
        run_backtest("signals", strategies=["classical", cheat], **RUN)


# -- cheat 3: two local rules sharing a dict -----------------------------------------------------------------
class Whisper(LocalRule):
    """A rule that writes its inputs into, or reads its partner's from, a dict both rules hold."""

    def __init__(self, mailbox: dict, speaks: bool):
        super().__init__(outputs=((0,), (0,)))
        object.__setattr__(self, "mailbox", mailbox)
        object.__setattr__(self, "speaks", speaks)

    def setting(self, x):
        if self.speaks:
            self.mailbox["x"] = np.array(x, copy=True)
        return np.zeros(x.size, dtype=np.uint8)

    def output(self, x, outcome):
        if self.speaks:
            return np.zeros(x.size, dtype=np.uint8)
        return (1 - (self.mailbox["x"] & x)).astype(np.uint8)  # B: a XOR b = NOT(x AND y), every round


def test_rules_that_share_a_dict_cannot_share_it_in_the_engine():
    """Each server's rule plays on its own deep copy, so the dict the two held becomes two dicts: B reads a mailbox
    A never writes to, and the run stops naming the strategy, the server and the method."""
    mailbox: dict = {}
    cheat = Strategy("whisper", Whisper(mailbox, True), Whisper(mailbox, False), NoResource())
    # it would win every round of the paper's game
    x, y = np.array([0, 0, 1, 1], dtype=np.uint8), np.array([0, 1, 0, 1], dtype=np.uint8)
    a, b = cheat.play(x, y, np.random.default_rng(0))
    assert ((a ^ b) == 1 - (x & y)).all()
    with pytest.raises(StrategyError, match=r"'whisper': server B's rule failed in output\(\)"):
        run_backtest("signals", strategies=["classical", cheat], game="paper", **RUN)


# -- cheat 4: a PR box ------------------------------------------------------------------------------------------
class PRBox(Resource):
    """Popescu-Rohrlich box: uniform marginals (no-signalling) and o_A XOR o_B = s_A AND s_B, always."""

    n_outcomes = 2
    kind = "pr_box"

    def joint(self, n_a, n_b):
        return _box(n_a, n_b, lambda sa, sb: [((oa, oa ^ (sa & sb)), 0.5) for oa in (0, 1)])


def _pr_strategy() -> Strategy:
    # settings = inputs; B flips its outcome, so a XOR b = NOT(x AND y): the hedge rule, won every round
    return Strategy(
        "pr_box",
        LocalRule(outputs=((0, 1), (0, 1)), settings=(0, 1)),
        LocalRule(outputs=((1, 0), (1, 0)), settings=(0, 1)),
        PRBox(),
    )


def test_a_pr_box_is_no_signalling_but_refused_as_beyond_quantum():
    s = _pr_strategy()
    assert s.value(Game(), UNIFORM) == pytest.approx(1.0)  # beyond Tsirelson's cos^2(pi/8)
    assert tlm_excess(PRBox().joint(2, 2))[0] == pytest.approx(math.pi)  # |4 * pi/2| - pi
    with pytest.raises(SignallingError, match=r"'pr_box'.*exceed what any shared quantum state allows"):
        run_backtest("signals", strategies=["classical", s], game="paper", **RUN)


# -- honest strategies pass ---------------------------------------------------------------------------------------
def test_the_quantum_boundary_is_tight_not_loose():
    """A Tsirelson-optimal pair passes and sits on the bound (excess 0); a slightly stronger mixture of PR box and
    noise, which no quantum state gives, is refused: the check is not a blunt filter."""
    ang = textbook_angles("hedge")
    q = quantum_strategy(ang["A"], ang["B"])
    assert abs(tlm_excess(q.resource.table)[0]) < 1e-6
    certify("textbook", q, Game(), UNIFORM, *_inputs(2000))
    # PR box mixed with white noise: CHSH correlators E = +-w; quantum iff 4 asin(w) <= pi, i.e. w <= 1/sqrt 2
    for w, quantum in ((0.70, True), (0.72, False)):
        mix = w * PRBox().joint(2, 2) + (1 - w) * 0.25
        assert (tlm_excess(mix)[0] <= 1e-6) == quantum


def _inputs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n, dtype=np.uint8), rng.integers(0, 2, n, dtype=np.uint8)


@pytest.mark.parametrize(
    "strategy",
    [
        deterministic((0, 1), (1, 1), name="table_rules"),
        Strategy(
            "shared_coin", LocalRule(outputs=((0, 1), (1, 0))), LocalRule(outputs=((0, 1), (0, 1))), SharedRandomness()
        ),
        quantum_strategy(
            (0.3, 1.1),
            (0.2, 2.0),
            Noise(visibility=0.9, readout_a=(0.02, 0.04), loss_b=0.1, t1=5.0, storage_time=1.0),
            azimuths_a=(0.4, 0.0),
            azimuths_b=(0.0, 1.0),
            name="noisy_quantum",
        ),
    ],
    ids=lambda s: s.name,
)
def test_honest_strategies_are_certified_and_run(strategy):
    certify(strategy.name, strategy, Game(), UNIFORM, *_inputs(5000), np.random.default_rng(1))
    r = run_backtest("signals", strategies=["classical", "quantum", strategy], **RUN)
    assert strategy.name in _strategies(r)
