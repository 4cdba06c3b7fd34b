"""The result document: a finished run's numbers assembled into a ``Result`` (metrics.json's content).

``assemble`` takes what the engine's stages produced (the plan, the feed, the window, the training fit and the played
book) and derives every document of the result: metrics and their flags, the paired comparisons against the best
and the strongest local classical strategy, the hedge game's documents (what it would take, a Bell pair's value),
drift, the link's feasibility chain, participation, warnings and the configuration as resolved. The engine keeps
the pipeline; every sentence comes from ``output.verdict`` and its siblings.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeGuard

import numpy as np

from ...strategies import FrozenTable

from .. import __version__
from ..analysis.bell_pair import bell_pair_value
from ..analysis.drift import drift
from ..analysis.feasibility import StationaryWindow, feasibility
from ..analysis.pays import money, pair_cost
from ..analysis.frontier import what_it_would_take
from ..analysis.impossible import flag_untrusted, without_flagged
from ..book.risk import compare, hedging_efficiency
from ..feed.feeds import minutes_per_round
from ..players.aged import fixed_cutoff
from ..players.roster import names as registered, resource_classes
from . import notes, verdict
from .result import Result

if TYPE_CHECKING:
    from ..book.book import Book
    from ..plan import Plan, Training, Window

# A fill rate above this share of a ticker's traded volume is more than published market makers take: Menkveld (2013)
# finds his HFT market maker in 8.1% of trades on the incumbent market (64.4% on the entrant Chi-X).
PARTICIPATION_LIMIT = 0.10


def assemble(plan: Plan, feed, w: Window, training: Training, book: Book, src_info: dict, elapsed: float) -> Result:
    """Metrics per strategy, the paired comparisons, the hedge documents, and the Result."""
    run, stats = plan.cfg.run, book.stats
    ppy = feed.periods_per_year
    metrics = {name: s.metrics(ppy) for name, s in stats.items()}
    informative = {
        "train": training.train_cells.stats().informativeness(),
        "test": book.test_cells.stats().informativeness(),
    }
    no_sign = plan.fits_hedge and not informative["train"]["sign_differs"]
    _efficiency(metrics, no_sign, ppy)
    _lookahead(
        metrics,
        {p.name for p in book.players if p.communicates},
        informative["test"].get("negative_share"),
        _hedged_bound(book.test_cells.stats()),
    )
    flag_untrusted(
        metrics,
        book,
        resource_classes(book.players, plan.custom),
        training.fit.game if len(training.fits) == 1 else None,
        notes,
    )
    series = book.series()
    # chosen on the training window (before the test window is seen); ties go to classical, the fitted rule; a
    # flagged strategy is listed but never best_local, an opponent or the subject of a comparison
    train_var, _ = without_flagged(metrics, training.train_variance, {})
    best_local = min(train_var, key=lambda s: (train_var[s], s != "classical")) if train_var else None
    _, comparison = without_flagged(
        metrics,
        None,
        _comparisons(book, series, best_local, ppy, _strongest(train_var, metrics, best_local), run.risk_aversion),
    )
    first_fit = training.fit
    drift_doc = drift(
        training.train_cells.stats(), book.test_cells.stats(), first_fit, training.fit_noise, training.exposure
    )
    drift_doc["flag"] = notes.drift_flag(drift_doc)
    hedge_doc = None
    if plan.fits_hedge:  # the first fit's, as ``game`` (later refits are in ``refits``)
        hedge_doc = {**training.fits[0]["hedge"], "informativeness": informative}
        if not first_fit.solution.uses_entanglement:
            assert first_fit.hedge is not None  # a run that fits the hedge game has its fit
            take = what_it_would_take(first_fit.hedge, training.fit_noise)
            hedge_doc["what_it_would_take"] = {**take, "sentence": notes.what_it_would_take(take)}
        if "quantum" in metrics and "classical" in metrics:
            hedge_doc["bell_pair_value"] = bell_pair_value(
                training.fits[0]["hedge"]["values"], metrics, w.n_test, book.size, run.risk_aversion
            )
    participation = _participation(plan, feed, training)
    link_doc = _link_doc(plan, w, training, metrics, comparison, drift_doc) if plan.link is not None else None
    return Result(
        version=__version__,
        seed=run.seed,
        source=src_info,
        tickers=list(feed.tickers),
        periods_per_year=ppy,
        timestamps=feed.clock,
        timestamps_at=feed.clock_at,
        first_round=w.t0,
        n_rounds=w.n_total,
        n_train=w.n_train,
        book_size=book.size,
        game=training.fits[0],
        refits=training.fits[1:],
        metrics_dict=metrics,
        win_by_input={name: s.win_rate_by_input() for name, s in stats.items()},
        comparison=comparison,
        best_local=best_local,
        best_local_training=train_var,
        information=_information_doc(first_fit.information),
        hedge=hedge_doc,
        drift=drift_doc,
        kept=book.kept_inputs(),
        series=series,
        equity_rounds=np.asarray(book.equity_rounds),
        equity_values={k: np.asarray(v) for k, v in book.equity.items()},
        blocks={name: (s.block_sum, s.block_sq, s.block_n) for name, s in stats.items()},
        block_len=book.block_len,
        indicators={"A": plan.indicators[0].describe(), "B": plan.indicators[1].describe(), "latency": plan.latency},
        players={p.name: {**p.describe(), "communicates": p.communicates} for p in book.players},
        config=_config_doc(plan, book.size, participation, getattr(feed, "has_quotes", False)),
        streamed=feed.streamed,
        elapsed=elapsed,
        warnings=_warnings(plan, feed, training, participation),
        link=link_doc,
        clock=plan.clock.to_dict(),
    )


def _link_doc(plan: Plan, w: Window, training: Training, metrics: dict, comparison: dict, drift_doc: dict) -> dict:
    """The link's feasibility chain (metrics.json ``link``) on the run's clock: its decision rate and deadline, and
    the stationary window, the link's own ``stationary_window`` when given, else the test window (the rounds the
    advantage is measured on, and the seconds they span; training rounds do not count). The drift test says whether
    the game fitted on the training window still held there."""
    link, clock = plan.link, plan.clock
    assert link is not None  # called only for a run with a physical link
    rate = clock.decision_rate_hz
    if link.stationary_window is not None:
        window = StationaryWindow(link.stationary_window, "given")
    else:
        held = (
            "the game changed from training to test"
            if drift_doc.get("decision_changed")
            else "the game held from training to test"
        )
        window = StationaryWindow(clock.window_s, f"the test window; {held}", n_rounds=w.n_test)
    q = metrics.get("quantum") or {}
    share = q.get("quantum_share")
    if share is None or share != share:  # no quantum player ran: the share the rates allow
        share = min(1.0, link.delivered_pair_rate / rate)
    # the value stage is the one test of "pays after costs" (analysis.pays), the pairs' cost included
    value = (
        None
        if not q
        else money(
            bool(training.fits[0]["uses_entanglement"]),
            comparison,
            plan.cfg.run.risk_aversion,
            pair_cost(link.cost_per_pair, q),
            q.get("bell_pairs"),
        )
    )
    aged = training.fit.aged
    aged_doc = (
        None if aged is None else {**aged.describe(), "fixed_cutoff_s": fixed_cutoff(training.fit, link.herald_delay)}
    )
    doc = feasibility(
        link,
        training.fit,
        training.fit_noise,
        window,
        share,
        value,
        (getattr(training.fit.game, "unit", None) or "utility per round").split(":")[0],
        memory_cutoff=training.memory_cutoff,
        decision_rate=rate,
        deadline=clock.deadline_s,
        aged=aged_doc,
    )
    doc["preset"] = plan.cfg.link.preset
    doc["sentence"] = verdict.link_sentence(doc)
    return doc


def _information_doc(info) -> dict | None:
    """The information fit's document, its note (a reason code) in words."""
    if info is None:
        return None
    doc = info.to_dict()
    if doc.get("note"):
        doc["note"] = notes.information_note(doc["note"], doc.get("persistence") or {})
    return doc


def _warnings(plan: Plan, feed, training: Training, participation: dict) -> list[str]:
    """What the user should know before reading the money figures."""
    out = [ind.note for ind in plan.indicators if getattr(ind, "note", None)]
    if plan.fill.sized_in_shares and feed.adjusted_only:
        out.append(notes.adjusted_prices(feed.tickers, training.test_prices))
    if getattr(feed, "untradable", None):
        out.append(notes.untradable(feed.untradable))
    for p in training.players:
        resource = getattr(getattr(p, "strategy", None), "resource", None)
        if isinstance(resource, FrozenTable) and not resource.local:
            out.append(notes.nonlocal_opponent(p.name, resource.chsh))
    if getattr(feed, "clock_offset", None):
        out.append(notes.clock_offset(feed.clock_offset, feed.tickers))
    heavy = {t: s for t, s in participation.items() if s is not None and s > PARTICIPATION_LIMIT}
    if heavy:
        out.append(notes.heavy_participation(heavy, PARTICIPATION_LIMIT))
    return out


LOOKAHEAD_SE = 5.0  # standard errors by which a strategy without communication may not out-hedge the oracle
LOOKAHEAD_RATE = 0.99  # a hedged rate no indicator reaches honestly where the stocks often move apart ...
LOOKAHEAD_OPPOSITE = 0.05  # ... i.e. where they move in opposite directions in more than this share of rounds


def _hedged_bound(cells) -> float | None:
    """The highest hedged rate any rule on both servers' inputs could reach on the test window: in each input cell
    the relation that hedged more of its rounds (independent of the fill model; where a stock did not move the
    round counts for neither)."""
    moved = int((cells.negative + cells.positive).sum())
    return float(np.maximum(cells.negative, cells.positive).sum() / moved) if moved else None


def _lookahead(metrics: dict, communicating: set[str], opposite: float | None, bound: float | None = None) -> None:
    """Flag probable look-ahead in a strategy without communication:
    - it hedges more rounds than any rule that knows both servers' indicators of the round could (``bound``, the
      best relation per input cell on the test window; the oracle's own rate where it is not given) by more than
      ``LOOKAHEAD_SE`` standard errors (independent binomial errors: conservative for paired rounds); only
      information outside the indicators (a rule reading outside data) can do that;
    - or it hedges at least ``LOOKAHEAD_RATE`` of the rounds in a market whose stocks move in opposite directions
      in more than ``LOOKAHEAD_OPPOSITE`` of them: that needs the sign of the round's own co-movement, which an
      indicator that peeks (a timestamp lookup into outside data) has and an honest one does not."""
    oracle = metrics.get("oracle") or {}
    p_o = bound if _finite_number(bound) else oracle.get("hedged_rate")
    for name, m in metrics.items():
        p, n = m.get("hedged_rate"), m.get("n_rounds") or 0
        if name in communicating or not _finite_number(p) or n < 2:
            continue
        if _finite_number(p_o):
            se = math.sqrt((p * (1 - p) + p_o * (1 - p_o)) / n) or 1.0 / n
            if p > p_o + LOOKAHEAD_SE * se:
                m.setdefault("flags", {})["lookahead"] = notes.lookahead(p, p_o, (p - p_o) / se)
                continue
        if p >= LOOKAHEAD_RATE and _finite_number(opposite) and opposite > LOOKAHEAD_OPPOSITE:
            m.setdefault("flags", {})["lookahead"] = notes.lookahead_rate(p, opposite)


def _efficiency(metrics: dict, no_sign: bool, periods_per_year: float | None = None) -> None:
    """Variance share and hedging efficiency of every strategy, with the reasons when undefined."""
    var_unc, var_or = metrics["uncoordinated"]["pnl_var"], metrics["oracle"]["pnl_var"]
    for name, m in metrics.items():
        m["variance_share"] = m["pnl_var"] / var_unc if var_unc and var_unc > 0 else math.nan
        reason: str | None
        if no_sign:
            m["hedging_efficiency"], reason = (
                None,
                (
                    "the indicators do not change the sign of the co-movement on the training window, so the constant "
                    "hedge is the oracle's play and there is nothing for coordination to capture"
                ),
            )
        else:
            m["hedging_efficiency"], reason = hedging_efficiency(m["pnl_var"], var_unc, var_or)
        if reason:
            m.setdefault("undefined", {})["hedging_efficiency"] = reason
        _flag(m, name, periods_per_year)


def _strongest(train_var: dict | None, metrics: dict, best_local: str | None) -> str | None:
    """The local classical strategy with the lowest book variance on the *test* window (best_local is chosen on
    training, before the test window is seen; a claim of advantage must hold against this one too). A tie goes to
    best_local, whose comparison is then reused rather than computed again."""
    names = [s for s in (train_var or {}) if s in metrics and _finite_number(metrics[s].get("pnl_var"))]
    return min(names, key=lambda s: (metrics[s]["pnl_var"], s != best_local, s)) if names else None


def _finite_number(v) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _comparisons(
    book: Book,
    series: dict,
    best_local: str | None,
    ppy: float,
    strongest: str | None = None,
    risk_aversion: float = 3.0,
) -> dict:
    """Paired tests of each quantum player (quantum, quantum_levels) against the best local classical strategy
    (chosen on training), of quantum against the strongest local classical strategy on the test window, against
    ``classical`` (the same one-bit information), and of quantum_levels against ``classical_levels`` (the same
    K-level information)."""
    comparison: dict = {}
    pairs = (
        ("quantum_vs_talk", "quantum", "talk"),
        ("quantum_vs_best_local", "quantum", best_local),
        ("quantum_vs_strongest_local", "quantum", strongest),
        ("quantum_vs_classical", "quantum", "classical"),
        ("quantum_levels_vs_best_local", "quantum_levels", best_local),
        ("quantum_levels_vs_classical_levels", "quantum_levels", "classical_levels"),
    )
    for label, q, other in pairs:
        if q not in book.discordant or other not in book.discordant[q]:
            continue
        done = next((c for lab, c in comparison.items() if lab.startswith(q + "_vs") and c["opponent"] == other), None)
        if done is not None:
            comparison[label] = done
        else:
            only_q, only_other = book.discordant[q][other]
            comparison[label] = {
                "opponent": other,
                **compare(
                    book.stats[q],
                    book.stats[other],
                    series[q]["pnl"],
                    series[other]["pnl"],
                    (only_q, only_other),
                    ppy,
                    series[q]["utility"],
                    series[other]["utility"],
                    risk_aversion,
                ),
            }
    return comparison


def _participation(plan: Plan, feed, training: Training) -> dict:
    """Each ticker's share of its traded notional that one server's fills would take, at the first test round's
    share price ({ticker: share}, None where the data has no volume: the fill rate is then an assumption only)."""
    minutes = minutes_per_round(feed)
    traded = getattr(feed, "traded_per_bar", {}) or {}
    untradable = getattr(feed, "untradable", {}) or {}
    out = {}
    for i, t in enumerate(feed.tickers):
        filled = plan.fill.filled_per_minute(float(training.test_prices[i]))
        # never a share of the volume of an instrument that has no traded book (an index's aggregate "volume")
        known = traded.get(t) and t not in untradable
        out[t] = filled * minutes / traded[t] if filled is not None and known else None
    return out


def _config_doc(plan: Plan, book_size: float, participation: dict | None = None, quoted: bool = False) -> dict:
    """``Result.config``: the declared configuration, and what Python objects given in its place resolved to."""
    doc = plan.cfg.to_dict()
    if plan.given.game is not None:
        doc["game"] = plan.given.game.to_dict()
    if plan.given.indicators is not None:
        doc["indicators"] = {**doc["indicators"], "name": plan.indicators[0].name, "name_b": plan.indicators[1].name}
    doc["run"] = {**doc["run"], "strategies": list(plan.names)}
    doc["resolved"] = {
        "noise": plan.noise.to_dict(),
        "fill": plan.fill.to_dict(),
        "supply": None if plan.supply is None else plan.supply.to_dict(),
        "book_size": book_size,
        "participation": participation or {},
        "fill_description": plan.fill.describe(),
        "income": plan.fill.income_words(quoted),
    }
    return doc


def _flag(m: dict, name: str = "", periods_per_year: float | None = None) -> None:
    """Reasons not to read a metric as a plain number (``flags``)."""
    m.setdefault("flags", {}).update(notes.metric_flags(m, name in registered(derived=True), periods_per_year))
