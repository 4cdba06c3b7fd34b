"""The feasibility chain of a physical link for this market: which stage stops the advantage.

Stages, in the order a pair lives through them (docs/link.md):

1. market: the fitted game has a quantum advantage at all, on a perfect link;
2. fidelity: the link's fidelity (dark-count heralds and gate errors included) is above the game's Werner threshold;
3. deadline: each server decides before light could bring the other's input (no classical link can coordinate);
4. rate: the link delivers a pair for every decision;
5. memory: the pair, as measured after its typical wait (herald delay and storage, T1/T2, readout, loss), still
   beats the best classical rule;
6. detectable: the advantage can be told from every classical strategy at the stated confidence (Hoeffding) on the
   rounds that get a pair within the market's stationary window;
7. value: quantum pays after costs (``analysis.pays.money``: its certainty equivalent after switching costs and the
   link's cost per pair is above every local classical benchmark's).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...strategies import Noise, quantum_lower_bound, solve
from ...strategies.link import (Link, fidelity_from_visibility, rounds_to_certify, rounds_to_detect,
                               visibility_from_fidelity)

EXACT_MAX = 2_000_000  # rounds: the largest Hoeffding count whose exact binomial count is worked out
STAGES = ("market", "fidelity", "deadline", "rate", "memory", "detectable", "value")


def visibility_threshold(game, p_xy, base: Noise | None = None, tol: float = 1e-10) -> float | None:
    """The least Werner visibility at which the quantum optimum beats the classical one for ``game`` at ``p_xy``
    (the other imperfections as in ``base``, default none); None when even v = 1 does not.

    For fixed measurements a Werner pair's value is affine in v (the marginals do not depend on v), so the optimum's
    gap over the classical value, g(v), is a maximum of affine functions: convex and increasing. A secant through two
    points right of the root then meets zero at or right of it, so secant steps from v = 1 approach the threshold
    from above in a handful of full solves; the last bracket is closed by bisection to ``tol``."""
    base = base or Noise()

    def gap(v: float) -> float:
        s = solve(game, p_xy, replace(base, visibility=v))
        return s.quantum_value - s.classical_value if s.uses_entanglement else 0.0

    hi, g_hi = 1.0, gap(1.0)
    if g_hi <= 0:
        return None
    lo = 0.0  # the largest visibility known not to pay
    prev, g_prev = hi, g_hi
    cur = 1.0 - 1e-3
    for _ in range(60):
        g_cur = gap(cur)
        if g_cur <= 0:  # a secant root is at or right of the threshold: this one is the threshold, to solver accuracy
            lo = max(lo, cur)
            probe = min(cur + 1e-7, hi)
            if probe < hi and gap(probe) > 0:
                hi = probe
            break
        hi, g_hi = cur, g_cur
        step = g_cur * (prev - cur) / (g_prev - g_cur) if g_prev > g_cur else math.inf
        prev, g_prev = cur, g_cur
        nxt = cur - step
        if not (lo < nxt < cur) or cur - nxt < tol:
            break
        cur = nxt
    while hi - lo > tol:  # close the bracket [lo, hi] (lo does not pay, hi does)
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if gap(mid) > 0 else (mid, hi)
    return hi


RESULT = {True: "pass", False: "FAIL", None: "n/a"}  # a stage's result in words, for every table of the chain


def _stage(name: str, passed: bool | None, text: str, **numbers) -> dict:
    passed = None if passed is None else bool(passed)
    return {"stage": name, "passed": passed, "result": RESULT[passed], "text": text, **numbers}


def feasibility(link: Link, fit, fit_noise: Noise, window_rounds: int, window_from: str, pair_share: float,
                value: dict | None, game_unit: str = "utility per round", memory_cutoff: float | None = None) -> dict:
    """The chain for ``link`` on the game ``fit`` (a ``players.roster.GameFit``) fitted with ``fit_noise`` (the
    link's noise at the pairs' typical age). ``window_rounds``: the stationary window in rounds (decisions), and
    where it came from; ``pair_share``: the share of rounds that got a pair; ``value``: whether quantum pays after
    costs (``analysis.pays.money``, the link's cost per pair included; None: no quantum player ran); ``game_unit``:
    the unit of the game's values, for the gaps; ``memory_cutoff``: the age (s, herald delay included) past which
    pairs were not played (inf or None: none)."""
    game, p = fit.game, fit.p_xy
    perfect = solve(game, p, Noise())
    gap0 = perfect.quantum_value - perfect.classical_value
    stages = [_stage("market", bool(perfect.uses_entanglement),
                     f"quantum beats classical by {gap0:.4g} {game_unit} on a perfect link" if perfect.uses_entanglement
                     else "no quantum advantage in this game even on a perfect link", gap=gap0)]
    v_star = visibility_threshold(game, p)
    f_star = None if v_star is None else fidelity_from_visibility(v_star)
    f = link.effective_fidelity
    # dark counts dilute the pairs as the photons fade: the longest fibre whose visibility still clears the threshold
    reach = None if v_star is None or link.dark_count_prob == 0 else link.max_distance_km(v_star)
    stages.append(_stage("fidelity", None if f_star is None else f > f_star,
                         "no threshold: the game has no advantage to keep" if f_star is None else
                         f"fidelity {f:.4f} {'>' if f > f_star else '<='} threshold {f_star:.4f}"
                         + ("" if reach is None else f"; dark counts keep it above up to {reach:.4g} km of fibre"),
                         fidelity=f, threshold=f_star, visibility_threshold=v_star, herald_purity=link.herald_purity,
                         max_distance_km=reach))
    t_light, t_dec = link.straight_line_time, link.decision_latency
    stages.append(_stage("deadline", link.deadline_met,
                         f"decision in {t_dec * 1e6:.3g} us {'<' if link.deadline_met else '>='} light's "
                         f"{t_light * 1e6:.3g} us straight-line ({link.fibre_time * 1e6:.3g} us through the fibre)",
                         decision_latency_s=t_dec, straight_line_time_s=t_light, fibre_time_s=link.fibre_time))
    rate, decisions = link.delivered_pair_rate, link.link_decision_rate
    stages.append(_stage("rate", rate >= decisions,
                         f"{rate:.4g} pairs/s for {decisions:.4g} decisions/s ({rate / decisions:.3g} a decision); "
                         f"{pair_share:.1%} of rounds got a pair", pair_rate_hz=rate, decision_rate_hz=decisions,
                         pairs_per_decision=rate / decisions, pair_share=pair_share))
    gap = fit.solution.quantum_value - fit.solution.classical_value
    stored = bool(fit.solution.uses_entanglement)
    stages.append(_memory_stage(link, stages, stored, gap, fit_noise.storage_time, memory_cutoff, game_unit))
    span = float(np.ptp(game.table))
    needed = rounds_to_detect(gap if stored else 0.0, span, link.confidence)
    available = pair_share * window_rounds
    seconds = window_rounds / decisions
    # a won-or-lost game also gets the exact binomial count (the stage keeps Hoeffding's, valid for any utility). It is
    # never above Hoeffding's (the same tail, bounded), so the search stops there; past EXACT_MAX rounds (a gap barely
    # above the threshold: the search costs about 1.5 s a million rounds) it is not worked out
    exact = None
    if game.has_wins and stored and needed <= EXACT_MAX:
        n = rounds_to_certify(fit.solution.classical_value, fit.solution.quantum_value, 1.0 - link.confidence,
                              max_rounds=int(needed))
        exact = None if math.isinf(n) else n
    stages.append(_stage("detectable", needed <= available,
                         f"{_count(needed)} rounds with a pair needed at {link.confidence:.0%} confidence, "
                         f"{_count(available)} in the {_duration(seconds)} stationary window ({window_from})",
                         rounds_needed=needed, rounds_needed_binomial=exact, rounds_available=available,
                         window_rounds=window_rounds, window_s=seconds, window_from=window_from,
                         confidence=link.confidence, utility_span=span))
    stages.append(_value_stage(link, value, available, pair_share))
    first = next((s["stage"] for s in stages if s["passed"] is False), None)
    return {"stages": stages, "first_failing": first,
            "frontier": frontier(link, fit, fit_noise, window_rounds, f_star) if f_star is not None else None,
            "link": link.to_dict(), "derived": link.derived(), "description": _describe(link)}


def _value_stage(link: Link, value: dict | None, available: float, pair_share: float) -> dict:
    """Stage 7: quantum's certainty equivalent after every cost against the local classical benchmarks, currency a
    round, and what the pairs of a stationary window earn net of their cost."""
    ce = None if value is None else value.get("certainty_equivalent")
    if value is None or value["pays"] is None or ce is None:
        return _stage("value", None, "no local classical strategy to compare with after costs", certainty_equivalent=ce,
                      cost_per_pair=link.cost_per_pair, value_per_pair=None, value_per_window=None)
    # one pair's worth: the round's certainty equivalent (the pair cost put back) over the pairs a round plays
    per_pair = (ce + value["pair_cost_per_round"]) / pair_share if pair_share > 0 else None
    net = None if per_pair is None else per_pair - link.cost_per_pair
    window = "" if net is None else f"; {net * available:.4g} currency a stationary window"
    return _stage("value", value["pays"],
                  f"after switching costs and {link.cost_per_pair:.4g} a pair, quantum's certainty equivalent is "
                  f"{ce:+.4g} currency a round against {value['opponent']} (risk aversion "
                  f"{value['risk_aversion']:g}){window}", certainty_equivalent=ce, opponent=value["opponent"],
                  cost_per_pair=link.cost_per_pair, value_per_pair=per_pair,
                  value_per_window=None if net is None else net * available)


def _memory_stage(link: Link, stages: list, stored: bool, gap: float, storage: float, cutoff: float | None,
                  game_unit: str) -> dict:
    """Stage 5: the pair after its typical wait (``storage`` s), and the memory cutoff the run applied (s, or None)."""
    wait = f"after its typical {_duration(storage)} wait (herald and storage)"
    earlier = next((s["stage"] for s in stages if s["stage"] in ("market", "fidelity") and s["passed"] is False), None)
    cut = cutoff if cutoff is not None and math.isfinite(cutoff) else None
    why = "they no longer beat the classical rule" if link.memory_cutoff == "auto" else "the link's cutoff"
    dropped = "" if cut is None else (f"; pairs older than {_duration(cut)} are not played ({why})"
                                      if cut > link.herald_delay else
                                      "; no pair is young enough to beat the classical rule, so none is played")
    text = (f"{wait}, with readout and loss, the pair still beats the classical rule by {gap:.4g} {game_unit}" if stored
            else f"{wait} the pair cannot beat the classical rule: the {earlier} already fails" if earlier
            else f"{wait}, with readout and loss, the pair no longer beats the classical rule")
    return _stage("memory", stored, text + dropped, gap=gap, storage_time_s=storage, memory_cutoff_s=cut)


def _describe(link: Link) -> str:
    """The link in one line of its derived numbers (the summary and the report print it)."""
    d = link.derived()
    return (f"{link.distance_km:g} km of fibre ({d['transmission_per_photon']:.3g} of each photon arrives), "
            f"{d['pair_rate_hz']:.4g} Bell pairs a second ({'published' if link.link_pair_rate else 'derived'}), "
            f"fidelity {d['effective_fidelity']:.4f} (visibility {d['visibility']:.4f}), herald delay "
            f"{_duration(d['herald_delay_s'])}, decision in {_duration(link.decision_latency)} at "
            f"{link.link_decision_rate:.4g} a second")


def frontier(link: Link, fit, fit_noise: Noise, window_rounds: int, f_star: float, points: int = 40) -> dict:
    """Fidelity against pair rate: the least rate at which the advantage is detectable within the stationary window,
    for fidelities as measured (dark-count heralds and gate errors included, the link's ``effective_fidelity``) from
    the game's threshold ``f_star`` to 1, the rest of the link as it is (grid bound of the solver). A link above and
    right of the curve detects the advantage in time."""
    game, p = fit.game, fit.p_xy
    fs = np.linspace(f_star, 1.0, points + 1)[1:]
    # the axis and the link's own point are the same quantity: the visibility the pair is measured with
    noises = [replace(fit_noise, visibility=visibility_from_fidelity(float(f))) for f in fs]
    cl = fit.solution.classical_value
    span = float(np.ptp(game.table))
    rates = []
    for nz in noises:
        gap = quantum_lower_bound(game, p, nz) - cl
        need = rounds_to_detect(gap, span, link.confidence)
        share = need / window_rounds if math.isfinite(need) else math.inf
        rates.append(share * link.link_decision_rate if share <= 1 else None)  # beyond one pair a decision: never
    return {"fidelity": fs.tolist(), "min_pair_rate_hz": rates, "link_fidelity": link.effective_fidelity,
            "link_pair_rate_hz": link.delivered_pair_rate, "decision_rate_hz": link.link_decision_rate}


def _count(n: float) -> str:
    return "infinitely many" if not math.isfinite(n) else f"{n:,.0f}"


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds * 1e6:.3g} us"  # microseconds, ASCII: the summary is plain text
