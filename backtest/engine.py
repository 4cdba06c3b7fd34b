"""The one call: ``run_backtest(source, ...)`` -> ``Result``.

Flow: feed (prices) -> indicators (x, y per round, local and causal) -> fit on the training window
(thresholds, p(x,y), classical rule, quantum angles for the configured noise, delayed_comm rules) ->
each strategy plays every test round -> fills turn decisions into each agent's P&L -> book metrics.

Common random numbers: every strategy plays the same rounds (same x, y, returns) and the same fill
draws, so differences between strategies are paired. Randomness is drawn per chunk of ``CHUNK``
rounds from ``SeedSequence(seed, spawn_key=(stream, chunk))`` with a fixed stream per purpose (each
strategy by name, fills, Bell-pair arrivals): a strategy's draws do not depend on which other
strategies run, and an in-memory run and a streamed run of the same rows agree.
"""

from __future__ import annotations

import math
import sys
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from data import MarketData, SyntheticPair
from strategies import Game, Noise, Strategy

from . import __version__, kernels
from .errors import BacktestError
from .feeds import ArrayFeed, StreamFeed, lagged_inputs
from .fills import FillModel, make_fill
from .hedge import CellSums, HedgeCalibration, drift, sentence, what_it_would_take
from .indicators import NoisyRegime, NoisySignal, RollingCorrelation, check_causality, copy_indicator, make_indicator
from .players import DEFAULT_STRATEGIES, LOCAL, REQUIRED, RoundChunk, build_players, fit
from .result import Result
from .risk import StrategyStats, compare, hedging_efficiency
from .supply import BellPairSupply, SupplyState

CHUNK = 1 << 20  # rounds per chunk: the unit of randomness and of memory
IN_MEMORY_ROWS = 1 << 22  # synthetic runs up to this many rows are generated whole (any indicator, refits)
MIN_ROUNDS = 30
MAX_ROUNDS = 10**11  # about seven hours of the streamed path at 4 M rounds/s on one core: beyond, nothing finishes
EQUITY_POINTS = 4000
BLOCKS = 500


def _stream_id(name: str) -> int:
    return zlib.crc32(name.encode())


def _rng(seed: int, stream: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_stream_id(stream), chunk)))


def default_indicators(mode: str | None) -> tuple[str, dict]:
    """The indicator used when none is given: by source kind."""
    if mode == "signals":
        return NoisySignal.name, {"flip": 0.0}
    if mode == "regime":
        return NoisyRegime.name, {"flip": 0.1}
    return RollingCorrelation.name, {"window": 60, "target": 0.5}


def _indicator_pair(indicators, params: Mapping | None, mode: str | None):
    """Two independent indicator objects (A's and B's) and whether they are user-supplied."""
    if indicators is None:
        name, defaults = default_indicators(mode)
        spec = (name, name)
        params = {**defaults, **(params or {})}
        user = False
    else:
        spec = tuple(indicators) if isinstance(indicators, (tuple, list)) else (indicators, indicators)
        if len(spec) != 2:
            raise BacktestError(f"indicators: give one indicator or one per server (two), got {len(spec)}")
        user = True
    made = [make_indicator(s, **(params or {})) if isinstance(s, str) else make_indicator(s) for s in spec]
    if made[0] is made[1]:
        made[1] = copy_indicator(made[0])
    user_flags = [user and not m.builtin for m in made]
    return (made[0], made[1]), user_flags


def _resolve_strategies(strategies: Iterable) -> tuple[list[str], dict[str, Strategy]]:
    names, custom = [], {}
    for s in strategies:
        if isinstance(s, Strategy):
            names.append(s.name)
            custom[s.name] = s
        elif isinstance(s, str):
            names.append(s)
        else:
            raise BacktestError(f"strategies: give names or strategies.Strategy objects, got {s!r}")
    for r in REQUIRED:  # hedging efficiency is measured between these
        if r not in names:
            names.insert(0 if r == "uncoordinated" else len(names), r)
    if len(set(names)) != len(names):
        raise BacktestError(f"strategies: duplicate names in {names}")
    return names, custom


class _Progress:
    """Rounds done over the whole run (fitting on the training rounds, then playing the test rounds), on stderr,
    only when stderr is a terminal (or when asked); the description names the stage."""

    def __init__(self, total: int, enabled: bool | None):
        show = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="round", unit_scale=True, file=sys.stderr, leave=False,
                            desc="fit", dynamic_ncols=True)

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description(name)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_backtest(
    source: MarketData | SyntheticPair | str = "signals",
    *,
    rounds: int = 200_000,
    indicators=None,
    indicator_params: Mapping | None = None,
    strategies: Sequence = DEFAULT_STRATEGIES,
    game: Game | str | None = "hedge",
    noise: Noise | None = None,
    backend: str = "exact",
    device: str | None = None,
    fill: FillModel | str = "bias",
    supply: BellPairSupply | None = None,
    latency: int = 1,
    delay: int = 1,
    train_fraction: float = 0.5,
    refit_every: int | None = None,
    book_size: float | None = None,
    risk_free: float = 0.0,
    risk_aversion: float = 3.0,
    seed: int = 0,
    keep_rounds: int = 1_000_000,
    check_indicators: bool = True,
    progress: bool | None = None,
    source_info: Mapping | None = None,
) -> Result:
    """Run one backtest and return its ``Result``.

    ``source``: a MarketData of two tickers, a ``SyntheticPair``, or "signals"/"regime" (a default
    synthetic pair seeded with ``seed``); ``rounds`` sets the length of a synthetic run.
    ``indicators``: a built-in name, ``module:function``, a function, an ``Indicator``, or a pair of them
    (A's, B's); default by source (README). ``strategies``: names (``uncoordinated``, ``classical``,
    ``quantum``, ``textbook``, ``always_hedge``, ``follow_indicator``, ``oracle``, ``regime_oracle``,
    ``delayed_comm``) or ``strategies.Strategy`` objects; uncoordinated and oracle always run.
    ``game``: "hedge" (default: the book's hedge game, calibrated on the training window's co-movement per
    input cell; ``backtest.hedge``), "paper" (Ding & Jiang at beta = 0), or a ``strategies.Game`` to play as
    given. ``noise``: imperfections of the quantum link; ``supply``: Bell-pair generation and memory (None:
    a fresh pair every round). ``latency``: bars before a server sees the partner's prices; ``delay``:
    rounds for delayed_comm's link. ``train_fraction``: share of rounds to fit on; ``refit_every``: re-fit
    on the trailing training-length window every K test rounds. ``book_size``: currency the book
    returns are measured on (default: the fill model's). ``risk_free``: annual rate for Sharpe/Sortino.
    ``risk_aversion``: relative risk aversion gamma of a mean-variance investor holding the book, for the
    certainty equivalent of one Bell pair (absolute risk aversion gamma / book_size).
    """
    started = time.perf_counter()
    if game is None or game == "hedge":
        game, calibrate = None, True
    elif game == "paper":
        game, calibrate = Game(), False
    elif isinstance(game, Game):
        calibrate = False
    else:
        raise BacktestError(f"game must be 'hedge', 'paper' or a strategies.Game, got {game!r}")
    noise = noise or Noise()
    fill_model = make_fill(fill) if isinstance(fill, str) else fill
    if not isinstance(fill_model, FillModel):
        raise BacktestError(f"fill must be 'bias', 'queue' or a FillModel, got {fill!r}")
    for name, value, lo in (("latency", latency, 0), ("delay", delay, 1), ("seed", seed, 0),
                            ("keep_rounds", keep_rounds, MIN_ROUNDS)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise BacktestError(f"{name} must be a whole number >= {lo}, got {value!r}")
    if not (0.0 < train_fraction < 1.0):
        raise BacktestError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    if refit_every is not None and (not isinstance(refit_every, (int, np.integer)) or refit_every < 1):
        raise BacktestError(f"refit_every must be a whole number of rounds >= 1, got {refit_every!r}")
    if backend not in ("exact", "aer"):
        raise BacktestError(f"backend must be 'exact' or 'aer', got {backend!r}")
    if not math.isfinite(risk_free) or risk_free <= -1:
        raise BacktestError(f"risk_free must be an annual rate above -100%, got {risk_free!r}")
    if not (isinstance(risk_aversion, (int, float)) and math.isfinite(risk_aversion) and risk_aversion > 0):
        raise BacktestError(f"risk_aversion must be a positive number (relative risk aversion), got {risk_aversion!r}")
    names, custom = _resolve_strategies(strategies)

    # -- the feed ------------------------------------------------------------------------------------
    if isinstance(source, str):
        if source not in ("signals", "regime"):
            raise BacktestError(f"source must be a MarketData, a SyntheticPair, 'signals' or 'regime', got {source!r}")
        source = SyntheticPair(mode=source, seed=seed)
    mode = source.mode if isinstance(source, SyntheticPair) else None
    inds, user_flags = _indicator_pair(indicators, indicator_params, mode)
    seeds = (int(np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(1)[0]),
             int(np.random.SeedSequence(seed, spawn_key=(2,)).generate_state(1)[0]))
    if isinstance(source, SyntheticPair):
        if not isinstance(rounds, (int, np.integer)) or rounds < 2 * MIN_ROUNDS:
            raise BacktestError(f"rounds must be a whole number >= {2 * MIN_ROUNDS}, got {rounds!r}")
        if rounds > MAX_ROUNDS:
            raise BacktestError(f"rounds = {rounds:.3g} cannot finish: at most {MAX_ROUNDS:.0e} (about seven hours of "
                                "the streamed path at 4 M rounds/s on one core)")
        if latency > rounds or delay > rounds:  # before any row is drawn: these lengths size the feed
            raise BacktestError(f"latency ({latency} bars) and delay ({delay} rounds) must not exceed the run "
                                f"({rounds} rounds)")
        lookback = max((i.lookback or 0) for i in inds)
        if lookback > rounds:  # e.g. --window 1e9: it would size the feed
            raise BacktestError(f"the indicators need {lookback} bars of history (window), more than the run "
                                f"({rounds} rounds)")
        n_rows = int(rounds) + 1 + lookback + latency + 1
        stream_ok = all(isinstance(i.lookback, (int, np.integer)) for i in inds) and refit_every is None
        if n_rows > IN_MEMORY_ROWS and stream_ok:
            feed = StreamFeed(source, n_rows, inds, latency, seeds, CHUNK)
        else:
            if n_rows > IN_MEMORY_ROWS and refit_every is not None:
                raise BacktestError(f"refit_every needs the run in memory: at most {IN_MEMORY_ROWS} rows, got {n_rows}")
            feed = ArrayFeed.from_pair(source, n_rows, inds, latency, seeds)
        src_info = {"kind": "synthetic", "mode": source.mode, "params": source.params()}
    elif isinstance(source, MarketData):
        rows = len(source.prices)
        lookback = max((i.lookback or 0) for i in inds)
        if lookback + 2 * MIN_ROUNDS >= rows:
            raise BacktestError(f"the indicators need {lookback} bars of history (window), too many for the data "
                                f"({rows} rows of {', '.join(source.tickers)})")
        if latency + 2 * MIN_ROUNDS >= rows or delay >= rows:
            raise BacktestError(f"latency ({latency} bars) or delay ({delay} rounds) is too long for the data "
                                f"({rows} rows of {', '.join(source.tickers)})")
        feed = ArrayFeed.from_market(source, inds, latency, seeds)
        src_info = dict(source.meta)
    else:
        raise BacktestError(f"source must be a MarketData, a SyntheticPair, 'signals' or 'regime', got {type(source).__name__}")
    if source_info:
        src_info.update(source_info)

    feed.price_changes = fill_model.uses_price_change
    t0 = feed.warmup()
    if isinstance(source, SyntheticPair):  # the run has exactly `rounds` rounds after warm-up
        n_total = min(int(rounds), feed.n_rows - t0)
    else:
        n_total = feed.n_rows - t0
    n_train = int(train_fraction * n_total)
    n_test = n_total - n_train
    if n_train < MIN_ROUNDS or n_test < MIN_ROUNDS:
        raise BacktestError(f"{n_total} rounds after a warm-up of {t0} rows leave {n_train} to train and {n_test} to "
                            f"test; each needs at least {MIN_ROUNDS}")
    if refit_every is not None and feed.streamed:
        raise BacktestError("refit_every is not available on a streamed run")
    train_end, end = t0 + n_train, t0 + n_total
    first_prices = feed.first_prices(t0)  # the book is sized at the first round's prices

    # -- fit on the training window ------------------------------------------------------------------
    bar = _Progress(n_total, progress)
    feed.fit_indicators(t0, train_end)
    if check_indicators:
        for ind, view, flag in zip(inds, feed.fit_view(), user_flags):
            if flag:
                check_causality(ind, view.rows(0, min(len(view), train_end)), seed=seed)
    x_train, y_train, train_cells = _training_rounds(feed, t0, train_end, bar)
    exposure = fill_model.game_exposure(first_prices)
    aer_backend = None
    if device:
        from strategies.devices import device_backend

        aer_backend, backend = device_backend(device), "aer"
    fit_noise = noise
    if supply is not None:  # angles are fitted for the typical age of the pairs the supply delivers
        fit_noise = replace(noise, storage_time=_typical_age(supply, t0, n_train, seed))
    hedge = HedgeCalibration.fit(train_cells.stats(), exposure) if calibrate else None
    fitted = fit(game, x_train, y_train, fit_noise, delay if "delayed_comm" in names else None, hedge)
    players = build_players(names, custom, fitted, backend, has_truth=feed.has_truth, aer_backend=aer_backend)
    first_fit = fitted
    fits = [{"round": train_end, "window": [t0, train_end], **fitted.game_dict()}]

    bar.stage("play")
    # -- play the test window ------------------------------------------------------------------------
    book = float(book_size) if book_size is not None else fill_model.book_size(first_prices)
    if not (math.isfinite(book) and book > 0):
        raise BacktestError(f"book_size must be a positive amount of currency, got {book!r}")
    ppy = feed.periods_per_year
    rf_p = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    block_len = max(1, math.ceil(n_test / BLOCKS))
    n_blocks = math.ceil(n_test / block_len)
    stats = {p.name: StrategyStats(book, rf_p, n_blocks) for p in players}
    fill_state = {p.name: [fill_model.initial_state(), fill_model.initial_state()] for p in players}
    supply_state = SupplyState(supply) if supply is not None else None
    keep = min(keep_rounds, n_test)
    kept: dict[str, list] = {"x": [], "y": []}
    per = {p.name: {k: [] for k in ("a", "b", "pnl_a", "pnl_b", "pnl", "utility", "inv_a", "inv_b")} for p in players}
    stride = max(1, math.ceil(n_test / EQUITY_POINTS))
    equity_rounds, equity = [], {p.name: [] for p in players}
    tails = (x_train[-delay:], y_train[-delay:])
    pair_names = [p.name for p in players]
    # local strategies that use no entanglement: the classical opponents quantum is measured against
    classical_local = [p.name for p in players if _classical_local(p, custom)]
    has_q = "quantum" in pair_names
    discordant = {name: [0, 0] for name in classical_local}
    test_cells = CellSums()
    flip = int(fitted.game.rule == "challenge")

    refits = [] if refit_every is None else list(range(train_end + refit_every, end, refit_every))
    lo = train_end
    while lo < end:
        k = (lo - train_end) // CHUNK
        hi = min(train_end + (k + 1) * CHUNK, end)
        if refits and refits[0] < hi:
            hi = refits[0] if refits[0] > lo else hi
        if refits and refits[0] == lo:
            refits.pop(0)
            fitted = _refit(feed, fitted.game if not calibrate else None, fit_noise, names, delay, lo, n_train,
                            exposure)
            players = build_players(names, custom, fitted, backend, has_truth=feed.has_truth,
                                    aer_backend=aer_backend)
            fits.append({"round": lo, "window": [lo - n_train, lo], **fitted.game_dict()})
            continue
        x, y = feed.inputs(lo, hi)
        rd = feed.round_data(lo, hi)
        xd, tx = lagged_inputs(x, tails[0], delay)
        yd, ty = lagged_inputs(y, tails[1], delay)
        tails = (tx, ty)
        chunk = RoundChunk(lo, x, y, rd["returns"], rd["price_change"], rd["negative"], xd, yd, rd["half_spread"])
        n = hi - lo
        first_in_chunk = (lo - train_end) % CHUNK == 0
        if first_in_chunk:
            rngs = {name: _rng(seed, f"strategy:{name}", k) for name in pair_names}
            fill_rng = _rng(seed, "fills", k)
            supply_rng = _rng(seed, "supply", k)
        pairs = supply_state.schedule(lo, n, supply_rng) if supply_state is not None else None
        uniforms = fill_rng.random((2, fill_model.uniform_streams, n)) if fill_model.uniform_streams else (None, None)
        offset = lo - train_end
        take = max(0, min(n, keep - offset))
        if take:
            kept["x"].append(x[:take])
            kept["y"].append(y[:take])
        marks = np.arange((stride - 1 - offset) % stride, n, stride, dtype=np.int64)  # rounds with (r+1) % stride == 0
        if hi == end and (marks.size == 0 or marks[-1] != n - 1):
            marks = np.append(marks, n - 1)
        equity_rounds.extend((lo + marks).tolist())
        g = fitted.game
        table = g.table.ravel()
        tgt, want = test_cells.add_with_targets(x, y, rd["returns"], g.target_table().ravel(), flip)
        decisions = {}
        played = []  # (a, b, fill states before, outcome) of this chunk's players
        for p in players:
            a, b, used, ages = p.decide(chunk, rngs[p.name], pairs)
            decisions[p.name] = (a, b)
            st = fill_state[p.name]
            # Common random numbers make the fills a function of the decisions and the carried fill state, so a
            # player that decided exactly as an earlier one (always_hedge, classical and delayed_comm often do)
            # reuses its P&L instead of running the fill model again.
            same = next((out for a0, b0, st0, out in played
                         if st0 == st and np.array_equal(a0, a) and np.array_equal(b0, b)), None)
            if same is None:
                before = list(st)
                pnl_a, inv_a, st[0], inc_a, cost_a = fill_model.pnl(
                    a, rd["returns"][:, 0], _col(rd["price_change"], 0), _col(rd["half_spread"], 0), uniforms[0], st[0])
                pnl_b, inv_b, st[1], inc_b, cost_b = fill_model.pnl(
                    b, rd["returns"][:, 1], _col(rd["price_change"], 1), _col(rd["half_spread"], 1), uniforms[1], st[1])
                pnl = pnl_a + pnl_b
                parts = (inc_a + inc_b, cost_a + cost_b)
                played.append((a, b, before, (pnl_a, inv_a, pnl_b, inv_b, pnl, parts, list(st))))
            else:
                pnl_a, inv_a, pnl_b, inv_b, pnl, parts, after = same
                st[:] = after
            equity[p.name].extend(stats[p.name].add(pnl, a, b, x, y, tgt, want, table, offset, block_len, used, ages,
                                                    marks).tolist())
            stats[p.name].add_parts(pnl, *parts)
            if take:
                d = per[p.name]
                util = g.utility(x[:take], y[:take], a[:take], b[:take])
                for key, v in (("a", a), ("b", b), ("pnl_a", pnl_a), ("pnl_b", pnl_b), ("pnl", pnl), ("utility", util),
                               ("inv_a", inv_a), ("inv_b", inv_b)):
                    if v is not None:
                        d[key].append(v[:take])
        if has_q:
            aq, bq = decisions["quantum"]
            for name in classical_local:
                only_q, only_c = kernels.discordant(aq, bq, *decisions[name], tgt)
                discordant[name][0] += only_q
                discordant[name][1] += only_c
        bar.update(n)
        lo = hi
    bar.close()

    # -- metrics ---------------------------------------------------------------------------------
    metrics = {name: s.metrics(ppy) for name, s in stats.items()}
    var_unc, var_or = metrics["uncoordinated"]["pnl_var"], metrics["oracle"]["pnl_var"]
    informative = {"train": train_cells.stats().informativeness(), "test": test_cells.stats().informativeness()}
    no_sign = not informative["train"]["sign_differs"] if calibrate else False
    for name, m in metrics.items():
        m["variance_share"] = m["pnl_var"] / var_unc if var_unc and var_unc > 0 else math.nan
        if no_sign:
            m["hedging_efficiency"], reason = None, (
                "the indicators do not change the sign of the co-movement on the training window, so the constant "
                "hedge is the oracle's play and there is nothing for coordination to capture")
        else:
            m["hedging_efficiency"], reason = hedging_efficiency(m["pnl_var"], var_unc, var_or)
        if reason:
            m.setdefault("undefined", {})["hedging_efficiency"] = reason
        _flag(m)
    series = {name: {k: np.concatenate(v) if v else None for k, v in d.items()} for name, d in per.items()}
    comparison = {}
    # ties go to classical, the fitted rule (the same numbers then serve both comparisons)
    best_local = min(classical_local, key=lambda s: (metrics[s]["pnl_var"], s != "classical")) if classical_local else None
    if has_q:
        for label, other in (("quantum_vs_best_local", best_local), ("quantum_vs_classical", "classical")):
            done = next((c for c in comparison.values() if c["opponent"] == other), None)
            if done is not None:
                comparison[label] = done
            elif other in discordant:
                comparison[label] = {"opponent": other, **compare(
                    stats["quantum"], stats[other], series["quantum"]["pnl"], series[other]["pnl"],
                    tuple(discordant[other]), ppy, series["quantum"]["utility"], series[other]["utility"])}
    drift_doc = drift(train_cells.stats(), test_cells.stats(), first_fit, fit_noise, exposure)
    hedge_doc = None
    if calibrate:  # the first fit's, as ``game`` (later refits are in ``refits``)
        hedge_doc = {**fits[0]["hedge"], "informativeness": informative}
        if not first_fit.solution.uses_entanglement:
            take = what_it_would_take(first_fit.hedge, fit_noise)
            hedge_doc["what_it_would_take"] = {**take, "sentence": sentence(take)}
        if "quantum" in metrics and "classical" in metrics:
            hedge_doc["bell_pair_value"] = _bell_pair_value(fits[0]["hedge"]["values"], metrics, n_test, book,
                                                            risk_aversion)
    return Result(
        version=__version__,
        seed=seed,
        source=src_info,
        tickers=list(feed.tickers),
        periods_per_year=ppy,
        clock=feed.clock,
        clock_at=feed.clock_at,
        first_round=t0,
        n_rounds=n_total,
        n_train=n_train,
        book_size=book,
        game=fits[0],
        refits=fits[1:],
        metrics=metrics,
        win_by_input={name: s.win_rate_by_input() for name, s in stats.items()},
        comparison=comparison,
        best_local=best_local,
        hedge=hedge_doc,
        drift=drift_doc,
        kept={"x": np.concatenate(kept["x"]) if kept["x"] else np.empty(0, np.uint8),
              "y": np.concatenate(kept["y"]) if kept["y"] else np.empty(0, np.uint8)},
        series=series,
        equity_rounds=np.asarray(equity_rounds),
        equity={k: np.asarray(v) for k, v in equity.items()},
        blocks={name: (s.block_sum, s.block_sq, s.block_n) for name, s in stats.items()},
        block_len=block_len,
        indicators={"A": inds[0].describe(), "B": inds[1].describe(), "latency": latency},
        players={p.name: {**p.describe(), "communicates": p.communicates} for p in players},
        config={"rounds": int(rounds) if isinstance(source, SyntheticPair) else None, "strategies": names,
                "game": {"kind": "hedge"} if calibrate else game.to_dict(), "noise": noise.to_dict(),
                "backend": backend, "device": device,
                "fill": fill_model.to_dict(), "supply": None if supply is None else supply.to_dict(),
                "latency": latency, "delay": delay, "train_fraction": train_fraction, "refit_every": refit_every,
                "book_size": book, "risk_free": risk_free, "risk_aversion": risk_aversion, "seed": seed,
                "keep_rounds": keep_rounds,
                "streamed": feed.streamed},
        elapsed=time.perf_counter() - started,
    )


def _col(a: np.ndarray | None, j: int) -> np.ndarray | None:
    return None if a is None else a[:, j]


def _flag(m: dict) -> None:
    """Reasons not to read a metric as a plain number (``flags``)."""
    flags = m.setdefault("flags", {})
    he = m.get("hedging_efficiency")
    if he is not None and he < 0:
        flags["hedging_efficiency"] = "below 0: this book is less hedged than independent coins'"
    elif he is not None and he > 1:
        flags["hedging_efficiency"] = ("above 1: lower variance than the oracle on the test window (sampling noise, "
                                       "or the fitted game no longer describes the test window)")
    income, directional, sharpe = m.get("pnl_spread_income"), m.get("pnl_directional"), m.get("sharpe")
    if income and income > 0 and sharpe == sharpe and sharpe > 0 and abs(directional) < income:
        flags["sharpe"] = (f"driven by the fill model's spread income ({income:.4g} of {m['pnl_mean']:.4g} per round "
                           f"is assumed spread capture); the directional part's Sharpe is {m['sharpe_directional']:.2f}")


def _classical_local(player, custom: dict) -> bool:
    """A no-communication strategy that uses no entanglement (quantum's fair opponents)."""
    if player.name in custom:
        return not custom[player.name].quantum
    return player.name in LOCAL and player.name not in ("quantum", "textbook")


def _bell_pair_value(values: dict, metrics: dict, n_test: int, book: float, gamma: float) -> dict:
    """Book variance saved per Bell pair consumed (currency^2), predicted by the fit and realised on the test
    window against the classical rule the pairs replace, and its certainty equivalent for a mean-variance
    investor with absolute risk aversion gamma / book_size: CE = gamma / (2 book) x variance saved."""
    predicted = values["quantum"]["saved"] - values["classical"]["saved"]  # per round played on a pair
    q, c = metrics["quantum"], metrics["classical"]
    pairs = q.get("bell_pairs") or 0
    realised = (c["pnl_var"] - q["pnl_var"]) * n_test / pairs if pairs else None
    lam = gamma / book
    return {"predicted_variance_saved": predicted, "realised_variance_saved": realised,
            "predicted_certainty_equivalent": lam / 2 * predicted,
            "realised_certainty_equivalent": None if realised is None else lam / 2 * realised,
            "risk_aversion": gamma, "pairs": pairs,
            "unit": "variance in currency^2 per pair; certainty equivalent in currency per pair"}


def _training_rounds(feed, t0: int, train_end: int, bar: _Progress):
    """Training inputs and the co-movement sums per input cell of the same rounds."""
    cells = CellSums()
    xs, ys = [], []
    step = CHUNK if feed.streamed else train_end - t0
    for lo in range(t0, train_end, step):
        hi = min(lo + step, train_end)
        x, y = feed.inputs(lo, hi)
        cells.add(x, y, feed.round_data(lo, hi)["returns"])
        xs.append(x)
        ys.append(y)
        bar.update(hi - lo)
    return np.concatenate(xs), np.concatenate(ys), cells


def _typical_age(supply: BellPairSupply, t0: int, n_train: int, seed: int) -> float:
    """Mean age of the pairs a supply delivers over the training window (its own random stream)."""
    state = SupplyState(supply)
    ages, used = 0.0, 0
    for k, lo in enumerate(range(t0, t0 + n_train, CHUNK)):
        n = min(CHUNK, t0 + n_train - lo)
        has, age = state.schedule(lo, n, _rng(seed, "supply:training", k))
        ages += float(age[has].sum())
        used += int(has.sum())
    return ages / used if used else 0.0


def _refit(feed: ArrayFeed, game: Game | None, noise: Noise, names, delay: int, start: int, n_train: int,
           exposure: float):
    """Walk-forward re-fit on the ``n_train`` rounds before ``start`` (indicator thresholds included); with
    ``game`` None the hedge game is re-calibrated on that window."""
    feed.fit_indicators(start - n_train, start)
    x, y = feed.inputs(start - n_train, start)
    hedge = None
    if game is None:
        cells = CellSums()
        cells.add(x, y, feed.round_data(start - n_train, start)["returns"])
        hedge = HedgeCalibration.fit(cells.stats(), exposure)
    return fit(game, x, y, noise, delay if "delayed_comm" in names else None, hedge)
