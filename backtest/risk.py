"""Risk metrics of the combined book, accumulated over chunks of rounds (memory does not grow with rounds).

Definitions (README lists them too). Per round t, the book P&L is pnl[t] = pnl_A[t] + pnl_B[t] (currency)
and the book return r[t] = pnl[t] / book_size. N = periods_per_year, rf_p = (1 + rf)^(1/N) - 1.

- ``win_rate``: share of rounds with utility 1; ``win_rate_ci95``: Wilson 95% interval (statsmodels).
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

from . import kernels
from .stats import wilson_ci


@dataclass
class StrategyStats:
    """Everything one strategy's metrics need, kept as running sums (updated by a compiled loop)."""

    book_size: float
    rf_per_period: float
    n_blocks: int
    shift: float | None = None  # sums are of pnl - shift (the first chunk's mean) for numerical stability
    sums: np.ndarray = field(default_factory=lambda: np.zeros(8))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(12, dtype=np.int64))
    bell_pairs: int = 0
    age_sum: float = 0.0
    block_sum: np.ndarray = field(init=False)
    block_sq: np.ndarray = field(init=False)
    block_n: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.block_sum = np.zeros(self.n_blocks)
        self.block_sq = np.zeros(self.n_blocks)
        self.block_n = np.zeros(self.n_blocks, dtype=np.int64)

    def add(self, pnl: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, tgt: np.ndarray,
            want: np.ndarray, table: np.ndarray, offset: int, block_len: int, pairs: np.ndarray | None,
            ages: np.ndarray | None, marks: np.ndarray) -> np.ndarray:
        """Add a chunk of rounds starting ``offset`` rounds into the test window; returns the cumulative P&L at
        positions ``marks`` of the chunk. ``a``, ``b``: outputs; ``tgt``: each round's better relation (a win);
        ``want``: the relation that hedged its realised co-movement (2 where a stock did not move); ``table``:
        the game's utility table, flat (index (2x + y) * 2 + a XOR b)."""
        if self.shift is None:
            self.shift = float(pnl.mean())
        marked = np.empty(marks.size)
        kernels.book_stats(pnl, a, b, x, y, tgt, want, table, offset // block_len, offset % block_len, block_len, self.book_size,
                           self.rf_per_period, self.shift, self.sums, self.counts, self.block_sum, self.block_sq,
                           self.block_n, marks, marked)
        if pairs is not None:
            self.bell_pairs += int(pairs.sum())
            if ages is not None:
                self.age_sum += float(ages[pairs].sum())
        return marked

    # -- read-outs --------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.counts[0])

    @property
    def wins(self) -> int:
        return int(self.counts[1])

    @property
    def cum(self) -> float:
        return float(self.sums[4])

    @property
    def mean(self) -> float:
        return (self.shift or 0.0) + self.sums[0] / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        n = self.n
        return (self.sums[1] - self.sums[0] ** 2 / n) / (n - 1) if n > 1 else math.nan

    def metrics(self, periods_per_year: float) -> dict:
        n, var = self.n, self.var
        std = math.sqrt(var) if var == var else math.nan
        mean_r = self.mean / self.book_size - self.rf_per_period
        std_r = std / self.book_size
        down = math.sqrt(self.sums[2] / n) if n else math.nan
        root = math.sqrt(periods_per_year)
        lo, hi = wilson_ci(self.wins, n)
        hedged, moved = int(self.counts[10]), int(self.counts[11])
        return {
            "n_rounds": n,
            "win_rate": self.wins / n if n else math.nan,
            "win_rate_ci95": [lo, hi],
            "utility": self.sums[3] / n if n else math.nan,
            "hedged_rate": hedged / moved if moved else math.nan,
            "hedged_rate_ci95": list(wilson_ci(hedged, moved)) if moved else None,
            "pnl_mean": self.mean,
            "pnl_std": std,
            "pnl_var": var,
            "sharpe": mean_r / std_r * root if std_r > 0 else math.nan,
            "sortino": mean_r / down * root if down > 0 else math.nan,
            "max_drawdown": float(self.sums[6]),
            "max_drawdown_share": float(self.sums[7]),
            "bell_pairs": self.bell_pairs,
            "quantum_share": self.bell_pairs / n if n else math.nan,
            "mean_pair_age": self.age_sum / self.bell_pairs if self.bell_pairs else None,
        }

    def win_rate_by_input(self) -> dict:
        out = {}
        for c, label in enumerate(("00", "01", "10", "11")):
            k, m = int(self.counts[6 + c]), int(self.counts[2 + c])
            out[label] = {"n": m, "win_rate": k / m if m else None, "ci95": list(wilson_ci(k, m)) if m else None}
        return out


def hedging_efficiency(var_s: float, var_unc: float, var_oracle: float) -> tuple[float | None, str | None]:
    """(efficiency, reason when undefined). Defined only when the oracle hedges better than coins."""
    span = var_unc - var_oracle
    if not (span == span):
        return None, "a book variance is undefined"
    if span <= 1e-12 * max(abs(var_unc), 1e-300):
        return None, ("the oracle, which wins every round, does not lower book variance below independent coins: "
                      "winning the game does not hedge this book")
    return (var_unc - var_s) / span, None


def sharpe_from_blocks(total: np.ndarray, sq: np.ndarray, n: np.ndarray, book: float, rf: float, root: float):
    """Sharpe per bootstrap replicate from resampled block sums (rows = replicates)."""
    N = n.sum(axis=-1)
    mean = total.sum(axis=-1) / N
    var = (sq.sum(axis=-1) - N * mean**2) / (N - 1)
    return (mean / book - rf) / (np.sqrt(np.maximum(var, 0)) / book) * root


def _sharpe_diff(q: StrategyStats, c: StrategyStats, periods_per_year: float) -> float | None:
    """Sharpe_q - Sharpe_c on all rounds (the point estimate the bootstrap interval surrounds)."""
    d = q.metrics(periods_per_year)["sharpe"] - c.metrics(periods_per_year)["sharpe"]
    return d if math.isfinite(d) else None


def compare(q: StrategyStats, c: StrategyStats, q_pnl: np.ndarray, c_pnl: np.ndarray,
            discordant: tuple[int, int], periods_per_year: float, seed: int, replicates: int = 2000) -> dict:
    """Quantum against classical on the same rounds.

    ``win_rate_diff`` with McNemar's test on the paired wins (all rounds); ``variance_ratio`` Var_q / Var_c
    (all rounds) with Levene's test (median-centred, i.e. Brown-Forsythe) on the retained per-round P&L
    and a block-bootstrap 95% interval; ``sharpe_diff_ci95``: block-bootstrap interval of
    Sharpe_q - Sharpe_c (blocks resampled jointly, so the pairing is kept).
    """
    from scipy.stats import levene
    from statsmodels.stats.contingency_tables import mcnemar

    n = q.n
    only_q, only_c = discordant
    if only_q + only_c == 0:
        p_mc = 1.0
    else:
        exact = only_q + only_c < 50
        p_mc = float(mcnemar([[0, only_q], [only_c, 0]], exact=exact, correction=not exact).pvalue)
    var_ratio = q.var / c.var if c.var > 0 else None
    if np.array_equal(q_pnl, c_pnl) or q_pnl.size < 3:
        p_lev = 1.0 if q_pnl.size >= 3 else None
    else:
        p_lev = float(levene(q_pnl, c_pnl, center="median").pvalue)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,)))
    used = np.flatnonzero(q.block_n > 0)
    pick = used[rng.integers(0, used.size, (replicates, used.size))]
    root = math.sqrt(periods_per_year)
    sq_ = sharpe_from_blocks(q.block_sum[pick], q.block_sq[pick], q.block_n[pick], q.book_size, q.rf_per_period, root)
    sc_ = sharpe_from_blocks(c.block_sum[pick], c.block_sq[pick], c.block_n[pick], c.book_size, c.rf_per_period, root)

    def var_of(s: StrategyStats):
        N = s.block_n[pick].sum(axis=1)
        mean = s.block_sum[pick].sum(axis=1) / N
        return (s.block_sq[pick].sum(axis=1) - N * mean**2) / (N - 1)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = var_of(q) / var_of(c)
    diff = sq_ - sc_
    finite = np.isfinite(diff)
    return {
        "win_rate_diff": (q.wins - c.wins) / n,
        "p_value": p_mc,
        "discordant_rounds": {"quantum_only": only_q, "classical_only": only_c},
        "variance_ratio": var_ratio,
        "variance_ratio_ci95": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))]
        if np.isfinite(ratios).all() else None,
        "variance_p_value": p_lev,
        "variance_test_rounds": int(q_pnl.size),
        "sharpe_diff": _sharpe_diff(q, c, periods_per_year),
        "sharpe_diff_ci95": [float(np.quantile(diff[finite], 0.025)), float(np.quantile(diff[finite], 0.975))]
        if finite.sum() > 10 else None,
        "bootstrap": {"replicates": replicates, "blocks": int(used.size),
                      "block_rounds": int(q.block_n[used].max()) if used.size else 0},
    }
