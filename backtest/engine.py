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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from ..data import DataWarning, MarketData, SyntheticPair
from ..data.frequency import TRADING_DAYS
from ..strategies import FrozenTable, Game, Noise, Strategy, sandbox
from ..strategies.lifetime import useful_lifetime
from ..strategies.link import Link

from . import __version__, streams
from .config import MIN_ROUNDS, Given, RunConfig, check_device, check_link, check_real_source, configure
from .errors import BacktestError
# the pipeline, in order: feed -> players -> fills -> book -> analysis -> output
from .feed.feeds import ArrayFeed, StreamFeed, TrainingTail, lagged_inputs
from .feed.indicators import NoisyRegime, NoisySignal, ReturnShock, copy_indicator, make_indicator
from .feed.isolated import is_builtin, isolate as isolated
from .players.roster import (PLAYERS, RoundChunk, names as registered, build_players, certify_players,
                             check_chunk_rounds, fit, is_classical_local, keep_certified, resource_classes)
from .players.history import Channels
from .players.information import IndicatorLevels, InfoTraining, fit_information
from .players.supply import BellPairSupply, SupplyState, link_supply
from .fills.models import FillModel, QueueFill
from .book.book import Book
from .book.lanes import Lanes, default_threads
from .book.risk import compare, hedging_efficiency
from .analysis.bell_pair import bell_pair_value
from .analysis.cells import CellSums
from .analysis.drift import drift
from .analysis.feasibility import feasibility
from .analysis.frontier import what_it_would_take
from .analysis.hedge import HedgeFit
from .analysis.impossible import flag_untrusted, without_flagged
from .output import verdict
from .output.progress import Progress
from .output.result import Result

REPLAY_ROUNDS = 1 << 20  # training rounds replayed to choose best_local (the most recent ones)
MAX_ROUNDS = 10**11  # about seven hours of the streamed path at 4 M rounds/s on one core: beyond, nothing finishes


def default_indicators(mode: str | None) -> tuple[str, dict]:
    """The indicator used when none is given: by source kind. On real prices it is purely local (each server reads
    its own stock only), so the two servers' bits differ and there is a coordination problem to solve: return_shock
    was chosen by measurement on the shipped panel (``benchmarks/default_indicator.py``: of the local indicators its
    bits are the most independent across servers and its distance to paying varies most between pairs)."""
    if mode == "signals":
        return NoisySignal.name, {"flip": 0.0}
    if mode == "regime":
        return NoisyRegime.name, {"flip": 0.1}
    return ReturnShock.name, {"window": 60, "target": 0.5}


def _indicator_pair(indicators, params: Mapping | None, mode: str | None, isolate=None):
    """Two independent indicator objects (A's and B's) and whether they are user-supplied; ``isolate`` turns a
    user's into the engine's proxy for it (``feed.isolated``: its own process, its played views checked)."""
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
    user_flags = [user and not is_builtin(m) for m in made]
    if isolate is not None:
        a = isolate(made[0]) if user_flags[0] else made[0]
        made = [a, a if made[1] is made[0] else isolate(made[1]) if user_flags[1] else made[1]]
    if made[0] is made[1]:
        made[1] = copy_indicator(made[0])
    return (made[0], made[1]), user_flags


def _resolve_strategies(names: tuple[str, ...], custom: dict[str, Strategy]) -> tuple[list[str], dict[str, Strategy]]:
    names = list(names)
    for r in registered(required=True):  # hedging efficiency is measured between these
        if r not in names:
            names.insert(0 if r == "uncoordinated" else len(names), r)
    if len(set(names)) != len(names):
        raise BacktestError(f"strategies: duplicate names in {names}")
    return names, dict(custom)


@dataclass
class Plan:
    """A run's checked value objects, built from its configuration (and any Python objects given)."""

    cfg: RunConfig
    source: MarketData | SyntheticPair
    indicators: tuple
    user_flags: list[bool]
    names: list[str]
    custom: dict[str, Strategy]
    game: Game | None  # None: the fitted hedge game
    noise: Noise
    fill: FillModel
    supply: BellPairSupply | None
    given: Given
    levels_indicators: tuple | None = None  # a K-level indicator pair (--levels-indicator), A's and B's
    link: Link | None = None  # the physical link the noise and supply were derived from (--link)

    @property
    def fits_hedge(self) -> bool:
        """Whether the game is the book's hedge game, fitted on the training window."""
        return self.game is None

    @staticmethod
    def check(cfg: RunConfig) -> None:
        """Build every value object of ``cfg`` without loading data: the errors its run would raise first."""
        for section in (cfg.noise, cfg.fill, cfg.supply, cfg.game, cfg.indicators, cfg.link):
            section.build()
        if cfg.link.build() is not None:
            check_link(cfg, Given(), cfg.run)
        if cfg.source.kind == "synthetic":
            cfg.source.pair(cfg.run.seed)
        unknown = [n for n in cfg.run.strategies if n not in PLAYERS]
        if unknown:
            raise BacktestError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(PLAYERS)}")


@dataclass
class Window:
    """Rows of the run: warm-up ends at ``t0``; training is ``[t0, train_end)``, test ``[train_end, end)``."""

    t0: int
    n_total: int
    n_train: int

    @property
    def train_end(self) -> int:
        return self.t0 + self.n_train

    @property
    def end(self) -> int:
        return self.t0 + self.n_total

    @property
    def n_test(self) -> int:
        return self.n_total - self.n_train


@dataclass
class Training:
    """What the training window gave: the fit, the players built from it, and what later refits reuse."""

    fit: object  # players.roster.GameFit
    players: list
    fits: list[dict]
    train_cells: CellSums
    x_train: np.ndarray
    y_train: np.ndarray
    exposure: float
    fit_noise: Noise
    backend: str
    device: object  # strategies.devices.Device, or None
    test_prices: np.ndarray  # share prices of the first test round
    supply: BellPairSupply | None = None  # as played on the test window: a link's memory cutoff applied
    memory_cutoff: float | None = None  # seconds of age (herald delay included) past which a link's pair is not played
    train_variance: dict | None = None  # book variance of each local classical strategy on the training window
    periods_per_year: float = 0.0
    minutes: float = 1.0  # of quoting per round


# A fill rate above this share of a ticker's traded volume is more than published market makers take: Menkveld (2013)
# finds his HFT market maker in 8.1% of trades on the incumbent market (64.4% on the entrant Chi-X).
PARTICIPATION_LIMIT = 0.10


def minutes_per_round(feed) -> float:
    """Minutes of quoting a round (bar) stands for: 252 x 390 trading minutes a year over the bars per year."""
    return TRADING_DAYS * 390.0 / feed.periods_per_year


def run_backtest(source: MarketData | SyntheticPair | str | None = None, config: RunConfig | None = None, *,
                 progress: bool | None = None, **overrides) -> Result:
    """Run one backtest and return its ``Result``.

    ``config``: a ``RunConfig`` (default: every option's default); ``overrides`` set options by name on top of
    it (``rounds=``, ``seed=``, ``visibility=``, ``noise.t1=``: any name ``qcoord backtest`` has, docs/backtest.md), or
    give Python objects: ``noise`` (a ``strategies.Noise``), ``fill`` ("bias", "queue" or a ``FillModel``),
    ``supply`` (a ``BellPairSupply`` or None: a fresh pair every round), ``game`` ("hedge": the book's hedge
    game fitted on the training window's co-movement per input cell, ``backtest.analysis.hedge``; "paper": Ding &
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
        plan = _plan(source, cfg, given)
        feed, src_info = _make_feed(plan)
    for w in caught:  # shown as they would have been
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    data_warnings = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    window = _window(plan, feed)
    bar = Progress(window.n_total, progress, unit="round", desc="fit", unit_scale=True)
    with sandbox.session():  # user rules' workers stop when the run ends, however it ends
        training = _fit(plan, feed, window, bar)
        plan = replace(plan, supply=training.supply)  # the supply as played (a link's memory cutoff applied)
        bar.stage("play")
        book = _play(plan, feed, window, training, bar)
    bar.close()
    result = _finish(plan, feed, window, training, book, src_info, time.perf_counter() - started)
    result.warnings[:0] = data_warnings
    return result


def _plan(source, cfg: RunConfig, given: Given) -> Plan:
    """Build and check every value object of the run; nothing is drawn or loaded beyond a real source."""
    run = cfg.run
    cfg.source.check()
    cfg.indicators.check()
    if not math.isfinite(run.risk_free):
        raise BacktestError(f"risk_free must be an annual rate above -100%, got {run.risk_free!r}")
    names, custom = _resolve_strategies(run.strategies, given.strategies)
    game = given.game if given.game is not None else cfg.game.build()
    noise = given.noise if given.noise is not None else cfg.noise.build()
    fill = given.fill if given.fill is not None else cfg.fill.build()
    supply = given.supply if given.supply is not None else cfg.supply.build()
    link = cfg.link.build()
    if link is not None:
        check_link(cfg, given, run)
        noise, supply = link.noise(), link_supply(link)
    check_device(run, noise, supply)
    if source is None:
        source = cfg.source.pair(run.seed) if cfg.source.kind == "synthetic" else cfg.source.load()
    elif isinstance(source, str):
        if source not in ("signals", "regime"):
            raise BacktestError(f"source must be a MarketData, a SyntheticPair, 'signals' or 'regime', got {source!r}")
        source = SyntheticPair(mode=source, seed=run.seed)
    elif not isinstance(source, (MarketData, SyntheticPair)):
        raise BacktestError(f"source must be a MarketData, a SyntheticPair, 'signals' or 'regime', got "
                            f"{type(source).__name__}")
    mode = source.mode if isinstance(source, SyntheticPair) else None
    if not isinstance(source, SyntheticPair) and source.truth is None:
        check_real_source(given.paths, run.strategies)
    built = given.indicators if given.indicators is not None else cfg.indicators.build()
    isolate = partial(isolated, check=run.check_indicators, seed=run.seed, timeout=run.user_timeout)
    inds, user_flags = _indicator_pair(built, cfg.indicators.params, mode, isolate)
    levels_pair = (_levels_indicator_pair(cfg.indicators, isolate) if any(n in registered(derived=True) for n in names)
                   else None)
    check_chunk_rounds(custom, run.chunk_rounds)
    return Plan(cfg, source, inds, user_flags, names, custom, game, noise, fill, supply, given, levels_pair, link)


def _levels_indicator_pair(ind, isolate=None) -> tuple | None:
    """A's and B's K-level indicator (``--levels-indicator``): quantile bins of a built-in's score, or a function
    declaring ``levels``; None for the default, the count of a server's own last readings."""
    if ind.levels_indicator is None:
        return None
    from .config import params_for
    from .feed.indicators import make_levels_indicator

    params = {k: v for k, v in params_for(ind.levels_indicator, ind.params).items() if k not in ("target", "threshold")}
    a = make_levels_indicator(ind.levels_indicator, ind.levels, **params)
    a = isolate(a) if isolate is not None and not is_builtin(a) else a
    return a, copy_indicator(a)


def _make_feed(plan: Plan):
    """The feed of rounds (whole in memory, or streamed in chunks for long synthetic runs) and the source's
    description."""
    run, source, inds = plan.cfg.run, plan.source, plan.indicators
    latency, delay = plan.cfg.indicators.latency, run.delay
    seeds = (streams.seed_of(run.seed, "indicator:A"), streams.seed_of(run.seed, "indicator:B"))
    lookback = max((i.lookback or 0) for i in inds + tuple(plan.levels_indicators or ()))
    if isinstance(source, SyntheticPair):
        rounds = run.rounds
        if rounds < 2 * MIN_ROUNDS:
            raise BacktestError(f"rounds must be a whole number >= {2 * MIN_ROUNDS}, got {rounds!r}")
        if rounds > MAX_ROUNDS:
            raise BacktestError(f"rounds = {rounds:.3g} cannot finish: at most {MAX_ROUNDS:.0e} (about seven hours of "
                                "the streamed path at 4 M rounds/s on one core)")
        if latency > rounds or delay > rounds:  # before any row is drawn: these lengths size the feed
            raise BacktestError(f"latency ({latency} bars) and delay ({delay} rounds) must not exceed the run "
                                f"({rounds} rounds)")
        if lookback > rounds:  # e.g. --window 1e9: it would size the feed
            raise BacktestError(f"the indicators need {lookback} bars of history (window), more than the run "
                                f"({rounds} rounds)")
        n_rows = int(rounds) + 1 + lookback + latency + 1
        threads = run.threads or default_threads()  # for the synthetic blocks: the rows do not depend on it
        stream_ok = all(isinstance(i.lookback, (int, np.integer)) for i in inds) and run.refit_every is None
        if n_rows > run.in_memory_rows and stream_ok:
            feed = StreamFeed(source, n_rows, inds, latency, seeds, run.chunk_rounds, threads)
        else:
            if n_rows > run.in_memory_rows and run.refit_every is not None:
                raise BacktestError(f"refit_every needs the run in memory: at most {run.in_memory_rows} rows, got "
                                    f"{n_rows}")
            feed = ArrayFeed.from_pair(source, n_rows, inds, latency, seeds, threads)
        if plan.levels_indicators:
            feed.set_extra(plan.levels_indicators)
        return feed, {"kind": "synthetic", "mode": source.mode, "params": source.params()}
    rows = len(source.prices)
    if lookback + 2 * MIN_ROUNDS >= rows:
        raise BacktestError(f"the indicators need {lookback} bars of history (window), too many for the data "
                            f"({rows} rows of {', '.join(source.tickers)})")
    if latency + 2 * MIN_ROUNDS >= rows or delay >= rows:
        raise BacktestError(f"latency ({latency} bars) or delay ({delay} rounds) is too long for the data "
                            f"({rows} rows of {', '.join(source.tickers)})")
    feed = ArrayFeed.from_market(source, inds, latency, seeds)
    if plan.levels_indicators:
        feed.set_extra(plan.levels_indicators)
    return feed, dict(source.meta)


def _window(plan: Plan, feed) -> Window:
    feed.price_changes = plan.fill.uses_prices
    t0 = feed.warmup()
    if isinstance(plan.source, SyntheticPair):  # the run has exactly `rounds` rounds after warm-up
        n_total = min(int(plan.cfg.run.rounds), feed.n_rows - t0)
    else:
        n_total = feed.n_rows - t0
    n_train = int(plan.cfg.run.train_fraction * n_total)
    n_test = n_total - n_train
    if n_train < MIN_ROUNDS or n_test < MIN_ROUNDS:
        raise BacktestError(f"{n_total} rounds after a warm-up of {t0} rows leave {n_train} to train and {n_test} to "
                            f"test; each needs at least {MIN_ROUNDS}")
    if plan.cfg.run.refit_every is not None and feed.streamed:
        raise BacktestError("refit_every is not available on a streamed run")
    return Window(t0, n_total, n_train)


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
            extra = IndicatorLevels(first.name, first.levels, tuple(sorted(
                (k, v) for k, v in first.describe().items() if k not in ("name", "edges"))))
        info_train = InfoTraining(ind.history, ind.levels, plan.fits_hedge, extra)
    x_train, y_train, train_cells, tail = _training_rounds(feed, w.t0, w.train_end, bar, run.chunk_rounds, info_train,
                                                           run.threads)
    # lots and the book are sized at the share prices of the first test round (a 1990 price would size a 2024 book)
    test_prices = feed.share_price(w.train_end)
    exposure = plan.fill.game_exposure(test_prices, minutes_per_round(feed))
    backend, device = run.backend, None
    if run.device:  # every quantum player plays on the device, with directions fitted to the pair it prepares
        from ..strategies.devices import device as device_named

        device, backend = device_named(run.device, tuple(run.qubits) if run.qubits else None), "aer"
    fit_noise = plan.noise
    if plan.supply is not None:  # angles are fitted for the typical age of the pairs the supply delivers
        age = _typical_age(plan.supply, w.t0, w.n_train, run.seed, run.chunk_rounds)
        fit_noise = replace(plan.noise, storage_time=age)
    hedge = HedgeFit.fit(train_cells.stats(), exposure) if plan.fits_hedge else None
    delay = run.delay if "delayed_comm" in plan.names else None
    game_fit = fit(plan.game, x_train, y_train, fit_noise, delay, hedge, device)
    game_fit.information = fit_information(info_train, exposure, fit_noise, device)
    players = _players(plan, game_fit, feed, backend, device)
    certify_players(players, game_fit, x_train, y_train, streams.rng(run.seed, "nosignal"), run.user_timeout)
    fits = [{"round": w.train_end, "window": [w.t0, w.train_end], **game_fit.game_dict()}]
    supply, cutoff = plan.supply, None
    if plan.link is not None and supply is not None:
        cutoff = _memory_cutoff(plan.link, game_fit)
        if math.isfinite(cutoff):  # both nodes know a pair's herald time, so each drops an old pair without talking
            # the supply's max_age counts from the herald; a pair that never pays keeps (almost) nothing
            supply = replace(supply, max_age=max(cutoff - supply.herald_delay, MIN_AGE))
    out = Training(game_fit, players, fits, train_cells, x_train, y_train, exposure, fit_noise, backend, device,
                   test_prices, supply=supply, memory_cutoff=cutoff, periods_per_year=feed.periods_per_year,
                   minutes=minutes_per_round(feed))
    out.train_variance = _training_variance(plan, feed if tail is None else tail, w, out, bar)
    return out


MIN_AGE = 1e-300  # seconds: a supply's max_age must be positive; no continuous arrival lands exactly on a round


def _memory_cutoff(link: Link, game_fit) -> float:
    """Seconds of age (herald delay included) past which the link's pair is not played: the link's own number, or
    with "auto" the age at which the fitted quantum strategy's pair stops beating the classical rule on the fitted game
    (inf when no pair is played, or the memory does not decay)."""
    if link.memory_cutoff != "auto":
        return float(link.memory_cutoff)
    sol = game_fit.solution
    if not sol.uses_entanglement:
        return math.inf
    return useful_lifetime(sol.quantum_strategy(), game_fit.game, game_fit.p_xy, sol.classical_value,
                           youngest=link.herald_delay)


def _training_variance(plan: Plan, feed, w: Window, training: Training, bar: Progress) -> dict:
    """Book variance (costs included, currency^2 per round) of every local classical player on the training
    window, played exactly as on the test window (same fill model, own random streams): ``best_local`` is the
    lowest, chosen before the test window is seen. The replay covers the last ``REPLAY_ROUNDS`` training rounds
    (all of them in shorter runs; history rules start from the beginning of the training window all the same).
    A streamed feed cannot go back: its training pass kept those rounds (``feed.feeds.TrainingTail``), which ``feed`` then is."""
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
    book = Book([p.name for p in classical], plan.fill, _book_size(plan, training), rf_p, start, w.train_end - start, 0,
                [], training.minutes, run.threads)
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
        rounds = RoundChunk(lo, x, y, rd["returns"], rd["price_change"], rd["negative"], None, None,
                            rd["half_spread"], rd["price"], _derived(channels, info, feed, lo, hi, x, y))
        book.add(rounds, classical, training.fit.game, flip, rngs, uniforms, None)
        bar.update(n)
    return {name: s.metrics(ppy)["pnl_var"] for name, s in book.stats.items()}


def _players(plan: Plan, training, feed, backend: str, aer_backend) -> list:
    return build_players(plan.names, plan.custom, training, backend, has_truth=feed.has_truth, aer_backend=aer_backend)


def _play(plan: Plan, feed, w: Window, training: Training, bar: Progress) -> Book:
    """Every player plays every test round, chunk by chunk (walk-forward refits at their rounds)."""
    run = plan.cfg.run
    book_size = _book_size(plan, training)
    rf_p = (1.0 + run.risk_free) ** (1.0 / feed.periods_per_year) - 1.0
    players = training.players
    classical_local = [p.name for p in players if is_classical_local(p, plan.custom)]
    book = Book([p.name for p in players], plan.fill, book_size, rf_p, w.train_end, w.n_test,
                min(run.keep_rounds, w.n_test), classical_local, minutes_per_round(feed), run.threads)
    supply_state = SupplyState(plan.supply) if plan.supply is not None else None
    info = training.fit.information
    channels = info.channels if info is not None else None  # the history rules' state at the end of training
    tails = (training.x_train[-run.delay:], training.y_train[-run.delay:])
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
            fit_now = _refit(feed, plan.game, training.fit_noise, plan.names, run.delay, lo, w.n_train, training.exposure,
                             training.device)
            fit_now.information = info  # rules on derived information are fitted on the first training window only
            players = keep_certified(_players(plan, fit_now, feed, training.backend, training.device), players)
            training.fits.append({"round": lo, "window": [lo - w.n_train, lo], **fit_now.game_dict()})
            continue
        x, y = feed.inputs(lo, hi)
        rd = feed.round_data(lo, hi)
        xd, tx = lagged_inputs(x, tails[0], run.delay)
        yd, ty = lagged_inputs(y, tails[1], run.delay)
        tails = (tx, ty)
        n = hi - lo
        if (lo - w.train_end) % chunk == 0:  # randomness is drawn per chunk: same rounds, same draws
            rngs = {p.name: streams.rng(run.seed, f"strategy:{p.name}", k) for p in players}
            fill_rng = streams.rng(run.seed, "fills", k)
            supply_rng = streams.rng(run.seed, "supply", k)
        pairs = supply_state.schedule(lo, n, supply_rng) if supply_state is not None else None
        streams_n = plan.fill.uniform_streams
        uniforms = fill_rng.random((2, streams_n, n)) if streams_n else (None, None)
        rounds = RoundChunk(lo, x, y, rd["returns"], rd["price_change"], rd["negative"], xd, yd, rd["half_spread"],
                            rd["price"], _derived(channels, info, feed, lo, hi, x, y))
        if played is not None:
            played()
        played = book.lanes.behind(lambda args=(rounds, players, fit_now.game, int(fit_now.game.rule == "challenge"),
                                                rngs, uniforms, pairs): book.add(*args), n)
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


def _finish(plan: Plan, feed, w: Window, training: Training, book: Book, src_info: dict, elapsed: float) -> Result:
    """Metrics per strategy, the paired comparisons, the hedge documents, and the Result."""
    run, stats = plan.cfg.run, book.stats
    ppy = feed.periods_per_year
    metrics = {name: s.metrics(ppy) for name, s in stats.items()}
    informative = {"train": training.train_cells.stats().informativeness(),
                   "test": book.test_cells.stats().informativeness()}
    no_sign = plan.fits_hedge and not informative["train"]["sign_differs"]
    _efficiency(metrics, no_sign)
    _lookahead(metrics, {p.name for p in book.players if p.communicates}, informative["test"].get("negative_share"))
    flag_untrusted(metrics, book, resource_classes(book.players, plan.custom),
                   training.fit.game if len(training.fits) == 1 else None, verdict)
    series = book.series()
    # chosen on the training window (before the test window is seen); ties go to classical, the fitted rule; a
    # flagged strategy is listed but never best_local, an opponent or the subject of a comparison
    train_var, _ = without_flagged(metrics, training.train_variance, {})
    best_local = min(train_var, key=lambda s: (train_var[s], s != "classical")) if train_var else None
    _, comparison = without_flagged(metrics, None, _comparisons(
        book, series, best_local, ppy, _strongest(train_var, metrics, best_local), run.risk_aversion))
    first_fit = training.fit
    drift_doc = drift(training.train_cells.stats(), book.test_cells.stats(), first_fit, training.fit_noise,
                      training.exposure)
    drift_doc["flag"] = verdict.drift_flag(drift_doc)
    hedge_doc = None
    if plan.fits_hedge:  # the first fit's, as ``game`` (later refits are in ``refits``)
        hedge_doc = {**training.fits[0]["hedge"], "informativeness": informative}
        if not first_fit.solution.uses_entanglement:
            take = what_it_would_take(first_fit.hedge, training.fit_noise)
            hedge_doc["what_it_would_take"] = {**take, "sentence": verdict.what_it_would_take(take)}
        if "quantum" in metrics and "classical" in metrics:
            hedge_doc["bell_pair_value"] = bell_pair_value(training.fits[0]["hedge"]["values"], metrics, w.n_test,
                                                            book.size, run.risk_aversion)
    participation = _participation(plan, feed, training)
    link_doc = _link_doc(plan, w, training, metrics, hedge_doc, drift_doc) if plan.link is not None else None
    return Result(
        version=__version__, seed=run.seed, source=src_info, tickers=list(feed.tickers), periods_per_year=ppy,
        clock=feed.clock, clock_at=feed.clock_at, first_round=w.t0, n_rounds=w.n_total, n_train=w.n_train,
        book_size=book.size, game=training.fits[0], refits=training.fits[1:], metrics_dict=metrics,
        win_by_input={name: s.win_rate_by_input() for name, s in stats.items()}, comparison=comparison,
        best_local=best_local, best_local_training=train_var,
        information=_information_doc(first_fit.information), hedge=hedge_doc, drift=drift_doc, kept=book.kept_inputs(),
        series=series,
        equity_rounds=np.asarray(book.equity_rounds), equity_values={k: np.asarray(v) for k, v in book.equity.items()},
        blocks={name: (s.block_sum, s.block_sq, s.block_n) for name, s in stats.items()}, block_len=book.block_len,
        indicators={"A": plan.indicators[0].describe(), "B": plan.indicators[1].describe(),
                    "latency": plan.cfg.indicators.latency},
        players={p.name: {**p.describe(), "communicates": p.communicates} for p in book.players},
        config=_config_doc(plan, book.size, participation), streamed=feed.streamed, elapsed=elapsed,
        warnings=_warnings(plan, feed, training, participation), link=link_doc,
    )


def _link_doc(plan: Plan, w: Window, training: Training, metrics: dict, hedge_doc: dict | None, drift_doc: dict) -> dict:
    """The link's feasibility chain (metrics.json ``link``): the stationary window is the link's own
    ``stationary_window`` when given, else measured here: the whole run when the game fitted on the training window
    still describes the test window (drift), else the training window only."""
    link = plan.link
    if link.stationary_window is not None:
        window, where = max(1, int(round(link.stationary_window * link.link_decision_rate))), "given"
    elif drift_doc.get("decision_changed"):
        window, where = w.n_train, "the training window: the game changed by the test window"
    else:
        window, where = w.n_total, "the whole run: the game held from training to test"
    q = metrics.get("quantum") or {}
    share = q.get("quantum_share")
    if share is None or share != share:  # no quantum player ran: the share the rates allow
        share = min(1.0, link.delivered_pair_rate / link.link_decision_rate)
    bp = (hedge_doc or {}).get("bell_pair_value") or {}
    value, value_from = bp.get("realised_net_certainty_equivalent"), "realised on the test window, costs included"
    if value is None and hedge_doc is not None:  # no pair consumed in the test window: the fit's prediction
        value, value_from = bp.get("predicted_certainty_equivalent"), "predicted by the fit, before switching costs"
    doc = feasibility(link, training.fit, training.fit_noise, window, where, share, value, value_from,
                      (getattr(training.fit.game, "unit", None) or "utility per round").split(":")[0],
                      memory_cutoff=training.memory_cutoff)
    doc["preset"] = plan.cfg.link.preset
    doc["sentence"] = verdict.link_sentence(doc)
    return doc


def _information_doc(info) -> dict | None:
    """The information fit's document, its note (a reason code) in words."""
    if info is None:
        return None
    doc = info.to_dict()
    if doc.get("note"):
        doc["note"] = verdict.information_note(doc["note"], doc.get("persistence") or {})
    return doc


def _warnings(plan: Plan, feed, training: Training, participation: dict) -> list[str]:
    """What the user should know before reading the money figures."""
    out = [ind.note for ind in plan.indicators if getattr(ind, "note", None)]
    if isinstance(plan.fill, QueueFill) and feed.adjusted_only:
        out.append(verdict.adjusted_prices(feed.tickers, training.test_prices))
    if getattr(feed, "untradable", None):
        out.append(verdict.untradable(feed.untradable))
    for p in training.players:
        resource = getattr(getattr(p, "strategy", None), "resource", None)
        if isinstance(resource, FrozenTable) and not resource.local:
            out.append(verdict.nonlocal_opponent(p.name, resource.chsh))
    if getattr(feed, "clock_offset", None):
        out.append(verdict.clock_offset(feed.clock_offset, feed.tickers))
    heavy = {t: s for t, s in participation.items() if s is not None and s > PARTICIPATION_LIMIT}
    if heavy:
        out.append(verdict.heavy_participation(heavy, PARTICIPATION_LIMIT))
    return out


LOOKAHEAD_SE = 5.0  # standard errors by which a strategy without communication may not out-hedge the oracle
LOOKAHEAD_RATE = 0.99  # a hedged rate no indicator reaches honestly where the stocks often move apart ...
LOOKAHEAD_OPPOSITE = 0.05  # ... i.e. where they move in opposite directions in more than this share of rounds


def _lookahead(metrics: dict, communicating: set[str], opposite: float | None) -> None:
    """Flag probable look-ahead in a strategy without communication:
    - it hedges more rounds than the oracle (which knows both servers' indicators) by more than ``LOOKAHEAD_SE``
      standard errors (independent binomial errors: conservative for paired rounds); only information outside the
      indicators (a rule reading outside data) can do that;
    - or it hedges at least ``LOOKAHEAD_RATE`` of the rounds in a market whose stocks move in opposite directions
      in more than ``LOOKAHEAD_OPPOSITE`` of them: that needs the sign of the round's own co-movement, which an
      indicator that peeks (a timestamp lookup into outside data) has and an honest one does not."""
    oracle = metrics.get("oracle") or {}
    p_o = oracle.get("hedged_rate")
    for name, m in metrics.items():
        p, n = m.get("hedged_rate"), m.get("n_rounds") or 0
        if name in communicating or not _finite_number(p) or n < 2:
            continue
        if _finite_number(p_o):
            se = math.sqrt((p * (1 - p) + p_o * (1 - p_o)) / n) or 1.0 / n
            if p > p_o + LOOKAHEAD_SE * se:
                m.setdefault("flags", {})["lookahead"] = verdict.lookahead(p, p_o, (p - p_o) / se)
                continue
        if p >= LOOKAHEAD_RATE and _finite_number(opposite) and opposite > LOOKAHEAD_OPPOSITE:
            m.setdefault("flags", {})["lookahead"] = verdict.lookahead_rate(p, opposite)


def _efficiency(metrics: dict, no_sign: bool) -> None:
    """Variance share and hedging efficiency of every strategy, with the reasons when undefined."""
    var_unc, var_or = metrics["uncoordinated"]["pnl_var"], metrics["oracle"]["pnl_var"]
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
        _flag(m, name)


def _strongest(train_var: dict | None, metrics: dict, best_local: str | None) -> str | None:
    """The local classical strategy with the lowest book variance on the *test* window (best_local is chosen on
    training, before the test window is seen; a claim of advantage must hold against this one too). A tie goes to
    best_local, whose comparison is then reused rather than computed again."""
    names = [s for s in (train_var or {}) if s in metrics and _finite_number(metrics[s].get("pnl_var"))]
    return min(names, key=lambda s: (metrics[s]["pnl_var"], s != best_local, s)) if names else None


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _comparisons(book: Book, series: dict, best_local: str | None, ppy: float, strongest: str | None = None,
                 risk_aversion: float = 3.0) -> dict:
    """Paired tests of each quantum player (quantum, quantum_levels) against the best local classical strategy
    (chosen on training), of quantum against the strongest local classical strategy on the test window, against
    ``classical`` (the same one-bit information), and of quantum_levels against ``classical_levels`` (the same
    K-level information)."""
    comparison: dict = {}
    pairs = (("quantum_vs_best_local", "quantum", best_local), ("quantum_vs_strongest_local", "quantum", strongest),
             ("quantum_vs_classical", "quantum", "classical"),
             ("quantum_levels_vs_best_local", "quantum_levels", best_local),
             ("quantum_levels_vs_classical_levels", "quantum_levels", "classical_levels"))
    for label, q, other in pairs:
        if q not in book.discordant or other not in book.discordant[q]:
            continue
        done = next((c for lab, c in comparison.items() if lab.startswith(q + "_vs") and c["opponent"] == other), None)
        if done is not None:
            comparison[label] = done
        else:
            comparison[label] = {"opponent": other, **compare(
                book.stats[q], book.stats[other], series[q]["pnl"], series[other]["pnl"],
                tuple(book.discordant[q][other]), ppy, series[q]["utility"], series[other]["utility"],
                risk_aversion)}
    return comparison


def _participation(plan: Plan, feed, training: Training) -> dict:
    """Each ticker's share of its traded notional that one server's fills would take, at the first test round's
    share price ({ticker: share}, None where the data has no volume: the fill rate is then an assumption only)."""
    minutes = minutes_per_round(feed)
    traded = getattr(feed, "traded_per_bar", {}) or {}
    out = {}
    for i, t in enumerate(feed.tickers):
        filled = plan.fill.filled_per_minute(float(training.test_prices[i]))
        out[t] = filled * minutes / traded[t] if filled is not None and traded.get(t) else None
    return out


def _config_doc(plan: Plan, book_size: float, participation: dict | None = None) -> dict:
    """``Result.config``: the declared configuration, and what Python objects given in its place resolved to."""
    doc = plan.cfg.to_dict()
    if plan.given.game is not None:
        doc["game"] = plan.given.game.to_dict()
    if plan.given.indicators is not None:
        doc["indicators"] = {**doc["indicators"], "name": plan.indicators[0].name, "name_b": plan.indicators[1].name}
    doc["run"] = {**doc["run"], "strategies": list(plan.names)}
    doc["resolved"] = {"noise": plan.noise.to_dict(), "fill": plan.fill.to_dict(),
                       "supply": None if plan.supply is None else plan.supply.to_dict(), "book_size": book_size,
                       "participation": participation or {}}
    return doc


def _flag(m: dict, name: str = "") -> None:
    """Reasons not to read a metric as a plain number (``flags``)."""
    m.setdefault("flags", {}).update(verdict.metric_flags(m, name in registered(derived=True)))


def _training_rounds(feed, t0: int, train_end: int, bar: Progress, chunk: int, info: InfoTraining | None = None,
                     threads: int | None = 1):
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
        added = lanes.start(lambda x=x, y=y, r=rd["returns"], e=extra: add(x, y, r, e), hi - lo)
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


def _typical_age(supply: BellPairSupply, t0: int, n_train: int, seed: int, chunk: int) -> float:
    """Mean age of the pairs a supply delivers over the training window (its own random stream)."""
    state = SupplyState(supply)
    ages, used = 0.0, 0
    for k, lo in enumerate(range(t0, t0 + n_train, chunk)):
        n = min(chunk, t0 + n_train - lo)
        has, age = state.schedule(lo, n, streams.rng(seed, "supply:training", k))
        ages += float(age[has].sum())
        used += int(has.sum())
    return ages / used if used else supply.herald_delay  # no pair used: the youngest a pair can be


def _refit(feed: ArrayFeed, game: Game | None, noise: Noise, names, delay: int, start: int, n_train: int,
           exposure: float, device=None):
    """Walk-forward re-fit on the ``n_train`` rounds before ``start`` (indicator thresholds included); with
    ``game`` None the hedge game is re-fitted on that window."""
    feed.fit_indicators(start - n_train, start)
    x, y = feed.inputs(start - n_train, start)
    hedge = None
    if game is None:
        cells = CellSums()
        cells.add(x, y, feed.round_data(start - n_train, start)["returns"])
        hedge = HedgeFit.fit(cells.stats(), exposure)
    return fit(game, x, y, noise, delay if "delayed_comm" in names else None, hedge, device)
