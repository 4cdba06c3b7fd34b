"""The engine end to end: the signals market at a million rounds, the sign convention, variance theory,
reproducibility, streaming, walk-forward without leaks, Bell-pair supply, real data, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import BacktestError, BellPairSupply, run_backtest
from qcoord.backtest.stats.intervals import wilson_ci
from qcoord.strategies import Game, LocalRule, Noise, Strategy, independent, solve, tsirelson_value
from tests.conftest import CI_ALPHA, shared_file

COS2 = math.cos(math.pi / 8) ** 2


@pytest.fixture(scope="module")
def million():
    """Synthetic signals, p = 0.5, no indicator noise: 10^6 test rounds of the paper's game, free changes of quoting
    order (the closed forms are of the hedge itself; switching costs are tested in test_fills and test_hedge)."""
    return run_backtest("signals", rounds=2_000_000, seed=7, keep_rounds=1_000_000, game="paper", requeue_loss=0.0)


@pytest.mark.slow
def test_win_rates_of_the_baselines_at_a_million_rounds(million):
    m = million.metrics
    assert million.n_test == 1_000_000
    for name, expected in (("quantum", COS2), ("classical", 0.75), ("uncoordinated", 0.5)):
        wins = int(round(m.loc[name, "win_rate"] * million.n_test))
        lo, hi = wilson_ci(wins, million.n_test, alpha=CI_ALPHA)
        assert lo <= expected <= hi, name
    assert m.loc["oracle", "win_rate"] == 1.0 and m.loc["regime_oracle", "win_rate"] == 1.0
    # the angles are fitted to the empirical training p(x,y); its quantum value is Tsirelson's at that p
    assert million.game["quantum_value"] == pytest.approx(tsirelson_value(Game(), million.game["p_xy"]), abs=1e-9)
    assert million.game["quantum_value"] == pytest.approx(COS2, abs=1e-5)


@pytest.mark.slow
def test_variance_ordering_significance_and_hedging_efficiency(million):
    v = million.metrics["pnl_var"]
    assert v["oracle"] < v["quantum"] < v["classical"] < v["uncoordinated"]
    c = million.comparison["quantum_vs_classical"]
    assert c["variance_p_value"] < 1e-6 and c["variance_ratio_ci95"][1] < 1.0
    assert c["mcnemar_p_value"] < 1e-6 and c["win_rate_diff"] > 0.09
    assert c["utility_diff"] > 0.09 and c["utility_p_value"] < 1e-6 and c["squared_pnl_p_value"] < 1e-6
    eff = million.metrics["hedging_efficiency"]
    assert eff["oracle"] == 1.0 and eff["uncoordinated"] == 0.0
    assert 0 < eff["classical"] < eff["quantum"] < 1
    # the directional P&L has mean 0 in this market, and the synthetic pair has no quotes, so no spread income is in
    # the P&L (it is the assumed column): each Sharpe ratio is 0 in truth, and the paired HAC interval of their
    # difference holds 0
    m = million.metrics_dict
    assert m["quantum"]["pnl_spread_income"] == m["classical"]["pnl_spread_income"] == 0.0
    assert c["sharpe_diff_ci95"][0] <= 0.0 <= c["sharpe_diff_ci95"][1]


def _theory_variance(
    strategy_behaviour: np.ndarray, p: float, rho_pos: float, rho_neg: float, sigma: float, dt: float, exposure: float
) -> float:
    """Book variance of the bias fill in the signals market, from the strategy's exact P(a,b|x,y).

    With zero drift, simple returns have mean 0, variance v = e^{sigma^2 dt} - 1 and covariance
    c(rho) = e^{rho sigma^2 dt} - 1; the book e_A r_X + e_B r_Y has variance 2v + 2 E[e_A e_B] c(rho).
    """
    v = math.exp(sigma**2 * dt) - 1
    total = 0.0
    for x in (0, 1):
        for y in (0, 1):
            pxy = (p if x else 1 - p) * (p if y else 1 - p)
            rho = rho_neg if (x and y) else rho_pos
            beh = strategy_behaviour[x, y]
            same = beh[0, 0] + beh[1, 1]
            total += pxy * (2 * v + 2 * (2 * same - 1) * (math.exp(rho * sigma**2 * dt) - 1))
    return exposure**2 * total


@pytest.mark.slow
def test_book_variance_matches_closed_form(million):
    """A second, independent method: the variance from the strategy's exact behaviour and GBM moments."""
    dt, sig = data.synthetic.MINUTE_DT, 0.2
    sol = solve(Game(), million.game["p_xy"])
    oracle = np.zeros((2, 2, 2, 2))
    for x in (0, 1):
        for y in (0, 1):
            same = x and y
            oracle[x, y] = [[0.5 * same, 0.5 * (1 - same)], [0.5 * (1 - same), 0.5 * same]]
    from qcoord.strategies import uncoordinated

    behaviours = {
        "quantum": sol.quantum_strategy().behaviour(),
        "classical": sol.classical_strategy().behaviour(),
        "uncoordinated": uncoordinated().behaviour(),
        "oracle": oracle,
    }
    pnl = million.pnl
    for name, beh in behaviours.items():
        theory = _theory_variance(beh, 0.5, 0.8, -0.6, sig, dt, 10_000.0)
        sample = pnl[name].to_numpy()
        dev2 = (sample - sample.mean()) ** 2
        se = dev2.std() / math.sqrt(dev2.size)  # standard error of the variance estimate, from the data
        assert abs(million.metrics.loc[name, "pnl_var"] - theory) < 4 * se, name


def test_flipping_one_agents_labels_makes_the_winning_strategy_the_worst():
    sol = solve(Game(), independent(0.5, 0.5))
    q = sol.quantum_strategy()
    flipped_a = LocalRule(
        outputs=tuple(tuple(1 - o for o in row) for row in q.rule_a.outputs), settings=q.rule_a.settings
    )
    flipped = Strategy("quantum_flipped", flipped_a, q.rule_b, q.resource)
    r = run_backtest("signals", rounds=400_000, seed=2, strategies=["classical", "quantum", flipped])
    m = r.metrics
    wins = int(round(m.loc["quantum_flipped", "win_rate"] * r.n_test))
    lo, hi = wilson_ci(wins, r.n_test, alpha=CI_ALPHA)
    assert lo <= 1 - COS2 <= hi  # it wins exactly where the hedger loses
    assert m["win_rate"].idxmin() == "quantum_flipped"
    assert m["pnl_var"].idxmax() == "quantum_flipped"  # the mislabelled book is the least hedged
    assert m.loc["quantum_flipped", "hedging_efficiency"] < 0


def test_same_seed_identical_different_seed_different():
    a = run_backtest("signals", rounds=20_000, seed=11, fill="queue")
    b = run_backtest("signals", rounds=20_000, seed=11, fill="queue")
    c = run_backtest("signals", rounds=20_000, seed=12, fill="queue")
    assert a.metrics.equals(b.metrics) and a.rounds.equals(b.rounds)
    assert not a.metrics.equals(c.metrics)


def test_a_strategys_draws_do_not_depend_on_which_others_run():
    a = run_backtest("signals", rounds=20_000, seed=3)
    b = run_backtest("signals", rounds=20_000, seed=3, strategies=["quantum", "classical"])
    assert np.array_equal(a.pnl["quantum"].to_numpy(), b.pnl["quantum"].to_numpy())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source": "signals"},
        {"source": "regime", "indicators": "rolling_correlation", "fill": "queue"},
        {
            "source": "signals",
            "supply": BellPairSupply(3000.0, 5000.0, memory_slots=2),
            "noise": Noise.make(t1=1e-2, t2=5e-3),
            "backend": "aer",
        },
    ],
    ids=["signals", "regime-rolling-queue", "supply-aer"],
)
def test_streamed_run_equals_in_memory_run(kwargs):
    whole = run_backtest(rounds=40_000, seed=5, chunk_rounds=1 << 13, **kwargs)  # many chunks
    streamed = run_backtest(rounds=40_000, seed=5, chunk_rounds=1 << 13, in_memory_rows=1000, **kwargs)
    assert streamed.streamed and not whole.streamed
    assert streamed.metrics.equals(whole.metrics)
    assert streamed.rounds.equals(whole.rounds)


@pytest.mark.slow
def test_returns_pipe_into_empyrical_unchanged(million):
    empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded (test extra) is not installed")
    r = million.returns("quantum")
    assert r.index.equals(million.pnl.index) and r.index.tz is not None
    assert empyrical.sharpe_ratio(r, annualization=million.periods_per_year) == pytest.approx(
        million.metrics.loc["quantum", "sharpe"], rel=1e-9
    )


def _perturb_after(md: data.MarketData, row: int, seed: int = 0) -> data.MarketData:
    prices = md.prices
    noise = np.exp(np.random.default_rng(seed).normal(0, 0.03, prices.shape))
    values = prices.to_numpy().copy()
    values[row:] *= noise[row:]
    return data.MarketData(
        prices.__class__(values, index=prices.index, columns=prices.columns),
        periods_per_year=md.periods_per_year,
        meta=md.meta,
    )


def test_walk_forward_fit_sees_nothing_from_the_test_window():
    md = data.load_sample("jpm_bac")
    r = run_backtest(md, seed=1, strategies=["classical", "quantum", "delayed_comm"])
    r2 = run_backtest(_perturb_after(md, r.test_start), seed=1, strategies=["classical", "quantum", "delayed_comm"])
    assert r2.game == r.game and r2.indicators == r.indicators
    assert r2.players["delayed_comm"] == r.players["delayed_comm"]
    assert not r2.metrics.equals(r.metrics)  # the test window did change


def test_rolling_refit_uses_only_the_trailing_window():
    md = data.load_sample("jpm_bac")
    kw = dict(seed=1, strategies=["classical", "quantum"], refit_every=500)
    r = run_backtest(md, **kw)
    assert len(r.refits) == math.ceil(r.n_test / 500) - 1
    cut = r.refits[3]["round"]
    r2 = run_backtest(_perturb_after(md, cut), **kw)
    for i in range(4):  # fits made before the perturbed rows are identical
        assert r2.refits[i] == r.refits[i]
    assert r2.refits[4] != r.refits[4]
    for f in r.refits:
        assert f["window"][1] - f["window"][0] == r.n_train and f["window"][1] == f["round"]


def test_bell_pair_supply_share_and_age_in_a_run():
    supply = BellPairSupply(pair_rate=3_000.0, decision_rate=6_000.0, memory_slots=1)
    noise = Noise.make(t1=math.inf, t2=1e-3)
    r = run_backtest("signals", rounds=200_000, seed=4, supply=supply, noise=noise)
    m = r.metrics
    share = 1 - math.exp(-0.5)  # one slot: a pair arrived since the previous round
    lo, hi = wilson_ci(int(m.loc["quantum", "bell_pairs"]), r.n_test, alpha=CI_ALPHA)
    assert lo <= share <= hi
    assert m.loc["quantum", "quantum_share"] == pytest.approx(m.loc["quantum", "bell_pairs"] / r.n_test)
    assert 0 < m.loc["quantum", "mean_pair_age"] < 1 / 6_000
    assert m.loc["classical", "bell_pairs"] == 0
    # a share of quantum rounds: the win rate sits between classical and full quantum
    assert m.loc["classical", "win_rate"] + 0.02 < m.loc["quantum", "win_rate"] < COS2 - 0.02


def test_noise_that_kills_the_advantage_makes_quantum_the_classical_rule():
    r = run_backtest("signals", rounds=20_000, seed=1, noise=Noise(visibility=0.6))
    assert not r.game["uses_entanglement"] and r.game["advantage"] == 0.0
    assert r.pnl["quantum"].equals(r.pnl["classical"]) or np.array_equal(r.pnl["quantum"], r.pnl["classical"])
    assert r.metrics.loc["quantum", "bell_pairs"] == 0
    assert "Entanglement does not help for these indicator statistics and this link" in r.verdict()
    assert "the link itself must improve" in r.verdict()  # at v = 0.6 no co-movement could make it pay


def test_queue_fill_run_tracks_inventory_within_limit():
    """Inventory in shares, within the position limit in money at each round's decision-time price (the limit binds:
    some round sits on it)."""
    from qcoord.backtest import QueueFill
    from qcoord.data import SyntheticPair

    md = SyntheticPair(mode="signals", seed=2).generate(30_000)
    r = run_backtest(md, seed=2, fill="queue", keep_rounds=30_000)
    inv = r.inventory
    assert inv is not None and inv.shape[0] == r.n_test
    price = md.prices.to_numpy()[r.test_start - 1 : r.test_start - 1 + r.n_test]  # decision time: row t - 1
    value = np.column_stack([np.abs(inv[col].to_numpy()) * price[:, "AB".index(col[1])] for col in inv.columns])
    limit = QueueFill().position_limit
    assert value.max() <= limit * (1 + 1e-12) and value.max() >= limit * (1 - 1e-12)
    assert np.isfinite(r.metrics["pnl_var"].astype(float)).all()


@pytest.mark.parametrize("files", [("BAC_daily.csv", "AIG_daily.csv"), ("SPY_daily.csv", "QQQ_daily.csv")])
def test_real_daily_pairs(files):
    md = data.load_csv([shared_file(f) for f in files])
    r = run_backtest(md, seed=0)
    assert r.periods_per_year == 252 and r.n_rounds > 2000
    # the real-data default is local: each server reads its own stock, so the bits differ in some rounds
    assert r.indicators["A"]["name"] == "return_shock" and r.indicators["A"]["threshold"] is not None
    p = np.asarray(r.game["p_xy"])
    assert p.sum() == pytest.approx(1.0) and abs(p[1].sum() - 0.5) < 0.02  # target P(x=1) = 0.5 on training
    assert p[0, 1] + p[1, 0] > 0.1
    doc = r.to_dict()
    assert doc["game"]["classical_value"] <= doc["game"]["quantum_value"]
    assert isinstance(doc["verdict"], str) and doc["verdict"]


def test_real_minute_bars_and_a_no_advantage_case():
    files = [shared_file("BAC_minute_2013-10-04_2013-10-11.csv"), shared_file("AIG_minute_2013-10-04_2013-10-11.csv")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataWarning)
        md = data.load_csv(files, session="regular")
    r = run_backtest(md, seed=0)
    assert r.periods_per_year == pytest.approx(390 * 252, rel=0.01) and r.n_rounds > 2000
    # indicators that rarely fire (5% each, almost never together: p11 = 0.009 on training) leave no
    # quantum advantage, since the classical rule already wins 1 - min p(x,y) = 0.991; the run must say so
    skewed = run_backtest(md, seed=0, indicator_params={"window": 30, "target": 0.05})
    assert min(min(row) for row in skewed.game["p_xy"]) < 0.01
    assert not skewed.game["uses_entanglement"] and skewed.game["advantage"] == 0.0
    assert "help" in skewed.verdict() and "Quantum against" not in skewed.verdict()
    assert skewed.metrics.loc["quantum", "bell_pairs"] == 0
    assert skewed.to_dict()["strategies"]["quantum"]["quantum_share"] == 0.0


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"train_fraction": 1.2}, "train_fraction"),
        ({"strategies": ["quantum", "nope"]}, "unknown strategy 'nope'"),
        ({"rounds": 10}, "rounds"),
        ({"latency": -1}, "latency"),
        ({"backend": "gpu"}, "backend"),
        ({"fill": "magic"}, "fill: 'magic' is not one of bias, queue"),
        ({"refit_every": 0}, "refit_every"),
        ({"book_size": -5.0}, "book_size"),
        ({"source": "trend"}, "source must be"),
        ({"strategies": ["quantum", "quantum"]}, "duplicate"),
    ],
)
def test_bad_input_names_the_culprit(kwargs, culprit):
    args = {"source": "signals", "rounds": 1000, **kwargs}
    with pytest.raises(BacktestError, match=culprit):
        run_backtest(**args)


def test_three_tickers_are_refused():
    with pytest.raises(BacktestError, match="exactly two tickers"):
        run_backtest(data.load_sample("pypfopt", tickers=["JPM", "BAC", "T"]))


@pytest.mark.parametrize("fill", ["bias", "queue"])
def test_scratch_and_fused_fill_paths_match_the_kept_path(fill):
    """Chunks whose rounds are not kept reuse scratch arrays (and the bias fill computes the book in one pass): the
    same numbers as chunks kept round by round, up to the order of floating-point additions."""
    args = dict(rounds=40_000, seed=3, fill=fill, chunk_rounds=4096, strategies=["classical", "quantum"])
    kept = run_backtest(keep_rounds=10**6, **args).metrics_dict
    scratch = run_backtest(keep_rounds=30, **args).metrics_dict
    for name in kept:
        for key in ("pnl_mean", "pnl_var", "pnl_costs", "pnl_spread_income", "pnl_var_before_costs", "sharpe"):
            assert scratch[name][key] == pytest.approx(kept[name][key], rel=1e-9, abs=1e-12), (name, key)
        for key in ("win_rate", "turnover", "hedged_rate"):
            assert scratch[name][key] == kept[name][key], (name, key)


@pytest.mark.parametrize("delay", [1, 3, 17])
def test_delayed_comm_cell_counts_are_the_bincount_of_the_cells(delay):
    """The compiled one-pass count of (x_t, y_(t-L), y_t, x_(t-L)) against numpy's bincount of the same cells."""
    from qcoord.backtest.players.roster import _delayed_cells

    rng = np.random.default_rng(delay)
    x, y = (rng.random(50_001) < 0.3).astype(np.uint8), (rng.random(50_001) < 0.6).astype(np.uint8)
    cell = 8 * x[delay:].astype(int) + 4 * y[:-delay] + 2 * y[delay:] + x[:-delay]
    assert np.array_equal(_delayed_cells(x, y, delay), np.bincount(cell, minlength=16))
    with pytest.raises(ValueError, match="bits"):
        _delayed_cells(x + 1, y, delay)


@pytest.mark.parametrize("flip", [0, 1])
def test_round_targets_against_numpy(flip):
    """The compiled pass shared by every strategy (each round's better relation, the relation that hedged, and the
    per-cell co-movement sums) against the same quantities in numpy: relations and counts exactly, sums to 1e-12
    relative (both add in row order; the tolerance covers a compiler that fuses a multiply-add)."""
    from qcoord.backtest.stats.cells import round_targets

    rng = np.random.default_rng(11 + flip)
    n = 30_000
    x, y = (rng.random(n) < 0.4).astype(np.uint8), (rng.random(n) < 0.7).astype(np.uint8)
    r = rng.normal(0.0, 0.01, (n, 2))
    r[::37, 0] = 0.0  # a stock that did not move: the round hedges nothing
    table = np.array([1, 1, 1, 0], dtype=np.uint8)
    sums = np.zeros((4, 7))
    tgt, want = round_targets(x, y, r[:, 0], r[:, 1], table, np.uint8(flip), sums)
    cell, q = 2 * x.astype(int) + y, r[:, 0] * r[:, 1]
    assert np.array_equal(tgt, table[cell])
    assert np.array_equal(want, np.where(q > 0, 1 ^ flip, np.where(q < 0, flip, 2)))
    expect = np.column_stack(
        [
            np.bincount(cell, w, minlength=4)
            for w in (np.ones(n), q, q * q, r[:, 0] ** 2, r[:, 1] ** 2, (q < 0) * 1.0, (q > 0) * 1.0)
        ]
    )
    counts = [0, 5, 6]  # rounds, rounds with r_X r_Y < 0, > 0
    assert np.array_equal(sums[:, counts], expect[:, counts])
    np.testing.assert_allclose(sums, expect, rtol=1e-12, atol=0)
