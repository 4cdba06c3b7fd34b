"""The answer to the one question, "does quantum pay after costs?", in the same words wherever it is printed: the
backtest's summary and report, each point of a sweep, each pair of a scan, each run of a comparison. The decision is
``analysis.pays.decide``'s (metrics.json ``pays``); this module only words it."""

from __future__ import annotations

from .text import duration
from .verdict import STAGE_WORDS


def answer(p: dict | None) -> str:
    """One sentence: whether quantum pays after costs and why, with its certainty equivalent where that decides."""
    if not p:
        return "no answer: this run has no 'pays' section (a run written before qcoord 0.1's issue 44)"
    reason, ce, gamma = p["reason"], p.get("certainty_equivalent"), p.get("risk_aversion", 3.0)
    against = (
        f"certainty equivalent {ce:+.3g} a round against {p['opponent']} (risk aversion {gamma:g}"
        + (", the link's pair cost included" if p.get("pair_cost_per_round") else "")
        + ")"
        if ce is not None
        else ""
    )
    if reason == "pays":
        return f"quantum pays after costs: {against}"
    if reason == "costs":
        k = p.get("break_even_cost_scale")
        return f"quantum does not pay after costs: {against}" + (
            f"; it pays only below {k:.3g} times the configured costs" if k else ""
        )
    if reason == "classical_rule":
        return "quantum does not pay after costs: its fitted strategy is the classical rule (no entanglement used)"
    if reason == "no_pairs":
        return "quantum does not pay after costs: it played no Bell pair on the test window"
    if reason == "talk":
        # talking with shared randomness reproduces every play a Bell pair allows, so no CE against a particular
        # talking strategy (metrics.json keeps the oracle-talk one's) can make quantum pay here
        return (
            "quantum does not pay after costs: the servers can talk (a message crosses between the venues in "
            f"{duration(p['message_delay_s'])}, before the {duration(p['deadline_s'])} a server may take to "
            "decide), and talking reproduces any play a Bell pair allows"
        )
    if reason == "link":
        return f"quantum does not pay after costs: the link stops it first at {STAGE_WORDS[p['link_stage']]}"
    if reason == "no_market":
        return "no answer on paying after costs: the prices do not move over the test window, nothing to hedge"
    if reason == "no_quantum":
        return "no answer on paying after costs: no quantum strategy ran"
    return "no answer on paying after costs: no local classical strategy ran to compare quantum with"


def grid_answer(points: list[tuple[str, dict | None]]) -> str:
    """A grid's answer in one line: at which points quantum pays after costs (``points``: (label, pays) in grid
    order)."""
    paying = [label for label, p in points if p and p.get("pays")]
    if not paying:
        return "quantum pays after costs at no point of this grid"
    if len(paying) == len(points):
        return "quantum pays after costs at every point of this grid"
    return f"quantum pays after costs at {len(paying)} of {len(points)} points: {'; '.join(paying)}"
