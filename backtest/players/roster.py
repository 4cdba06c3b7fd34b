"""The strategies a backtest compares, fitted on the training window.

Local (no communication, built from ``strategies``): ``uncoordinated``, ``always_hedge`` (the constant
relation that was better on the training window), ``classical`` (optimum for the training p(x,y)),
``quantum`` (angles for the training p(x,y) and the configured noise; rounds without a Bell pair fall back
to ``classical``), and by name ``textbook``, ``follow_indicator``, or any ``strategies.Strategy``. On derived
information (``backtest.players.information``, when the readings persist): ``history`` (the best rule on a server's own
last readings), ``classical_levels`` and ``quantum_levels`` (the smoothed K-level indicator, one measurement
direction per level); each server's derived input comes from its own readings only. Benchmarks that break the
no-communication rule on purpose: ``oracle`` (knows both indicators), ``regime_oracle`` (knows the true correlation
sign; synthetic data), ``talk`` (the servers exchange their inputs over the venues' fastest classical path: the
oracle's information where a message arrives before the decision on the run's clock, the best local rule where it
never does), ``delayed_comm`` (decides at once, knowing the partner's indicator from the rounds a message misses,
``delay``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ..._jit import njit

from ...strategies import (
    Game,
    Noise,
    Solution,
    Strategy,
    best_constant,
    certify,
    deterministic,
    empirical_p_xy,
    follow_indicator,
    is_local,
    play_checked,
    play_rounds,
    plays_user_code,
    solve,
    uncoordinated,
)

from ...strategies.isolation import MIN_CHECK_ROUNDS

from ..errors import BacktestError

if TYPE_CHECKING:  # annotations only: the fit's parts are built by their own modules
    from ...strategies.aged import AgedPlay
    from .hedge import HedgeFit
    from .information import InfoFit


@dataclass
class RoundChunk:
    """A run of consecutive rounds: inputs, the returns they earn, what the benchmarks may know."""

    start: int  # absolute row of the first round
    x: np.ndarray
    y: np.ndarray
    returns: np.ndarray  # (n, 2) simple returns of the round
    price_change: np.ndarray | None  # (n, 2) P[t] - P[t-1], currency per share (when the fill model uses it)
    negative: np.ndarray | None  # true correlation sign of the round is negative (synthetic truth)
    x_delayed: np.ndarray | None  # x of round t - delay (delayed_comm)
    y_delayed: np.ndarray | None
    half_spread: np.ndarray | None = None  # (n, 2) half the quoted spread at decision time
    price: np.ndarray | None = None  # (n, 2) share price at decision time (when the fill model uses it)
    channels: dict | None = None  # derived inputs by history rule name: (A's from x, B's from y)

    def __len__(self) -> int:
        return self.x.size


class Player:
    name = "player"
    uses_pairs = False
    communicates = False  # a benchmark that breaks the no-communication rule on purpose

    def decide(self, chunk: RoundChunk, rng: np.random.Generator, pairs=None):
        """(a, b, rounds that consumed a Bell pair or None, their ages or None)."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name}

    def strategies(self) -> list[Strategy]:
        """The no-communication strategies this player plays (certified before the test window)."""
        return []


class LocalPlayer(Player):
    """A strategy without communication. After certification ``strategy`` is the certified copy; when its rules
    are user code every chunk it plays is checked by replay (``strategies.nosignal.play_checked``)."""

    def __init__(self, name: str, strategy: Strategy):
        self.name, self.strategy = name, strategy
        self.checked = False  # set by certify_players for user rules

    def decide(self, chunk, rng, pairs=None):
        if self.checked:
            a, b = play_checked(
                self.name, self.strategy, chunk.x, chunk.y, rng, chunk=f"a chunk of {len(chunk)} rounds played"
            )
        else:
            a, b = play_rounds(self.strategy, chunk.x, chunk.y, rng)
        return a, b, None, None

    def strategies(self) -> list[Strategy]:
        return [self.strategy]

    def describe(self) -> dict:
        return self.strategy.describe() | {"name": self.name}


class QuantumPlayer(Player):
    """The fitted quantum strategy on rounds that have a pair, the classical one otherwise. With ``aged`` (a
    ``strategies.aged.AgedPlay``: a link's pairs carry their age) each pair is measured with the settings re-aimed for
    its age instead."""

    def __init__(self, name: str, quantum: Strategy, fallback: Strategy, aged=None):
        self.name, self.quantum, self.fallback, self.aged = name, quantum, fallback, aged
        self.uses_pairs = quantum.quantum or aged is not None

    def decide(self, chunk, rng, pairs=None):
        if not self.uses_pairs:  # entanglement does not help here: the fitted strategy is the classical rule
            a, b = play_rounds(self.quantum, chunk.x, chunk.y, rng)
            return a, b, None, None
        if pairs is None:  # unlimited fresh pairs, stored for the noise model's storage time
            a, b = play_rounds(self.quantum, chunk.x, chunk.y, rng)
            return a, b, np.ones(len(chunk), dtype=bool), None
        has, age = pairs
        a = np.empty(len(chunk), dtype=np.uint8)
        b = np.empty(len(chunk), dtype=np.uint8)
        if self.aged is not None:  # both nodes know the pair's age from its herald: settings re-aimed for it
            a[has], b[has] = self.aged.play(chunk.x[has], chunk.y[has], age[has], rng, self.fallback)
        else:
            a[has], b[has] = play_rounds(self.quantum, chunk.x[has], chunk.y[has], rng, ages=age[has])
        a[~has], b[~has] = play_rounds(self.fallback, chunk.x[~has], chunk.y[~has], rng)
        return a, b, has, age

    def strategies(self) -> list[Strategy]:
        return [self.quantum, self.fallback, *(self.aged.strategies() if self.aged is not None else ())]

    def describe(self) -> dict:
        out = self.quantum.describe() | {"name": self.name, "fallback": self.fallback.describe()}
        return out if self.aged is None else out | {"age_table": self.aged.describe()}


class ChannelPlayer(Player):
    """A player that decides on derived inputs (``backtest.players.history``): each server's from its own readings."""

    def __init__(self, name: str, rule, inner: Player):
        self.name, self.rule, self.inner = name, rule, inner
        self.uses_pairs = inner.uses_pairs

    def decide(self, chunk, rng, pairs=None):
        x, y = chunk.channels[self.rule.name]
        return self.inner.decide(dataclasses.replace(chunk, x=x, y=y), rng, pairs)

    def strategies(self) -> list[Strategy]:
        return self.inner.strategies()

    def describe(self) -> dict:
        return self.inner.describe() | {"name": self.name, "information": self.rule.describe()}


class OraclePlayer(Player):
    """Communicates: both servers know (x, y) and play the best joint output with the fewest changes of quoting
    order: A keeps one side (ask first) every round and B plays the relation, so only B switches, and only when
    the best relation changes. Under any fill model that charges changes of order this is the cheapest way to win
    every round, which makes it an upper bound for strategies without communication when the game is the whole
    book. Where the fill model carries state from round to round (inventory), the book pays more than the game: the
    oracle then also knows both servers' carried state and plays the fill model's own objective
    (``FillModel.steer``, with ``moments``: E[r_X^2], E[r_Y^2], E[r_X r_Y] per input cell on the training
    window)."""

    name = "oracle"
    communicates = True

    def __init__(self, game: Game, moments: np.ndarray | None = None):
        self.game, self.moments = game, moments

    def describe(self) -> dict:
        return {
            "name": self.name,
            "objective": "wins every round of the fitted game; where the fill model carries "
            "inventory, minimises each round's expected squared book P&L knowing "
            "both inventories",
        }

    def decide(self, chunk, rng, pairs=None):
        a = np.zeros(len(chunk), dtype=np.uint8)
        return a, self.game.target(chunk.x, chunk.y).astype(np.uint8), None, None


class RegimeOraclePlayer(Player):
    """Knows the true correlation sign of the round and hedges it (synthetic data only): equal biases when
    the correlation is negative, opposite ones otherwise (in the game's labels)."""

    name = "regime_oracle"
    communicates = True

    def __init__(self, game: Game):
        self.flip = np.uint8(game.rule == "challenge")  # the challenge labels swap which relation hedges

    def decide(self, chunk, rng, pairs=None):
        # A keeps one side, as the oracle does: the fewest changes of order that hedge the regime every round
        a = np.zeros(len(chunk), dtype=np.uint8)
        opposite = np.logical_not(chunk.negative).view(np.uint8)
        return a, opposite ^ self.flip, None, None


class TalkPlayer(Player):
    """The servers talk over the venues' fastest classical path. Where a message arrives before a server must decide
    (the run's clock: ``feed.clock.Clock.can_talk``), each server knows both inputs and plays the oracle's output;
    where it never arrives in time, each plays the best local rule, the fitted classical optimum."""

    name = "talk"
    communicates = True

    def __init__(self, game: Game, local: Strategy, in_time: bool):
        self.game, self.local, self.in_time = game, local, in_time

    def decide(self, chunk, rng, pairs=None):
        if self.in_time:  # the oracle's information, played as the oracle plays it (the fewest changes of order)
            return np.zeros(len(chunk), dtype=np.uint8), self.game.target(chunk.x, chunk.y).astype(np.uint8), None, None
        a, b = play_rounds(self.local, chunk.x, chunk.y, rng)
        return a, b, None, None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "in_time": self.in_time,
            "plays": "the oracle's information" if self.in_time else "the best local rule (classical)",
        }


class DelayedCommPlayer(Player):
    """A decides a = f(x_t, y_{t-delay}), B decides b = g(y_t, x_{t-delay}); f and g fitted on training."""

    name = "delayed_comm"
    communicates = True

    def __init__(self, f: np.ndarray, g: np.ndarray, delay: int, value: float):
        self.f, self.g, self.delay, self.value = f.astype(np.uint8), g.astype(np.uint8), delay, value

    def decide(self, chunk, rng, pairs=None):
        a = self.f[chunk.x.astype(np.intp) * 2 + chunk.y_delayed]
        b = self.g[chunk.y.astype(np.intp) * 2 + chunk.x_delayed]
        return a, b, None, None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "delay": self.delay,
            "A": self.f.tolist(),
            "B": self.g.tolist(),
            "training_value": self.value,
        }


def fit_delayed(game: Game, x: np.ndarray, y: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Best rules a = f(x_t, y_{t-L}), b = g(y_t, x_{t-L}) on training inputs, over all 16 x 16 rule pairs.

    Returns (f, g, training value); f is indexed by x*2 + y_{t-L}, g by y*2 + x_{t-L}.
    """
    if x.size <= delay:
        raise BacktestError(f"delayed_comm: the training window ({x.size} rounds) is not longer than delay={delay}")
    p = _delayed_cells(x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False), delay) / (x.size - delay)
    cx, cyd, cy, cxd = (np.array(c) for c in zip(*itertools.product((0, 1), repeat=4)))  # the 16 cells
    rules = np.array(list(itertools.product((0, 1), repeat=4)))  # 16 functions of (own bit, delayed partner bit)
    a = rules[:, cx * 2 + cyd]  # [f, cell]
    b = rules[:, cy * 2 + cxd]  # [g, cell]
    o = a[:, None, :] ^ b[None, :, :]  # [f, g, cell]
    values = (game.table[cx, cy][np.arange(16), o] * p).sum(axis=2)
    fi, gi = np.unravel_index(int(np.argmax(np.round(values, 12))), values.shape)
    return rules[fi], rules[gi], float(values[fi, gi])


@njit(cache=True, nogil=True)
def _delayed_cells(x, y, delay):  # pragma: no cover - compiled
    """Rounds per cell (x_t, y_(t-delay), y_t, x_(t-delay)), cell index 8 x_t + 4 y_(t-delay) + 2 y_t + x_(t-delay):
    one pass, where four passes of byte arithmetic and a bincount took 35 ms of a 5e6-round fit."""
    counts = np.zeros(16, dtype=np.int64)
    for t in range(delay, x.size):
        c = 8 * x[t] + 4 * y[t - delay] + 2 * y[t] + x[t - delay]
        if c > 15:
            raise ValueError("delayed_comm: inputs must be bits (0 or 1)")
        counts[c] += 1
    return counts


@dataclass
class GameFit:
    """What was learned on a training window: the game played (the fitted hedge game, or a given one),
    its solution, the constant relation, delayed_comm's rules, and the hedge fit when there is one."""

    p_xy: np.ndarray
    game: Game
    solution: Solution
    constant: tuple[tuple[int, int], tuple[int, int]]
    delayed: tuple[np.ndarray, np.ndarray, float] | None
    delay: int | None
    n_train: int
    noise: Noise
    hedge: HedgeFit | None = None
    information: InfoFit | None = None  # history rules and the smoothed K-level indicator
    aged: AgedPlay | None = None  # a link's settings re-aimed for each pair's age
    moments: np.ndarray | None = None  # E[r_X^2], E[r_Y^2], E[r_X r_Y] per input cell (rows): the oracle's objective

    def game_dict(self) -> dict:
        s = self.solution
        out = {
            **s.to_dict(),
            "n_train": self.n_train,
            "constant_rule": {"A": list(self.constant[0]), "B": list(self.constant[1])},
        }
        if self.hedge is not None:
            out["hedge"] = self.hedge.to_dict(s)
        return out


def fit(game: Game, x: np.ndarray, y: np.ndarray, noise: Noise, delay: int | None, hedge=None, device=None) -> GameFit:
    """GameFit the game statistics and strategies on training inputs; with ``hedge`` (a HedgeFit of the
    same rounds) the game is its fitted hedge game; with ``device`` (strategies.devices.Device) the
    directions are fitted to the Bell pair that device prepares."""
    p = empirical_p_xy(x, y) if hedge is None else hedge.p_xy
    if hedge is not None:
        game = hedge.game
    solution = solve(game, p, noise, device=device)
    _, constant = best_constant(game, p)
    delayed = fit_delayed(game, x, y, delay) if delay else None
    return GameFit(p, game, solution, constant, delayed, delay, x.size, noise, hedge)


@dataclass
class Context:
    """What a player factory may use besides the fit: the sampler, and whether the feed knows the true regime."""

    backend: str = "exact"
    aer_backend: object = None
    has_truth: bool = False
    can_talk: bool = False  # a message between the venues arrives before the decision (the run's clock)


def _quantum(name: str, game_fit: GameFit, ctx: Context) -> Player:
    s = game_fit.solution
    return QuantumPlayer(
        name,
        s.quantum_strategy(backend=ctx.backend, aer_backend=ctx.aer_backend),
        s.classical_strategy(),
        aged=game_fit.aged,
    )


def _delayed(name: str, game_fit: GameFit, ctx: Context) -> Player:
    if game_fit.delayed is None or game_fit.delay is None:
        raise BacktestError("delayed_comm needs a delay of at least 1 round")
    f, g, value = game_fit.delayed
    return DelayedCommPlayer(f, g, game_fit.delay, value)


def _history(name: str, game_fit: GameFit, ctx: Context) -> Player | None:
    info = game_fit.information
    if info is None or info.history is None:
        return None
    assert info.history_rule is not None  # fitted with the rule
    return ChannelPlayer(name, info.history, LocalPlayer(name, deterministic(*info.history_rule, name=name)))


def _levels(name: str, game_fit: GameFit, ctx: Context) -> Player | None:
    info = game_fit.information
    if info is None or info.levels is None:
        return None
    s = info.levels_solution
    assert s is not None  # fitted with the levels
    if name == "classical_levels":
        return ChannelPlayer(name, info.levels, LocalPlayer(name, s.classical_strategy(name)))
    inner = QuantumPlayer(
        name,
        s.quantum_strategy(backend=ctx.backend, name=name, aer_backend=ctx.aer_backend),
        s.classical_strategy(name),
    )
    return ChannelPlayer(name, info.levels, inner)


Factory = Callable[[str, "GameFit", "Context"], "Player | None"]  # None: the strategy does not apply to this feed


@dataclass(frozen=True)
class Registered:
    """A strategy in the registry: how to build its player from a fit, and what it is.

    ``communicates``: a benchmark that breaks the no-communication rule on purpose (never quantum's opponent);
    ``entangled``: plays measurements on Bell pairs; ``derived``: plays on information derived from each server's
    own past readings (history rules, the K-level indicator); ``default``: runs unless ``--strategies`` says
    otherwise; ``required``: always runs (hedging efficiency is measured between the required two)."""

    build: Factory
    communicates: bool = False
    entangled: bool = False
    derived: bool = False
    default: bool = True
    required: bool = False

    @property
    def local(self) -> bool:
        return not self.communicates


# In the order results list them.
PLAYERS: dict[str, Registered] = {
    "uncoordinated": Registered(lambda name, f, ctx: LocalPlayer(name, uncoordinated()), required=True),
    "always_hedge": Registered(lambda name, f, ctx: LocalPlayer(name, deterministic(*f.constant, name=name))),
    "classical": Registered(lambda name, f, ctx: LocalPlayer(name, f.solution.classical_strategy())),
    "history": Registered(_history, derived=True),
    "classical_levels": Registered(_levels, derived=True),
    "quantum": Registered(_quantum, entangled=True),
    "quantum_levels": Registered(_levels, entangled=True, derived=True),
    "textbook": Registered(
        lambda name, f, ctx: QuantumPlayer(
            name, f.solution.textbook_strategy(backend=ctx.backend), f.solution.classical_strategy()
        ),
        entangled=True,
        default=False,
    ),
    "follow_indicator": Registered(lambda name, f, ctx: LocalPlayer(name, follow_indicator()), default=False),
    "oracle": Registered(lambda name, f, ctx: OraclePlayer(f.game, f.moments), communicates=True, required=True),
    "regime_oracle": Registered(
        lambda name, f, ctx: RegimeOraclePlayer(f.game) if ctx.has_truth else None, communicates=True
    ),
    "talk": Registered(
        lambda name, f, ctx: TalkPlayer(f.game, f.solution.classical_strategy(name), ctx.can_talk), communicates=True
    ),
    "delayed_comm": Registered(_delayed, communicates=True),
}


def register(name: str, build: Factory, **meta) -> None:
    """Add a strategy to the registry (``meta``: ``Registered``'s flags); it then runs by name like a built-in."""
    if name in PLAYERS:
        raise BacktestError(f"strategy {name!r} is registered already")
    PLAYERS[name] = Registered(build, **meta)


def names(**flags) -> tuple[str, ...]:
    """Registered names whose flags have the given values, in registry order: ``names(communicates=True)``."""
    return tuple(n for n, r in PLAYERS.items() if all(getattr(r, k) == v for k, v in flags.items()))


DEFAULT_STRATEGIES = names(default=True)


def strategy_factory(strategy: Strategy):
    """A user's ``strategies.Strategy`` as a player factory: it goes through the same door as the built-ins."""
    return lambda name, game_fit, ctx: LocalPlayer(name, strategy)


def build_players(
    names,
    custom: dict[str, Strategy],
    game_fit: GameFit,
    backend: str,
    *,
    has_truth: bool,
    aer_backend=None,
    can_talk: bool = False,
) -> list[Player]:
    """Players for the requested strategy names (in order) from a fit; ``custom`` strategies by name first."""
    registry = {**{n: r.build for n, r in PLAYERS.items()}, **{name: strategy_factory(s) for name, s in custom.items()}}
    ctx = Context(backend, aer_backend, has_truth, can_talk)
    players: list[Player] = []
    for name in names:
        factory = registry.get(name)
        if factory is None:
            raise BacktestError(f"unknown strategy {name!r}; choose from {', '.join(PLAYERS)}")
        player = factory(name, game_fit, ctx)
        if player is not None:
            players.append(player)
    return players


def is_classical_local(player: Player, custom: dict) -> bool:
    """A no-communication strategy that uses no entanglement (quantum's fair opponents); a user's strategy by the
    physics of its certified resource (``strategies.nosignal.is_local``), never by what it calls itself."""
    if player.name in custom:
        return isinstance(player, LocalPlayer) and is_local(player.strategy)
    reg = PLAYERS.get(player.name)
    return reg is not None and reg.local and not reg.entangled


def resource_classes(players: list[Player], custom: dict) -> dict[str, str]:
    """Each player without communication that decides on the round's own readings, by the class of its resource:
    "local" (``is_classical_local``) or "quantum" (entangled, or a user's nonlocal table); players on derived
    information (history rules, the K-level indicator) are left out (their inputs are not the run's bits)."""
    out = {}
    for p in players:
        reg = PLAYERS.get(p.name)
        if p.communicates or isinstance(p, ChannelPlayer) or (reg is not None and reg.derived):
            continue
        out[p.name] = "local" if is_classical_local(p, custom) else "quantum"
    return out


def certify_players(
    players: list[Player],
    game_fit: GameFit,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    timeout: float | None = None,
) -> None:
    """Refuse any no-communication player whose strategy could signal or beats quantum correlations
    (``strategies.certify``: declared resource table, the quantum set, and the checked play of the training inputs);
    a user's rules then run in their own servers' workers (``timeout``: seconds a rule may take on one chunk)."""
    for player in players:
        for strategy in player.strategies():
            certified = certify(player.name, strategy, game_fit.game, game_fit.p_xy, x, y, rng, timeout)
            if isinstance(player, LocalPlayer) and certified is not strategy:
                player.strategy, player.checked = certified, plays_user_code(certified)


def keep_certified(players: list[Player], before: list[Player]) -> list[Player]:
    """A refit's players, with every user strategy's certified player kept (its rules' state lives on in their
    workers; a new player would hold the user's objects uncertified)."""
    certified = {p.name: p for p in before if isinstance(p, LocalPlayer) and p.checked}
    return [certified.get(p.name, p) for p in players]


def check_chunk_rounds(custom: dict, chunk_rounds: int) -> None:
    """Refuse a ``chunk_rounds`` too small for the checked play of user rules (every chunk is replayed with the
    partner's inputs rotated: a chunk of one round has no other round to take them from)."""
    user = [name for name, s in custom.items() if plays_user_code(s)]
    if user and chunk_rounds < MIN_CHECK_ROUNDS:
        raise BacktestError(
            f"chunk_rounds = {chunk_rounds} is too small for the checked play of user strategies "
            f"({', '.join(user)}): every chunk is replayed with the partner's inputs moved to other "
            f"rounds, which needs at least {MIN_CHECK_ROUNDS} rounds a chunk"
        )
