"""Test-window statistics no honest run produces, and what a flag excludes.

A strategy flagged ``lookahead`` or ``beyond_bound`` (metrics.json ``flags``) is listed with its metrics but is never
``best_local``, never quantum's opponent and never the subject of a comparison or of the verdict's claims
(``excluded``, ``without_flagged``).

- **Indicators that know the round's own move** (``flag_impossible``). The oracle knows both servers' readings of
  the round and nothing else; if it hedges ``ORACLE_RATE`` of the rounds in a market whose stocks move apart in more
  than ``OPPOSITE`` of them, the two readings together tell the sign of the round's own co-movement: they read
  outside data (a lookup by timestamp) that no causality check can see. The same when an input cell's share of
  opposite moves is exactly 0 or 1 over so many rounds that an honest cell would do it with probability below
  ``CELL_P`` (at the run's overall share). Every strategy without communication plays on those readings, so every
  one is flagged ``lookahead``.
- **Beyond the bound of its resource** (``flag_beyond_bound``). A strategy's win rate (rounds whose relation is the
  game's better one in their input cell) cannot exceed, beyond sampling error, the best any strategy with its
  resource reaches on the test window's input frequencies: the classical value for a local resource, the game's
  Tsirelson bound for a quantum one. That holds for rules with memory too when the readings carry no information
  about the next round (no lag-1 correlation within or across servers, ``LAG_Z``): the check is made only then.
  A strategy above it by ``BOUND_SE`` standard errors reaches its partner's inputs some way the process boundary
  and the replays did not close (a file, a socket: docs/game.md) and is flagged ``beyond_bound``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

ORACLE_RATE = 0.99
OPPOSITE = 0.05
CELL_P = 1e-6
BOUND_SE = 5.0
LAG_Z = 4.0
FLAGS = ("lookahead", "beyond_bound")


def excluded(metrics: dict) -> set[str]:
    """Strategies whose flags exclude them (module docstring)."""
    return {s for s, m in metrics.items() if any(k in (m.get("flags") or {}) for k in FLAGS)}


def without_flagged(metrics: dict, train_var: dict | None, comparison: dict) -> tuple[dict, dict]:
    """``train_var`` without flagged strategies (best_local is chosen from it), and ``comparison`` without those
    whose subject or opponent is flagged."""
    out = excluded(metrics)
    kept_var = {k: v for k, v in (train_var or {}).items() if k not in out}
    kept = {
        label: c
        for label, c in comparison.items()
        if label.split("_vs_")[0] not in out and c.get("opponent") not in out
    }
    return kept_var, kept


def _flag_all(metrics: dict, communicating: set[str], reason: str) -> None:
    for name, m in metrics.items():
        if name not in communicating:
            m.setdefault("flags", {}).setdefault("lookahead", reason)


def flag_impossible(metrics: dict, communicating: set[str], cells, words) -> None:
    """Flag every strategy without communication ``lookahead`` when the test window's statistics say the indicators
    know the round's own move (module docstring). ``cells``: the test window's ``stats.cells.CellStats``;
    ``words``: ``output.verdict`` (the reasons' sentences)."""
    moved = cells.negative + cells.positive
    total = int(moved.sum())
    if total == 0:
        return
    base = float(cells.negative.sum()) / total
    rate = (metrics.get("oracle") or {}).get("hedged_rate")
    if isinstance(rate, float) and math.isfinite(rate) and rate >= ORACLE_RATE and base > OPPOSITE:
        _flag_all(metrics, communicating, words.lookahead_oracle(rate, base))
        return
    for label, m, neg in zip(cells.labels, moved, cells.negative):
        m, neg = int(m), int(neg)
        if not m or 0 < neg < m or not 0.0 < base < 1.0:
            continue
        chance = math.exp(m * math.log(1.0 - base if neg == 0 else base))
        if chance < CELL_P:
            _flag_all(metrics, communicating, words.lookahead_cell(label, neg / m, m, base))
            return


def win_bounds(target: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(classical, quantum) best win rates in the game "a XOR b equals ``target[x, y]``" on inputs p(x, y)."""
    from ...strategies import Game, tsirelson_value

    ka, kb = target.shape
    best = 0.0
    for f in itertools.product((0, 1), repeat=ka):
        for g in itertools.product((0, 1), repeat=kb):
            o = np.bitwise_xor.outer(np.array(f), np.array(g))
            best = max(best, float((p * (o == target)).sum()))
    table = np.stack([(target == 0), (target == 1)], axis=-1).astype(float)  # utility 1 for the target relation
    quantum = tsirelson_value(Game.from_table(table), p) if (ka, kb) == (2, 2) else 1.0
    return best, max(best, quantum)


def no_lag_information(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether no reading says anything about the next round's (lag-1 correlations within and across servers all
    within ``LAG_Z`` standard errors of 0)."""
    n = min(x.size, y.size)
    if n < 100:
        return False
    a, b = x[:n].astype(float), y[:n].astype(float)
    for u, v in ((a[1:], a[:-1]), (b[1:], b[:-1]), (a[1:], b[:-1]), (b[1:], a[:-1])):
        if u.std() == 0 or v.std() == 0:
            continue
        if abs(float(np.corrcoef(u, v)[0, 1])) > LAG_Z / math.sqrt(n - 1):
            return False
    return True


def flag_beyond_bound(metrics: dict, classes: dict[str, str], target: np.ndarray, cells, kept: dict, words) -> None:
    """Flag ``beyond_bound`` each strategy (``classes``: name -> "local" or "quantum") whose test win rate exceeds its
    resource's bound (module docstring); ``kept``: the test window's first inputs, {"x", "y"}."""
    if cells.levels != 2 or not no_lag_information(kept.get("x", np.empty(0)), kept.get("y", np.empty(0))):
        return
    bounds = dict(zip(("local", "quantum"), win_bounds(target, cells.p)))
    for name, kind in classes.items():
        m = metrics.get(name) or {}
        w, n = m.get("win_rate"), m.get("n_rounds") or 0
        if not isinstance(w, float) or not math.isfinite(w) or n < 100 or (m.get("flags") or {}).get("lookahead"):
            continue
        b = bounds[kind]
        se = math.sqrt(max(b * (1 - b), w * (1 - w), 1.0 / n) / n)
        if w > b + BOUND_SE * se:
            m.setdefault("flags", {})["beyond_bound"] = words.beyond_bound(w, b, (w - b) / se, kind)


def flag_untrusted(metrics: dict, book, classes: dict[str, str], game, words) -> None:
    """Both flags for a finished test window (``book``: the engine's ``book.Book``); ``game``: the game played
    throughout (None after walk-forward refits, whose games differ: the bound is then not checked)."""
    communicating = {p.name for p in book.players if p.communicates}
    cells = book.test_cells.stats()
    flag_impossible(metrics, communicating, cells, words)
    if game is not None:
        flag_beyond_bound(metrics, classes, game.target_table(), cells, book.kept_inputs(), words)
