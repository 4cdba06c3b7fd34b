"""The notes around a run's verdict: warnings, flags, the money model's line, the report's paragraphs on a server's
own history and on a Bell pair's worth, and what it would take for entanglement to pay."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..stats.intervals import format_p
from .answer import answer
from .text import agreement, capital, money, percent

if TYPE_CHECKING:
    from .result import Result


def persistence(per: dict) -> str:
    """Whether the readings persist in time, as measured (the history rules also run when forced with --history on)."""
    state = "the readings persist" if per.get("persistent") else "the readings do not persist (history rules forced on)"
    return f"{state} (lag-1 autocorrelation A {per['A']:.2f}, B {per['B']:.2f})"


def information_note(reason: str, per: dict) -> str:
    """Why the history rules and the K-level indicator did not run (``reason`` from ``players.information``)."""
    if reason == "fixed_game":
        return "history rules and the K-level indicator need the hedge game fitted on the book (--game hedge)"
    if reason == "off":
        return "history rules are off (--history off)"
    return (
        f"the readings do not persist in time (lag-1 autocorrelation A {per.get('A', 0):.3f}, "
        f"B {per.get('B', 0):.3f}): a server's past readings add nothing, so history rules were not run "
        "(--history on runs them anyway)"
    )


def history_paragraph(info: dict) -> str | None:
    """The report's paragraph on the history rules: whether readings persist, and the rule fitted."""
    per, mem = info.get("persistence") or {}, info.get("history")
    if not mem:
        return capital(info["note"]) + "." if info.get("note") else None
    return (
        f"{capital(persistence(per))}. A server can remember its own readings: a rule on its last readings is a "
        "local classical strategy, the opponent a quantum strategy has to beat. Fitted on the training window over "
        f"{len(info['family'])} rules (majority of the last m, hysteresis): {mem['name']}, then A "
        f"{mem['classical_rule']['A_name']}, B {mem['classical_rule']['B_name']} on the smoothed bits."
    )


def levels_paragraph(info: dict) -> str | None:
    """The report's paragraph on the K-level indicator given to classical_levels and quantum_levels."""
    lv = info.get("levels")
    if not lv:
        return None
    tb = lv.get("tsirelson_bound")
    what = (
        "The K-level indicator"
        if lv.get("rule") == "indicator"
        else f"The same information as a {lv['levels']}-level indicator,"
    )
    return (
        f"{what} {lv['name']}, goes to classical_levels (exhaustive over all rule pairs) and quantum_levels (one "
        "measurement direction per level)"
        + (
            f"; no entangled state of any dimension could save more than {tb / lv['coin_variance']:.1%} of the "
            "coins' variance on it (Tsirelson's SDP)"
            if tb is not None
            else ""
        )
        + "."
    )


def bell_pair(bp: dict | None) -> str | None:
    """What one Bell pair is worth, predicted and realised, and its certainty equivalent."""
    if not bp or not bp.get("pairs"):
        return None
    net = bp.get("realised_net_certainty_equivalent")
    return (
        f"One Bell pair is worth {money(bp['predicted_variance_saved'])} currency² of book variance (predicted by "
        f"the fit), {money(bp['realised_variance_saved'])} realised on the test window; a certainty equivalent of "
        f"{money(bp['realised_certainty_equivalent'])} currency per pair at relative risk aversion "
        f"{money(bp['risk_aversion'])}"
        + (
            f"; net of the quantum servers' extra switching costs ({money(bp['extra_costs'])} per pair) and the "
            f"other differences in mean P&L, {money(net)} per pair"
            if net is not None
            else ""
        )
        + "."
    )


def texts(r: Result) -> dict:
    """The report's other sentences, keyed by section (metrics.json ``text``; ``verdict`` and
    ``shared_information`` are keys of their own)."""
    hedge, info = r.hedge or {}, r.information or {}
    take = hedge.get("what_it_would_take")
    return {
        "what_it_would_take": capital(take["sentence"]) + "." if take else None,
        "bell_pair": bell_pair(hedge.get("bell_pair_value")),
        "history": history_paragraph(info) if info else None,
        "levels": levels_paragraph(info) if info else None,
        "money_model": money_model(r),
        "answer": answer(r.pays),
    }


def money_model(r: Result) -> str:
    """Where the income and costs columns come from (the resolved fill model, whether this data earns its spread
    income or it is assumed, and, with volume, its participation)."""
    resolved = r.config.get("resolved") or {}
    income = resolved.get("income")
    return (
        (resolved.get("fill_description") or "")
        + (f"; {income}" if income else "")
        + participation_clause(resolved.get("participation") or {})
    )


# The Sharpe ratios to expect depend on the data's frequency, because what a bar can earn does.
# Intraday (bars shorter than a trading day): published for high-frequency market makers, lowest to highest: the
# "efficient" Sharpe ratio of the HFT industry, 1.07-1.87 (Charles-Cadogan, J. Investment Strategies); the median HFT
# firm, 4.3, and the average, 9.2 (Baron, Brogaard & Kirilenko, "Risk and Return in High Frequency Trading", 2014
# draft, and "The Trading Profits of High Frequency Traders", 2012; published as Baron, Brogaard, Hagstromer &
# Kirilenko, JFQA 2019); a large HFT market maker in Dutch stocks, 9.35 (Menkveld 2013).
# Daily bars (a trading day or longer): what daily long-short equity strategies publish: market-neutral statistical
# arbitrage on US equities, 1.1 (sector ETFs) to 1.44 (PCA factors) over 1997-2007 and 0.9 after 2003, 1.51 at best
# (Avellaneda & Lee 2010, Quantitative Finance 10); pairs trading, up to 11% a year of excess return on self-financing
# pairs (Gatev, Goetzmann & Rouwenhorst 2006, RFS 19). The bound, 3, is twice the best of them. A book whose Sharpe is
# outside its frequency's range is read as a modelling artefact, not a discovery.
SHARPE_RANGE = (-10.0, 10.0)  # intraday
DAILY_SHARPE_RANGE = (-3.0, 3.0)
DAILY_PERIODS = 260.0  # bars a year at or below which the data is daily (252 trading days; a little slack)


def sharpe_range(periods_per_year: float | None) -> tuple[float, float, str]:
    """(low, high, what it is published for) of the annualised Sharpe ratio at this data's frequency."""
    if periods_per_year is not None and periods_per_year <= DAILY_PERIODS:
        return (
            *DAILY_SHARPE_RANGE,
            "daily long-short equity strategies (statistical arbitrage 0.9 to 1.51, Avellaneda & Lee 2010)",
        )
    return (
        *SHARPE_RANGE,
        "high-frequency market makers (about 1 to 10: median firm 4.3, Baron, Brogaard & "
        "Kirilenko 2014; 9.35, Menkveld 2013)",
    )


def participation_clause(participation: dict) -> str:
    """How much of each ticker's traded volume the fills take, or that the fill rate is an assumption."""
    if not participation:
        return ""
    known = {t: s for t, s in participation.items() if s is not None}
    if not known:
        return "; no traded volume in the data: the fill rate is an assumption, not a measurement"
    parts = ", ".join(f"{percent(s)} of {t}'s" for t, s in known.items())
    unknown = [t for t, s in participation.items() if s is None]
    return f"; fills are {parts} traded volume" + (
        f" ({', '.join(unknown)}: no traded volume, the fill rate assumed)" if unknown else ""
    )


def heavy_participation(heavy: dict, limit: float) -> str:
    return (
        "warning: the fill model fills "
        + ", ".join(f"{percent(s)} of {t}'s" for t, s in heavy.items())
        + f" traded volume, above the {limit:.0%} published market makers take (Menkveld 2013: 8.1% of trades); "
        "lower the exposure or turnover (bias) or the notional (queue) or read spread income as out of reach"
    )


def drift_flag(d: dict) -> str | None:
    """What no longer holds on the test window (``analysis.drift``), in words; None when the fitted game still
    describes it."""
    reasons = []
    if d.get("entanglement_flipped"):
        helps = d["test_game"]["entanglement_helps"]
        reasons.append(
            "entanglement "
            + (
                "would help on the test window but did not on the training window"
                if helps
                else "helped on the training window but would not on the test window"
            )
        )
    if d.get("sign_flips"):
        reasons.append(f"the co-movement changed sign in cell(s) {', '.join(d['sign_flips'])}")
    if d.get("frequencies_changed"):
        reasons.append(
            f"the input frequencies p(x,y) changed (chi-squared {format_p(d['chi2_p_value'])})"
            + ("" if d["decision_changed"] else ", though the test window's best play is the same")
        )
    return "; ".join(reasons) if reasons else None


def metric_flags(m: dict, derived: bool, periods_per_year: float | None = None) -> dict[str, str]:
    """Reasons not to read a strategy's metric as a plain number (metrics.json ``flags``); ``derived``: the
    strategy plays on a server's own past readings; ``periods_per_year``: the data's frequency, which sets the Sharpe
    range (``sharpe_range``)."""
    flags = {}
    he = m.get("hedging_efficiency")
    if he is not None and he < 0:
        flags["hedging_efficiency"] = "below 0: this book is less hedged than independent coins'"
    elif he is not None and he > 1 and derived:
        flags["hedging_efficiency"] = (
            "above 1: the oracle knows both servers' readings of this round only; a "
            "server's own past readings tell it more about the correlation regime"
        )
    elif he is not None and he > 1:
        flags["hedging_efficiency"] = (
            "above 1: lower variance than the oracle on the test window (sampling noise, "
            "or the fitted game no longer describes the test window)"
        )
    income, directional, sharpe = m.get("pnl_spread_income"), m["pnl_directional"], m["sharpe"]
    if income and income > 0 and sharpe == sharpe and sharpe > 0 and abs(directional) < income:
        flags["sharpe"] = (
            f"driven by spread income ({income:.4g} of {m['pnl_mean']:.4g} per round is spread "
            "earned at the data's quotes, at the fill model's assumed fill rate); the directional "
            f"part's Sharpe is {m['sharpe_directional']:.2f}"
        )
    lo, hi, what = sharpe_range(periods_per_year)
    if sharpe == sharpe and not lo <= sharpe <= hi:
        flags["sharpe_range"] = (
            f"{sharpe:.3g} is outside the annualised Sharpe ratios published for {what}: read it "
            "as the fill model's assumption, not as money"
        )
    return flags


def nonlocal_opponent(name: str, chsh: float) -> str:
    """A user's strategy whose resource no local hidden-variable model gives: a quantum (or no-signalling)
    opponent, never compared with quantum as a local classical rule."""
    value = f" (CHSH value {chsh:.3f} > 2)" if chsh > 2 + 1e-9 else ""
    return (
        f"{name}'s resource gives correlations no local hidden-variable model gives{value}: it is a quantum or "
        "no-signalling opponent, not a local classical one, and quantum is not compared against it as one"
    )


def clock_offset(off: dict, tickers) -> str:
    """The warning for series whose returns correlate more one bar apart than on the same bar."""
    other = [t for t in tickers if t != off["lead"]][0]
    return (
        f"the two clocks may be misaligned: returns correlate {off['lagged']:+.2f} between {off['lead']}'s bar t "
        f"and {other}'s bar t+1 but {off['same']:+.2f} on the same bar ({off['n']} bars); check time zones and "
        "whether each file stamps its bars by their start or their end"
    )


def lookahead(rate: float, oracle: float, z: float) -> str:
    """Why a hedged rate above what both servers' indicators allow means look-ahead (``document._lookahead``)."""
    return (
        f"hedged rate {rate:.4f} beats the {oracle:.4f} that the best rule knowing both servers' indicators "
        f"reaches by {z:.1f} standard errors: without communication no rule can out-hedge it, so an indicator "
        "probably reads the round's own move (a lookup by timestamp into outside data, or unlagged arrays)"
    )


def lookahead_rate(rate: float, opposite: float) -> str:
    return (
        f"hedged rate {rate:.4f} where the two stocks moved in opposite directions in {opposite:.0%} of test "
        "rounds: that needs the sign of each round's own co-movement, so an indicator probably reads the round's "
        "own move (a lookup by timestamp into outside data cannot be checked for causality)"
    )


def untradable(why: dict) -> str:
    """The warning for tickers that cannot be traded as quoted (``feed.facts.untradable``)."""
    listed = "; ".join(f"{t}: {w}" for t, w in why.items())
    return (
        f"cannot be traded as the fill model assumes ({listed}): its fills are assumed, not evidenced by the "
        "data, and its spread income is in the assumed column, outside the P&L; a position in it is the hedge's "
        "directional P&L only"
    )


def adjusted_prices(tickers, prices) -> str:
    """The warning for a queue fill on a source with adjusted prices only."""
    listed = ", ".join(f"{t} {p:.4g}" for t, p in zip(tickers, prices))
    return (
        f"the source has adjusted prices only ({listed} at the first test round): share quantities, the "
        "tick and amounts per share are at adjusted prices, which can be far from the prices traded then "
        "(a $0.01 tick on a split-adjusted $2 is 50 bp); use a source with Close and Adj Close"
    )


def what_it_would_take(take: dict) -> str:
    """One sentence saying what would have to change for entanglement to pay."""
    b = take.get("best")
    if b is None:
        ideal = take.get("perfect_link") or {}
        agree = take.get("inputs_agree")
        if ideal.get("best") is not None and not ideal["best"].get("move"):
            return (
                "no co-movement information in a single input cell would make this link beat the best classical "
                f"rule by {take['gain']:.0%} of book variance: the link itself must improve (a perfect link would "
                "already pay at the fitted co-movement)"
            )
        if ideal.get("best") is not None:
            return (
                "no co-movement information in a single input cell would make this link beat the best classical "
                f"rule by {take['gain']:.0%} of book variance: the link itself must improve (with a perfect link, "
                + _cell_clause(ideal["best"])
                + ")"
            )
        agree_txt = f" ({agreement(agree, 0)})" if agree is not None else ""
        return (
            "no co-movement pattern in a single input cell gives entanglement an edge at these input frequencies, "
            f"even on a perfect link{agree_txt}: the two servers' indicators must carry more independent "
            "information"
        )
    return (
        f"entanglement would beat the best classical rule by {take['gain']:.0%} of book variance on this link only "
        "if " + _cell_clause(b)
    )


def _cell_clause(b: dict) -> str:
    obs = b.get("negative_share_observed")
    obs_txt = f"; observed {obs:.0%}" if obs is not None else ""
    needed, fitted = _distinct(b["rho_needed"], b["rho_fitted"])
    return (
        f"the returns in input cell (x,y) = ({b['cell'][0]},{b['cell'][1]}) moved with correlation "
        f"{needed} instead of {fitted}, i.e. in opposite directions about "
        f"{b['negative_share_needed']:.0%} of the time (normal-equivalent{obs_txt})"
    )


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Two numbers with as few decimals (2 to 6) as tell them apart: never "-0.59 instead of -0.59"."""
    for digits in range(2, 7):
        ta, tb = f"{a:+.{digits}f}", f"{b:+.{digits}f}"
        if ta != tb:
            break
    return ta, tb


def lookahead_oracle(rate: float, opposite: float) -> str:
    """Why every strategy is flagged when the oracle hedges (nearly) every round (``analysis.impossible``)."""
    return (
        f"the oracle, which knows only the two servers' readings of the round, hedged {rate:.4f} of test rounds "
        f"where the stocks moved apart in {opposite:.0%}: together the readings tell each round's own co-movement, "
        "so the indicators probably read outside data by timestamp (which no causality check can see)"
    )


def lookahead_cell(cell: str, share: float, moved: int, opposite: float) -> str:
    """Why every strategy is flagged when an input cell's share of opposite moves is exactly 0 or 1."""
    return (
        f"in input cell {cell} the stocks moved apart in {share:.0%} of {moved} test rounds (overall "
        f"{opposite:.0%}): no honest reading sorts the rounds' own co-movements that cleanly, so the indicators "
        "probably read outside data by timestamp"
    )


def beyond_bound(rate: float, bound: float, z: float, kind: str) -> str:
    """Why a strategy is flagged for winning more than its resource allows (``analysis.impossible``)."""
    what = "any local classical strategy" if kind == "local" else "any shared quantum state"
    return (
        f"win rate {rate:.4f} is {z:.1f} standard errors above {bound:.4f}, the most {what} reaches on these "
        "inputs: its rules probably reach the partner's inputs through a file or a socket, which no check can "
        "police; it is listed but not compared"
    )
