"""The one call: ``run_backtest(source, ...)`` -> ``Result``.

Flow: feed (prices) -> indicators (x, y per round, local and causal) -> fit on the training window
(thresholds, p(x,y), classical rule, quantum angles for the configured noise, delayed_comm rules) ->
each strategy plays every test round -> fills turn decisions into each agent's P&L -> book metrics.

Common random numbers: every strategy plays the same rounds (same x, y, returns) and the same fill
draws, so differences between strategies are paired. Randomness is drawn per chunk of ``chunk_rounds``
rounds from the named streams of ``backtest.streams`` (each strategy by name, fills, Bell-pair arrivals):
a strategy's draws do not depend on which other strategies run, and an in-memory run and a streamed run
of the same rows agree.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from functools import partial

import numpy as np

from ..data import DataWarning, MarketData, SyntheticPair
from ..strategies import Game, Noise, sandbox
from ..strategies.link import Link

from . import streams
from .config import RunConfig
from .overrides import configure
from .plan import Plan, Training, Window, make_feed, make_plan, make_window

# the pipeline, in order: feed -> players -> fills -> book -> analysis -> output
from .feed.clock import spanning
from .feed.feeds import ArrayFeed, TrainingTail, lagged_inputs, minutes_per_round
from .players.roster import (
    RoundChunk,
    names as registered,
    build_players,
    certify_players,
    fit,
    is_classical_local,
    keep_certified,
)
from .players.history import Channels
from .players.information import IndicatorLevels, InfoTraining, fit_information
from .players.supply import BellPairSupply, SupplyState
from .players.aged import age_aware, reaimed
from .players.hedge import HedgeFit, cell_moments
from .book.book import Book
from .book.lanes import Lanes
from .stats.cells import CellSums
from .errors import BacktestError
from .output.document import assemble
from .output.progress import Progress
from .output.result import Result

REPLAY_ROUNDS = 1 << 20  # training rounds replayed to choose best_local (the most recent ones)


def run_backtest(
    source: MarketData | SyntheticPair | str | None = None,
    config: RunConfig | None = None,
    *,
    progress: bool | None = None,
    **overrides,
) -> Result:
    """Run one backtest and return its ``Result``.

    ``config``: a ``RunConfig`` (default: every option's default); ``overrides`` set options by name on top of
    it (``rounds=``, ``seed=``, ``visibility=``, ``noise.t1=``: any name ``qcoord backtest`` has, docs/backtest.md), or
    give Python objects: ``noise`` (a ``strategies.Noise``), ``fill`` ("bias", "queue" or a ``FillModel``),
    ``supply`` (a ``BellPairSupply`` or None: a fresh pair every round), ``game`` ("hedge": the book's hedge
    game fitted on the training window's co-movement per input cell, ``backtest.players.hedge``; "paper": Ding &
    Jiang; or a ``strategies.Game`` to play as given), ``indicators`` (a built-in name, ``module:function``, a
    function, an ``Indicator``, or a pair of them, A's and B's; default by source, docs/backtest.md) with
    ``indicator_params``, ``strategies`` (names, README, or ``strategies.Strategy`` objects; uncoordinated and
    oracle always run).

    ``source``: a MarketData of two tickers, a ``SyntheticPair``, "signals"/"regime" (a synthetic pair seeded
    with the run's seed), or None for the configuration's ``[source]``. ``progress``: a bar on stderr (default:
    when stderr is a terminal). Stages: configure -> plan (every check before any work) -> feed -> fit on
    the training window -> play the test window chunk by chunk into a ``Book`` -> finish (metrics, tests).
    """
    started = time.perf_counter()
    cfg, given = configure(config, overrides)
    with warnings.catch_warnings(record=True) as caught:  # the data's warnings also go into metrics.json
        warnings.simplefilter("always", DataWarning)
        plan = make_plan(source, cfg, given)
        feed, src_info = make_feed(plan)
    for w in caught:  # shown as they would have been
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    data_warnings = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    window = make_window(plan, feed)
    plan = replace(plan, clock=spanning(plan.clock, feed, window.t0, window.train_end, window.end))
    bar = Progress(window.n_total, progress, unit="round", desc="fit", unit_scale=True)
    with sandbox.session():  # user rules' workers stop when the run ends, however it ends
        training = _fit(plan, feed, window, bar)
        plan = replace(plan, supply=training.supply)  # the supply as played (a link's memory cutoff applied)
        bar.stage("play")
        book = _play(plan, feed, window, training, bar)
    bar.close()
    result = assemble(plan, feed, window, training, book, src_info, time.perf_counter() - started)
    result.warnings[:0] = data_warnings
    return result


def _fit(plan: Plan, feed, w: Window, bar: Progress) -> Training:
    """Fit indicators, the hedge game (or the given game) and every strategy on the training window."""
    run = plan.cfg.run
    feed.fit_indicators(w.t0, w.train_end)  # a user's indicator checks every view it is evaluated on (isolated)
    info_train = None
    if any(n in registered(derived=True) for n in plan.names):
        ind = plan.cfg.indicators
        extra = None
        if plan.levels_indicators:
            first = plan.levels_indicators[0]
            extra = IndicatorLevels(
                first.name,
                first.levels,
                tuple(sorted((k, v) for k, v in first.describe().items() if k not in ("name", "edges"))),
            )
        info_train = InfoTraining(ind.history, ind.levels, plan.fits_hedge, extra)
    x_train, y_train, train_cells, tail = _training_rounds(
        feed, w.t0, w.train_end, bar, run.chunk_rounds, info_train, run.threads
    )
    # lots and the book are sized at the share prices of the first test round (a 1990 price would size a 2024 book)
    test_prices = feed.share_price(w.train_end)
    exposure = plan.fill.game_exposure(test_prices, minutes_per_round(feed))
    backend, device = run.backend, None
    if run.device:  # every quantum player plays on the device, with directions fitted to the pair it prepares
        from ..strategies.devices import device as device_named

        device, backend = device_named(run.device, tuple(run.qubits) if run.qubits else None), "aer"
    fit_noise, oldest = plan.noise, 0.0
    if plan.supply is not None:  # angles are fitted for the typical age of the pairs the supply delivers
        age, oldest = _typical_age(plan.supply, w.t0, w.n_train, run.seed, run.chunk_rounds, feed.seconds_at)
        fit_noise = replace(plan.noise, storage_time=age)
    hedge = HedgeFit.fit(train_cells.stats(), exposure) if plan.fits_hedge else None
    delay = plan.delay if "delayed_comm" in plan.names else None
    game_fit = fit(plan.game, x_train, y_train, fit_noise, delay, hedge, device)
    game_fit.moments = cell_moments(train_cells.stats(), None if hedge is None else hedge.comove)
    game_fit.information = fit_information(info_train, exposure, fit_noise, device)
    if plan.link is not None and plan.supply is not None:  # each pair's settings re-aimed for its age
        game_fit.aged = age_aware(game_fit, plan.supply.herald_delay, oldest, backend)
    players = _players(plan, game_fit, feed, backend, device)
    certify_players(players, game_fit, x_train, y_train, streams.rng(run.seed, "nosignal"), run.user_timeout)
    fits = [{"round": w.train_end, "window": [w.t0, w.train_end], **game_fit.game_dict()}]
    supply, cutoff = plan.supply, None
    if plan.link is not None and supply is not None:
        cutoff = _memory_cutoff(plan.link, game_fit)
        if math.isfinite(cutoff):  # both nodes know a pair's herald time, so each drops an old pair without talking
            # the supply's max_age counts from the herald; a pair that never pays keeps (almost) nothing
            supply = replace(supply, max_age=max(cutoff - supply.herald_delay, MIN_AGE))
    out = Training(
        game_fit,
        players,
        fits,
        train_cells,
        x_train,
        y_train,
        exposure,
        fit_noise,
        backend,
        device,
        test_prices,
        supply=supply,
        memory_cutoff=cutoff,
        periods_per_year=feed.periods_per_year,
        minutes=minutes_per_round(feed),
    )
    out.train_variance = _training_variance(plan, feed if tail is None else tail, w, out, bar)
    return out


MIN_AGE = 1e-300  # seconds: a supply's max_age must be positive; no continuous arrival lands exactly on a round


def _memory_cutoff(link: Link, game_fit) -> float:
    """Seconds of age (herald delay included) past which the link's pair is not played: the link's own number, or
    with "auto" the age at which even the settings re-aimed for the pair's age stop beating the classical rule on the
    fitted game (inf when none on the age grid, or no pair is played)."""
    if link.memory_cutoff != "auto":
        return float(link.memory_cutoff)
    return math.inf if game_fit.aged is None else game_fit.aged.cutoff


def _training_variance(plan: Plan, feed, w: Window, training: Training, bar: Progress) -> dict:
    """Book variance (costs included, currency^2 per round) of every local classical player on the training
    window, played exactly as on the test window (same fill model, own random streams): ``best_local`` is the
    lowest, chosen before the test window is seen. The replay covers the last ``REPLAY_ROUNDS`` training rounds
    (all of them in shorter runs; history rules start from the beginning of the training window all the same).
    A streamed feed cannot go back: its training pass kept those rounds (``feed.feeds.TrainingTail``), which
    ``feed`` then is."""
    classical = [p for p in training.players if is_classical_local(p, plan.custom)]
    if not classical:
        return {}
    bar.stage("train book")
    run = plan.cfg.run
    info = training.fit.information
    rules = info.channel_rules() if info is not None else []
    start = max(w.t0, w.train_end - REPLAY_ROUNDS)
    channels = None
    if rules:  # history rules run from the start of training, as in the fit; only their state is carried over
        channels = Channels(rules)
        x0, y0 = training.x_train[: start - w.t0], training.y_train[: start - w.t0]
        if x0.size:
            channels.step(x0, y0)
    ppy = training.periods_per_year
    rf_p = (1.0 + run.risk_free) ** (1.0 / ppy) - 1.0
    bar.grow(w.train_end - start)
    book = Book(
        [p.name for p in classical],
        plan.fill,
        _book_size(plan, training),
        rf_p,
        start,
        w.train_end - start,
        0,
        [],
        training.minutes,
        run.threads,
    )
    chunk = run.chunk_rounds
    flip = int(training.fit.game.rule == "challenge")
    for k, lo in enumerate(range(start, w.train_end, chunk)):
        hi = min(lo + chunk, w.train_end)
        x, y = feed.inputs(lo, hi)
        rd = feed.round_data(lo, hi)
        n = hi - lo
        rngs = {p.name: streams.rng(run.seed, f"training:strategy:{p.name}", k) for p in classical}
        streams_n = plan.fill.uniform_streams
        uniforms = streams.rng(run.seed, "training:fills", k).random((2, streams_n, n)) if streams_n else (None, None)
        rounds = RoundChunk(
            lo,
            x,
            y,
            rd["returns"],
            rd["price_change"],
            rd["negative"],
            None,
            None,
            rd["half_spread"],
            rd["price"],
            _derived(channels, info, feed, lo, hi, x, y),
        )
        book.add(rounds, classical, training.fit.game, flip, rngs, uniforms, None)
        bar.update(n)
    return {name: s.metrics(ppy)["pnl_var"] for name, s in book.stats.items()}


def _players(plan: Plan, training, feed, backend: str, aer_backend) -> list:
    return build_players(
        plan.names,
        plan.custom,
        training,
        backend,
        has_truth=feed.has_truth,
        aer_backend=aer_backend,
        can_talk=plan.clock.can_talk,
    )


def _play(plan: Plan, feed, w: Window, training: Training, bar: Progress) -> Book:
    """Every player plays every test round, chunk by chunk (walk-forward refits at their rounds)."""
    run = plan.cfg.run
    book_size = _book_size(plan, training)
    rf_p = (1.0 + run.risk_free) ** (1.0 / feed.periods_per_year) - 1.0
    players = training.players
    classical_local = [p.name for p in players if is_classical_local(p, plan.custom)]
    if plan.clock.can_talk and any(p.name == "talk" for p in players):  # quantum's opponent when talking is possible
        classical_local.append("talk")
    book = Book(
        [p.name for p in players],
        plan.fill,
        book_size,
        rf_p,
        w.train_end,
        w.n_test,
        min(run.keep_rounds, w.n_test),
        classical_local,
        minutes_per_round(feed),
        run.threads,
    )
    supply_state = SupplyState(plan.supply) if plan.supply is not None else None
    info = training.fit.information
    channels = info.channels if info is not None else None  # the history rules' state at the end of training
    tails = (training.x_train[-plan.delay :], training.y_train[-plan.delay :])
    fit_now, chunk = training.fit, run.chunk_rounds
    refits = [] if run.refit_every is None else list(range(w.train_end + run.refit_every, w.end, run.refit_every))
    lo = w.train_end
    played = None  # the previous chunk's play, running behind while this chunk's inputs are built
    while lo < w.end:
        k = (lo - w.train_end) // chunk
        hi = min(w.train_end + (k + 1) * chunk, w.end)
        if refits and refits[0] < hi:
            hi = refits[0] if refits[0] > lo else hi
        if refits and refits[0] == lo:
            if played is not None:
                played()
            refits.pop(0)
            fit_now = _refit(
                feed,
                plan.game,
                training.fit_noise,
                plan.names,
                plan.delay,
                lo,
                w.n_train,
                training.exposure,
                training.device,
            )
            fit_now.aged = reaimed(fit_now, training.fit.aged, training.backend)
            fit_now.information = info  # rules on derived information are fitted on the first training window only
            players = keep_certified(_players(plan, fit_now, feed, training.backend, training.device), players)
            training.fits.append({"round": lo, "window": [lo - w.n_train, lo], **fit_now.game_dict()})
            continue
        x, y = feed.inputs(lo, hi)
        rd = feed.round_data(lo, hi)
        xd, tx = lagged_inputs(x, tails[0], plan.delay)
        yd, ty = lagged_inputs(y, tails[1], plan.delay)
        tails = (tx, ty)
        n = hi - lo
        if (lo - w.train_end) % chunk == 0:  # randomness is drawn per chunk: same rounds, same draws
            rngs = {p.name: streams.rng(run.seed, f"strategy:{p.name}", k) for p in players}
            fill_rng = streams.rng(run.seed, "fills", k)
            supply_rng = streams.rng(run.seed, "supply", k)
        pairs = supply_state.schedule(lo, n, supply_rng, feed.seconds_at) if supply_state is not None else None
        streams_n = plan.fill.uniform_streams
        uniforms = fill_rng.random((2, streams_n, n)) if streams_n else (None, None)
        rounds = RoundChunk(
            lo,
            x,
            y,
            rd["returns"],
            rd["price_change"],
            rd["negative"],
            xd,
            yd,
            rd["half_spread"],
            rd["price"],
            _derived(channels, info, feed, lo, hi, x, y),
        )
        if played is not None:
            played()
        played = book.lanes.behind(
            partial(
                book.add, rounds, players, fit_now.game, int(fit_now.game.rule == "challenge"), rngs, uniforms, pairs
            ),
            n,
        )
        bar.update(n)
        lo = hi
    if played is not None:
        played()
    book.players = players
    return book


def _derived(channels, info, feed, lo: int, hi: int, x, y) -> dict | None:
    """Each server's derived inputs of rounds [lo, hi): the history rules' (advancing their state) and the K-level
    indicator's (from the feed)."""
    out = channels.step(x, y) if channels is not None else {}
    if info is not None and isinstance(info.levels, IndicatorLevels):
        out[info.levels.name] = feed.extra_inputs(lo, hi)
    return out or None


def _book_size(plan: Plan, training: Training) -> float:
    """Currency the book's returns are measured on: given, or the fill model's at the first round's prices."""
    run = plan.cfg.run
    size = float(run.book_size) if run.book_size is not None else plan.fill.book_size(training.test_prices)
    if not (math.isfinite(size) and size > 0):
        raise BacktestError(f"book_size must be a positive amount of currency, got {size!r}")
    return size


def _training_rounds(
    feed, t0: int, train_end: int, bar: Progress, chunk: int, info: InfoTraining | None = None, threads: int | None = 1
):
    """Training inputs and the co-movement sums per input cell of the same rounds (and per derived input cell of
    every candidate history rule, with ``info``); for a streamed feed also the last training rounds' data
    (``feed.feeds.TrainingTail``), else None."""
    cells = CellSums()
    xs, ys = [], []
    step = chunk if feed.streamed else train_end - t0
    tail = TrainingTail(max(t0, train_end - REPLAY_ROUNDS)) if feed.streamed else None
    lanes = Lanes(threads)
    added = None  # the previous chunk's sums, added on a lane while this chunk's inputs are computed

    def add(x, y, returns, extra) -> None:
        cells.add(x, y, returns)
        if info is not None:
            info.add(x, y, returns, extra)

    for lo in range(t0, train_end, step):
        hi = min(lo + step, train_end)
        x, y = feed.inputs(lo, hi)
        rd = feed.round_data(lo, hi)
        extra = feed.extra_inputs(lo, hi) if feed.extra else None
        if added is not None:
            added()
        added = lanes.start(partial(add, x, y, rd["returns"], extra), hi - lo)
        if tail is not None:
            tail.keep(lo, hi, x, y, rd, extra)
        xs.append(x)
        ys.append(y)
        bar.update(hi - lo)
    if added is not None:
        added()
    if tail is not None:
        tail.close()
    return np.concatenate(xs), np.concatenate(ys), cells, tail


def _typical_age(
    supply: BellPairSupply, t0: int, n_train: int, seed: int, chunk: int, seconds_at
) -> tuple[float, float]:
    """Mean and largest age of the pairs a supply delivers over the training window (its own random stream), on the
    run's clock (``seconds_at``: rows -> seconds)."""
    state = SupplyState(supply)
    ages, used, oldest = 0.0, 0, supply.herald_delay
    for k, lo in enumerate(range(t0, t0 + n_train, chunk)):
        n = min(chunk, t0 + n_train - lo)
        has, age = state.schedule(lo, n, streams.rng(seed, "supply:training", k), seconds_at)
        ages += float(age[has].sum())
        used += int(has.sum())
        oldest = max(oldest, float(age[has].max(initial=0.0)))
    return (ages / used if used else supply.herald_delay), oldest  # no pair used: the youngest a pair can be


def _refit(
    feed: ArrayFeed,
    game: Game | None,
    noise: Noise,
    names,
    delay: int,
    start: int,
    n_train: int,
    exposure: float,
    device=None,
):
    """Walk-forward re-fit on the ``n_train`` rounds before ``start`` (indicator thresholds included); with
    ``game`` None the hedge game is re-fitted on that window."""
    feed.fit_indicators(start - n_train, start)
    x, y = feed.inputs(start - n_train, start)
    cells = CellSums()
    cells.add(x, y, feed.round_data(start - n_train, start)["returns"])
    hedge = HedgeFit.fit(cells.stats(), exposure) if game is None else None
    out = fit(game, x, y, noise, delay if "delayed_comm" in names else None, hedge, device)
    out.moments = cell_moments(cells.stats(), None if hedge is None else hedge.comove)
    return out
