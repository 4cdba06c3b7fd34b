"""``Result``: what a backtest returns. pandas at the edges, plain dicts for JSON."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import notes, summary as summary_text, verdict
from .jsondoc import options
from .metrics import METRIC_KEYS, REASONS, document as registry_document

SCHEMA = 6


def _stamp(ts: pd.Timestamp) -> str:
    """A date for daily data (no 00:00:00), the full timestamp for intraday data."""
    return str(ts.date()) if ts.tzinfo is None and ts == ts.normalize() else str(ts)


def json_clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_clean(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


@dataclass(eq=False, repr=False)
class Result:
    """A finished backtest. Main attributes:

    - ``metrics``: DataFrame, one row per strategy, one column per metric (README lists them);
    - ``comparison``: dict, quantum against the best local classical strategy (``best_local``: the lowest book
      variance on the *training* window, ``best_local_training``) and against ``classical`` (paired tests);
      quantum_levels against both and against ``classical_levels`` when it ran;
    - ``information``: the rules on each server's own past readings (history rules) and the smoothed K-level
      indicator, or why they did not run;
    - ``game``: the game fitted on the training window (p(x,y), values, angles); ``refits``: later fits;
    - ``hedge``: the fitted hedge game (cells, shrinkage, values in variance units, informativeness on the
      training and test windows, what it would take, value of a Bell pair), None for a fixed game;
    - ``link``: with a physical link (``--link``), its parameters, derived numbers and feasibility chain (stages
      with pass/fail and their numbers, the first failing stage, the fidelity-rate frontier), else None;
      ``cell_table()`` shows it per input cell;
    - ``rounds``: per-round DataFrame of the (first ``keep_rounds``) test rounds, columns (strategy, field);
    - ``pnl``: book P&L per round and strategy; ``returns()``: book returns for quantstats/empyrical;
    - ``equity``: cumulative book P&L per strategy (about 4000 points over the whole test window);
    - ``block_variance``: book P&L variance per block of rounds (the rolling-variance view);
    - ``win_by_input``: win rate per input pair (x, y) and strategy, with Wilson intervals;
    - ``config``, ``source``, ``indicators``, ``players``: what ran, for reports and reproduction.
    """

    version: str  # qcoord's
    seed: int
    source: dict  # what the data was (kind, files, tickers, ...)
    tickers: list[str]
    periods_per_year: float
    timestamps: Callable[[int, int], pd.DatetimeIndex]  # (first row, n) -> the rows' timestamps
    timestamps_at: Callable[[np.ndarray], pd.DatetimeIndex]  # rows -> their timestamps
    first_round: int  # row of the first training round (after the indicators' warm-up)
    n_rounds: int  # training and test rounds
    n_train: int
    book_size: float  # currency: the book returns are P&L over this
    game: dict  # the first fit's game document
    refits: list[dict]
    metrics_dict: dict[str, dict]  # strategy -> metric -> value (``metrics`` is the DataFrame)
    win_by_input: dict[str, dict]
    comparison: dict[str, dict]
    best_local: str | None
    best_local_training: dict[str, float] | None  # training-window book variance of each local classical strategy
    information: dict | None  # the history rules and the K-level indicator, or why they did not run
    hedge: dict | None  # None for a fixed game
    drift: dict | None
    kept: dict[str, np.ndarray]  # the kept test rounds' inputs
    series: dict[str, dict]  # strategy -> per-round arrays of the kept test rounds
    equity_rounds: np.ndarray  # rows of the equity points
    equity_values: dict[str, np.ndarray]  # strategy -> cumulative book P&L at ``equity_rounds``
    blocks: dict[str, tuple]  # strategy -> (sum, sum of squares, count) of the book P&L per block
    block_len: int
    indicators: dict
    players: dict[str, dict]
    config: dict  # the configuration document (config.toml)
    streamed: bool
    elapsed: float  # seconds
    warnings: list[str] = field(default_factory=list)
    link: dict | None = None  # the physical link's feasibility chain (--link), analysis.feasibility
    # the run's one clock in seconds (feed.clock.Clock.to_dict): decisions, deadline, messages
    clock: dict | None = None
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    _periods: dict | None = field(default=None, init=False, repr=False)

    def __repr__(self) -> str:
        return (
            f"Result({self.tickers[0]}/{self.tickers[1]}, rounds={self.n_rounds}, train={self.n_train}, "
            f"strategies={self.strategies})"
        )

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
        return self.timestamps(self.test_start, n)

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
        return pd.DataFrame(self.equity_values, index=self.timestamps_at(self.equity_rounds))

    @property
    def block_variance(self) -> pd.DataFrame:
        """Variance of the book P&L within consecutive blocks of ``block_len`` rounds, per strategy."""
        out = {}
        for s, (total, sq, n) in self.blocks.items():
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = total / n
                out[s] = np.where(n > 1, (sq - n * mean**2) / (n - 1), np.nan)
        starts = self.test_start + np.arange(len(next(iter(out.values())))) * self.block_len
        return pd.DataFrame(out, index=self.timestamps_at(starts))

    # -- reporting ------------------------------------------------------------------------------------
    def inputs_agree(self) -> float | None:
        """Share of training rounds with x = y (from the fitted p(x,y)); None for inputs with K levels."""
        p = np.asarray(self.game.get("p_xy"), dtype=float)
        return float(np.trace(p)) if p.shape == (2, 2) else None

    def shared_information(self) -> str | None:
        """When the two indicator bits agree in more than 95% of training rounds: what that means and what to use."""
        return verdict.shared_information(self)

    def verdict(self) -> str:
        """At most three sentences, each on a line of its own: the lowest-variance local strategy, quantum against
        the strongest local classical strategy (or why entanglement cannot help), and what the communicating
        benchmarks show."""
        from .text import sentences

        return "\n".join(sentences(verdict.verdict(self)))

    def comparison_table(self) -> pd.DataFrame:
        """``comparison`` as a DataFrame: one row per paired test, intervals as ``_lo``/``_hi`` columns."""
        from .frames import comparison_table

        return comparison_table(self.comparison)

    def hedge_table(self) -> pd.DataFrame | None:
        """``hedge``'s fitted values as a DataFrame, one row per strategy (``cell_table()`` has the cells); None for
        a fixed game."""
        from .frames import hedge_table

        return hedge_table(self.hedge)

    def summary(self, width: int = 80) -> str:
        """The run in words and tables no wider than ``width`` columns: the verdict's gist first, then the data,
        the fitted game, the metrics, the money model, flags and warnings, and the full verdict."""
        return summary_text.summary(self, width)

    @property
    def pays(self) -> dict:
        """Whether quantum pays after costs, and why (metrics.json ``pays``; ``analysis.pays.decide``): the one
        answer every command gives (``answer()`` words it)."""
        from ..analysis.pays import decide

        return decide(
            self.game,
            self.comparison,
            self.metrics_dict,
            (self.config.get("run") or {}).get("risk_aversion", 3.0),
            self.link,
            verdict.degenerate(self),
            self.clock,
        )

    def answer(self) -> str:
        """Whether quantum pays after costs, in one sentence (the same words sweep, scan and compare print)."""
        from .answer import answer

        return answer(self.pays)

    def headline(self) -> str:
        """The verdict's gist in at most three short sentences (metrics.json ``headline``)."""
        return verdict.headline(self)

    @property
    def local_names(self) -> list[str]:
        """Strategies that do not communicate (classical local rules and quantum)."""
        return [s for s, d in self.players.items() if not d.get("communicates")]

    def to_dict(self) -> dict:
        """The ``metrics.json`` document (schema ``SCHEMA``, docs/cli.md)."""
        idx = self.timestamps(self.first_round, 1)
        end = self.timestamps(self.first_round + self.n_rounds - 1, 1)
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
            if m.get("flags"):
                out["flags"] = m["flags"]
            strategies[s] = out
        game = {
            k: self.game.get(k)
            for k in (
                "kind",
                "beta",
                "rule",
                "table",
                "unit",
                "p_xy",
                "classical_value",
                "quantum_value",
                "textbook_value",
                "advantage",
                "uses_entanglement",
                "angles",
                "azimuths",
                "correlators",
                "measurement_search",
                "fallback",
                "flipped",
                "classical_rule",
                "constant_rule",
                "n_train",
                "device",
            )
            if k in self.game
        }
        return json_clean(
            {
                "schema": SCHEMA,
                "qcoord_version": self.version,
                "created": self.created,
                "seed": self.seed,
                "n_rounds": self.n_rounds,
                "n_train": self.n_train,
                "source": {
                    **{k: v for k, v in self.source.items() if k not in ("files",)},
                    "kind": self.source.get("kind"),
                    "tickers": self.tickers,
                    "start": _stamp(idx[0]),
                    "end": _stamp(end[0]),
                    "periods_per_year": self.periods_per_year,
                    **({"files": self.source["files"]} if "files" in self.source else {}),
                },
                "game": game,
                "refits": [
                    {
                        k: r.get(k)
                        for k in ("round", "window", "p_xy", "classical_value", "quantum_value", "advantage", "angles")
                    }
                    for r in self.refits
                ],
                "strategies": strategies,
                "comparison": self.comparison,
                "best_local": self.best_local,
                "best_local_training_variance": self.best_local_training,
                "information": self.information,
                "warnings": list(self.warnings),
                "hedge": self.hedge,
                "drift": self.drift,
                "link": self.link,
                "clock": self.clock,
                "periods": self.periods,
                "indicators": self.indicators,
                "book_size": self.book_size,
                "shared_information": self.shared_information(),
                "headline": self.headline(),
                "pays": self.pays,
                "verdict": self.verdict(),
                "text": notes.texts(self),
                **registry_document(),
                "elapsed_seconds": self.elapsed,
                "config": options(self.config),
            }
        )

    @property
    def periods(self) -> dict:
        """Per calendar year (daily data) or day (intraday; month when there are too many days): each strategy's
        variance and Sharpe, and quantum's variance ratio to the best local classical strategy with its paired
        95% interval (``backtest.analysis.periods``)."""
        if self._periods is None:
            from ...data.frequency import is_intraday

            from ..analysis.periods import period_table

            pnl = self.pnl
            rf = (1.0 + self.config["run"]["risk_free"]) ** (1.0 / self.periods_per_year) - 1.0
            self._periods = period_table(
                pnl,
                intraday=is_intraday(pnl.index),
                periods_per_year=self.periods_per_year,
                rf_per_period=rf,
                book=self.book_size,
                quantum="quantum" if "quantum" in pnl else None,
                opponent=self.best_local,
            )
        return self._periods

    def cell_table(self) -> pd.DataFrame | None:
        """The hedge game per input cell (x, y): p, co-movement E[r_X r_Y | x,y] with its 95% interval and
        correlation, the share of opposite moves with its lift over the unconditional share, on the training
        and the test window, and the shrinkage weight. None when the game was not fitted (a fixed game)."""
        if self.hedge is None:
            return None
        rows: dict[str, dict[str, float | None]] = {}
        for window in ("train", "test"):
            info = self.hedge["informativeness"][window]["cells"]
            for cell, d in info.items():
                row = rows.setdefault(cell, {})
                row[f"p_{window}"] = d["p"]
                row[f"comove_{window}"] = d["comove"]
                lo, hi = d["comove_ci95"]
                row[f"comove_{window}_lo"], row[f"comove_{window}_hi"] = lo, hi
                row[f"corr_{window}"] = d["correlation"]
                row[f"neg_share_{window}"] = d["negative_share"]
                row[f"lift_{window}"] = d["lift"]
        for cell, w in self.hedge["shrinkage"]["weights"].items():
            rows[cell]["shrink_weight"] = w
            rows[cell]["comove_fitted"] = self.hedge["comove_shrunk"][cell]
        frame = pd.DataFrame.from_dict(rows, orient="index").astype(float)
        frame.index.name = "xy"
        return frame
