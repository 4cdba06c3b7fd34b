"""Every sentence qcoord writes about a run, in one place: the verdict, the summary, the notes the report shows.

Functions of a finished ``Result`` (or of the numbers in its documents) that return English. The summary, the
HTML report (through the ``text`` section of metrics.json) and the scan read their sentences from here, so each
is written once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..analysis.impossible import excluded
from ..analysis.stats import format_p

if TYPE_CHECKING:
    from .result import Result

SHARED_INPUTS = 0.95  # above this share of training rounds with x = y, the servers share their information


def _num(v) -> float:
    return float(v) if v is not None else math.inf


def _judgement(ci) -> str:
    """What a variance ratio's 95% interval says: a significant reduction, increase, or neither."""
    if ci and ci[1] < 1.0:
        return "a significant reduction"
    if ci and ci[0] > 1.0:
        return "a significant increase"
    return "not significantly different"


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
    return (f"the readings do not persist in time (lag-1 autocorrelation A {per.get('A', 0):.3f}, "
            f"B {per.get('B', 0):.3f}): a server's past readings add nothing, so history rules were not run "
            "(--history on runs them anyway)")


def history_paragraph(info: dict) -> str | None:
    """The report's paragraph on the history rules: whether readings persist, and the rule fitted."""
    per, mem = info.get("persistence") or {}, info.get("history")
    if not mem:
        return _capital(info["note"]) + "." if info.get("note") else None
    return (f"{_capital(persistence(per))}. A server can remember its own readings: a rule on its last readings is a "
            "local classical strategy, the opponent a quantum strategy has to beat. Fitted on the training window over "
            f"{len(info['family'])} rules (majority of the last m, hysteresis): {mem['name']}, then A "
            f"{mem['classical_rule']['A_name']}, B {mem['classical_rule']['B_name']} on the smoothed bits.")


def levels_paragraph(info: dict) -> str | None:
    """The report's paragraph on the K-level indicator given to classical_levels and quantum_levels."""
    lv = info.get("levels")
    if not lv:
        return None
    tb = lv.get("tsirelson_bound")
    what = ("The K-level indicator" if lv.get("rule") == "indicator"
            else f"The same information as a {lv['levels']}-level indicator,")
    return (f"{what} {lv['name']}, goes to classical_levels (exhaustive over all rule pairs) and quantum_levels (one "
            "measurement direction per level)"
            + (f"; no entangled state of any dimension could save more than {tb / lv['coin_variance']:.1%} of the "
               "coins' variance on it (Tsirelson's SDP)" if tb is not None else "") + ".")


def bell_pair(bp: dict) -> str | None:
    """What one Bell pair is worth, predicted and realised, and its certainty equivalent."""
    if not bp or not bp.get("pairs"):
        return None
    net = bp.get("realised_net_certainty_equivalent")
    return (f"One Bell pair is worth {_g(bp['predicted_variance_saved'])} currency² of book variance (predicted by the "
            f"fit), {_g(bp['realised_variance_saved'])} realised on the test window; a certainty equivalent of "
            f"{_g(bp['realised_certainty_equivalent'])} currency per pair at relative risk aversion "
            f"{_g(bp['risk_aversion'])}"
            + (f"; net of the quantum servers' extra switching costs ({_g(bp['extra_costs'])} per pair) and the other "
               f"differences in mean P&L, {_g(net)} per pair" if net is not None else "") + ".")


def texts(r: Result) -> dict:
    """The report's other sentences, keyed by section (metrics.json ``text``; ``verdict`` and
    ``shared_information`` are keys of their own)."""
    hedge, info = r.hedge or {}, r.information or {}
    take = hedge.get("what_it_would_take")
    return {"what_it_would_take": _capital(take["sentence"]) + "." if take else None,
            "bell_pair": bell_pair(hedge.get("bell_pair_value")),
            "history": history_paragraph(info) if info else None,
            "levels": levels_paragraph(info) if info else None,
            "money_model": money_model(r)}


def money_model(r: Result) -> str:
    """Where the income and costs columns come from (the resolved fill model and, with volume, its participation)."""
    resolved = r.config.get("resolved") or {}
    return fill_assumption(resolved.get("fill") or {}, resolved.get("participation"))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _g(v) -> str:
    """A money figure in a sentence: three significant digits, or "undefined"."""
    return "undefined" if v is None else f"{v:.3g}"


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def shared_information(r: Result) -> str | None:
    """When the two indicator bits agree in more than 95% of training rounds, what that means and what to use."""
    agree = r.inputs_agree()
    if agree is None or agree <= SHARED_INPUTS:
        return None
    names = [ind.get("name") for ind in (r.indicators or {}).values()
             if isinstance(ind, dict)] or ["the indicator"]
    return (f"x = y in {agree:.1%} of training rounds: the two servers' indicators ({' / '.join(dict.fromkeys(names))}"
            ") read the same information, so there is no coordination problem for entanglement to solve (shared "
            "information already lets a classical rule do what quantum could). Use a purely local indicator, e.g. "
            "--indicator return_shock (or volatility_burst, momentum), so that each server reads its own stock.")


def verdict(r: Result) -> str:
    """At most three sentences: the local strategy with the lowest test variance; quantum against the best
    local classical strategy (or why entanglement cannot help, and what would change that); what the
    communicating benchmarks show, where it applies. Led by a warning when a strategy probably looks ahead; with a
    physical link (``--link``), followed by the stage of its feasibility chain that stops the advantage."""
    peeking = [s for s, v in r.metrics_dict.items() if "lookahead" in (v.get("flags") or {})]
    lead = (f"Probable look-ahead: {', '.join(peeking)} hedge(s) more rounds than information available before the "
            "round allows (reasons in metrics.json flags); an indicator probably reads the round's own move, so read "
            "nothing below as a result. " if peeking else "")
    beyond = [s for s, v in r.metrics_dict.items() if "beyond_bound" in (v.get("flags") or {})]
    if beyond:
        lead += (f"Beyond its resource's bound: {', '.join(beyond)} win(s) more rounds than any strategy with the "
                 "same resource can (reasons in metrics.json flags), so it is listed but not compared. ")
    tail = f" {r.link['sentence']}" if r.link else ""
    return lead + _verdict(r) + tail


STAGE_WORDS = {"market": "the market", "fidelity": "the link's fidelity", "deadline": "the light-speed deadline",
               "rate": "the pair rate", "memory": "the memory", "detectable": "detection within the stationary window",
               "value": "the value after costs"}


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


DEGENERATE = ("Degenerate run: the book P&L of independent coins has no variance (the prices do not move over the "
              "test window), so there is nothing to hedge and no strategy can be compared with another.")


def _degenerate(r: Result) -> bool:
    """Independent coins' book has no variance: nothing to hedge."""
    coins = r.metrics_dict.get("uncoordinated", {})
    unc = coins.get("pnl_var")
    before = coins.get("pnl_var_before_costs", unc)  # the switching costs alone are no market
    # (the before-cost variance comes from running sums: a market that never moved leaves rounding, not zero)
    return unc is None or not (unc > 0) or not (_finite(before) and before > 1e-9 * unc)


def _lowest_local(r: Result) -> tuple[str, list[str], float | None, str] | None:
    """(the strategy without communication with the lowest test book variance, those tied with it, its share of
    independent coins' variance, a note when it is a quantum player playing the classical rule), or None."""
    m = r.metrics_dict
    local = [s for s in m if s in r.local_names and not excluded({s: m[s]})]  # a flag excludes
    if not local:
        return None
    low = min(local, key=lambda s: _num(m[s]["pnl_var"]))
    best = _num(m[low]["pnl_var"])
    tied = [s for s in local if s != low and abs(_num(m[s]["pnl_var"]) - best) <= 1e-9 * abs(best)]
    note = " (playing the classical rule: it uses no entanglement)" if _classical_rule(r, low) else ""
    return low, tied, m[low].get("variance_share"), note


def _verdict(r: Result) -> str:
    g = r.game
    hedge = r.hedge
    if _degenerate(r):
        return DEGENERATE
    sentences = []
    lowest = _lowest_local(r)
    if lowest:
        low, tied, share, note = lowest
        sentences.append(f"Lowest test book variance among strategies that do not communicate: {low}{note}"
                         + (f" (tied with {', '.join(tied)})" if tied else "")
                         + (f", at {share:.1%} of the variance of independent coins" if _finite(share) else "")
                         + ".")
    if hedge is not None and not hedge["informativeness"]["train"]["sign_differs"]:
        second = ("The indicators do not change the sign of the co-movement (E[r_X r_Y | x, y] has one sign in "
                  "every input cell on the training window), so the constant hedge is the fitted game's best play "
                  "and entanglement cannot help" + _constant_hedge_caveat(r))
    elif not g.get("uses_entanglement"):
        second = ("Entanglement does not help for these indicator statistics and this link: the fitted quantum "
                  "strategy is the classical rule")
    else:
        second = _quantum_sentence(r)
    take = (hedge or {}).get("what_it_would_take")
    if take and not g.get("uses_entanglement"):
        second += "; " + take["sentence"]
    levels = _levels_clause(r)
    sentences.append(second + (f"; {levels}" if levels else "") + ".")
    d = r.drift or {}
    if d.get("decision_changed"):  # first: no other row of the table can be read as the fit intended
        third = f"The game fitted on the training window no longer describes the test window: {d['flag']}."
    else:
        third = _benchmark_sentence(r)
    if third:
        sentences.append(third)
    return " ".join(sentences)


def _constant_hedge_worse(r: Result) -> float | None:
    """always_hedge's test variance share when the constant hedge the game prescribes does worse than independent
    coins (for example inventory carried by a queue fill): the verdict then says so rather than call it the best
    play against its own table."""
    share = r.metrics_dict.get("always_hedge", {}).get("variance_share")
    return share if _finite(share) and share > 1.0 else None


def _constant_hedge_caveat(r: Result) -> str:
    share = _constant_hedge_worse(r)
    if share is None:
        return ""
    return (f"; yet always_hedge's test book variance is {share:.1%} of the coins', so the constant hedge does not "
            "hedge this book: its variance comes from what the game does not model (carried inventory, for one)")


def headline(r: Result) -> str:
    """The verdict's gist in at most three short sentences, first in the summary and the report (metrics.json
    ``headline``): whether entanglement helps against the best local classical strategy, whether it pays after its
    switching costs, and which strategy that does not communicate had the lowest book variance. The full verdict
    (``verdict``) gives the reasons and the numbers behind them."""
    peeking = [s for s, v in r.metrics_dict.items() if "lookahead" in (v.get("flags") or {})]
    if peeking:
        return (f"Probable look-ahead: {', '.join(peeking)} hedge(s) more rounds than information before the round "
                "allows, so read nothing in this run as a result.")
    if _degenerate(r):
        return DEGENERATE
    g, hedge = r.game, r.hedge
    agree = r.inputs_agree()
    sentences = []
    if agree is not None and agree > SHARED_INPUTS:
        sentences.append(f"The two servers' indicators agree in {agree:.1%} of training rounds, so there is no "
                         "coordination problem for entanglement to solve.")
    elif hedge is not None and not hedge["informativeness"]["train"]["sign_differs"]:
        worse = _constant_hedge_worse(r)
        sentences.append("The indicators never change the sign of the co-movement, so the constant hedge is the "
                         "fitted game's best play and entanglement cannot help"
                         + (f"; yet always_hedge's test book variance is {worse:.1%} of the coins'" if worse else "")
                         + ".")
    elif not g.get("uses_entanglement"):
        sentences.append("Entanglement does not help for these indicators and this link: the fitted quantum strategy "
                         "is the classical rule.")
    else:
        c = r.comparison.get("quantum_vs_best_local") or {}
        if c.get("variance_ratio") is not None:
            ci = c.get("variance_ratio_ci95")
            change = c["variance_ratio"] - 1.0
            ci_txt = f"; 95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%}" if ci else ""
            judgement = _judgement(ci)
            # against every local classical strategy, not only the one chosen on the training window
            sentences.append(f"Quantum's test book variance is {abs(change):.1%} "
                             f"{'lower' if change < 0 else 'higher'} than the best local classical strategy's "
                             f"({c['opponent']}{ci_txt}): {judgement}{_beaten_clause(r, 'quantum', judgement)}.")
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
        sentences.append(f"Lowest book variance without communication: {low}{note}{ties}"
                         + (f", {share:.1%} of independent coins'" if _finite(share) else "") + ".")
    return " ".join(sentences[:3])


def _cost_sentence(r: Result, c: dict) -> str | None:
    """Whether quantum's variance reduction survives its switching costs, in one sentence."""
    q, o = r.metrics_dict.get("quantum", {}), r.metrics_dict.get(c["opponent"], {})
    if not ((q.get("pnl_costs") or 0.0) > (o.get("pnl_costs") or 0.0)):
        return None
    ce, k = c.get("certainty_equivalent_diff"), c.get("break_even_cost_scale")
    gamma = (r.config.get("run") or {}).get("risk_aversion", 3.0)
    if not _finite(ce):
        return None
    if ce < 0:
        return (f"Its switching costs ({q['turnover']:.0%} of rounds change quoting order) outweigh that: certainty "
                f"equivalent {ce:+.3g} a round at risk aversion {gamma:g}"
                + (f"; it pays only below {k:.3g} times the configured costs." if k else "."))
    return (f"It still pays after its switching costs: certainty equivalent {ce:+.3g} a round at risk aversion "
            f"{gamma:g}.")


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
    ci_txt = f" (95% CI {ci[0] - 1:+.1%} to {ci[1] - 1:+.1%}, paired HAC {format_p(p)})" if ci else ""
    judgement = _judgement(ci)
    text = (f"Quantum against the best local classical strategy ({c['opponent']}"
            f"{_history_clause(r, c['opponent'])}): book variance {change:+.1%}{ci_txt}, {judgement}")
    text += _turnover_clause(r, c, judgement) + _beaten_clause(r, "quantum", judgement)
    if r.game.get("kind", "paper") == "paper" and c.get("utility_diff") is not None:
        # the paper's game is scored in utility: say how quantum did on the game actually played
        text += (f"; utility {c['utility_diff']:+.4f} per round (paired HAC {format_p(c['utility_p_value'])}), the "
                 "objective of the game played")
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
    q, o = r.metrics_dict["quantum_levels"], r.metrics_dict.get(c["opponent"], {})
    text = (head + f"quantum_levels against {c['opponent']}: book variance {ratio - 1:+.1%}{ci_txt}, {judgement}")
    bq, bo = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
    costs = (q.get("pnl_costs") or 0.0) > 0 or (o.get("pnl_costs") or 0.0) > 0
    if judgement != "a significant reduction" and costs and _finite(bq) and _finite(bo) and bo > 0:
        text += f" ({bq / bo - 1:+.1%} before switching costs)"
    return text + _beaten_clause(r, "quantum_levels", judgement)


def _beaten_clause(r: Result, quantum: str, judgement: str) -> str:
    """best_local is chosen on the training window; a reduction against it is not an advantage when another local
    classical strategy still had lower book variance than the quantum one on the test window."""
    if judgement != "a significant reduction":
        return ""
    m = r.metrics_dict
    q = _num(m[quantum]["pnl_var"])
    lower = [s for s in (r.best_local_training or {}) if _num(m[s]["pnl_var"]) < q]
    if not lower:
        return ""
    best = min(lower, key=lambda s: _num(m[s]["pnl_var"]))
    return (f"; but {best} had a lower book variance still on the test window ({_num(m[best]['pnl_var']) / q - 1:+.1%}"
            f" against {quantum}), so the reduction does not hold against every local classical strategy")


def _turnover_clause(r: Result, c: dict, judgement: str) -> str:
    """Why quantum loses when it wins before switching costs: its outputs are random bits."""
    q, o = r.metrics_dict.get("quantum", {}), r.metrics_dict.get(c["opponent"], {})
    before_q, before_o = q.get("pnl_var_before_costs"), o.get("pnl_var_before_costs")
    if judgement == "a significant reduction":
        return _cost_clause(r, c, q, o)
    if not (_finite(before_q) and _finite(before_o)):
        return ""
    if not before_q < before_o or not (q.get("turnover") or 0) > (o.get("turnover") or 0):
        return ""
    return (f"; before switching costs its variance is {before_q / before_o - 1:+.1%}, but a quantum server's "
            f"output is a random bit, so it changes its quoting order in {q['turnover']:.0%} of rounds "
            f"({c['opponent']}: {o['turnover']:.0%}) and the turnover's cost adds more variance than "
            f"entanglement removes" + _break_even_clause(r, c))


def _break_even_clause(r: Result, c: dict) -> str:
    """The break-even cost multiple in words (``risk.break_even_cost_scale``: certainty equivalents equal)."""
    k = c.get("break_even_cost_scale")
    if not k:
        return ""
    gamma = (r.config.get("run") or {}).get("risk_aversion", 3.0)
    return (f"; its certainty equivalent equals {c['opponent']}'s at {k:.3g} times the configured costs "
            f"(risk aversion {gamma:g}), so it pays only below that")


def _cost_clause(r: Result, c: dict, q: dict, o: dict) -> str:
    """When quantum lowers the variance but its switching costs cost more than the variance is worth to a
    mean-variance investor (certainty equivalent at the run's risk aversion)."""
    gamma = (r.config.get("run") or {}).get("risk_aversion", 3.0)
    cost_q, cost_o = q.get("pnl_costs") or 0.0, o.get("pnl_costs") or 0.0
    ce = c.get("certainty_equivalent_diff")
    if not (_finite(ce) and ce < 0 and cost_q > cost_o):
        return ""
    return (f"; but a quantum server's output is a random bit, so it changes its quoting order in "
            f"{q['turnover']:.0%} of rounds ({c['opponent']}: {o['turnover']:.0%}), and its switching costs "
            f"({cost_q:.3g} a round against {cost_o:.3g}) outweigh the variance saved: certainty equivalent "
            f"{ce:+.3g} a round at risk aversion {gamma:g}" + _break_even_clause(r, c))


def _benchmark_sentence(r: Result) -> str | None:
    m = r.metrics_dict
    unc, orc, dc, q = m.get("uncoordinated"), m.get("oracle"), m.get("delayed_comm"), m.get("quantum")
    if unc and orc and not (orc["pnl_var"] < unc["pnl_var"]):
        return ("Even the oracle, which knows both indicators, does not lower book variance below independent "
                "coins here: winning the game is not hedging this book.")
    best = m.get(r.best_local) if r.best_local else None
    # the delayed link's edge is only information when it also beats every local classical strategy
    if (dc and q and best and r.game.get("uses_entanglement")
            and _num(dc["pnl_var"]) < min(_num(q["pnl_var"]), 0.99 * _num(best["pnl_var"]))):
        return (f"A classical link delayed by {r.config['run']['delay']} round(s) does better than quantum "
                f"(variance {dc['pnl_var'] / q['pnl_var'] - 1:+.1%}): the indicators change too slowly for a "
                "no-communication protocol to matter.")
    return None


def _information_lines(r: Result) -> list[str]:
    """What each server's own history was worth (history rules, the smoothed K-level indicator)."""
    info = r.information
    if not info:
        return []
    lv, mem, per = info.get("levels"), info.get("history"), info.get("persistence") or {}
    coins = (r.hedge or {}).get("coin_variance")

    def share(v):
        return f"{v / coins:.1%}" if coins else f"{v:.4g}"

    parts = []
    if mem:
        parts.append(f"{persistence(per)}; best rule on a server's own readings (training): {mem['name']}, "
                     f"saves {share(mem['saved'])}")
    elif info.get("note"):
        parts.append(info["note"])
    if lv:
        tb = f", Tsirelson bound {share(lv['tsirelson_bound'])}" if lv.get("tsirelson_bound") is not None else ""
        what = "indicator" if lv.get("rule") == "indicator" else "smoothed indicator"
        parts.append(f"{what} {lv['name']}: classical {share(lv['classical_saved'])}, quantum "
                     f"{share(lv['quantum_saved'])}{tb}")
    return ["history: " + "; ".join(parts)] if parts else []


# The headline table (metrics.json keys -> short column names). What the hedge changes first (directional P&L, its variance share and Sharpe), then the fill model's assumed
# money (spread income, costs: the "money model:" line says where each comes from), then the game's own counts.
HEADLINE = {"pnl_directional": "dir_pnl", "variance_share": "var_share", "sharpe_directional": "sharpe_dir",
            "pnl_spread_income": "income", "pnl_costs": "costs", "sharpe": "sharpe", "win_rate": "win",
            "hedged_rate": "hedged", "turnover": "turnover"}
# Annualised Sharpe ratios published for high-frequency market makers, lowest to highest: the "efficient" Sharpe
# ratio of the HFT industry, 1.07-1.87 (Charles-Cadogan, J. Investment Strategies); the median HFT firm, 4.3, and
# the average, 9.2 (Baron, Brogaard & Kirilenko, "Risk and Return in High Frequency Trading", 2014 draft, and "The
# Trading Profits of High Frequency Traders", 2012); a large HFT market maker in Dutch stocks, 9.35 (Menkveld
# 2013). A book whose Sharpe is far outside this is read as a modelling artefact, not a discovery.
SHARPE_RANGE = (-10.0, 10.0)


def participation_clause(participation: dict) -> str:
    """How much of each ticker's traded volume the fills take, or that the fill rate is an assumption."""
    if not participation:
        return ""
    known = {t: s for t, s in participation.items() if s is not None}
    if not known:
        return "; no traded volume in the data: the fill rate is an assumption, not a measurement"
    parts = ", ".join(f"{_percent(s)} of {t}'s" for t, s in known.items())
    unknown = [t for t, s in participation.items() if s is None]
    return (f"; fills are {parts} traded volume" + (f" ({', '.join(unknown)}: no volume, assumed)" if unknown else ""))


def _percent(share: float) -> str:
    return f"{share * 100:.2g}%"


def heavy_participation(heavy: dict, limit: float) -> str:
    return ("warning: the fill model fills " + ", ".join(f"{_percent(s)} of {t}'s" for t, s in heavy.items())
            + f" traded volume, above the {limit:.0%} published market makers take (Menkveld 2013: 8.1% of trades); "
            "lower the exposure or turnover (bias) or the lot (queue) or read spread income as out of reach")


def fill_assumption(fill: dict, participation: dict | None = None) -> str:
    """Where the income and costs columns come from, in one line (the resolved fill model's parameters and, where
    the data has volume, the share of it the fills take)."""
    return _fill_assumption(fill) + participation_clause(participation or {})


def _fill_assumption(fill: dict) -> str:
    hs = fill.get("half_spread")
    h = (f"the quoted half-spread (else {fill.get('model_half_spread_bps'):g} bp)" if hs == "quoted"
         else f"a half-spread of {hs} bp")
    if fill.get("name") == "queue":
        return (f"queue fill: {fill['lot']:g}-share quotes fill with probability {fill['p_first']:g} (placed first) "
                f"or {fill['p_second']:g} a minute at {h}, adverse selection {fill['adverse_selection']:g} per "
                f"minute; costs: fees {fill['fee']:g}/share, inventory cut beyond {fill['inventory_limit']:g} shares"
                + (f", {fill['flatten']:.0%} unwound each round" if fill.get("flatten") else ""))
    if fill.get("name") == "bias":
        cross = fill.get("switch_cost_bps") or 0.0
        return (f"bias fill: income assumed, {fill['turnover']:g} x exposure filled a minute at {h} less "
                f"{fill['adverse_selection']:.0%} adverse selection (Menkveld 2013); costs: a change of quoting "
                f"order re-queues and forgoes {fill['requeue_loss']:.0%} of the round's income"
                + (f", plus {cross:g} bp crossing on 2 x exposure" if cross else ""))
    return str(fill.get("name", "custom fill model"))


def summary(r: Result, width: int = 80) -> str:
    """The run in words and tables, ``width`` columns wide: the verdict's gist first (``headline``), then the
    data, the fitted game, the metrics (split into tables that fit the width; short headers, named in a legend),
    the money model, flags and warnings, and the full verdict last."""
    m = r.metrics
    para = _wrapper(width)
    lines = para("verdict: " + headline(r))
    shared = shared_information(r)
    if shared:
        lines += para(f"information: {shared}")
    lines += para(f"{r.tickers[0]} / {r.tickers[1]} ({r.source.get('kind')}): {r.n_rounds} rounds ({r.n_train} "
                  f"train, {r.n_test} test), seed {r.seed}")
    if r.hedge is not None:
        v = r.hedge["values"]
        saved = ", ".join(f"{k.replace('_', ' ')} {v[k]['saved_share']:.1%}" for k in
                          ("constant_hedge", "classical", "quantum", "oracle") if v[k]["saved_share"] is not None)
        lines += para(f"hedge game fitted on the training window, book variance saved against coins: {saved}")
        cells = r.cell_table()[list(CELL_COLUMNS)].rename(columns=CELL_COLUMNS)
        lines.append("per input cell (x, y):")
        lines += fit_table(cells, width, lambda x: f"{x:.3f}")
        lines += para("cells: corr = correlation of the two returns, opp = share of opposite moves, tr/te = "
                      "training/test window, shrink = shrinkage weight of the cell's fit")
    else:
        lines += para(f"fitted p(x,y) = {np.round(np.asarray(r.game['p_xy']), 4).tolist()}, classical "
                      f"{r.game['classical_value']:.4f}, quantum {r.game['quantum_value']:.4f}, advantage "
                      f"{r.game['advantage']:.4f}")
    for line in _information_lines(r):
        lines += para(line)
    table = m[list(HEADLINE)].rename(columns=HEADLINE).astype(float)
    lines += fit_table(table, width, lambda v: f"{v:.4g}")
    lines += para("columns: " + ", ".join(f"{short} = {key}" for key, short in HEADLINE.items()) + "; directional: "
                  "the part of the P&L the quoting order decides, which the hedge changes")
    lines += para("money model: " + money_model(r))
    if (r.drift or {}).get("flag"):
        lines += para(f"flag: drift: {r.drift['flag']}")
    flagged: dict[str, list[str]] = {}
    for s, sm in r.metrics_dict.items():
        for k in sm.get("flags") or {}:
            flagged.setdefault(k, []).append(s)
    notes = {"sharpe": "driven by the fill model's assumed spread income (see sharpe_directional)",
             "sharpe_range": f"outside the {SHARPE_RANGE[0]:g} to {SHARPE_RANGE[1]:g} published for market makers",
             "hedging_efficiency": "outside [0, 1]", "max_drawdown_share": "the book lost more than its size",
             "lookahead": "probable look-ahead: hedges more rounds than information before the round allows"}
    for k, v in flagged.items():
        lines += para(f"flag: {k} {notes.get(k, '')} for {', '.join(v)} (reasons in metrics.json)")
    for w in r.warnings:
        lines += para(f"warning: {w}")
    if r.link:
        lines += _link_summary(r.link, para)
    lines += para("verdict in full: " + verdict(r))
    return "\n".join(lines)


def _link_summary(doc: dict, para) -> list[str]:
    """The link's derived numbers and its feasibility chain, one line per stage."""
    lines = para(f"link{' ' + doc['preset'] if doc.get('preset') else ''}: {doc['description']}")
    lines.append("feasibility chain:")
    for stage, mark, text in link_lines(doc):
        lines += ["  " + x for x in para(f"{stage:<10} {mark:<4} {text}")]
    return lines


# The per-cell table's columns (Result.cell_table keys -> short headers, named in the line below the table).
CELL_COLUMNS = {"p_train": "p_tr", "corr_train": "corr_tr", "neg_share_train": "opp_tr", "corr_test": "corr_te",
                "neg_share_test": "opp_te", "shrink_weight": "shrink"}


def _wrapper(width: int):
    """A paragraph as lines of at most ``width`` columns, continuation lines indented by two."""
    import textwrap

    def wrap(text: str) -> list[str]:
        return textwrap.wrap(text, width=width, subsequent_indent="  ", break_long_words=False,
                             break_on_hyphens=False) or [""]

    return wrap


def fit_table(table, width: int, fmt) -> list[str]:
    """A DataFrame as text lines no wider than ``width``: when all its columns do not fit, it is split into
    consecutive groups of columns, each printed with the row labels."""
    columns = list(table.columns)
    out, start = [], 0
    while start < len(columns):
        stop = len(columns)
        while stop > start + 1:
            text = table[columns[start:stop]].to_string(float_format=fmt, na_rep="—")
            if max(map(len, text.splitlines())) <= width:
                break
            stop -= 1
        out += table[columns[start:stop]].to_string(float_format=fmt, na_rep="—").splitlines()
        start = stop
    return out


def what_it_would_take(take: dict) -> str:
    """One sentence saying what would have to change for entanglement to pay."""
    b = take.get("best")
    if b is None:
        ideal = take.get("perfect_link") or {}
        agree = take.get("inputs_agree")
        if ideal.get("best") is not None and not ideal["best"].get("move"):
            return ("no co-movement information in a single input cell would make this link beat the best classical "
                    f"rule by {take['gain']:.0%} of book variance: the link itself must improve (a perfect link would "
                    "already pay at the fitted co-movement)")
        if ideal.get("best") is not None:
            return ("no co-movement information in a single input cell would make this link beat the best classical "
                    f"rule by {take['gain']:.0%} of book variance: the link itself must improve (with a perfect link, "
                    + _cell_clause(ideal["best"]) + ")")
        agree_txt = f" (x = y in {agree:.0%} of training rounds)" if agree is not None else ""
        return ("no co-movement pattern in a single input cell gives entanglement an edge at these input frequencies, "
                f"even on a perfect link{agree_txt}: the two servers' indicators must carry more independent "
                "information")
    return (f"entanglement would beat the best classical rule by {take['gain']:.0%} of book variance on this link only "
            "if " + _cell_clause(b))


def _cell_clause(b: dict) -> str:
    obs = b.get("negative_share_observed")
    obs_txt = f"; observed {obs:.0%}" if obs is not None else ""
    needed, fitted = _distinct(b["rho_needed"], b["rho_fitted"])
    return (f"the returns in input cell (x,y) = ({b['cell'][0]},{b['cell'][1]}) moved with correlation "
            f"{needed} instead of {fitted}, i.e. in opposite directions about "
            f"{b['negative_share_needed']:.0%} of the time (normal-equivalent{obs_txt})")


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Two numbers with as few decimals (2 to 6) as tell them apart: never "-0.59 instead of -0.59"."""
    for digits in range(2, 7):
        ta, tb = f"{a:+.{digits}f}", f"{b:+.{digits}f}"
        if ta != tb:
            break
    return ta, tb


def scan_headline(doc: dict) -> str:
    """A scan in one paragraph: what ran, how often entanglement was used, and how many pairs survive the
    false-discovery control (scan.json ``headline``; the terminal and the report print it)."""
    f, failed = doc["fdr"], len(doc["errors"])
    text = (f"{doc['pairs']} pairs of {len(doc['universe']['tickers'])} tickers scanned "
            f"({len(doc['skipped'])} skipped by the filters, {failed} could not run"
            + (": listed in errors, not counted in any figure" if failed else "") + f"), {doc['jobs']} backtests "
            f"({doc['computed']} computed, {doc['reused']} reused); the fitted strategy uses entanglement in "
            f"{doc['entanglement_used']} of them; quantum's test-window book variance is below the best local classical "
            f"strategy's in {f['survivors']} of {f['tests']} pairs after Benjamini-Hochberg at {f['level']:g}.")
    if f["survivors"] == 0:
        text += " No pair shows a quantum advantage that survives the false-discovery control."
    return text


def crossing_lines(cross: dict, param: str) -> list[str]:
    """Per group of the other swept parameters and metric: where quantum stops paying along ``param``."""
    lines = []
    for label, c in cross.items():
        where = "" if label == "all" else f" ({label})"
        for metric, info in c.items():
            if info["crossing"] is not None:
                lines.append(f"quantum stops paying{where} on {metric} at {param} = {info['crossing']:.4g}")
            elif not info["quantum_pays_at"]:
                lines.append(f"quantum never pays{where} on {metric} over this grid")
            else:
                lines.append(f"quantum pays{where} on {metric} over the whole grid")
    return lines


def link_frontier_lines(front: dict | None) -> list[str]:
    """A sweep with a physical link: the largest swept value at which its advantage is detectable in the market's
    stationary window, and at which it pays after costs, and what stops it at each point."""
    if not front:
        return []
    p = front["param"]
    det, pays = front["detectable_up_to"], front["pays_up_to"]
    stops = ", ".join(f"{x:g}: {stage}" for x, stage in front["first_failing"].items() if stage)
    return [("link: the advantage is detectable in the stationary window up to " + f"{p} = {det:g}" if det is not None
             else "link: the advantage is detectable at no point of this grid"),
            (f"link: entanglement pays after costs up to {p} = {pays:g}" if pays is not None
             else "link: entanglement pays after costs at no point of this grid"),
            *([f"link: first failing stage by {p}: {stops}"] if stops else []),
            *([f"link: the pair rate falls below the decision rate at {p} = {front['rate_frontier']:.4g} (from the "
               "link's physics, between the grid points)"] if front.get("rate_frontier") is not None else []),
            *([f"link: the fidelity falls to the game's threshold at {p} = {front['fidelity_frontier']:.4g} (from the "
               "link's physics, between the grid points)"] if front.get("fidelity_frontier") is not None else [])]


def drift_flag(d: dict) -> str | None:
    """What no longer holds on the test window (``analysis.drift``), in words; None when the fitted game still
    describes it."""
    reasons = []
    if d.get("entanglement_flipped"):
        helps = d["test_game"]["entanglement_helps"]
        reasons.append("entanglement " + ("would help on the test window but did not on the training window" if helps
                                          else "helped on the training window but would not on the test window"))
    if d.get("sign_flips"):
        reasons.append(f"the co-movement changed sign in cell(s) {', '.join(d['sign_flips'])}")
    if d.get("frequencies_changed"):
        reasons.append(f"the input frequencies p(x,y) changed (chi-squared {format_p(d['chi2_p_value'])})"
                       + ("" if d["decision_changed"] else ", though the test window's best play is the same"))
    return "; ".join(reasons) if reasons else None


def metric_flags(m: dict, derived: bool) -> dict[str, str]:
    """Reasons not to read a strategy's metric as a plain number (metrics.json ``flags``); ``derived``: the
    strategy plays on a server's own past readings."""
    flags = {}
    he = m.get("hedging_efficiency")
    if he is not None and he < 0:
        flags["hedging_efficiency"] = "below 0: this book is less hedged than independent coins'"
    elif he is not None and he > 1 and derived:
        flags["hedging_efficiency"] = ("above 1: the oracle knows both servers' readings of this round only; a "
                                       "server's own past readings tell it more about the correlation regime")
    elif he is not None and he > 1:
        flags["hedging_efficiency"] = ("above 1: lower variance than the oracle on the test window (sampling noise, "
                                       "or the fitted game no longer describes the test window)")
    income, directional, sharpe = m.get("pnl_spread_income"), m.get("pnl_directional"), m.get("sharpe")
    if income and income > 0 and sharpe == sharpe and sharpe > 0 and abs(directional) < income:
        flags["sharpe"] = (f"driven by the fill model's spread income ({income:.4g} of {m['pnl_mean']:.4g} per round "
                           f"is assumed spread capture); the directional part's Sharpe is {m['sharpe_directional']:.2f}")
    if sharpe == sharpe and not SHARPE_RANGE[0] <= sharpe <= SHARPE_RANGE[1]:
        flags["sharpe_range"] = (f"{sharpe:.3g} is outside the annualised Sharpe ratios published for high-frequency "
                                 "market makers (about 1 to 10: median firm 4.3, Baron, Brogaard & Kirilenko 2014; "
                                 "9.35, Menkveld 2013): read it as the fill model's assumption, not as money")
    return flags


def nonlocal_opponent(name: str, chsh: float) -> str:
    """A user's strategy whose resource no local hidden-variable model gives: a quantum (or no-signalling)
    opponent, never compared with quantum as a local classical rule."""
    value = f" (CHSH value {chsh:.3f} > 2)" if chsh > 2 + 1e-9 else ""
    return (f"{name}'s resource gives correlations no local hidden-variable model gives{value}: it is a quantum or "
            "no-signalling opponent, not a local classical one, and quantum is not compared against it as one")


def clock_offset(off: dict, tickers) -> str:
    """The warning for series whose returns correlate more one bar apart than on the same bar."""
    other = [t for t in tickers if t != off["lead"]][0]
    return (f"the two clocks may be misaligned: returns correlate {off['lagged']:+.2f} between {off['lead']}'s bar t "
            f"and {other}'s bar t+1 but {off['same']:+.2f} on the same bar ({off['n']} bars); check time zones and "
            "whether each file stamps its bars by their start or their end")


def lookahead(rate: float, oracle: float, z: float) -> str:
    """Why a hedged rate above the oracle's means look-ahead (``engine._lookahead``)."""
    return (f"hedged rate {rate:.4f} beats the oracle's {oracle:.4f} by {z:.1f} standard errors: without "
            "communication no rule can out-hedge one that knows both servers' indicators, so an indicator probably "
            "reads the round's own move (a lookup by timestamp into outside data, or unlagged arrays)")


def lookahead_rate(rate: float, opposite: float) -> str:
    return (f"hedged rate {rate:.4f} where the two stocks moved in opposite directions in {opposite:.0%} of test "
            "rounds: that needs the sign of each round's own co-movement, so an indicator probably reads the round's "
            "own move (a lookup by timestamp into outside data cannot be checked for causality)")


def lookahead_oracle(rate: float, opposite: float) -> str:
    """Why every strategy is flagged when the oracle hedges (nearly) every round (``analysis.impossible``)."""
    return (f"the oracle, which knows only the two servers' readings of the round, hedged {rate:.4f} of test rounds "
            f"where the stocks moved apart in {opposite:.0%}: together the readings tell each round's own co-movement, "
            "so the indicators probably read outside data by timestamp (which no causality check can see)")


def lookahead_cell(cell: str, share: float, moved: int, opposite: float) -> str:
    """Why every strategy is flagged when an input cell's share of opposite moves is exactly 0 or 1."""
    return (f"in input cell {cell} the stocks moved apart in {share:.0%} of {moved} test rounds (overall "
            f"{opposite:.0%}): no honest reading sorts the rounds' own co-movements that cleanly, so the indicators "
            "probably read outside data by timestamp")


def beyond_bound(rate: float, bound: float, z: float, kind: str) -> str:
    """Why a strategy is flagged for winning more than its resource allows (``analysis.impossible``)."""
    what = "any local classical strategy" if kind == "local" else "any shared quantum state"
    return (f"win rate {rate:.4f} is {z:.1f} standard errors above {bound:.4f}, the most {what} reaches on these "
            "inputs: its rules probably reach the partner's inputs through a file or a socket, which no check can "
            "police; it is listed but not compared")


def untradable(why: dict) -> str:
    """The warning for tickers that cannot be traded as quoted (``feed.feeds.untradable``)."""
    listed = "; ".join(f"{t}: {w}" for t, w in why.items())
    return (f"cannot be traded as the fill model assumes ({listed}): its spread income and fills are assumed, not "
            "evidenced by the data; read the directional columns (sharpe_directional) instead")


def adjusted_prices(tickers, prices) -> str:
    """The warning for a queue fill on a source with adjusted prices only."""
    listed = ", ".join(f"{t} {p:.4g}" for t, p in zip(tickers, prices))
    return (f"the source has adjusted prices only ({listed} at the first test round): share quantities, the "
            "tick and amounts per share are at adjusted prices, which can be far from the prices traded then "
            "(a $0.01 tick on a split-adjusted $2 is 50 bp); use a source with Close and Adj Close")

