"""A user's rules in their own processes, and the checked play: every chunk's real play is one of the checked plays.

Each user rule runs in a worker process of its own server (``strategies.sandbox``): ``RemoteRule`` is the engine's
proxy for it, holding only plain facts the worker reported when the rule arrived (its input levels, its declared
settings and output table for describing it) and a connection. The rule's state lives in its worker, from chunk to
chunk; the engine never touches the user's object again.

**The checked play of a chunk** (``checked_play``), drawn in secret from the strategy's own random stream:

- which party goes *first* in the real play (its outcome is drawn from the resource's table by inverse CDF of a
  uniform, so it depends on its own setting only; the partner's is drawn given it);
- four plays of the chunk, in a secret order, each on its own copy of the rules' state before the chunk: the
  *real* play (x, y); a replay with the first party's inputs and uniforms and the partner's inputs rotated; and a
  pair of replays with the other party first, on (x, y) and with its partner's inputs rotated. The rotation is by
  a random offset between a quarter and three quarters of the chunk, so every round gets a far-away round's input;
- the first party's settings and outputs in the real play must equal its own in the replay, round by round (its
  inputs, outcomes and state are the same there; only the partner's inputs moved); the other party's likewise
  between its two replays. Otherwise the strategy signals and the run stops;
- the plays run one after the other, both servers in step (settings, the table sampled, outputs), so whatever
  one rule leaves for the other (a file, a socket) carries that play's inputs to that play;
- the worker keeps the real play's copy as the rule's state for the next chunk, and learns which one that was only
  after the chunk's outputs are in.

A rule cannot tell the real play from a replay: each is a copy of the same state, given its own inputs (and outcomes
with the same marginals), with numpy's and Python's global generators seeded alike and ``time.time()`` reading the
same instant (the chunk's wall-clock time, the same on both servers: a rule that draws from a synchronised clock
is using shared randomness, which is legal). Over the chunks each party's real play is compared about half the
time, the secret draw deciding which, and every chunk compares both parties' replays.
"""

from __future__ import annotations

import time

import numpy as np

from . import kernels, sandbox
from .errors import StrategyError
from .strategy import BITS

MIN_CHECK_ROUNDS = 64  # a chunk_rounds below this is refused when user rules play (backtest.players.roster)


class SignallingError(StrategyError):
    """A strategy could signal, or its resource is stronger than quantum mechanics allows."""


# -- in the worker ----------------------------------------------------------------------------------------------------
def _as_small_ints(values, n: int, what: str) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype == np.uint8 and v.shape == (n,):
        return v
    if v.shape != (n,) or (v.size and (v.dtype.kind not in "biu" or v.min() < 0 or v.max() > 255)):
        raise ValueError(
            f"returned {what} of shape {v.shape} and dtype {v.dtype}; it must give one small "
            f"non-negative integer per round ({n})"
        )
    return v.astype(np.uint8, copy=False)


def _w_rule_load(held: dict, payload: bytes):
    import cloudpickle

    rule = sandbox.user_call(held, "unpickling", cloudpickle.loads, payload)
    held["live"], held["copies"], held["xs"] = rule, None, None
    levels = sandbox.user_call(held, "levels", lambda: rule.levels)
    settings = sandbox.user_call(held, "settings", lambda: getattr(rule, "settings", None))
    outputs = sandbox.user_call(held, "outputs", lambda: getattr(rule, "outputs", None))

    def plain(rows):
        try:
            return [[int(v) for v in r] for r in rows]
        except (TypeError, ValueError):
            return None

    return {
        "levels": int(levels),
        "settings": None if settings is None else [int(s) for s in settings],
        "outputs": None if outputs is None else plain(outputs),
    }, []


def _w_rule_setting(held: dict, begin, j: int, x, seed: int, clock: float):
    """Play ``j`` of a chunk, its settings. ``begin``: (copy to keep from the last chunk or None, plays) at a chunk's
    first play: the rule's state becomes the kept copy and each play gets a fresh copy of it."""
    if begin is not None:
        keep, plays = begin
        if keep is not None and held["copies"] is not None:
            held["live"] = held["copies"][keep]
        held["copies"] = sandbox.deep_copies(held, held["live"], plays)
        held["xs"] = [None] * plays
    held["xs"][j] = x  # this play's own array (it arrived in a buffer of its own): the rule may keep or change it
    sandbox.fresh_clock_and_seed(seed, clock)
    s = sandbox.user_call(held, "setting", held["copies"][j].setting, x)
    return None, [_as_small_ints(s, x.size, "settings")]


def _w_rule_output(held: dict, j: int, o, seed: int, clock: float):
    x = held["xs"][j]
    sandbox.fresh_clock_and_seed(seed + 1, clock)
    o = np.zeros(x.size, dtype=np.uint8) if o is None else o
    a = sandbox.user_call(held, "output", held["copies"][j].output, x, o)
    return None, [_as_small_ints(a, x.size, "outputs")]


def _w_rule_probe(held: dict, x):
    """The largest setting the rule chooses on ``x``, on a copy (its state does not advance)."""
    rule = sandbox.deep_copies(held, held["live"], 1)[0]
    sandbox.fresh_clock_and_seed(0, time.time())
    s = _as_small_ints(sandbox.user_call(held, "setting", rule.setting, np.array(x)), x.size, "settings")
    return int(s.max(initial=0)), []


def _w_joint(held: dict, payload: bytes, n_a: int, n_b: int):
    import cloudpickle

    resource = sandbox.user_call(held, "unpickling", cloudpickle.loads, payload)
    table = np.asarray(sandbox.user_call(held, "joint", resource.joint, n_a, n_b))
    if table.dtype.kind not in "biuf" or table.ndim != 4 or table.size > 1 << 20:
        raise ValueError(
            f"joint() returned an array of shape {table.shape} and dtype {table.dtype}; it must be "
            "(settings A, settings B, outcomes A, outcomes B) probabilities"
        )
    kind = sandbox.user_call(held, "kind", lambda: getattr(resource, "kind", None))
    return {"kind": str(kind) if isinstance(kind, str) else type(resource).__name__}, [table.astype(float)]


# -- in the engine ----------------------------------------------------------------------------------------------------
def read_table(name: str, resource, n_a: int, n_b: int, timeout: float | None = None) -> tuple[np.ndarray, str]:
    """A user resource's ``joint(n_a, n_b)`` and what it calls itself, read once in a worker of its own (the
    resource's code never runs in the engine)."""
    w = sandbox.Worker(f"strategy {name!r}: its resource", timeout)
    try:
        value, (table,) = w.call(_w_joint, sandbox.dumps(resource), n_a, n_b, what="joint", limits=[1 << 20])
    finally:
        w.close()
    return table, value["kind"]


class RemoteRule:
    """The engine's proxy for a user rule running in its own server's worker (module docstring). Not engine-owned:
    a strategy holding one plays through the checked play."""

    def __init__(self, name: str, side: str, rule, timeout: float | None = None):
        self.name, self.side = name, side
        self.worker = sandbox.Worker(f"strategy {name!r}: server {side}'s rule", timeout, kind="rule")
        prof, _ = self.worker.call(_w_rule_load, sandbox.dumps(rule), what="unpickling")
        levels = prof.get("levels") if isinstance(prof, dict) else None
        if not isinstance(levels, int) or not 2 <= levels <= 8:
            self.worker.close()
            raise StrategyError(
                f"strategy {name!r}: server {side}'s rule reads {levels!r} input levels; it must be 2 to 8"
            )
        self.levels = levels
        self.settings = tuple(prof["settings"]) if prof.get("settings") is not None else (0,) * levels
        self.outputs = tuple(tuple(r) for r in prof["outputs"]) if prof.get("outputs") else ()
        self.keep: int | None = None  # the copy that becomes the rule's state at the next request

    def start_setting(self, begin: int | None, j: int, x, seed: int, clock: float) -> None:
        """Send play ``j``'s inputs (``begin``: the chunk's number of plays, at its first play)."""
        self.worker.send(
            _w_rule_setting, None if begin is None else (self.keep, begin), j, x, seed, clock, what="setting"
        )
        if begin is not None:
            self.keep = None

    def start_output(self, j: int, o, seed: int, clock: float) -> None:
        self.worker.send(_w_rule_output, j, o, seed, clock, what="output")

    def done(self, n: int) -> np.ndarray:
        return self.worker.receive([n])[1][0]

    def probe(self, x: np.ndarray) -> int:
        return int(self.worker.call(_w_rule_probe, x, what="setting")[0])

    # a single unchecked play (``Strategy.play`` on a certified strategy outside the engine)
    def setting(self, x: np.ndarray) -> np.ndarray:
        self.start_setting(1, 0, x, 0, time.time())
        self.keep = 0
        return self.done(x.size)

    def output(self, x: np.ndarray, outcome: np.ndarray) -> np.ndarray:
        self.start_output(0, outcome, 1, time.time())
        return self.done(x.size)

    def output_probabilities(self, n_outcomes: int) -> np.ndarray:
        raise StrategyError(
            f"strategy {self.name!r}: server {self.side}'s rule is code, not a table: it has no exact value"
        )

    def close(self) -> None:
        self.worker.close()


class _InProcess:
    """An engine-owned rule (a table, no state) played beside a remote one: the same interface, computed here."""

    def __init__(self, rule):
        self.rule, self.levels, self.xs, self.out = rule, rule.levels, {}, None

    def start_setting(self, begin, j, x, seed, clock):
        self.xs[j], self.out = x, np.asarray(self.rule.setting(x), dtype=BITS)

    def start_output(self, j, o, seed, clock):
        x = self.xs[j]
        self.out = np.asarray(self.rule.output(x, np.zeros(x.size, BITS) if o is None else o), dtype=BITS)

    def done(self, n):
        return self.out


def _server(rule):
    return rule if isinstance(rule, RemoteRule) else _InProcess(rule)


def _moved(x: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """The inputs rotated by a secret offset (every round gets a far-away round's input); a lone round is moved to
    the next level."""
    n = x.size
    if n == 1:
        return ((x.astype(np.int64) + 1) % levels).astype(BITS)
    lo, hi = (n // 4, 3 * n // 4) if n >= 4 else (1, n - 1)
    return np.roll(x, int(rng.integers(lo, hi + 1)))


def _check(name: str, side: str, what: str, real: np.ndarray, replay: np.ndarray, n: int, where: str) -> None:
    changed = np.flatnonzero(real != replay)
    if changed.size:
        partner = "B" if side == "A" else "A"
        raise SignallingError(
            f"strategy {name!r} signals: permuting only {partner}'s inputs changed {side}'s {what} in {changed.size} "
            f"of {n} rounds (first at round {int(changed[0])} of {where}), with the same randomness; {side}'s rule "
            "must depend on its own inputs, outcomes and state only (do the two rules share a file or a socket?)"
        )


def _bits(name: str, side: str, what: str, v: np.ndarray, n: int, limit: int) -> np.ndarray:
    if v.shape != (n,) or v.dtype != np.uint8 or (v.size and v.max() >= limit):
        raise StrategyError(
            f"strategy {name!r}: server {side}'s rule returned {what} outside 0..{limit - 1} or not one per round ({n})"
        )
    return v


def _sample(table: np.ndarray, first: str, s_a, s_b, u: np.ndarray):
    """(o_A, o_B) per round by inverse CDF of ``u``, party ``first``'s outcome drawn first (its outcome then depends
    on its own setting and ``u`` only)."""
    t, s1, s2 = (table, s_a, s_b) if first == "A" else (table.transpose(1, 0, 3, 2), s_b, s_a)
    rows, cols, k_major, k_minor = t.shape
    cum = np.cumsum(t.reshape(rows * cols, k_major * k_minor), axis=1)
    cum[:, -1] = 1.0
    major, minor = kernels.sample_cells(cum, s1, s2, cols, k_minor, u)
    return (major, minor) if first == "A" else (minor, major)


def checked_play(
    name: str, strategy, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, where: str, keep: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of a certified strategy with user rules, played as the module docstring says. ``keep``: False for a
    check that must leave the rules' state as it was (certification). Outputs (a, b), uint8."""
    n = x.size
    if n == 0:
        return np.zeros(0, BITS), np.zeros(0, BITS)
    servers = {"A": _server(strategy.rule_a), "B": _server(strategy.rule_b)}
    first = "A" if rng.random() < 0.5 else "B"
    other = "B" if first == "A" else "A"
    inputs = {"A": x, "B": y}
    moved = {"A": _moved(x, servers["A"].levels, rng), "B": _moved(y, servers["B"].levels, rng)}
    order = [int(k) for k in rng.permutation(4)]  # the secret order of the plays below
    seeds = {"A": int(rng.integers(0, 1 << 62)), "B": int(rng.integers(0, 1 << 62))}
    clock = time.time()
    shared = strategy.resource.joint(1, 1).shape[2:] != (1, 1)  # else every outcome is 0 (nothing shared)
    uniforms = (rng.random(n), rng.random(n)) if shared else (None, None)
    # play: (the party drawn first, its inputs kept, whether its partner's inputs move, uniforms)
    plays = [
        (first, False, uniforms[0]),
        (first, True, uniforms[0]),
        (other, False, uniforms[1]),
        (other, True, uniforms[1]),
    ]
    settings: list = [None] * 4
    outputs: list = [None] * 4
    for k, play in enumerate(order):
        lead, moves, u = plays[play]
        partner = "B" if lead == "A" else "A"
        xs = {lead: inputs[lead], partner: moved[partner] if moves else inputs[partner]}
        for side, srv in servers.items():
            srv.start_setting(4 if k == 0 else None, play, xs[side], seeds[side], clock)
        got = {side: _bits(name, side, "settings", srv.done(n), n, 256) for side, srv in servers.items()}
        settings[play] = got
        if shared:
            assert u is not None  # uniforms are drawn when the resource shares anything
            table = np.asarray(
                strategy.resource.joint(int(got["A"].max(initial=0)) + 1, int(got["B"].max(initial=0)) + 1), dtype=float
            )
            oa, ob = _sample(table, lead, got["A"], got["B"], u)
        else:
            oa = ob = None
        for side, srv, o in (("A", servers["A"], oa), ("B", servers["B"], ob)):
            srv.start_output(play, o, seeds[side], clock)
        outputs[play] = {side: _bits(name, side, "outputs", srv.done(n), n, 2) for side, srv in servers.items()}
    for side, real, replay in ((first, 0, 1), (other, 2, 3)):
        _check(name, side, "settings", settings[real][side], settings[replay][side], n, where)
        _check(name, side, "outputs", outputs[real][side], outputs[replay][side], n, where)
    for srv in servers.values():
        if isinstance(srv, RemoteRule):
            srv.keep = 0 if keep else None  # play 0 is the real one
    return outputs[0]["A"], outputs[0]["B"]
