"""``Result``: what a backtest returns. pandas at the edges, plain dicts for JSON."""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

SCHEMA = 1
METRIC_KEYS = ("win_rate", "win_rate_ci95", "utility", "pnl_mean", "pnl_std", "pnl_var", "sharpe", "sortino",
               "max_drawdown", "max_drawdown_share", "hedging_efficiency", "bell_pairs", "quantum_share",
               "mean_pair_age", "n_rounds")
REASONS = {
    "sharpe": "the book P&L has zero variance",
    "sortino": "no round fell below the risk-free rate",
    "mean_pair_age": "no Bell pair was used",
    "pnl_std": "fewer than two rounds",
    "pnl_var": "fewer than two rounds",
}


def _clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


class Result:
    """A finished backtest. Main attributes:

    - ``metrics``: DataFrame, one row per strategy, one column per metric (README lists them);
    - ``comparison``: dict, quantum against classical (paired tests);
    - ``game``: the game fitted on the training window (p(x,y), values, angles); ``refits``: later fits;
    - ``rounds``: per-round DataFrame of the (first ``keep_rounds``) test rounds, columns (strategy, field);
    - ``pnl``: book P&L per round and strategy; ``returns()``: book returns for quantstats/empyrical;
    - ``equity``: cumulative book P&L per strategy (about 4000 points over the whole test window);
    - ``block_variance``: book P&L variance per block of rounds (the rolling-variance view);
    - ``win_by_input``: win rate per input pair (x, y) and strategy, with Wilson intervals;
    - ``config``, ``source``, ``indicators``, ``players``: what ran, for reports and reproduction.
    """

    def __init__(self, *, metrics: dict, equity: dict, **fields) -> None:
        self.metrics_dict = metrics
        self.equity_values = equity
        for key, value in fields.items():
            setattr(self, key, value)
        self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def __repr__(self) -> str:
        return (f"Result({self.tickers[0]}/{self.tickers[1]}, rounds={self.n_rounds}, train={self.n_train}, "
                f"strategies={self.strategies})")

    # -- tables -------------------------------------------------------------------------------------
    @property
    def strategies(self) -> list[str]:
        return list(self.metrics_dict)

    @property
    def n_test(self) -> int:
        return self.n_rounds - self.n_train

    @property
    def test_start(self) -> int:
        """Row of the first test round."""
        return self.first_round + self.n_train

    @property
    def metrics(self) -> pd.DataFrame:
        rows = {s: {k: m.get(k) for k in METRIC_KEYS} for s, m in self.metrics_dict.items()}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _index(self, n: int) -> pd.DatetimeIndex:
        return self.clock(self.test_start, n)

    @property
    def rounds(self) -> pd.DataFrame:
        """Kept test rounds: inputs and, per strategy, a, b, utility, P&L of each agent and the book."""
        n = self.kept["x"].size
        cols = {("inputs", "x"): self.kept["x"], ("inputs", "y"): self.kept["y"]}
        for s, d in self.series.items():
            for key in ("a", "b", "utility", "pnl_a", "pnl_b", "pnl", "inv_a", "inv_b"):
                if d.get(key) is not None:
                    cols[(s, key)] = d[key]
        frame = pd.DataFrame(cols, index=self._index(n))
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["strategy", "field"])
        return frame

    @property
    def pnl(self) -> pd.DataFrame:
        """Book P&L per kept round (currency), one column per strategy."""
        n = self.kept["x"].size
        return pd.DataFrame({s: d["pnl"] for s, d in self.series.items()}, index=self._index(n))

    def returns(self, strategy: str | None = None) -> pd.DataFrame | pd.Series:
        """Simple per-period book returns (P&L / book_size) with a DatetimeIndex: pipe into quantstats or
        empyrical unchanged (annualize with ``periods_per_year``)."""
        r = self.pnl / self.book_size
        return r if strategy is None else r[strategy]

    @property
    def inventory(self) -> pd.DataFrame | None:
        """Kept end-of-round inventory (shares) per strategy and agent, for inventory-carrying fill models."""
        cols = {}
        for s, d in self.series.items():
            for key in ("inv_a", "inv_b"):
                if d.get(key) is not None:
                    cols[(s, key[-1].upper())] = d[key]
        if not cols:
            return None
        return pd.DataFrame(cols, index=self._index(self.kept["x"].size))

    @property
    def equity(self) -> pd.DataFrame:
        """Cumulative book P&L (currency) over the whole test window, thinned to about 4000 points."""
        return pd.DataFrame(self.equity_values, index=self.clock_at(self.equity_rounds))

    @property
    def block_variance(self) -> pd.DataFrame:
        """Variance of the book P&L within consecutive blocks of ``block_len`` rounds, per strategy."""
        out = {}
        for s, (total, sq, n) in self.blocks.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = total / n
                out[s] = np.where(n > 1, (sq - n * mean**2) / (n - 1), np.nan)
        starts = self.test_start + np.arange(len(next(iter(out.values())))) * self.block_len
        return pd.DataFrame(out, index=self.clock_at(starts))

    # -- reporting ------------------------------------------------------------------------------------
    def verdict(self) -> str:
        """A plain-language conclusion about the quantum strategy, with the caveats the run shows."""
        g, m = self.game, self.metrics_dict
        notes = []
        unc, orc = m.get("uncoordinated"), m.get("oracle")
        if unc and orc and not (orc["pnl_var"] < unc["pnl_var"]):
            notes.append("even the oracle, which wins every round, does not lower book variance below independent "
                         "coins here, so winning the game is not hedging this book (the indicators do not signal the "
                         "correlation sign, or inventory carried between rounds outweighs one round's quoting order)")
        dc, q = m.get("delayed_comm"), m.get("quantum")
        if dc and q and dc["win_rate"] > q["win_rate"]:
            notes.append(f"a classical link delayed by {self.config.get('delay', 1)} round(s) wins more often "
                         f"({dc['win_rate']:.4f} against {q['win_rate']:.4f}): the indicators change too slowly "
                         "for entanglement to matter")
        if not g.get("uses_entanglement"):
            head = ("no quantum advantage for these indicator statistics and this noise: the fitted quantum "
                    f"strategy is the classical rule (classical {g['classical_value']:.4f} >= quantum "
                    f"{g['quantum_value']:.4f} on the training window)")
        else:
            c = self.comparison.get("quantum_vs_classical")
            if not c or q is None:
                head = f"entanglement helps on the training window (+{g['advantage']:.4f} expected utility)"
            else:
                change = 1.0 - c["variance_ratio"] if c.get("variance_ratio") is not None else float("nan")
                p = c.get("variance_p_value")
                sig = p is not None and p < 0.05
                head = (f"quantum {'lowered' if change > 0 else 'raised'} book variance by {abs(change):.1%} against "
                        f"classical (Levene p = {p:.3g}) and changed the win rate by {c['win_rate_diff']:+.4f} "
                        f"(McNemar p = {c['p_value']:.3g})" + ("" if sig else "; the variance change is not "
                                                                 "significant at 5%"))
        return "; ".join([head, *notes])

    def to_dict(self) -> dict:
        """The ``metrics.json`` document (schema 1, README)."""
        idx = self.clock(self.first_round, 1)
        end = self.clock(self.first_round + self.n_rounds - 1, 1)
        strategies = {}
        for s, m in self.metrics_dict.items():
            out = {k: m.get(k) for k in METRIC_KEYS}
            undefined = dict(m.get("undefined", {}))
            for k, v in out.items():
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    undefined.setdefault(k, REASONS.get(k, "undefined"))
            out["win_rate_by_input"] = self.win_by_input[s]
            if undefined:
                out["undefined"] = undefined
            strategies[s] = out
        game = {k: self.game.get(k) for k in ("beta", "rule", "p_xy", "classical_value", "quantum_value", "textbook_value",
                                              "advantage", "uses_entanglement", "angles", "fallback", "classical_rule",
                                              "n_train")}
        return _clean({
            "schema": SCHEMA,
            "qcoord_version": self.version,
            "created": self.created,
            "seed": self.seed,
            "n_rounds": self.n_rounds,
            "n_train": self.n_train,
            "source": {**{k: v for k, v in self.source.items() if k not in ("files",)},
                       "kind": self.source.get("kind"), "tickers": self.tickers, "start": str(idx[0]),
                       "end": str(end[0]), "periods_per_year": self.periods_per_year,
                       **({"files": self.source["files"]} if "files" in self.source else {})},
            "game": game,
            "refits": [{k: r.get(k) for k in ("round", "window", "p_xy", "classical_value", "quantum_value",
                                              "advantage", "angles")} for r in self.refits],
            "strategies": strategies,
            "comparison": self.comparison,
            "indicators": self.indicators,
            "book_size": self.book_size,
            "verdict": self.verdict(),
            "elapsed_seconds": self.elapsed,
            "config": self.config,
        })

    def summary(self) -> str:
        """A readable table of the main metrics."""
        m = self.metrics
        cols = ["win_rate", "utility", "pnl_std", "sharpe", "max_drawdown", "hedging_efficiency", "quantum_share"]
        table = m[cols].copy()
        lines = [
            f"{self.tickers[0]} / {self.tickers[1]}  ({self.source.get('kind')}), {self.n_rounds} rounds "
            f"({self.n_train} train, {self.n_test} test), seed {self.seed}",
            f"fitted p(x,y) = {np.round(np.asarray(self.game['p_xy']), 4).tolist()}  classical "
            f"{self.game['classical_value']:.4f}  quantum {self.game['quantum_value']:.4f}  "
            f"advantage {self.game['advantage']:.4f}",
            table.to_string(float_format=lambda v: f"{v:.4f}"),
            "verdict: " + self.verdict(),
        ]
        return "\n".join(lines)
