"""Risk metrics of the combined book, accumulated over chunks of rounds (memory does not grow with rounds).

Definitions (README lists them too). Per round t, the book P&L is pnl[t] = pnl_A[t] + pnl_B[t] (currency)
and the book return r[t] = pnl[t] / book_size. N = periods_per_year, rf_p = (1 + rf)^(1/N) - 1.

- ``win_rate``: share of rounds with utility 1; ``win_rate_ci95``: Wilson 95% interval (closed form, checked against
  statsmodels).
- ``utility``: mean utility per round.
- ``hedged_rate``: share of rounds (where both stocks moved) whose chosen relation hedged the realised
  co-movement: opposite biases when r_X r_Y > 0, equal ones when r_X r_Y < 0; Wilson 95% interval.
- ``pnl_mean``, ``pnl_std`` (ddof 1), ``pnl_var``: of pnl[t], currency per round.
- ``sharpe`` = mean(r - rf_p) / std(r) * sqrt(N): arithmetic, as quantstats and empyrical.
- ``sortino`` = mean(r - rf_p) / sqrt(mean(min(r - rf_p, 0)^2)) * sqrt(N).
- ``max_drawdown``: largest fall of cumulative P&L from its running peak (currency);
  ``max_drawdown_share``: largest fall of equity (book_size + cumulative P&L) relative to its peak.
- ``hedging_efficiency`` = (Var_uncoordinated - Var_s) / (Var_uncoordinated - Var_oracle): 0 for
  independent coins, 1 for the communicating oracle.
- ``bell_pairs``: pairs consumed; ``quantum_share``: share of rounds played on a pair;
  ``mean_pair_age``: mean storage time of the pairs used (seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from ..._jit import njit

from ..stats.intervals import wilson_ci
from .lanes import Lanes


# Named slots of a strategy's running state (numba reads module constants as compile-time constants, so naming
# them costs nothing in the kernel). ``sums`` (float): with e = pnl - shift and r the book return,
SUM_E, SUM_E2, DOWNSIDE_SQ, UTILITY = 0, 1, 2, 3  # sum e, sum e^2, sum min(r - rf, 0)^2, sum of utilities
CUM_PNL, CUM_PEAK, MAX_DRAWDOWN, MAX_DRAWDOWN_SHARE = 4, 5, 6, 7  # cumulative P&L, its peak, the largest falls
EQUITY, EQUITY_PEAK = 8, 9  # compounded equity per unit of book (starts at 1), and its peak
N_SUMS = 10
# ``counts`` (int): rounds, wins, rounds and wins per input cell c = 2x + y, hedged rounds, rounds where both moved
ROUNDS, WINS, CELL_ROUNDS, CELL_WINS, HEDGED, MOVED = 0, 1, 2, 6, 10, 11
N_COUNTS = 12


@dataclass
class StrategyStats:
    """Everything one strategy's metrics need, kept as running sums (updated by a compiled loop)."""

    book_size: float
    rf_per_period: float
    n_blocks: int
    shift: float | None = None  # sums are of pnl - shift (the first chunk's mean) for numerical stability
    sums: np.ndarray = field(default_factory=lambda: np.array([0.0] * EQUITY + [1.0, 1.0]))  # named slots above
    # with e = pnl - shift, inc the income and c the costs of a round: sums of inc, c, e c, c^2, inc^2, e inc, c inc
    # (_part); with sum e and sum e^2 they give the directional and before-cost moments (_part_sums)
    parts: np.ndarray = field(default_factory=lambda: np.zeros(7))
    parts_scalar: bool = True  # income and costs were the same every round: directional variance = P&L variance
    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_COUNTS, dtype=np.int64))
    bell_pairs: int = 0
    age_sum: float = 0.0
    switches: int = 0  # changes of a server's quoting order, both servers
    assumed: float = 0.0  # sum of the spread income assumed where the data has no quotes (never in the P&L)
    last: np.ndarray = field(default_factory=lambda: np.full(2, -1, dtype=np.int64))  # a, b of the last round
    block_sum: np.ndarray = field(init=False)
    block_sq: np.ndarray = field(init=False)
    block_n: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.block_sum = np.zeros(self.n_blocks)
        self.block_sq = np.zeros(self.n_blocks)
        self.block_n = np.zeros(self.n_blocks, dtype=np.int64)

    def add(
        self,
        pnl: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        tgt: np.ndarray,
        want: np.ndarray,
        table: np.ndarray,
        offset: int,
        block_len: int,
        pairs: np.ndarray | None,
        ages: np.ndarray | None,
        marks: np.ndarray,
        income: tuple = (0.0, 0.0),
        costs: tuple = (0.0, 0.0),
        assumed: tuple = (0.0, 0.0),
    ) -> np.ndarray:
        """Add a chunk of rounds starting ``offset`` rounds into the test window; returns the cumulative P&L at
        positions ``marks`` of the chunk. ``a``, ``b``: outputs; ``tgt``: each round's better relation (a win);
        ``want``: the relation that hedged its realised co-movement (2 where a stock did not move); ``table``:
        the game's utility table, flat (index (2x + y) * 2 + a XOR b); ``income`` and ``costs``: the spread
        income and costs of the same rounds per server (arrays, or one number for every round; the rest of the P&L
        is directional); ``assumed``: the spread income the fill model assumed, not in the P&L. Also counts the
        rounds in which a server changed its quoting order (across chunks too)."""
        if self.shift is None:
            self.shift = float(pnl.mean())
        for v in assumed:
            self.assumed += float(np.sum(v)) if np.ndim(v) else float(v) * pnl.size
        if any(np.ndim(v) for v in (*income, *costs)):
            self.parts_scalar = False
        flat = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (*income, *costs)]
        marked = np.empty(marks.size)
        self.switches += book_stats(
            pnl,
            a,
            b,
            x,
            y,
            tgt,
            want,
            table,
            offset // block_len,
            offset % block_len,
            block_len,
            self.book_size,
            self.rf_per_period,
            self.shift,
            self.sums,
            self.counts,
            self.block_sum,
            self.block_sq,
            self.block_n,
            marks,
            marked,
            *flat,
            self.last,
            self.parts,
        )
        if pairs is not None:
            self.bell_pairs += int(pairs.sum())
            if ages is not None:
                self.age_sum += float(ages[pairs].sum())
        return marked

    def _state(self) -> tuple:
        return (
            self.shift,
            self.parts_scalar,
            self.bell_pairs,
            self.age_sum,
            self.switches,
            self.assumed,
            self.sums,
            self.parts,
            self.counts,
            self.last,
            self.block_sum,
            self.block_sq,
            self.block_n,
        )

    def same_state(self, other: StrategyStats) -> bool:
        """Whether every running sum equals ``other``'s exactly (then the same chunk adds the same to both)."""
        return (
            self.book_size == other.book_size
            and self.rf_per_period == other.rf_per_period
            and all(
                np.array_equal(u, v) if isinstance(u, np.ndarray) else u == v
                for u, v in zip(self._state(), other._state())
            )
        )

    def copy_state(self, other: StrategyStats) -> None:
        """Take ``other``'s running sums (copies: the two go on separately afterwards)."""
        self.shift, self.parts_scalar = other.shift, other.parts_scalar
        self.bell_pairs, self.age_sum, self.switches = other.bell_pairs, other.age_sum, other.switches
        self.assumed = other.assumed
        for name in ("sums", "parts", "counts", "last", "block_sum", "block_sq", "block_n"):
            getattr(self, name)[...] = getattr(other, name)

    def cost_moments(self) -> tuple[float, float, float]:
        """(Var g, Cov(g, c), Var c) of the P&L before costs g and the costs c: Var(g - k c) for costs scaled by
        k is Var g - 2 k Cov + k^2 Var c."""
        n = self.n
        if n < 2:
            return math.nan, math.nan, math.nan
        if self.parts_scalar:
            return self.var, 0.0, 0.0
        s = self._part_sums()
        mg, mc = s["g"] / n, s["c"] / n
        var_g = (s["gg"] - n * mg * mg) / (n - 1)
        cov = (s["gc"] - n * mg * mc) / (n - 1)
        var_c = (s["cc"] - n * mc * mc) / (n - 1)
        return var_g, cov, var_c

    def _part_sums(self) -> dict[str, float]:
        """Sums of the before-cost P&L g = e + c, the directional d = g - inc (both shifted), their squares, g c,
        c and c^2, from the running sums (e = pnl - shift)."""
        s_inc, s_c, s_ec, s_cc, s_ii, s_ei, s_ci = (float(v) for v in self.parts)
        s_e, s_ee = float(self.sums[SUM_E]), float(self.sums[SUM_E2])
        g, gg, gc = s_e + s_c, s_ee + 2 * s_ec + s_cc, s_ec + s_cc
        return {"g": g, "gg": gg, "gc": gc, "c": s_c, "cc": s_cc, "d": g - s_inc, "dd": gg - 2 * (s_ei + s_ci) + s_ii}

    def decomposition(self, periods_per_year: float) -> dict:
        """Mean spread income, costs and directional P&L per round, and the Sharpe of the directional part."""
        n = self.n
        if not n:
            return {}
        income, costs = self.parts[0] / n, self.parts[1] / n
        directional = self.mean - income + costs
        if self.parts_scalar or n < 2:
            var = before = self.var
        else:
            s = self._part_sums()
            var = (s["dd"] - s["d"] ** 2 / n) / (n - 1)
            before = (s["gg"] - s["g"] ** 2 / n) / (n - 1)
        std = math.sqrt(var) if var == var and var > 0 else math.nan
        excess = directional / self.book_size - self.rf_per_period
        total_std = math.sqrt(self.var) if self.var == self.var and self.var > 0 else math.nan
        root = math.sqrt(periods_per_year)
        return {
            "pnl_spread_income": income,
            "pnl_assumed_income": self.assumed / n,
            "pnl_costs": costs,
            "pnl_directional": directional,
            "sharpe_directional": excess / (std / self.book_size) * root if std == std else math.nan,
            "sharpe_spread": income / total_std * root if total_std == total_std else math.nan,
            "turnover": self.switches / (2 * n),
            "pnl_var_before_costs": before,
        }

    # -- read-outs --------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.counts[ROUNDS])

    @property
    def wins(self) -> int:
        return int(self.counts[WINS])

    @property
    def mean(self) -> float:
        return (self.shift or 0.0) + self.sums[SUM_E] / self.n if self.n else math.nan

    @property
    def mean_cost(self) -> float:
        """Mean configured costs per round (switching, fees, inventory cuts), currency."""
        return float(self.parts[1]) / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        n = self.n
        return (self.sums[SUM_E2] - self.sums[SUM_E] ** 2 / n) / (n - 1) if n > 1 else math.nan

    def metrics(self, periods_per_year: float) -> dict:
        n, var = self.n, self.var
        std = math.sqrt(var) if var == var else math.nan
        mean_r = self.mean / self.book_size - self.rf_per_period
        std_r = std / self.book_size
        down = math.sqrt(self.sums[DOWNSIDE_SQ] / n) if n else math.nan
        root = math.sqrt(periods_per_year)
        lo, hi = wilson_ci(self.wins, n)
        hedged, moved = int(self.counts[HEDGED]), int(self.counts[MOVED])
        flags = {}
        if self.sums[EQUITY] <= 0.0:
            flags["max_drawdown_share"] = "the book lost more than its size within one round (compounded equity hit 0)"
        return {
            "flags": flags,
            **self.decomposition(periods_per_year),
            "n_rounds": n,
            "win_rate": self.wins / n if n else math.nan,
            "win_rate_ci95": [lo, hi],
            "utility": self.sums[UTILITY] / n if n else math.nan,
            "hedged_rate": hedged / moved if moved else math.nan,
            "hedged_rate_ci95": list(wilson_ci(hedged, moved)) if moved else None,
            "pnl_mean": self.mean,
            "pnl_std": std,
            "pnl_var": var,
            "sharpe": mean_r / std_r * root if std_r > 0 else math.nan,
            "sortino": mean_r / down * root if down > 0 else math.nan,
            "max_drawdown": float(self.sums[MAX_DRAWDOWN]),
            "max_drawdown_share": float(self.sums[MAX_DRAWDOWN_SHARE]),
            "bell_pairs": self.bell_pairs,
            "quantum_share": self.bell_pairs / n if n else math.nan,
            "mean_pair_age": self.age_sum / self.bell_pairs if self.bell_pairs else None,
        }

    def win_rate_by_input(self) -> dict:
        out = {}
        for c, label in enumerate(("00", "01", "10", "11")):
            k, m = int(self.counts[CELL_WINS + c]), int(self.counts[CELL_ROUNDS + c])
            out[label] = {"n": m, "win_rate": k / m if m else None, "ci95": list(wilson_ci(k, m)) if m else None}
        return out


def hedging_efficiency(var_s: float, var_unc: float, var_oracle: float) -> tuple[float | None, str | None]:
    """(efficiency, reason when undefined). Defined only when the oracle hedges better than coins."""
    span = var_unc - var_oracle
    if not (span == span):
        return None, "a book variance is undefined"
    if span <= 1e-12 * max(abs(var_unc), 1e-300):
        return None, (
            "the oracle, which wins every round, does not lower book variance below independent coins: "
            "winning the game does not hedge this book"
        )
    return (var_unc - var_s) / span, None


def compare(
    q: StrategyStats,
    c: StrategyStats,
    q_pnl: np.ndarray,
    c_pnl: np.ndarray,
    discordant: tuple[int, int],
    periods_per_year: float,
    utility_q: np.ndarray | None = None,
    utility_c: np.ndarray | None = None,
    risk_aversion: float = 3.0,
) -> dict:
    """Quantum against an opponent on the same rounds (``backtest.stats.paired``): the variance ratio with its HAC
    interval and p-value, the Sharpe difference, the mean squared P&L and utility differences, on the kept
    rounds ``q_pnl``, ``c_pnl`` (all test rounds unless a streamed run kept fewer); McNemar's test on the paired
    wins (all rounds); Levene's test as a secondary column (it assumes independent samples, which paired,
    volatility-clustered rounds are not)."""
    from ..stats.classic import levene_median, mcnemar_p
    from ..stats.paired import paired_tests
    from ..stats.intervals import p_value

    only_q, only_c = discordant
    if only_q + only_c == 0:
        p_mc = 1.0
    else:
        exact = only_q + only_c < 50
        p_mc = p_value(mcnemar_p(only_q, only_c, exact=exact, correction=not exact))
    if np.array_equal(q_pnl, c_pnl) or q_pnl.size < 3:
        lev = None if q_pnl.size < 3 else lambda: 1.0
    else:  # on a second core while the paired tests run (its medians are a third of a long run's comparison)
        lev = Lanes().start(lambda: p_value(levene_median(q_pnl, c_pnl)), q_pnl.size)
    out = paired_tests(
        q_pnl,
        c_pnl,
        periods_per_year=periods_per_year,
        rf_per_period=q.rf_per_period,
        book=q.book_size,
        utility_q=utility_q,
        utility_c=utility_c,
    )
    p_lev = None if lev is None else lev()
    return {
        **out,
        "break_even_cost_scale": break_even_cost_scale(q, c, risk_aversion),
        "certainty_equivalent_diff": float(np.polyval(certainty_equivalent_gap(q, c, risk_aversion), 1.0)),
        "win_rate_diff": (q.wins - c.wins) / q.n,
        "mcnemar_p_value": p_mc,
        "discordant_rounds": {"quantum_only": only_q, "opponent_only": only_c},
        "levene_p_value": p_lev,
    }


def certainty_equivalent_gap(q: StrategyStats, c: StrategyStats, risk_aversion: float) -> tuple[float, float, float]:
    """(A, B, C) of f(k) = A k^2 + B k + C: quantum's certainty equivalent minus the opponent's, currency per round,
    with every configured cost scaled by k. CE = mean - lambda / 2 var, lambda = risk_aversion / book size; with g
    the P&L before costs and c the costs, mean(k) = mean g - k mean c and var(k) = Var g - 2 k Cov(g, c) + k^2 Var c."""
    lam = risk_aversion / q.book_size
    (vq, cov_q, wq), (vc, cov_c, wc) = q.cost_moments(), c.cost_moments()
    mc_q, mc_c = q.mean_cost, c.mean_cost
    gq, gc = q.mean + mc_q, c.mean + mc_c
    return (-lam / 2 * (wq - wc), -(mc_q - mc_c) + lam * (cov_q - cov_c), (gq - gc) - lam / 2 * (vq - vc))


def break_even_cost_scale(q: StrategyStats, c: StrategyStats, risk_aversion: float) -> float | None:
    """The multiple k of the configured costs at which quantum's certainty equivalent (mean - risk_aversion / 2 /
    book x variance, per round) equals the opponent's, when quantum is ahead before costs: below k quantum pays,
    above it the opponent does (k < 1: it does not pay at the configured costs). None when quantum is not ahead
    before costs, or stays ahead at every scale."""
    a, b, c0 = certainty_equivalent_gap(q, c, risk_aversion)
    if not all(math.isfinite(v) for v in (a, b, c0)) or c0 <= 0 or (a == 0 and b == 0):
        return None
    if abs(a) < 1e-15 * max(abs(b), abs(c0), 1e-300):
        k = -c0 / b
        return k if k > 0 else None
    disc = b * b - 4 * a * c0
    if disc < 0:
        return None
    roots = sorted(r for r in ((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)) if r > 0)
    return roots[0] if roots else None


# Compiled loops for state that carries from round to round (numba caches them on disk, keyed by this file).


@njit(cache=True, nogil=True, inline="always")
def _part(acc, e, inc, c):  # pragma: no cover - compiled
    """The sums of one round's P&L parts, e = pnl - shift, inc the income, c the costs: inc, c, e c, c^2, inc^2,
    e inc, c inc (with sum e and sum e^2 they give the directional and before-cost moments: risk.parts_moments)."""
    return (
        acc[0] + inc,
        acc[1] + c,
        acc[2] + e * c,
        acc[3] + c * c,
        acc[4] + inc * inc,
        acc[5] + e * inc,
        acc[6] + c * inc,
    )


@njit(cache=True, nogil=True, inline="always")
def _drawdown(v, ret, cum, peak, max_dd, eq, eq_peak, floor, max_share):  # pragma: no cover - compiled
    """One round of the drawdown of cumulative P&L and of compounded equity (``ret``: the round's book return)."""
    cum += v
    if cum > peak:
        peak = cum
    dd = peak - cum
    if dd > max_dd:
        max_dd = dd
    eq *= 1.0 + ret
    if eq > eq_peak:
        eq_peak = eq
        floor = (1.0 - max_share) * eq_peak
    elif eq < floor:  # rare: only a new maximum drawdown divides
        if eq <= 0.0:  # the book lost more than its size: nothing left to compound
            eq, max_share = 0.0, 1.0
        else:
            max_share = 1.0 - eq / eq_peak
        floor = (1.0 - max_share) * eq_peak
    return cum, peak, max_dd, eq, eq_peak, floor, max_share


# book_stats: one pass over a chunk of book P&L updating a strategy's running sums (one loop on purpose: the
# running sums live in registers, and a second pass would read the chunk twice).
#
# The state is ``sums`` and ``counts`` (their named slots above). Per round o = out_a XOR out_b, its
# utility table[(2x + y) * 2 + o], a win where o equals the cell's better relation ``tgt``, hedged where o
# equals ``want``, the relation that hedged the realised co-movement (2 where a stock did not move: such a
# round counts for neither); block sums for the bootstrap (the chunk starts ``into_block`` rounds into
# block ``block0``); ``marked`` receives the cumulative P&L at the positions ``marks`` (equity curve).
# Counters replace per-round integer divisions; the drawdown share is divided only when it may grow.


@njit(cache=True, nogil=True)
def book_stats(
    pnl,
    out_a,
    out_b,
    x,
    y,
    tgt,
    want,
    table,
    block0,
    into_block,
    block_len,
    book,
    rf,
    shift,
    sums,
    counts,
    block_sum,
    block_sq,
    block_n,
    marks,
    marked,
    inc_a,
    inc_b,
    cost_a,
    cost_b,
    last,
    parts,
):  # pragma: no cover - compiled
    """One pass over a chunk of book P&L updating a strategy's running sums (see the comment above); returns the
    rounds in which a server changed its output."""
    # running sums in locals (registers), written back once: array elements would be stored every round
    s0, s1, s2, s3 = sums[SUM_E], sums[SUM_E2], sums[DOWNSIDE_SQ], sums[UTILITY]
    cum, peak, max_dd, max_share = sums[CUM_PNL], sums[CUM_PEAK], sums[MAX_DRAWDOWN], sums[MAX_DRAWDOWN_SHARE]
    eq, eq_peak = sums[EQUITY], sums[EQUITY_PEAK]  # compounded equity per unit of book, and its running peak
    floor = (1.0 - max_share) * eq_peak  # equity below this sets a new max drawdown share
    wins = counts[WINS]
    hedged, moved = counts[HEDGED], counts[MOVED]
    n_c = np.zeros(4, dtype=np.int64)
    w_c = np.zeros(4, dtype=np.int64)
    inv_book = 1.0 / book
    b, left = block0, block_len - into_block
    bs, bq, bn = 0.0, 0.0, 0
    m = 0
    pia, pib, pca, pcb = inc_a.size > 1, inc_b.size > 1, cost_a.size > 1, cost_b.size > 1
    acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pa, pb, switches = last[0], last[1], 0
    for i in range(pnl.size):
        v = pnl[i]
        acc = _part(
            acc,
            v - shift,
            inc_a[i if pia else 0] + inc_b[i if pib else 0],
            cost_a[i if pca else 0] + cost_b[i if pcb else 0],
        )
        ia, ib = np.int64(out_a[i]), np.int64(out_b[i])
        switches += np.int64((pa >= 0) & (ia != pa)) + np.int64((pb >= 0) & (ib != pb))  # branch-free
        pa, pb = ia, ib
        d = v - shift
        s0 += d
        s1 += d * d
        r = v * inv_book - rf
        if r < 0.0:
            s2 += r * r
        c = 2 * x[i] + y[i]
        o = out_a[i] ^ out_b[i]
        s3 += table[2 * c + o]
        n_c[c] += 1
        w = np.int64(o == tgt[i])  # branch-free: these comparisons are unpredictable
        wins += w
        w_c[c] += w
        h = want[i]
        moved += 1 - (h >> 1)  # want is 2 where a stock did not move
        hedged += np.int64(o == h)  # o is 0 or 1, never 2
        cum, peak, max_dd, eq, eq_peak, floor, max_share = _drawdown(
            v, r + rf, cum, peak, max_dd, eq, eq_peak, floor, max_share
        )
        bs += v
        bq += v * v
        bn += 1
        left -= 1
        if left == 0:
            block_sum[b] += bs
            block_sq[b] += bq
            block_n[b] += bn
            bs, bq, bn = 0.0, 0.0, 0
            b += 1
            left = block_len
        if m < marks.size and marks[m] == i:
            marked[m] = cum
            m += 1
    if bn:
        block_sum[b] += bs
        block_sq[b] += bq
        block_n[b] += bn
    counts[ROUNDS] += pnl.size
    counts[WINS] = wins
    counts[HEDGED], counts[MOVED] = hedged, moved
    for c in range(4):
        counts[CELL_ROUNDS + c] += n_c[c]
        counts[CELL_WINS + c] += w_c[c]
    sums[SUM_E], sums[SUM_E2], sums[DOWNSIDE_SQ], sums[UTILITY] = s0, s1, s2, s3
    sums[CUM_PNL], sums[CUM_PEAK], sums[MAX_DRAWDOWN], sums[MAX_DRAWDOWN_SHARE] = cum, peak, max_dd, max_share
    sums[EQUITY], sums[EQUITY_PEAK] = eq, eq_peak
    parts += np.array(acc)
    last[0], last[1] = pa, pb
    return switches
