"""The book's hedge game: table games against independent solvers, the variance identity it rests on, its
fitting on synthetic markets with and without sign information, what it would take, aligned indicators,
hedged_rate and the verdict on a real pair."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qcoord import data
from qcoord.backtest import BacktestError, make_indicator, run_backtest
from qcoord.backtest.stats.cells import cell_stats
from qcoord.backtest.analysis.frontier import what_it_would_take
from qcoord.backtest.players.hedge import HedgeFit, hedge_game
from qcoord.backtest.feed.views import make_views
from qcoord.strategies import (
    Game,
    Noise,
    deterministic_value,
    independent,
    quantum_lower_bound,
    solve,
    tsirelson_sdp,
    tsirelson_value,
)
from tests.conftest import shared_file


# -- table games against independent methods ----------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_solver_on_random_tables_matches_tsirelson_sdp_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    game = Game.from_table(rng.normal(size=(2, 2, 2)))
    p = rng.dirichlet(np.ones(4)).reshape(2, 2)
    sol = solve(game, p)
    assert sol.quantum_value == pytest.approx(tsirelson_sdp(game, p), abs=1e-6)
    assert sol.quantum_value == pytest.approx(tsirelson_value(game, p), abs=1e-9)
    # classical optimum by direct enumeration of the 16 output tables a[x], b[y]
    brute = max(
        sum(p[x, y] * game.table[x, y, fa[x] ^ fb[y]] for x in (0, 1) for y in (0, 1))
        for fa in itertools.product((0, 1), repeat=2)
        for fb in itertools.product((0, 1), repeat=2)
    )
    assert sol.classical_value == pytest.approx(brute, abs=1e-12)
    assert sol.quantum_strategy().value(game, p) == pytest.approx(sol.quantum_value, abs=1e-9)
    assert (
        sol.quantum_value + 1e-12 >= quantum_lower_bound(game, p) >= sol.quantum_value - 1e-3 * np.abs(game.table).max()
    )


def test_paper_game_is_a_table_game():
    for beta, rule in ((0.0, "hedge"), (0.3, "hedge"), (0.0, "challenge")):
        paper = Game.paper(beta, rule)
        table = Game.from_table(paper.table)
        p = independent(0.4, 0.7)
        assert solve(table, p).quantum_value == pytest.approx(solve(paper, p).quantum_value, abs=1e-12)
    with pytest.raises(ValueError, match="8 finite utilities"):
        Game(payoff=(1.0, 2.0), kind="table")
    with pytest.raises(ValueError, match="shape"):
        Game.from_table(np.zeros((2, 2)))


# -- the identity the hedge game rests on ---------------------------------------------------------
def test_hedge_game_value_is_the_variance_saved_by_every_deterministic_rule():
    """For any deterministic pair of local rules, the game value is exactly e^2 (sum of squared returns) minus
    the mean squared directional P&L the rule produces on the same rounds: computed directly from P&L."""
    rng = np.random.default_rng(3)
    n, e = 5000, 7_500.0
    x, y = rng.integers(0, 2, n).astype(np.uint8), rng.integers(0, 2, n).astype(np.uint8)
    rho = np.where((x == 1) & (y == 1), -0.5, 0.6)
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    r = 0.01 * np.column_stack([z1, rho * z1 + np.sqrt(1 - rho**2) * z2])
    cells = cell_stats(x, y, r)
    game, p = hedge_game(cells.comove, e), cells.p
    coins = HedgeFit(cells, e, cells.comove, np.ones(4), 0.0, 0.0).coin_variance
    assert coins == pytest.approx(e**2 * (r**2).sum(axis=1).mean(), rel=1e-12)
    for fa, fb in itertools.product(itertools.product((0, 1), repeat=2), repeat=2):
        s_a = np.where(np.asarray(fa)[x] == 1, 1.0, -1.0)  # bid first = +1 (long)
        s_b = np.where(np.asarray(fb)[y] == 1, 1.0, -1.0)
        direct = np.mean((e * (s_a * r[:, 0] + s_b * r[:, 1])) ** 2)
        assert coins - deterministic_value(game, p, fa, fb) == pytest.approx(direct, rel=1e-9)


def test_a_win_of_the_hedge_game_is_the_hedging_relation():
    """Where the cell's co-movement is positive the game wants opposite biases (o = 1), where negative equal ones."""
    m = np.array([2e-4, -1e-4, 3e-4, -5e-5])
    assert hedge_game(m, 1.0).target_table().ravel().tolist() == [1, 0, 1, 0]


def test_shrinkage_pools_thin_and_indistinct_cells():
    rng = np.random.default_rng(5)
    n = 40_000
    x, y = rng.integers(0, 2, n).astype(np.uint8), rng.integers(0, 2, n).astype(np.uint8)
    r = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], n) * 0.01
    m, w, tau2, mu = cell_stats(x, y, r).shrunk()  # one distribution in every cell: nothing to tell apart
    assert w.max() < 0.5 and np.allclose(m, mu, rtol=0.2)
    # a cell with no rounds is the pooled value; distinct cells keep their own estimates
    y2 = np.where(x == 1, 0, y).astype(np.uint8)  # cell (1,1) empty
    r2 = r.copy()
    r2[(x == 0) & (y2 == 1), 1] *= -1  # cell (0,1) co-moves negatively
    cells = cell_stats(x, y2, r2)
    m2, w2, _, mu2 = cells.shrunk()
    assert cells.n[3] == 0 and w2[3] == 0 and m2[3] == pytest.approx(mu2)
    assert w2[:3].min() > 0.99 and m2[1] < 0 < m2[0]


# -- synthetic markets ----------------------------------------------------------------------------------
def test_symmetric_signals_market_recovers_the_papers_game():
    """With correlation +rho or -rho of equal size the hedge game is the paper's game up to scale, so its fitted
    strategy has the textbook CHSH correlators E[A_x B_y] = +-1/sqrt 2 up to estimation error.

    Correlators, not angles: the optimum is a family (a common rotation, and a common reflection, of all angles keep
    every correlator), and which member a polish finds depends on the processor's rounding."""
    r = run_backtest(
        data.SyntheticPair(mode="signals", rho_pos=0.7, rho_neg=-0.7, seed=4),
        rounds=400_000,
        seed=4,
        strategies=["classical", "quantum"],
    )
    h = r.hedge
    # Tolerance from the sample: the weights' relative standard error s (largest cell) moves the optimal angle
    # differences by about s radians (first order, CHSH weights equal to 1 +- s), so a correlator cos 2(dtheta) moves
    # by 2 sin(pi/4) s = sqrt(2) s; 5 s on the angles (every cell at once) is 5 sqrt(2) s on the correlators.
    cells = h["informativeness"]["train"]["cells"]
    rel_se = max((c["comove_ci95"][1] - c["comove_ci95"][0]) / (2 * 1.96 * abs(c["comove"])) for c in cells.values())
    got = np.asarray(r.to_dict()["game"]["correlators"])  # as metrics.json has them
    want = solve(Game(), np.full((2, 2), 0.25)).correlators()
    assert np.allclose(np.abs(want), 2**-0.5) and np.sign(want).tolist() == [[-1, -1], [-1, 1]]
    assert np.abs(got - want).max() < 5 * math.sqrt(2) * rel_se, (got, rel_se)
    v = h["values"]
    assert v["classical"]["saved_share"] < v["quantum"]["saved_share"] < v["oracle"]["saved_share"]
    # the quantum/classical ratio of the paper's game, (cos^2(pi/8) - 1/2) / (3/4 - 1/2) = sqrt 2, up to the fit.
    # Classical saves |c00 + c01 + c10 - c11| (2 units, noise 2 rel_se units), quantum about sum |c| / sqrt 2 (noise
    # half as large relative to its size): the ratio's sd is about 1.1 rel_se, so 5 rel_se is over 4 sd.
    ratio = v["quantum"]["saved"] / v["classical"]["saved"]
    assert ratio == pytest.approx(math.sqrt(2), rel=5 * rel_se)


@pytest.fixture(scope="module")
def free_switching_run():
    """The default market with free changes of quoting order: what the hedge game itself predicts."""
    return run_backtest("signals", rounds=400_000, seed=5, requeue_loss=0.0)


def test_with_a_crossing_cost_the_verdict_says_turnover_eats_the_advantage():
    """A desk that crosses the spread to change its quoting order (2 bp on 2 x exposure, no re-queueing): quantum's
    random output bits change the order every other round, the verdict says so and names the cost multiple at which
    its certainty equivalent equals classical's; a rerun at that multiple finds the two equal."""
    r = run_backtest("signals", rounds=200_000, seed=5, requeue_loss=0.0, switch_cost_bps=2.0)
    q, c = r.metrics_dict["quantum"], r.metrics_dict["classical"]
    assert q["turnover"] == pytest.approx(0.5, abs=0.01) and c["turnover"] == 0.0
    assert q["pnl_var_before_costs"] < c["pnl_var_before_costs"] and q["pnl_var"] > c["pnl_var"]
    comp = r.comparison["quantum_vs_best_local"]
    k = comp["break_even_cost_scale"]
    assert 0 < k < 1 and comp["certainty_equivalent_diff"] < 0
    assert "random bit" in r.verdict() and f"{k:.3g} times the configured costs" in r.verdict()
    at_k = run_backtest("signals", rounds=200_000, seed=5, requeue_loss=0.0, switch_cost_bps=2.0 * k)
    assert abs(at_k.comparison["quantum_vs_best_local"]["certainty_equivalent_diff"]) < 1e-6 * q["pnl_costs"]
    # at the default (re-queueing forgoes the round's realised spread) quantum still lowers the variance, and the
    # verdict weighs the income it forgoes against it
    default = run_backtest("signals", rounds=100_000, seed=5)
    assert default.comparison["quantum_vs_best_local"]["variance_ratio_ci95"][1] < 1.0
    assert "certainty equivalent" in default.verdict()


def test_default_signals_market_keeps_the_quantum_ordering(free_switching_run):
    m = free_switching_run.metrics["pnl_var"]
    assert m["oracle"] < m["quantum"] < m["classical"] <= m["always_hedge"] * (1 + 1e-12) < m["uncoordinated"]
    c = free_switching_run.comparison["quantum_vs_best_local"]
    assert c["opponent"] == free_switching_run.best_local and c["variance_ratio_ci95"][1] < 1.0
    assert "a significant reduction" in free_switching_run.verdict()
    assert free_switching_run.hedge["informativeness"]["train"]["sign_differs_significantly"]
    assert "what_it_would_take" not in free_switching_run.hedge


def test_bell_pair_value_predicted_against_realised(free_switching_run):
    """The fit's predicted variance saved per pair lies in the test window's paired 95% interval."""
    bp = free_switching_run.hedge["bell_pair_value"]
    var_c = free_switching_run.metrics.loc["classical", "pnl_var"]
    lo, hi = free_switching_run.comparison["quantum_vs_classical"]["variance_ratio_ci95"]
    assert var_c * (1 - hi) <= bp["predicted_variance_saved"] <= var_c * (1 - lo)
    assert bp["pairs"] == free_switching_run.n_test  # a fresh pair every round
    assert bp["realised_certainty_equivalent"] == pytest.approx(
        3.0 / (2 * free_switching_run.book_size) * bp["realised_variance_saved"]
    )


def test_hedged_rate_is_the_share_of_rounds_whose_relation_matched_the_co_movement():
    md = data.load_sample("jpm_bac")
    r = run_backtest(md, indicators="volatility_burst", seed=0, keep_rounds=10**7)
    q = md.returns.loc[r.rounds.index].to_numpy()
    prod = q[:, 0] * q[:, 1]
    moved = prod != 0
    for name in ("always_hedge", "uncoordinated", "quantum"):
        o = (r.rounds[(name, "a")] ^ r.rounds[(name, "b")]).to_numpy()
        expected = np.mean(o[moved] == (prod[moved] > 0))
        assert r.metrics.loc[name, "hedged_rate"] == pytest.approx(expected, abs=1e-12), name


def test_indicators_without_sign_information_leave_nothing_for_entanglement():
    r = run_backtest(data.SyntheticPair(mode="signals", rho_neg=0.8, seed=2), rounds=100_000, seed=2)
    assert not r.game["uses_entanglement"] and r.game["advantage"] == 0.0
    assert not r.hedge["informativeness"]["train"]["sign_differs"]
    assert "do not change the sign of the co-movement" in r.verdict()
    assert r.metrics["hedging_efficiency"].isna().all()
    take = r.hedge["what_it_would_take"]
    assert take["best"] is not None and take["sentence"] in r.verdict()
    assert r.metrics.loc["quantum", "bell_pairs"] == 0


def test_what_it_would_take_is_confirmed_by_the_full_solver():
    """At the reported correlation the polished solver finds the 1% gain; a little less information does not."""
    rng = np.random.default_rng(9)
    n = 200_000
    x, y = rng.integers(0, 2, n).astype(np.uint8), rng.integers(0, 2, n).astype(np.uint8)
    r = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], n) * 0.01
    cal = HedgeFit.fit(cell_stats(x, y, r), 10_000.0)
    noise = Noise(visibility=0.95)
    take = what_it_would_take(cal, noise)
    best = take["best"]
    assert best["cell"] == "11" and -1 < best["rho_needed"] < 0 < best["rho_fitted"]
    c = ("00", "01", "10", "11").index(best["cell"])
    sx, sy = math.sqrt(cal.cells.var_x[c]), math.sqrt(cal.cells.var_y[c])

    def gain(rho: float) -> float:
        m = cal.comove.copy()
        m[c] = rho * sx * sy
        sol = solve(hedge_game(m, cal.exposure), cal.p_xy, noise)
        return (sol.quantum_value - sol.classical_value) / (cal.coin_variance - sol.classical_value)

    assert gain(best["rho_needed"]) >= 0.01 - 1e-4
    assert gain(best["rho_needed"] + 0.02) < 0.01
    assert best["negative_share_needed"] == pytest.approx(0.5 - math.asin(best["rho_needed"]) / math.pi)


# -- indicators that compare the same dates -------------------------------------------------------------
def test_rolling_correlation_pairs_returns_of_the_same_bars():
    """A pair correlated only at lag 0: the aligned statistic sees the correlation, a lead-lag one would not."""
    rng = np.random.default_rng(1)
    n, w, rho = 6000, 60, 0.8
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], n) * 0.01
    prices = 100 * np.exp(np.cumsum(z, axis=0))
    view, _ = make_views(prices, ("X", "Y"), 1, (1, 2))
    ind = make_indicator("rolling_correlation", window=w)
    score = ind.score(view)
    blocks = score[2 * w :: w]  # non-overlapping windows: independent estimates
    zbar = np.arctanh(blocks).mean()
    # Fisher z: each window's z has sd 1/sqrt(w - 3) and bias rho / (2 (w - 1))
    tol = 4 / math.sqrt((w - 3) * blocks.size) + rho / (2 * (w - 1))
    assert abs(zbar - math.atanh(rho)) < tol
    lead_lag = np.corrcoef(*[v[5:] for v in (view.returns, view.partner_returns)])[0, 1]
    assert abs(lead_lag) < 4 / math.sqrt(n)  # what the old pairing measured: nothing


def test_local_indicators_are_causal_and_name_missing_data():
    from qcoord.backtest import check_causality

    rng = np.random.default_rng(2)
    n = 3000
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0))
    volume = rng.integers(0, 1000, (n, 2)).astype(float)
    volume[::7] = 0.0  # zero-volume bars are ordinary data
    spread = rng.uniform(0.01, 0.03, (n, 2))
    va, _ = make_views(prices, ("X", "Y"), 2, (1, 2), volume=volume, spread=spread)
    for name in (
        "rolling_correlation",
        "divergence",
        "volatility_burst",
        "return_shock",
        "momentum",
        "volume_spike",
        "spread_widening",
    ):
        ind = make_indicator(name, window=40)
        ind.fit(va, 0)
        check_causality(ind, va)
        out = ind(va)
        assert np.isfinite(out[100:]).all() and 0.3 < np.nanmean(out) < 0.7, name
    bare, _ = make_views(prices, ("XYZ", "Y"), 1, (1, 2))
    for name, what in (("volume_spike", "no volume for XYZ"), ("spread_widening", "no quoted spread for XYZ")):
        with pytest.raises(BacktestError, match=what):
            make_indicator(name).score(bare)


# -- real pairs -----------------------------------------------------------------------------------------
def test_shipped_pair_claims_no_advantage_and_shows_the_constant_hedge():
    r = run_backtest(data.load_sample("jpm_bac"), indicators="volatility_burst", seed=0)
    assert "always_hedge" in r.metrics.index
    cells = r.cell_table()
    assert list(cells.index) == ["00", "01", "10", "11"] and (cells["corr_train"] > 0).all()
    assert not r.game["uses_entanglement"]
    v = r.verdict()
    assert "do not change the sign" in v and "significant reduction" not in v
    # at most three sentences, after the one that says the servers can talk on a daily clock
    talk = v.startswith("A message crosses between the venues")
    assert len([s for s in v.split(". ") if s]) <= 3 + talk
    assert "What it would take" not in v and r.hedge["what_it_would_take"]["sentence"] in v


def test_real_minute_pair_cells_have_one_sign():
    files = [shared_file("BAC_minute_2013-10-04_2013-10-11.csv"), shared_file("AIG_minute_2013-10-04_2013-10-11.csv")]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataWarning)
        md = data.load_csv(files, session="regular")
    r = run_backtest(md, indicators="momentum", seed=0)
    assert r.hedge["informativeness"]["train"]["sign_differs"] is False
    assert r.game["advantage"] == 0.0


# -- command line -----------------------------------------------------------------------------------
def _cli(*args: str, cwd):
    from tests.conftest import qcoord

    return qcoord(*args, cwd=cwd)


@pytest.mark.slow
def test_cli_game_options(tmp_path):
    import json

    paper = _cli(
        "backtest", "--rounds", "4000", "--game", "paper", "--beta", "0.2", "--json", "--out", "p", cwd=tmp_path
    )
    assert paper.returncode == 0, paper.stderr
    doc = json.loads(paper.stdout)
    assert doc["game"]["kind"] == "paper" and doc["game"]["beta"] == 0.2 and doc["hedge"] is None
    wrong = _cli("backtest", "--rounds", "4000", "--beta", "0.2", "--out", "w", cwd=tmp_path)
    assert wrong.returncode == 2 and "--game paper" in wrong.stderr and not (tmp_path / "w").exists()
    ra = _cli("backtest", "--rounds", "4000", "--risk-aversion", "6", "--json", "--out", "r", cwd=tmp_path)
    assert json.loads(ra.stdout)["hedge"]["bell_pair_value"]["risk_aversion"] == 6.0
    # qcoord game --weights: the CHSH weights with one sign flipped are the paper's game at beta = 0 (x2 scale)
    w = _cli("game", "--weights=-1,-1,-1,1", "--json", cwd=tmp_path)
    assert w.returncode == 0, w.stderr
    g = json.loads(w.stdout)
    assert g["kind"] == "table" and g["quantum_value"] == pytest.approx(2 * math.cos(math.pi / 8) ** 2 - 1, abs=1e-9)
    assert g["classical_value"] == pytest.approx(0.5, abs=1e-12)
    assert "weights w00=-1" in _cli("game", "--weights=-1,-1,-1,1", cwd=tmp_path).stdout
    bad = _cli("game", "--weights", "1,2,3", cwd=tmp_path)
    assert bad.returncode == 2 and "--weights" in bad.stderr and "four numbers (2x2)" in bad.stderr


def test_bell_pair_value_net_of_switching_costs():
    """The net certainty equivalent per pair is the mean P&L difference per pair plus the certainty equivalent of the
    variance saved; at the default switching cost it is negative while the variance saved is positive."""
    r = run_backtest("signals", rounds=100_000, seed=5)
    bp, q, c = r.hedge["bell_pair_value"], r.metrics_dict["quantum"], r.metrics_dict["classical"]
    per_pair = r.n_test / bp["pairs"]
    assert bp["extra_costs"] == pytest.approx((q["pnl_costs"] - c["pnl_costs"]) * per_pair)
    assert bp["realised_net_certainty_equivalent"] == pytest.approx(
        (q["pnl_mean"] - c["pnl_mean"]) * per_pair + bp["realised_certainty_equivalent"]
    )
    assert bp["realised_variance_saved"] > 0 > bp["realised_net_certainty_equivalent"]


def test_a_quantum_player_without_entanglement_is_never_named_as_a_quantum_result():
    """Where the fitted quantum strategy is the classical rule, a lower test variance is a classical result: the
    verdict names it as such (the issue's scan pair: quantum, the classical rule there, beat best_local)."""
    r = run_backtest(data.load_sample("jpm_bac"), strategies=["classical", "quantum"], progress=False)
    assert not r.game["uses_entanglement"]
    r.metrics_dict["quantum"] = {**r.metrics_dict["quantum"], "pnl_var": 0.9 * r.metrics_dict["quantum"]["pnl_var"]}
    assert "communicate: quantum (playing the classical rule: it uses no entanglement)" in r.verdict()
