"""``Book``: what the test window accumulates, chunk by chunk, for every strategy.

Per chunk of rounds each player decides, the fill model turns the decisions into each server's P&L, and
the book adds running sums (``risk.StrategyStats``), the equity curve at fixed marks, the first
``keep`` rounds round by round, the discordant rounds between quantum and each classical opponent, and
the co-movement sums per input cell of the test window. Memory does not grow with rounds beyond ``keep``.
"""

from __future__ import annotations

import math

import numpy as np
from ..._jit import njit

from ..fills.base import Market
from ..stats.cells import CellSums
from ..players.roster import RoundChunk, names as registered
from .lanes import Lanes
from .risk import StrategyStats

EQUITY_POINTS = 4000
BLOCKS = 500
_PER_ROUND = ("a", "b", "pnl_a", "pnl_b", "pnl", "utility", "inv_a", "inv_b")


def _col(a: np.ndarray | None, j: int) -> np.ndarray | None:
    return None if a is None else a[:, j]


def _joined(parts: list) -> np.ndarray | None:
    """The kept pieces as one array: the piece itself when there is one (a copy of 8 MB per series and strategy
    cost a fifth of a 10^7-round run), read-only either way."""
    if not parts:
        return None
    out = parts[0].view() if len(parts) == 1 else np.concatenate(parts)
    out.flags.writeable = False
    return out


class _Scratch:
    """One fill slot's scratch arrays by name, allocated at first use (a model asks only for those it writes) and
    handed out as views of the current chunk's length ``n``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.n = 0

    def __getitem__(self, key: str) -> np.ndarray:
        arr = self.arrays.get(key)
        if arr is None or arr.size < self.n:
            arr = self.arrays[key] = np.empty(self.n)
        return arr[: self.n]


class _Side:
    """One server's view of the scratch arrays: ``out["pnl"]`` is the scratch array "pnl_a" (or "pnl_b")."""

    def __init__(self, scratch: _Scratch, side: str):
        self.scratch, self.side = scratch, side

    def __getitem__(self, key: str) -> np.ndarray:
        return self.scratch[f"{key}_{self.side}"]


def _add(x, y, buf: _Scratch | None, key: str):
    """x + y, into a scratch array when there is one and the sum is per round."""
    if buf is None or (np.ndim(x) == 0 and np.ndim(y) == 0):
        return x + y
    return np.add(x, y, out=buf[key])


class Book:
    """Running results of the players over the test window ``[train_end, end)``."""

    def __init__(
        self,
        names: list[str],
        fill_model,
        book: float,
        rf_per_period: float,
        train_end: int,
        n_test: int,
        keep: int,
        classical_local: list[str],
        minutes: float = 1.0,
        threads: int | None = 1,
    ):
        self.minutes = minutes  # of quoting per round: fills are rates per minute
        self.lanes = Lanes(threads)
        self.fill_model, self.size, self.train_end, self.keep = fill_model, book, train_end, keep
        self.players: list = []  # the players of the last chunk (after any refit)
        self._pool: list[_Scratch] = []  # scratch arrays per fill slot (see _buffers)
        self.block_len = max(1, math.ceil(n_test / BLOCKS))
        n_blocks = math.ceil(n_test / self.block_len)
        self.stats = {n: StrategyStats(book, rf_per_period, n_blocks) for n in names}
        self.fill_state = {n: [fill_model.initial_state(), fill_model.initial_state()] for n in names}
        self.kept: dict[str, list] = {"x": [], "y": []}
        self.per: dict[str, dict[str, list[np.ndarray]]] = {n: {k: [] for k in _PER_ROUND} for n in names}
        self.stride = max(1, math.ceil(n_test / EQUITY_POINTS))
        self.equity_rounds: list[int] = []
        self.equity: dict[str, list[float]] = {n: [] for n in names}  # cumulative book P&L at equity_rounds
        # per quantum player (quantum, quantum_levels) and classical opponent: rounds only one of them hedged
        self.discordant = {q: {n: [0, 0] for n in classical_local} for q in registered(entangled=True) if q in names}
        self.test_cells = CellSums()
        self.end = train_end + n_test

    def add(self, chunk: RoundChunk, players, game, flip: int, rngs: dict, uniforms, pairs) -> None:
        """Play one chunk: every player decides, fills, and the sums are updated. The players' work runs on
        ``self.lanes`` (each player's decisions, fills and sums depend on its own stream and state only); what
        they give is combined here in the players' order, so the book is the same on any number of threads."""
        lo, n = chunk.start, len(chunk)
        x, y = chunk.x, chunk.y
        offset = lo - self.train_end
        take = max(0, min(n, self.keep - offset))
        if take:
            self.kept["x"].append(x[:take])
            self.kept["y"].append(y[:take])
        marks = np.arange((self.stride - 1 - offset) % self.stride, n, self.stride, dtype=np.int64)
        if lo + n == self.end and (marks.size == 0 or marks[-1] != n - 1):
            marks = np.append(marks, n - 1)
        self.equity_rounds.extend((lo + marks).tolist())
        table = game.table.ravel()
        lanes = self.lanes
        targets = lanes.start(
            lambda: self.test_cells.add_with_targets(x, y, chunk.returns, game.target_table().ravel(), flip), n
        )
        decided = lanes.map(lambda p: p.decide(chunk, rngs[p.name], pairs), players, n)
        fills = self._fills(players, decided, chunk, uniforms, take > 0)
        tgt, want = targets()

        # A player whose fill is an earlier one's, with the same pairs and the same running sums so far (classical and
        # always_hedge, oracle and regime_oracle often are), would add exactly what that one adds: it takes its sums.
        twin = [
            next(
                (
                    j
                    for j in range(i)
                    if fills[j] is fills[i]
                    and _same_pairs(decided[i], decided[j])
                    and self.stats[players[i].name].same_state(self.stats[players[j].name])
                ),
                None,
            )
            for i in range(len(players))
        ]
        first = [i for i in range(len(players)) if twin[i] is None]

        def account(i: int) -> np.ndarray:
            a, b, used, ages = decided[i]
            *_, pnl, parts = fills[i]
            return self.stats[players[i].name].add(
                pnl, a, b, x, y, tgt, want, table, offset, self.block_len, used, ages, marks, *parts
            )

        marked_by = dict(zip(first, lanes.map(account, first, n)))
        for i, j in enumerate(twin):
            if j is not None:
                self.stats[players[i].name].copy_state(self.stats[players[j].name])
                marked_by[i] = marked_by[j]
        for p, marked, (a, b, *_), (pnl_a, inv_a, pnl_b, inv_b, pnl, _) in zip(
            players, (marked_by[i] for i in range(len(players))), decided, fills
        ):
            self.equity[p.name].extend(marked.tolist())
            if take:
                d = self.per[p.name]
                util = game.utility(x[:take], y[:take], a[:take], b[:take])
                for key, v in zip(_PER_ROUND, (a, b, pnl_a, pnl_b, pnl, util, inv_a, inv_b)):
                    if v is not None:
                        d[key].append(v[:take])
        decisions = {p.name: d[:2] for p, d in zip(players, decided)}
        tallies = [
            (counts, decisions[q], decisions[name])
            for q, opponents in self.discordant.items()
            if q in decisions
            for name, counts in opponents.items()
        ]
        for (counts, _, _), (only_q, only_c) in zip(
            tallies, lanes.map(lambda t: discordant(*t[1], *t[2], tgt), tallies, n)
        ):
            counts[0] += only_q
            counts[1] += only_c

    def _buffers(self, slot: int, n: int) -> _Scratch:
        """Scratch arrays for the ``slot``-th fill computed in a chunk, reused from chunk to chunk: a fresh 8 MB
        array costs its page faults on first touch, more than the compiled loop that fills it. Chunks with kept
        rounds use fresh arrays instead (their per-round series keep views of them)."""
        while len(self._pool) <= slot:
            self._pool.append(_Scratch())
        self._pool[slot].n = n
        return self._pool[slot]

    def _fills(self, players, decided, chunk: RoundChunk, uniforms, fresh: bool) -> list:
        """Each player's fill of the chunk: (pnl_a, inv_a, pnl_b, inv_b, book pnl, (income, costs, assumed)).

        A player that ``steers`` (the oracle) plays on the fill model's carried state when the model has one
        (``FillModel.steer``): its decisions are replaced in ``decided`` by the orders it played. Common random
        numbers make the other fills a function of the decisions and the carried fill state, so a player that
        decided exactly as an earlier one (always_hedge, classical and delayed_comm often do) shares its fill
        instead of running the fill model again; the distinct fills run on the lanes."""
        states = [self.fill_state[p.name] for p in players]
        steered = {}
        for i, p in enumerate(players):
            if getattr(p, "moments", None) is not None:
                got = self.fill_model.steer(chunk.x, chunk.y, p.moments, *self._markets(chunk), uniforms, states[i])
                if got is not None:
                    decided[i] = (got.a, got.b, None, None)
                    steered[i] = _joint(got.fills_a, got.fills_b)
        before = [list(st) for st in states]
        leader: list[int] = []  # per player: the first player whose fill it shares (itself if none)
        for i, (a, b, *_) in enumerate(decided):
            leader.append(
                i
                if i in steered
                else next(
                    (
                        j
                        for j in sorted(set(leader))
                        if j not in steered
                        and before[j] == before[i]
                        and np.array_equal(decided[j][0], a)
                        and np.array_equal(decided[j][1], b)
                    ),
                    i,
                )
            )
        computed = sorted(set(leader) - set(steered))
        # each computed fill its own scratch slot, handed out here rather than from the lanes (which would append
        # to the pool at once)
        bufs = {i: None if fresh else self._buffers(k, chunk.x.size) for k, i in enumerate(computed)}
        out = dict(
            zip(
                computed,
                self.lanes.map(
                    lambda i: self._fill(decided[i][0], decided[i][1], states[i], chunk, uniforms, bufs[i]),
                    computed,
                    len(chunk),
                ),
            )
        )
        out.update(steered)
        for i, j in enumerate(leader):
            if j != i:
                states[i][:] = states[j]
        return [out[j] for j in leader]

    def _markets(self, chunk: RoundChunk) -> tuple[Market, Market]:
        r, pc, hs, px, m = chunk.returns, chunk.price_change, chunk.half_spread, chunk.price, self.minutes
        return (
            Market(r[:, 0], _col(pc, 0), _col(hs, 0), _col(px, 0), m),
            Market(r[:, 1], _col(pc, 1), _col(hs, 1), _col(px, 1), m),
        )

    def _fill(self, a, b, st: list, chunk: RoundChunk, uniforms, buf: _Scratch | None):
        """One fill of the chunk from fill state ``st`` (updated in place)."""
        fm = self.fill_model
        market_a, market_b = self._markets(chunk)
        fused = None if buf is None else fm.book_pnl(a, b, market_a, market_b, st, buf)
        if fused is not None:  # per-server series are not kept for this chunk: the book's P&L is enough
            return None, None, None, None, fused.pnl, (fused.income, fused.costs, fused.assumed)
        sides = [None if buf is None else _Side(buf, s) for s in ("a", "b")]
        fa = fm.pnl(a, market_a, uniforms[0], st[0], sides[0])
        fb = fm.pnl(b, market_b, uniforms[1], st[1], sides[1])
        st[0], st[1] = fa.state, fb.state
        return (
            fa.pnl,
            fa.inventory,
            fb.pnl,
            fb.inventory,
            _add(fa.pnl, fb.pnl, buf, "pnl_book"),
            ((fa.income, fb.income), (fa.costs, fb.costs), (fa.assumed, fb.assumed)),
        )

    def series(self) -> dict:
        """Per-round series of the kept rounds (read-only; players that decided alike may share them)."""
        return {name: {k: _joined(v) for k, v in d.items()} for name, d in self.per.items()}

    def kept_inputs(self) -> dict:
        return {k: np.concatenate(v) if v else np.empty(0, np.uint8) for k, v in self.kept.items()}


def _joint(fa, fb) -> tuple:
    """Two servers' ``Fills`` as a fill of the chunk (see ``Book._fills``)."""
    return (
        fa.pnl,
        fa.inventory,
        fb.pnl,
        fb.inventory,
        fa.pnl + fb.pnl,
        ((fa.income, fb.income), (fa.costs, fb.costs), (fa.assumed, fb.assumed)),
    )


def _same_pairs(d1: tuple, d2: tuple) -> bool:
    """Whether two players' decisions consumed the same Bell pairs at the same ages (both none alike)."""
    return all(u is v or (u is not None and v is not None and np.array_equal(u, v)) for u, v in zip(d1[2:], d2[2:]))


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).


@njit(cache=True, nogil=True)
def discordant(a1, b1, a2, b2, tgt):  # pragma: no cover - compiled
    """Rounds won by strategy 1 only and by strategy 2 only (won: a XOR b equals the target relation)."""
    only1, only2 = 0, 0
    for i in range(tgt.size):
        w1 = (a1[i] ^ b1[i]) == tgt[i]
        w2 = (a2[i] ^ b2[i]) == tgt[i]
        if w1 and not w2:
            only1 += 1
        elif w2 and not w1:
            only2 += 1
    return only1, only2
