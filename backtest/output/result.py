"""``Result``: what a backtest returns. pandas at the edges, plain dicts for JSON."""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

from ..analysis.stats import format_p

SCHEMA = 4
SHARED_INPUTS = 0.95  # above this share of training rounds with x = y, the servers share their information
METRIC_KEYS = ("win_rate", "win_rate_ci95", "utility", "hedged_rate", "hedged_rate_ci95", "pnl_mean", "pnl_std",
               "pnl_var", "variance_share", "pnl_spread_income", "pnl_costs", "pnl_directional", "sharpe",
               "sharpe_directional", "sharpe_spread", "turnover", "pnl_var_before_costs", "sortino", "max_drawdown", "max_drawdown_share", "hedging_efficiency",
               "bell_pairs", "quantum_share", "mean_pair_age", "n_rounds")
REASONS = {
    "sharpe": "the book P&L has zero variance",
    "sortino": "no round fell below the risk-free rate",
    "mean_pair_age": "no Bell pair was used",
    "pnl_std": "fewer than two rounds",
    "pnl_var": "fewer than two rounds",
    "hedged_rate": "no round in which both stocks moved",
    "variance_share": "independent coins have zero book variance",
}


def _stamp(ts: pd.Timestamp) -> str:
    """A date for daily data (no 00:00:00), the full timestamp for intraday data."""
    return str(ts.date()) if ts.tzinfo is None and ts == ts.normalize() else str(ts)


def _num(v) -> float:
    return float(v) if v is not None else math.inf


def _judgement(ci) -> str:
    """What a variance ratio's 95% interval says: a significant reduction, increase, or neither."""
    if ci and ci[1] < 1.0:
        return "a significant reduction"
    if ci and ci[0] > 1.0:
        return "a significant increase"
    return "not significantly different"


def _persistence_text(per: dict) -> str:
    """Whether the readings persist, as measured (memory rules also run when forced with --memory on)."""
    state = "readings persist" if per.get("persistent") else "readings do not persist (memory rules forced on)"
    return f"{state} (lag-1 autocorrelation A {per['A']:.2f}, B {per['B']:.2f})"


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


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


class Result:
    """A finished backtest. Main attributes:

    - ``metrics``: DataFrame, one row per strategy, one column per metric (README lists them);
    - ``comparison``: dict, quantum against the best local classical strategy (``best_local``: the lowest book
      variance on the *training* window, ``best_local_training``) and against ``classical`` (paired tests);
      quantum_levels against both and against ``classical_levels`` when it ran;
    - ``information``: the rules on each server's own past readings (memory) and the smoothed K-level
      indicator, or why they did not run;
    - ``game``: the game fitted on the training window (p(x,y), values, angles); ``refits``: later fits;
    - ``hedge``: the calibrated hedge game (cells, shrinkage, values in variance units, informativeness on the
      training and test windows, what it would take, value of a Bell pair), None for a fixed game;
      ``cell_table()`` shows it per input cell;
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
    def inputs_agree(self) -> float | None:
        """Share of training rounds with x = y (from the fitted p(x,y)); None for inputs with K levels."""
        p = np.asarray(self.game.get("p_xy"), dtype=float)
        return float(np.trace(p)) if p.shape == (2, 2) else None

    def shared_information(self) -> str | None:
        """When the two indicator bits agree in more than 95% of training rounds, what that means and what to use."""
        agree = self.inputs_agree()
        if agree is None or agree <= SHARED_INPUTS:
            return None
        names = [ind.get("name") for ind in (getattr(self, "indicators", None) or {}).values()
                 if isinstance(ind, dict)] or ["the indicator"]
        return (f"x = y in {agree:.1%} of training rounds: the two servers' indicators ({' / '.join(dict.fromkeys(names))}"
                ") read the same information, so there is no coordination problem for entanglement to solve (shared "
                "information already lets a classical rule do what quantum could). Use a purely local indicator, e.g. "
                "--indicator return_shock (or volatility_burst, momentum), so that each server reads its own stock.")

    def verdict(self) -> str:
        """At most three sentences: the local strategy with the lowest test variance; quantum against the best
        local classical strategy (or why entanglement cannot help, and what would change that); what the
        communicating benchmarks show, where it applies."""
        g, m = self.game, self.metrics_dict
        hedge = getattr(self, "hedge", None)
        local = [s for s in m if s in self.local_names]
        coins = m.get("uncoordinated", {})
        unc = coins.get("pnl_var")
        before = coins.get("pnl_var_before_costs", unc)  # the switching costs alone are no market
        # (the before-cost variance comes from running sums: a market that never moved leaves rounding, not zero)
        if unc is None or not (unc > 0) or not (_finite(before) and before > 1e-9 * unc):
            return ("Degenerate run: the book P&L of independent coins has no variance (the prices do not move over the "
                    "test window), so there is nothing to hedge and no strategy can be compared with another.")
        sentences = []
        if local:
            low = min(local, key=lambda s: _num(m[s]["pnl_var"]))
            best = _num(m[low]["pnl_var"])
            tied = [s for s in local if s != low and abs(_num(m[s]["pnl_var"]) - best) <= 1e-9 * abs(best)]
            share = m[low].get("variance_share")
            sentences.append(f"Lowest test book variance among strategies that do not communicate: {low}"
                             + (" (playing the classical rule: it uses no entanglement)" if self._classical_rule(low)
                                else "")
                             + (f" (tied with {', '.join(tied)})" if tied else "")
                             + (f", at {share:.1%} of the variance of independent coins" if _finite(share) else "")
                             + ".")
        if hedge is not None and not hedge["informativeness"]["train"]["sign_differs"]:
            second = ("The indicators do not change the sign of the co-movement (E[r_X r_Y | x, y] has one sign in "
                      "every input cell on the training window), so the constant hedge is optimal and entanglement "
                      "cannot help")
        elif not g.get("uses_entanglement"):
            second = ("Entanglement does not help for these indicator statistics and this link: the fitted quantum "
                      "strategy is the classical rule")
        else:
            second = self._quantum_sentence()
        take = (hedge or {}).get("what_it_would_take")
        if take and not g.get("uses_entanglement"):
            second += "; " + take["sentence"]
        levels = self._levels_clause()
        sentences.append(second + (f"; {levels}" if levels else "") + ".")
        d = getattr(self, "drift", None) or {}
        if d.get("decision_changed"):  # first: no other row of the table can be read as the fit intended
            third = f"The game fitted on the training window no longer describes the test window: {d['flag']}."
        else:
            third = self._benchmark_sentence()
        if third:
            sentences.append(third)
        return " ".join(sentences)

    def _classical_rule(self, name: str) -> bool:
        """Whether a quantum player played a classical rule (its fitted strategy uses no entanglement): what it wins
        is then a classical result, never a quantum one."""
        if name == "quantum":
            return not self.game.get("uses_entanglement")
        if name == "quantum_levels":
            lv = (getattr(self, "information", None) or {}).get("levels") or {}
            return not lv.get("uses_entanglement", True)
        return False

    @property
    def local_names(self) -> list[str]:
        """Strategies that do not communicate (classical local rules and quantum)."""
        return [s for s, d in self.players.items() if not d.get("communicates")]

    def _quantum_sentence(self) -> str:
        c = self.comparison.get("quantum_vs_best_local")
        if not c or c.get("variance_ratio") is None:
            return "Entanglement helps on the training window, but no local classical strategy ran to compare with"
        ratio, ci, p = c["variance_ratio"], c.get("variance_ratio_ci95"), c.get("variance_p_value")
        change = ratio - 1.0
        ci_txt = f" (95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%}, paired HAC {format_p(p)})" if ci else ""
        judgement = _judgement(ci)
        text = (f"Quantum against the best local classical strategy ({c['opponent']}"
                f"{self._history_clause(c['opponent'])}): book variance {change:+.1%}{ci_txt}, {judgement}")
        text += self._turnover_clause(c, judgement) + self._beaten_clause("quantum", judgement)
        if self.game.get("kind", "paper") == "paper" and c.get("utility_diff") is not None:
            # the paper's game is scored in utility: say how quantum did on the game actually played
            text += (f"; utility {c['utility_diff']:+.4f} per round (paired HAC {format_p(c['utility_p_value'])}), the "
                     "objective of the game played")
        return text

    def _history_clause(self, opponent: str) -> str:
        """Names the rule behind a best local strategy that remembers its own readings."""
        info = getattr(self, "information", None) or {}
        if opponent == "memory" and info.get("memory"):
            return f", each server on its own last readings: {info['memory']['name']}"
        if opponent == "classical_levels" and info.get("levels"):
            return f", the best rule on each server's smoothed indicator {info['levels']['name']}"
        return ""

    def _levels_clause(self) -> str | None:
        """quantum_levels, the quantum strategy given the same smoothed information as the memory rules (a clause
        of the verdict's second sentence)."""
        info = getattr(self, "information", None) or {}
        lv = info.get("levels")
        c = self.comparison.get("quantum_levels_vs_best_local")
        if not lv or "quantum_levels" not in self.metrics_dict:
            return None
        head = (f"on the {lv['levels']}-level indicator {lv['name']}, " if lv.get("rule") == "indicator" else
                f"given the same smoothed information as a {lv['levels']}-level indicator ({lv['name']}), ")
        if not lv.get("uses_entanglement"):
            bound, coins = lv.get("tsirelson_bound"), lv.get("coin_variance") or 0.0
            gap = None if bound is None else bound - lv["classical_saved"]
            if gap is not None and gap > 1e-6 * coins:  # below that: the SDP's own accuracy
                tail = (f" (a noiseless entangled state of any dimension could save up to {gap / coins:.2%} of the "
                        "coins' variance more: the link, not the information, is what falls short)")
            elif gap is not None:
                tail = " (no entangled state could do better on it even without noise)"
            else:
                tail = ""
            return head + f"entanglement does not help either: its fitted quantum strategy is the classical rule{tail}"
        if not c or c.get("variance_ratio") is None:
            return None
        ratio, ci = c["variance_ratio"], c.get("variance_ratio_ci95")
        judgement = _judgement(ci)
        ci_txt = f" (95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%})" if ci else ""
        q, o = self.metrics_dict["quantum_levels"], self.metrics_dict.get(c["opponent"], {})
        text = (head + f"quantum_levels against {c['opponent']}: book variance {ratio - 1:+.1%}{ci_txt}, {judgement}")
        bq, bo = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
        costs = (q.get("pnl_costs") or 0.0) > 0 or (o.get("pnl_costs") or 0.0) > 0
        if judgement != "a significant reduction" and costs and _finite(bq) and _finite(bo) and bo > 0:
            text += f" ({bq / bo - 1:+.1%} before switching costs)"
        return text + self._beaten_clause("quantum_levels", judgement)

    def _beaten_clause(self, quantum: str, judgement: str) -> str:
        """best_local is chosen on the training window; a reduction against it is not an advantage when another local
        classical strategy still had lower book variance than the quantum one on the test window."""
        if judgement != "a significant reduction":
            return ""
        m = self.metrics_dict
        q = _num(m[quantum]["pnl_var"])
        lower = [s for s in (getattr(self, "best_local_training", None) or {}) if _num(m[s]["pnl_var"]) < q]
        if not lower:
            return ""
        best = min(lower, key=lambda s: _num(m[s]["pnl_var"]))
        return (f"; but {best} had a lower book variance still on the test window ({_num(m[best]['pnl_var']) / q - 1:+.1%}"
                f" against {quantum}), so the reduction does not hold against every local classical strategy")

    def _turnover_clause(self, c: dict, judgement: str) -> str:
        """Why quantum loses when it wins before switching costs: its outputs are random bits."""
        q, o = self.metrics_dict.get("quantum", {}), self.metrics_dict.get(c["opponent"], {})
        before_q, before_o = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
        if judgement == "a significant reduction":
            return self._cost_clause(c, q, o)
        if not (_finite(before_q) and _finite(before_o)):
            return ""
        if not before_q < before_o or not (q.get("turnover") or 0) > (o.get("turnover") or 0):
            return ""
        k = c.get("break_even_cost_scale")
        return (f"; before switching costs its variance is {before_q / before_o - 1:+.1%}, but a quantum server's "
                f"output is a random bit, so it changes its quoting order in {q['turnover']:.0%} of rounds "
                f"({c['opponent']}: {o['turnover']:.0%}) and the turnover's cost adds more variance than "
                f"entanglement removes" + (f"; it would pay at switching costs below {k:.2f} times these "
                                           "(--switch-cost-bps)" if k else ""))

    def _cost_clause(self, c: dict, q: dict, o: dict) -> str:
        """When quantum lowers the variance but its switching costs cost more than the variance is worth to a
        mean-variance investor (certainty equivalent at the run's risk aversion)."""
        gamma = (self.config.get("run") or {}).get("risk_aversion", 3.0)
        lam = gamma / self.book_size
        cost_q, cost_o = q.get("pnl_costs") or 0.0, o.get("pnl_costs") or 0.0
        ce = (q["pnl_mean"] - o["pnl_mean"]) - lam / 2 * (q["pnl_var"] - o["pnl_var"])
        if not (_finite(ce) and ce < 0 and cost_q > cost_o):
            return ""
        return (f"; but a quantum server's output is a random bit, so it changes its quoting order in "
                f"{q['turnover']:.0%} of rounds ({c['opponent']}: {o['turnover']:.0%}), and its switching costs "
                f"({cost_q:.3g} a round against {cost_o:.3g}) outweigh the variance saved: certainty equivalent "
                f"{ce:+.3g} a round at risk aversion {gamma:g}")

    def _benchmark_sentence(self) -> str | None:
        m = self.metrics_dict
        unc, orc, dc, q = m.get("uncoordinated"), m.get("oracle"), m.get("delayed_comm"), m.get("quantum")
        if unc and orc and not (orc["pnl_var"] < unc["pnl_var"]):
            return ("Even the oracle, which knows both indicators, does not lower book variance below independent "
                    "coins here: winning the game is not hedging this book.")
        best = m.get(self.best_local) if self.best_local else None
        # the delayed link's edge is only information when it also beats every local classical strategy
        if (dc and q and best and self.game.get("uses_entanglement")
                and _num(dc["pnl_var"]) < min(_num(q["pnl_var"]), 0.99 * _num(best["pnl_var"]))):
            return (f"A classical link delayed by {self.config['run']['delay']} round(s) does better than quantum "
                    f"(variance {dc['pnl_var'] / q['pnl_var'] - 1:+.1%}): the indicators change too slowly for a "
                    "no-communication protocol to matter.")
        return None

    def to_dict(self) -> dict:
        """The ``metrics.json`` document (schema ``SCHEMA``, docs/cli.md)."""
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
            if m.get("flags"):
                out["flags"] = m["flags"]
            strategies[s] = out
        game = {k: self.game.get(k) for k in ("kind", "beta", "rule", "table", "unit", "p_xy", "classical_value",
                                              "quantum_value", "textbook_value", "advantage", "uses_entanglement",
                                              "angles", "azimuths", "correlators", "measurement_search", "fallback", "flipped", "classical_rule",
                                              "constant_rule", "n_train", "device")
                if k in self.game}
        return json_clean({
            "schema": SCHEMA,
            "qcoord_version": self.version,
            "created": self.created,
            "seed": self.seed,
            "n_rounds": self.n_rounds,
            "n_train": self.n_train,
            "source": {**{k: v for k, v in self.source.items() if k not in ("files",)},
                       "kind": self.source.get("kind"), "tickers": self.tickers, "start": _stamp(idx[0]),
                       "end": _stamp(end[0]), "periods_per_year": self.periods_per_year,
                       **({"files": self.source["files"]} if "files" in self.source else {})},
            "game": game,
            "refits": [{k: r.get(k) for k in ("round", "window", "p_xy", "classical_value", "quantum_value",
                                              "advantage", "angles")} for r in self.refits],
            "strategies": strategies,
            "comparison": self.comparison,
            "best_local": self.best_local,
            "best_local_training_variance": getattr(self, "best_local_training", None),
            "information": getattr(self, "information", None),
            "warnings": list(getattr(self, "warnings", [])),
            "hedge": self.hedge,
            "drift": self.drift,
            "periods": self.periods,
            "indicators": self.indicators,
            "book_size": self.book_size,
            "shared_information": self.shared_information(),
            "verdict": self.verdict(),
            "elapsed_seconds": self.elapsed,
            "config": self.config,
        })

    @property
    def periods(self) -> dict:
        """Per calendar year (daily data) or day (intraday; month when there are too many days): each strategy's
        variance and Sharpe, and quantum's variance ratio to the best local classical strategy with its paired
        95% interval (``backtest.periods``)."""
        if getattr(self, "_periods", None) is None:
            from ...data.frequency import is_intraday

            from ..analysis.periods import period_table

            pnl = self.pnl
            rf = (1.0 + self.config["run"]["risk_free"]) ** (1.0 / self.periods_per_year) - 1.0
            self._periods = period_table(pnl, intraday=is_intraday(pnl.index), periods_per_year=self.periods_per_year,
                                         rf_per_period=rf, book=self.book_size,
                                         quantum="quantum" if "quantum" in pnl else None, opponent=self.best_local)
        return self._periods

    def cell_table(self) -> pd.DataFrame | None:
        """The hedge game per input cell (x, y): p, co-movement E[r_X r_Y | x,y] with its 95% interval and
        correlation, the share of opposite moves with its lift over the unconditional share, on the training
        and the test window, and the shrinkage weight. None when the game was not calibrated."""
        if self.hedge is None:
            return None
        rows = {}
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

    def _information_lines(self) -> list[str]:
        """What each server's own history was worth (rules with memory, the smoothed K-level indicator)."""
        info = getattr(self, "information", None)
        if not info:
            return []
        lv, mem, per = info.get("levels"), info.get("memory"), info.get("persistence") or {}
        coins = (self.hedge or {}).get("coin_variance")

        def share(v):
            return f"{v / coins:.1%}" if coins else f"{v:.4g}"

        parts = []
        if mem:
            parts.append(f"{_persistence_text(per)}; best rule on a server's own readings (training): {mem['name']}, "
                         f"saves {share(mem['saved'])}")
        elif info.get("note"):
            parts.append(info["note"])
        if lv:
            tb = f", Tsirelson bound {share(lv['tsirelson_bound'])}" if lv.get("tsirelson_bound") is not None else ""
            what = "indicator" if lv.get("rule") == "indicator" else "smoothed indicator"
            parts.append(f"{what} {lv['name']}: classical {share(lv['classical_saved'])}, quantum "
                         f"{share(lv['quantum_saved'])}{tb}")
        return ["memory: " + "; ".join(parts)] if parts else []

    def summary(self) -> str:
        """A readable table of the main metrics, the fitted game and the verdict."""
        m = self.metrics
        cols = ["win_rate", "hedged_rate", "pnl_std", "variance_share", "sharpe", "hedging_efficiency", "turnover",
                "quantum_share"]
        table = m[cols].copy()
        shared = self.shared_information()
        lines = [f"information: {shared}"] if shared else []
        lines.append(f"{self.tickers[0]} / {self.tickers[1]}  ({self.source.get('kind')}), {self.n_rounds} rounds "
                     f"({self.n_train} train, {self.n_test} test), seed {self.seed}")
        if self.hedge is not None:
            v = self.hedge["values"]
            saved = "  ".join(f"{k.replace('_', ' ')} {v[k]['saved_share']:.1%}" for k in
                              ("constant_hedge", "classical", "quantum", "oracle") if v[k]["saved_share"] is not None)
            lines.append(f"hedge game fitted on the training window, book variance saved against coins: {saved}")
            cells = self.cell_table()
            show = cells[["p_train", "corr_train", "neg_share_train", "corr_test", "neg_share_test", "shrink_weight"]]
            lines.append("per input cell (corr = correlation of the two returns, neg_share = share of opposite moves):")
            lines.append(show.to_string(float_format=lambda x: f"{x:.3f}", na_rep="—"))
        else:
            lines.append(f"fitted p(x,y) = {np.round(np.asarray(self.game['p_xy']), 4).tolist()}  classical "
                         f"{self.game['classical_value']:.4f}  quantum {self.game['quantum_value']:.4f}  "
                         f"advantage {self.game['advantage']:.4f}")
        lines += self._information_lines()
        lines.append(table.astype(float).to_string(float_format=lambda v: f"{v:.4f}", na_rep="—"))
        if (self.drift or {}).get("flag"):
            lines.append(f"flag: drift: {self.drift['flag']}")
        flagged: dict[str, list[str]] = {}
        for s, m in self.metrics_dict.items():
            for k in m.get("flags") or {}:
                flagged.setdefault(k, []).append(s)
        notes = {"sharpe": "driven by the fill model's assumed spread income (see sharpe_directional)",
                 "hedging_efficiency": "outside [0, 1]", "max_drawdown_share": "the book lost more than its size"}
        lines += [f"flag: {k} {notes.get(k, '')} for {', '.join(v)} (reasons in metrics.json)"
                  for k, v in flagged.items()]
        lines += [f"warning: {w}" for w in getattr(self, "warnings", [])]
        lines.append("verdict: " + self.verdict())
        return "\n".join(lines)
