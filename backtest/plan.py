"""A run's plan: every value object built and checked before any work, and the value objects the pipeline passes on.

``make_plan`` builds the checked value objects of a configuration (``Plan``); ``make_feed`` the feed of rounds and
``make_window`` the warm-up, training and test rows. ``Window`` and ``Training`` are what the engine's stages hand to
each other and to the result's assembly (``output.document``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ..data import EventPair, MarketData, SyntheticPair
from ..data.frequency import TRADING_DAYS
from ..strategies import Game, Noise, Strategy
from ..strategies.link import Link

from . import streams
from .config import MIN_ROUNDS, RunConfig
from .overrides import Given, check_device, check_link, check_real_source
from .errors import BacktestError
from .feed.clock import Clock, plan_clock
from .feed.feeds import ArrayFeed, StreamFeed
from .feed.indicators import NoisyRegime, NoisySignal, RecentMove, ReturnShock, copy_indicator, make_indicator
from .feed.isolated import is_builtin, isolate as isolated
from .players.roster import PLAYERS, GameFit, check_chunk_rounds, names as registered
from .players.supply import BellPairSupply, link_supply
from .fills.base import FillModel
from .book.lanes import default_threads

if TYPE_CHECKING:
    from .stats.cells import CellSums

MAX_ROUNDS = 10**11  # about seven hours of the streamed path at 4 M rounds/s on one core: beyond, nothing finishes
SYNTHETIC = (SyntheticPair, EventPair)  # sources drawn by the run (seeded by its seed), with a declared time step
TRADING_SECONDS = TRADING_DAYS * 6.5 * 3600.0  # a synthetic trading year: 252 sessions of 6.5 hours


def default_indicators(mode: str | None) -> tuple[str, dict]:
    """The indicator used when none is given: by source kind. On real prices it is purely local (each server reads
    its own stock only), so the two servers' bits differ and there is a coordination problem to solve: return_shock
    was chosen by measurement on the shipped panel (``benchmarks/default_indicator.py``: of the local indicators its
    bits are the most independent across servers and its distance to paying varies most between pairs)."""
    if mode == "signals":
        return NoisySignal.name, {}
    if mode == "regime":
        return NoisyRegime.name, {}
    if mode == "events":  # on a microsecond clock most bars are flat: whether one's own venue just moved
        return RecentMove.name, {}
    return ReturnShock.name, {}  # each with its declared defaults (``Indicator.Params``)


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
    order = list(names)
    for r in registered(required=True):  # hedging efficiency is measured between these
        if r not in order:
            order.insert(0 if r == "uncoordinated" else len(order), r)
    if len(set(order)) != len(order):
        raise BacktestError(f"strategies: duplicate names in {order}")
    return order, dict(custom)


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
    levels_indicators: tuple | None  # a K-level indicator pair (--levels-indicator), A's and B's
    link: Link | None  # the physical link the noise and supply were derived from (--link)
    clock: Clock  # the run's one clock (windows added once the rows are known: feed.clock.spanning)
    latency: int = 1  # rows before a server sees the partner's prices: the message's delay, in decisions
    delay: int = 1  # delayed_comm's delay, in decisions

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

    fit: GameFit
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


def make_plan(source, cfg: RunConfig, given: Given) -> Plan:
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
    rate, by = _declared_rate(supply, link, given)
    if source is None:
        source = _synthetic(cfg, run.seed, rate, link) if cfg.source.kind == "synthetic" else cfg.source.load()
    elif isinstance(source, str):
        if source not in ("signals", "regime", "events"):
            raise BacktestError(
                f"source must be a MarketData, a SyntheticPair, an EventPair, 'signals', 'regime' or "
                f"'events', got {source!r}"
            )
        source = _synthetic(cfg, run.seed, rate, link, mode=source)
    elif not isinstance(source, (MarketData, *SYNTHETIC)):
        raise BacktestError(
            f"source must be a MarketData, a SyntheticPair, an EventPair, 'signals', 'regime' or "
            f"'events', got {type(source).__name__}"
        )
    _check_rate(source, rate, by)
    mode = source.mode if isinstance(source, SYNTHETIC) else None
    if not isinstance(source, SYNTHETIC) and source.truth is None:
        check_real_source(given.paths, run.strategies)
    built = given.indicators if given.indicators is not None else cfg.indicators.build()
    isolate = partial(isolated, check=run.check_indicators, seed=run.seed, timeout=run.user_timeout)
    inds, user_flags = _indicator_pair(built, cfg.indicators.params, mode, isolate)
    levels_pair = (
        _levels_indicator_pair(cfg.indicators, isolate) if any(n in registered(derived=True) for n in names) else None
    )
    check_chunk_rounds(custom, run.chunk_rounds)
    clock = plan_clock(cfg.clock, source, link)
    latency = cfg.indicators.latency if cfg.indicators.latency is not None else clock.rounds_late
    delay = run.delay if run.delay is not None else clock.rounds_late
    return Plan(
        cfg,
        source,
        inds,
        user_flags,
        names,
        custom,
        game,
        noise,
        fill,
        supply,
        given,
        levels_pair,
        link,
        clock,
        latency,
        delay,
    )


def _declared_rate(supply, link, given) -> tuple[float | None, str | None]:
    """A decision rate (Hz) declared besides the data, and by whom: a Bell-pair supply's ``decision_rate``, or a
    link's ``link_decision_rate`` (set by the user, or by a preset: then only a default)."""
    if supply is not None and supply.decision_rate is not None and link is None:
        return float(supply.decision_rate), "--decision-rate"
    if link is not None and link.link_decision_rate is not None:
        by = "--link-decision-rate" if "link.link_decision_rate" in given.paths else "preset"
        return float(link.link_decision_rate), by
    return None, None


def _synthetic(cfg: RunConfig, seed: int, rate: float | None, link, mode: str | None = None):
    """The configured synthetic source; a decision rate declared elsewhere sets its step when its own is unset
    (one clock: the path's statistics per step are those of the step the decisions are taken at), and an event
    source's venues are the clock's, else the link's ends (one geography)."""
    src = cfg.source if mode is None else replace(cfg.source, mode=mode)
    step = None if rate is None or src.dt is not None or src.dt_s is not None else 1.0 / rate
    distance = cfg.clock.venue_distance_km
    if distance is None and link is not None:
        distance = link.straight_line_km
    return src.pair(seed, step_s=step, distance_km=distance)


def _check_rate(source, rate: float | None, by: str | None) -> None:
    """A decision rate declared besides the data must be the data's own: real data decides at its timestamps and
    a synthetic source at its step (a preset's rate is only a default, and gives way)."""
    if rate is None or by == "preset":
        return
    step = getattr(source, "step_seconds", None)
    if isinstance(source, SYNTHETIC) and step is not None and abs(step - 1.0 / rate) <= max(1e-9, 1e-9 * step):
        return  # the same step, to the clock's nanosecond
    own = (
        "its timestamps"
        if not isinstance(source, SYNTHETIC)
        else f"its step of {step:g} s"
        if step is not None
        else "its business days"
    )
    raise BacktestError(
        f"{by} {rate:g} contradicts the data's own clock (it decides at {own}): there is one clock; "
        f"drop {by}, or for a synthetic source set its step with it and leave dt unset"
    )


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


def make_feed(plan: Plan):
    """The feed of rounds (whole in memory, or streamed in chunks for long synthetic runs) and the source's
    description."""
    run, source, inds = plan.cfg.run, plan.source, plan.indicators
    latency, delay = plan.latency, plan.delay
    seeds = (streams.seed_of(run.seed, "indicator:A"), streams.seed_of(run.seed, "indicator:B"))
    lookback = max((i.lookback or 0) for i in inds + tuple(plan.levels_indicators or ()))
    if isinstance(source, SYNTHETIC):
        rounds = run.rounds
        if rounds < 2 * MIN_ROUNDS:
            raise BacktestError(f"rounds must be a whole number >= {2 * MIN_ROUNDS}, got {rounds!r}")
        if rounds > MAX_ROUNDS:
            raise BacktestError(
                f"rounds = {rounds:.3g} cannot finish: at most {MAX_ROUNDS:.0e} (about seven hours of "
                "the streamed path at 4 M rounds/s on one core)"
            )
        if latency > rounds or delay > rounds:  # before any row is drawn: these lengths size the feed
            raise BacktestError(
                f"latency ({latency} bars) and delay ({delay} rounds) must not exceed the run ({rounds} rounds)"
            )
        if lookback > rounds:  # e.g. --window 1e9: it would size the feed
            raise BacktestError(
                f"the indicators need {lookback} bars of history (window), more than the run ({rounds} rounds)"
            )
        n_rows = int(rounds) + 1 + lookback + latency + 1
        threads = run.threads or default_threads()  # for the synthetic blocks: the rows do not depend on it
        stream_ok = all(isinstance(i.lookback, (int, np.integer)) for i in inds) and run.refit_every is None
        feed: StreamFeed | ArrayFeed
        if n_rows > run.in_memory_rows and stream_ok:
            feed = StreamFeed(source, n_rows, inds, latency, seeds, run.chunk_rounds, threads)
        else:
            if n_rows > run.in_memory_rows and run.refit_every is not None:
                raise BacktestError(
                    f"refit_every needs the run in memory: at most {run.in_memory_rows} rows, got {n_rows}"
                )
            feed = ArrayFeed.from_pair(source, n_rows, inds, latency, seeds, threads)
        if plan.levels_indicators:
            feed.set_extra(plan.levels_indicators)
        return feed, {"kind": "synthetic", "mode": source.mode, "params": source.params()}
    rows = len(source.prices)
    if lookback + 2 * MIN_ROUNDS >= rows:
        raise BacktestError(
            f"the indicators need {lookback} bars of history (window), too many for the data "
            f"({rows} rows of {', '.join(source.tickers)})"
        )
    if latency + 2 * MIN_ROUNDS >= rows or delay >= rows:
        raise BacktestError(
            f"latency ({latency} bars) or delay ({delay} rounds) is too long for the data "
            f"({rows} rows of {', '.join(source.tickers)})"
        )
    feed = ArrayFeed.from_market(source, inds, latency, seeds)
    if plan.levels_indicators:
        feed.set_extra(plan.levels_indicators)
    return feed, dict(source.meta)


def make_window(plan: Plan, feed) -> Window:
    feed.price_changes = plan.fill.uses_prices
    t0 = feed.warmup()
    if isinstance(plan.source, SYNTHETIC):  # the run has exactly `rounds` rounds after warm-up
        n_total = min(int(plan.cfg.run.rounds), feed.n_rows - t0)
    else:
        n_total = feed.n_rows - t0
    n_train = int(plan.cfg.run.train_fraction * n_total)
    n_test = n_total - n_train
    if n_train < MIN_ROUNDS or n_test < MIN_ROUNDS:
        raise BacktestError(
            f"{n_total} rounds after a warm-up of {t0} rows leave {n_train} to train and {n_test} to "
            f"test; each needs at least {MIN_ROUNDS}"
        )
    if plan.cfg.run.refit_every is not None and feed.streamed:
        raise BacktestError("refit_every is not available on a streamed run")
    return Window(t0, n_total, n_train)
