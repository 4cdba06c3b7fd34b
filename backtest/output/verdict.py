"""The verdict: at most three sentences on whether entanglement helps against the strongest local classical strategy,
and the headline that gives its gist. Every sentence qcoord writes about a run lives in ``output``: here the verdict
and headline, in ``notes`` the warnings, flags and paragraphs around them, in ``summary`` the terminal summary, in
``sweeps`` the lines of scans and sweeps; the HTML report reads them through metrics.json's ``text`` section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..analysis.impossible import excluded
from ..stats.intervals import format_p
from .text import agreement, capital, ci_judgement, duration, finite, num

if TYPE_CHECKING:
    from .result import Result


SHARED_INPUTS = 0.95  # above this share of training rounds with x = y, the servers share their information


def shared_information(r: Result) -> str | None:
    """When the two indicator bits agree in more than 95% of training rounds, what that means and what to use."""
    agree = r.inputs_agree()
    if agree is None or agree <= SHARED_INPUTS:
        return None
    names = [ind["name"] for ind in (r.indicators or {}).values() if isinstance(ind, dict) and ind.get("name")] or [
        "the indicator"
    ]
    p = np.asarray(r.game.get("p_xy"), dtype=float)
    if p.shape == (2, 2) and max(p[0, 0], p[1, 1]) > SHARED_INPUTS:  # one reading nearly always, at both servers
        bit = int(p[1, 1] > p[0, 0])
        return (
            f"{agreement(agree)}, and both read {bit} in {max(p[0, 0], p[1, 1]):.1%} of them: the indicators "
            f"({' / '.join(dict.fromkeys(names))}) barely change on this data's clock, so the rounds give the "
            "servers nothing to tell apart (on a microsecond clock most bars are flat: play more rounds, a "
            "longer step, or another indicator)"
        )
    return (
        f"{agreement(agree)}: the two servers' indicators ({' / '.join(dict.fromkeys(names))}"
        ") read the same information, so there is no coordination problem for entanglement to solve (shared "
        "information already lets a classical rule do what quantum could). Use a purely local indicator, e.g. "
        "--indicator return_shock (or volatility_burst, momentum), so that each server reads its own stock."
    )


def verdict(r: Result) -> str:
    """At most three sentences: the local strategy with the lowest test variance; quantum against the best
    local classical strategy (or why entanglement cannot help, and what would change that); what the
    communicating benchmarks show, where it applies. Led by a warning when a strategy probably looks ahead; with a
    physical link (``--link``), followed by the stage of its feasibility chain that stops the advantage."""
    peeking = [s for s, v in r.metrics_dict.items() if "lookahead" in (v.get("flags") or {})]
    lead = (
        f"Probable look-ahead: {', '.join(peeking)} hedge(s) more rounds than information available before the "
        "round allows (reasons in metrics.json flags); an indicator probably reads the round's own move, so read "
        "nothing below as a result. "
        if peeking
        else ""
    )
    beyond = [s for s, v in r.metrics_dict.items() if "beyond_bound" in (v.get("flags") or {})]
    if beyond:
        lead += (
            f"Beyond its resource's bound: {', '.join(beyond)} win(s) more rounds than any strategy with the "
            "same resource can (reasons in metrics.json flags), so it is listed but not compared. "
        )
    talk = None if degenerate(r) else talk_sentence(r)  # nothing to hedge comes first: the game does not arise
    tail = f" {r.link['sentence']}" if r.link else ""
    return lead + (talk + " " if talk else "") + _verdict(r) + tail


def talk_sentence(r: Result) -> str | None:
    """When a message between the venues arrives before the servers must decide (the run's clock), that first: the
    servers can talk, so the no-communication game does not arise here, with talk's book variance beside quantum's.
    None when they cannot."""
    clock = r.clock or {}
    if not clock.get("can_talk"):
        return None
    m = r.metrics_dict
    shares = [
        f"{name} {m[name]['variance_share']:.1%}"
        for name in ("talk", "quantum")
        if finite((m.get(name) or {}).get("variance_share"))
    ]
    waits = (
        "decisions are"
        if clock["deadline_s"] == clock["decision_interval_s"]
        else f"a server may take {duration(clock['deadline_s'])} to decide, decisions are"
    )
    return (
        f"A message crosses between the venues in {duration(clock['message_delay_s'])} and {waits} "
        f"{duration(clock['decision_interval_s'])} apart: the servers can talk, and entanglement is moot here"
        + (f" (book variance against independent coins': {', '.join(shares)})" if shares else "")
        + "."
    )


STAGE_WORDS = {
    "market": "the market",
    "fidelity": "the link's fidelity",
    "deadline": "the light-speed deadline",
    "rate": "the pair rate",
    "memory": "the memory",
    "detectable": "detection within the stationary window",
    "value": "the value after costs",
}


def link_sentence(doc: dict) -> str:
    """One sentence: the first stage of the link's feasibility chain that fails, with its number, or that all pass."""
    name = f"The link ({doc['preset']})" if doc.get("preset") else "The link"
    first = doc.get("first_failing")
    if first is None:
        return f"{name} passes every stage of its feasibility chain."
    stage = next(s for s in doc["stages"] if s["stage"] == first)
    return f"{name} stops the advantage first at {STAGE_WORDS[first]}: {stage['text']}."


def link_lines(doc: dict) -> list[tuple[str, str, str]]:
    """(stage, pass/FAIL/n/a, its number in words) per stage of the chain."""
    return [(s["stage"], s["result"], s["text"]) for s in doc["stages"]]


DEGENERATE = (
    "Degenerate run: the book P&L of independent coins has no variance (the prices do not move over the "
    "test window), so there is nothing to hedge and no strategy can be compared with another."
)


def degenerate(r: Result) -> bool:
    """Independent coins' book has no variance: nothing to hedge."""
    coins = r.metrics_dict.get("uncoordinated", {})
    unc = coins.get("pnl_var")
    before = coins.get("pnl_var_before_costs", unc)  # the switching costs alone are no market
    # (the before-cost variance comes from running sums: a market that never moved leaves rounding, not zero)
    return unc is None or not (unc > 0) or not (finite(before) and before > 1e-9 * unc)


def _lowest_local(r: Result) -> tuple[str, list[str], float | None, str] | None:
    """(the strategy without communication with the lowest test book variance, those tied with it, its share of
    independent coins' variance, a note when it is a quantum player playing the classical rule), or None."""
    m = r.metrics_dict
    local = [s for s in m if s in r.local_names and not excluded({s: m[s]})]  # a flag excludes
    if not local:
        return None
    low = min(local, key=lambda s: num(m[s]["pnl_var"]))
    best = num(m[low]["pnl_var"])
    tied = [s for s in local if s != low and abs(num(m[s]["pnl_var"]) - best) <= 1e-9 * abs(best)]
    note = " (playing the classical rule: it uses no entanglement)" if _classical_rule(r, low) else ""
    return low, tied, m[low].get("variance_share"), note


def _verdict(r: Result) -> str:
    g = r.game
    hedge = r.hedge
    if degenerate(r):
        return DEGENERATE
    sentences = []
    lowest = _lowest_local(r)
    if lowest:
        low, tied, share, note = lowest
        sentences.append(
            f"Lowest test book variance among strategies that do not communicate: {low}{note}"
            + (f" (tied with {', '.join(tied)})" if tied else "")
            + (f", at {share:.1%} of the variance of independent coins" if finite(share) else "")
            + "."
        )
    flat = flat_prices(r)
    if flat:
        second = flat
    elif hedge is not None and not hedge["informativeness"]["train"]["sign_differs"]:
        second = (
            "The indicators do not change the sign of the co-movement (E[r_X r_Y | x, y] has one sign in "
            "every input cell on the training window), so the constant hedge is the fitted game's best play "
            "and entanglement cannot help" + _constant_hedge_caveat(r)
        )
    elif not g.get("uses_entanglement"):
        second = (
            "Entanglement does not help for these indicator statistics and this link: the fitted quantum "
            "strategy is the classical rule"
        )
    else:
        second = _quantum_sentence(r)
    take = (hedge or {}).get("what_it_would_take")
    if take and not g.get("uses_entanglement"):
        second += "; " + take["sentence"]
    levels = _levels_clause(r)
    sentences.append(second + (f"; {levels}" if levels else "") + ".")
    d = r.drift or {}
    third: str | None
    if d.get("decision_changed"):  # first: no other row of the table can be read as the fit intended
        third = f"The game fitted on the training window no longer describes the test window: {d['flag']}."
    else:
        third = _benchmark_sentence(r)
    if third:
        sentences.append(third)
    return " ".join(sentences)


def flat_prices(r: Result) -> str | None:
    """When a stock's price never moved over the training or the test window: there is no co-movement to hedge."""
    windows = (r.hedge or {}).get("informativeness") or {}
    flat: dict[str, list[str]] = {}
    for w, word in (("train", "training"), ("test", "test")):
        for i in (windows.get(w) or {}).get("flat", []):
            flat.setdefault(r.tickers[i], []).append(word)
    if not flat:
        return None
    names = " and ".join(
        f"{t}'s price never moves over the {' and '.join(w)} window{'s' if len(w) > 1 else ''}" for t, w in flat.items()
    )
    return (
        f"{names} (every return 0), so there is no co-movement to hedge and entanglement cannot help; check the "
        "data (a stale or suspended series)"
    )


def _constant_hedge_worse(r: Result) -> float | None:
    """always_hedge's test variance share when the constant hedge the game prescribes does worse than independent
    coins (for example inventory carried by a queue fill): the verdict then says so rather than call it the best
    play against its own table."""
    share = r.metrics_dict.get("always_hedge", {}).get("variance_share")
    return share if finite(share) and share > 1.0 else None


def _constant_hedge_caveat(r: Result) -> str:
    share = _constant_hedge_worse(r)
    if share is None:
        return ""
    return (
        f"; yet always_hedge's test book variance is {share:.1%} of the coins', so the constant hedge does not "
        "hedge this book: its variance comes from what the game does not model (carried inventory, for one)"
    )


def headline(r: Result) -> str:
    """The verdict's gist in at most three short sentences, first in the summary and the report (metrics.json
    ``headline``): whether entanglement helps against the best local classical strategy, whether it pays after its
    switching costs, and which strategy that does not communicate had the lowest book variance. The full verdict
    (``verdict``) gives the reasons and the numbers behind them."""
    peeking = [s for s, v in r.metrics_dict.items() if "lookahead" in (v.get("flags") or {})]
    if peeking:
        return (
            f"Probable look-ahead: {', '.join(peeking)} hedge(s) more rounds than information before the round "
            "allows, so read nothing in this run as a result."
        )
    if degenerate(r):
        return DEGENERATE
    g, hedge = r.game, r.hedge
    agree = r.inputs_agree()
    talk, flat = talk_sentence(r), flat_prices(r)
    # bad data first (a price that never moves), then the clock's answer (the servers can talk), then the game
    sentences = ([flat + "."] if flat else []) + ([talk] if talk else [])
    if flat is not None:
        pass  # nothing to hedge: the flat price's sentence is the whole story
    elif agree is not None and agree > SHARED_INPUTS:
        sentences.append(
            f"The two servers' indicators agree in {agree:.1%} of training rounds, so there is no "
            "coordination problem for entanglement to solve."
        )
    elif hedge is not None and not hedge["informativeness"]["train"]["sign_differs"]:
        worse = _constant_hedge_worse(r)
        sentences.append(
            "The indicators never change the sign of the co-movement, so the constant hedge is the "
            "fitted game's best play and entanglement cannot help"
            + (f"; yet always_hedge's test book variance is {worse:.1%} of the coins'" if worse else "")
            + "."
        )
    elif not g.get("uses_entanglement"):
        sentences.append(
            "Entanglement does not help for these indicators and this link: the fitted quantum strategy "
            "is the classical rule."
        )
    else:
        c = r.comparison.get("quantum_vs_best_local") or {}
        if c.get("variance_ratio") is not None:
            ci = c.get("variance_ratio_ci95")
            change = c["variance_ratio"] - 1.0
            ci_txt = f"; 95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%}" if ci else ""
            judgement = ci_judgement(ci)
            # against every local classical strategy, not only the one chosen on the training window
            sentences.append(
                f"Quantum's test book variance is {abs(change):.1%} "
                f"{'lower' if change < 0 else 'higher'} than the best local classical strategy's "
                f"({c['opponent']}{ci_txt}): {judgement}{_beaten_clause(r, 'quantum', judgement)}."
            )
            cost = _cost_sentence(r, c)
            if cost:
                sentences.append(cost)
    if r.link:
        sentences.append(r.link["sentence"])
    d = r.drift or {}
    if d.get("decision_changed"):
        sentences.append("The game fitted on the training window no longer describes the test window.")
    elif (lowest := _lowest_local(r)) is not None:
        low, tied, share, note = lowest
        ties = f" (tied with {tied[0]})" if len(tied) == 1 else f" (tied with {len(tied)} others)" if tied else ""
        sentences.append(
            f"Lowest book variance without communication: {low}{note}{ties}"
            + (f", {share:.1%} of independent coins'" if finite(share) else "")
            + "."
        )
    return " ".join(sentences[:3])


def _assumed_gap(r: Result, c: dict) -> tuple[float, float] | None:
    """(quantum's assumed spread income less the opponent's, the certainty-equivalent difference were that income
    earned) when quantum's assumed income is the lower (its changes of order forgo it): the data has no quotes, so
    that income is outside the P&L and the certainty equivalent, but a reader should know what it would do."""
    q, o = r.metrics_dict.get("quantum", {}), r.metrics_dict.get(c["opponent"], {})
    aq, ao, ce = q.get("pnl_assumed_income"), o.get("pnl_assumed_income"), c.get("certainty_equivalent_diff")
    if not (finite(aq) and finite(ao) and finite(ce) and aq < ao):
        return None
    return aq - ao, ce + aq - ao


def _assumed_words(r: Result, c: dict, gap: tuple[float, float]) -> str:
    q, o = r.metrics_dict["quantum"], r.metrics_dict.get(c["opponent"], {})
    gamma = (r.config.get("run") or {}).get("risk_aversion", 3.0)
    return (
        f"were the assumed spread income earned (the data has no quotes), quantum's would be {-gap[0]:.3g} a round "
        f"below {c['opponent']}'s (it changes its quoting order in {q['turnover']:.0%} of rounds, "
        f"{c['opponent']} in {o.get('turnover', 0.0):.0%}), which "
        f"{'outweighs' if gap[1] < 0 else 'does not outweigh'} the variance saved: certainty equivalent "
        f"{gap[1]:+.3g} a round at risk aversion {gamma:g}"
    )


def _cost_sentence(r: Result, c: dict) -> str | None:
    """Whether quantum pays after costs (``Result.pays``, the one answer), in one sentence after its variance's (and,
    where its income is assumed, what that income would do were it earned)."""
    p = local_pays(r)
    if p["reason"] not in ("pays", "costs"):
        return None
    q, o = r.metrics_dict.get("quantum", {}), r.metrics_dict.get(p["opponent"], {})
    ce, k, gamma = p["certainty_equivalent"], p["break_even_cost_scale"], p["risk_aversion"]
    against = "" if p["opponent"] == c["opponent"] else f" against {p['opponent']}"
    if not ((q.get("pnl_costs") or 0.0) > (o.get("pnl_costs") or 0.0)):
        talk = r.pays["reason"] == "talk"  # the talk sentence leads: the assumed income is left to the verdict
        gap = None if talk else _assumed_gap(r, c)
        it = "Against the strategies that do not communicate it" if talk else "It"
        return (
            f"{it} {'pays' if p['pays'] else 'does not pay'} after costs: certainty equivalent {ce:+.3g} a round"
            f"{against} at risk aversion {gamma:g}." + (f" {capital(_assumed_words(r, c, gap))}." if gap else "")
        )
    if not p["pays"]:
        return (
            f"Its switching costs ({q['turnover']:.0%} of rounds change quoting order) outweigh that: certainty "
            f"equivalent {ce:+.3g} a round{against} at risk aversion {gamma:g}"
            + (f"; it pays only below {k:.3g} times the configured costs." if k else ".")
        )
    return (
        f"It still pays after its switching costs: certainty equivalent {ce:+.3g} a round{against} at risk "
        f"aversion {gamma:g}."
    )


def local_pays(r: Result) -> dict:
    """``Result.pays`` against the strategies that do not communicate: where the servers can talk the answer is
    "does not pay" (talking reproduces any Bell pair's correlations), and the game's sentences then say what quantum
    does against the local rules it would face were the venues out of reach."""
    p = r.pays
    return p | p["without_talk"] if p["reason"] == "talk" else p


def _classical_rule(r: Result, name: str) -> bool:
    """Whether a quantum player played a classical rule (its fitted strategy uses no entanglement): what it wins
    is then a classical result, never a quantum one."""
    if name == "quantum":
        return not r.game.get("uses_entanglement")
    if name == "quantum_levels":
        lv = (r.information or {}).get("levels") or {}
        return not lv.get("uses_entanglement", True)
    return False


def _quantum_sentence(r: Result) -> str:
    c = r.comparison.get("quantum_vs_best_local")
    if not c or c.get("variance_ratio") is None:
        return "Entanglement helps on the training window, but no local classical strategy ran to compare with"
    ratio, ci, p = c["variance_ratio"], c.get("variance_ratio_ci95"), c.get("variance_p_value")
    change = ratio - 1.0
    ci_txt = f" (95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%}, paired HAC {format_p(p)})" if ci and p is not None else ""
    judgement = ci_judgement(ci)
    text = (
        f"Quantum against the best local classical strategy ({c['opponent']}"
        f"{_history_clause(r, c['opponent'])}): book variance {change:+.1%}{ci_txt}, {judgement}"
    )
    text += _turnover_clause(r, c, judgement) + _beaten_clause(r, "quantum", judgement)
    if r.game.get("kind", "paper") == "paper" and c.get("utility_diff") is not None:
        # the paper's game is scored in utility: say how quantum did on the game actually played
        text += (
            f"; utility {c['utility_diff']:+.4f} per round (paired HAC {format_p(c['utility_p_value'])}), the "
            "objective of the game played"
        )
    return text


def _history_clause(r: Result, opponent: str) -> str:
    """Names the rule behind a best local strategy that remembers its own readings."""
    info = r.information or {}
    if opponent == "history" and info.get("history"):
        return f", each server on its own last readings: {info['history']['name']}"
    if opponent == "classical_levels" and info.get("levels"):
        return f", the best rule on each server's smoothed indicator {info['levels']['name']}"
    return ""


def _levels_clause(r: Result) -> str | None:
    """quantum_levels, the quantum strategy given the same smoothed information as the history rules (a clause
    of the verdict's second sentence)."""
    info = r.information or {}
    lv = info.get("levels")
    c = r.comparison.get("quantum_levels_vs_best_local")
    if not lv or "quantum_levels" not in r.metrics_dict:
        return None
    head = (
        f"on the {lv['levels']}-level indicator {lv['name']}, "
        if lv.get("rule") == "indicator"
        else f"given the same smoothed information as a {lv['levels']}-level indicator ({lv['name']}), "
    )
    if not lv.get("uses_entanglement"):
        bound, coins = lv.get("tsirelson_bound"), lv.get("coin_variance") or 0.0
        gap = None if bound is None else bound - lv["classical_saved"]
        if gap is not None and gap > 1e-6 * coins:  # below that: the SDP's own accuracy
            tail = (
                f" (a noiseless entangled state of any dimension could save up to {gap / coins:.2%} of the "
                "coins' variance more: the link, not the information, is what falls short)"
            )
        elif gap is not None:
            tail = " (no entangled state could do better on it even without noise)"
        else:
            tail = ""
        return head + f"entanglement does not help either: its fitted quantum strategy is the classical rule{tail}"
    if not c or c.get("variance_ratio") is None:
        return None
    ratio, ci = c["variance_ratio"], c.get("variance_ratio_ci95")
    judgement = ci_judgement(ci)
    ci_txt = f" (95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%})" if ci else ""
    q, o = r.metrics_dict["quantum_levels"], r.metrics_dict.get(c["opponent"], {})
    text = head + f"quantum_levels against {c['opponent']}: book variance {ratio - 1:+.1%}{ci_txt}, {judgement}"
    bq, bo = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
    costs = (q.get("pnl_costs") or 0.0) > 0 or (o.get("pnl_costs") or 0.0) > 0
    if judgement != "a significant reduction" and costs and finite(bq) and finite(bo) and bo > 0:
        text += f" ({bq / bo - 1:+.1%} before switching costs)"
    return text + _beaten_clause(r, "quantum_levels", judgement)


def _beaten_clause(r: Result, quantum: str, judgement: str) -> str:
    """best_local is chosen on the training window; a reduction against it is not an advantage when another local
    classical strategy still had lower book variance than the quantum one on the test window."""
    if judgement != "a significant reduction":
        return ""
    m = r.metrics_dict
    q = num(m[quantum]["pnl_var"])
    lower = [s for s in (r.best_local_training or {}) if num(m[s]["pnl_var"]) < q]
    if not lower:
        return ""
    best = min(lower, key=lambda s: num(m[s]["pnl_var"]))
    return (
        f"; but {best} had a lower book variance still on the test window ({num(m[best]['pnl_var']) / q - 1:+.1%}"
        f" against {quantum}), so the reduction does not hold against every local classical strategy"
    )


def _turnover_clause(r: Result, c: dict, judgement: str) -> str:
    """Why quantum loses when it wins before switching costs: its outputs are random bits."""
    q, o = r.metrics_dict.get("quantum", {}), r.metrics_dict.get(c["opponent"], {})
    before_q, before_o = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
    if judgement == "a significant reduction":
        return _cost_clause(r, c, q, o)
    if not (finite(before_q) and finite(before_o)):
        return ""
    if not before_q < before_o or not (q.get("turnover") or 0) > (o.get("turnover") or 0):
        return ""
    return (
        f"; before switching costs its variance is {before_q / before_o - 1:+.1%}, but a quantum server's "
        f"output is a random bit, so it changes its quoting order in {q['turnover']:.0%} of rounds "
        f"({c['opponent']}: {o['turnover']:.0%}) and the turnover's cost adds more variance than "
        f"entanglement removes" + _break_even_clause(r, c)
    )


def _break_even_clause(r: Result, c: dict) -> str:
    """The break-even cost multiple in words (``risk.break_even_cost_scale``: certainty equivalents equal), against the
    benchmark ``Result.pays`` decided on."""
    p = local_pays(r)
    k = p["break_even_cost_scale"]
    if not k:
        return ""
    return (
        f"; its certainty equivalent equals {p['opponent']}'s at {k:.3g} times the configured costs "
        f"(risk aversion {p['risk_aversion']:g}), so it pays only below that"
    )


def _cost_clause(r: Result, c: dict, q: dict, o: dict) -> str:
    """When quantum lowers the variance but does not pay after costs (``Result.pays``): its switching costs cost
    more than the variance is worth to a mean-variance investor (certainty equivalent at the run's risk aversion)."""
    p = local_pays(r)
    cost_q, cost_o = q.get("pnl_costs") or 0.0, o.get("pnl_costs") or 0.0
    if not (p["reason"] == "costs" and cost_q > cost_o):
        gap = _assumed_gap(r, c) if cost_q <= cost_o else None
        return ("; " + ("but " if gap[1] < 0 else "and ") + _assumed_words(r, c, gap)) if gap else ""
    return (
        f"; but a quantum server's output is a random bit, so it changes its quoting order in "
        f"{q['turnover']:.0%} of rounds ({c['opponent']}: {o['turnover']:.0%}), and its switching costs "
        f"({cost_q:.3g} a round against {cost_o:.3g}) outweigh the variance saved: certainty equivalent "
        f"{p['certainty_equivalent']:+.3g} a round at risk aversion {p['risk_aversion']:g}" + _break_even_clause(r, c)
    )


def _benchmark_sentence(r: Result) -> str | None:
    m = r.metrics_dict
    unc, orc, dc, q = m.get("uncoordinated"), m.get("oracle"), m.get("delayed_comm"), m.get("quantum")
    if unc and orc and not (orc["pnl_var"] < unc["pnl_var"]):
        return (
            "Even the oracle, which knows both indicators, does not lower book variance below independent "
            "coins here: winning the game is not hedging this book."
        )
    best = m.get(r.best_local) if r.best_local else None
    # the delayed link's edge is only information when it also beats every local classical strategy
    if (
        dc
        and q
        and best
        and r.game.get("uses_entanglement")
        and num(dc["pnl_var"]) < min(num(q["pnl_var"]), 0.99 * num(best["pnl_var"]))
    ):
        return (
            f"A classical link delayed by {r.config['run']['delay']} round(s) does better than quantum "
            f"(variance {dc['pnl_var'] / q['pnl_var'] - 1:+.1%}): the indicators change too slowly for a "
            "no-communication protocol to matter."
        )
    return None
