"""The feasibility chain of a physical link for this market: which stage stops the advantage.

Stages, in the order a pair lives through them (docs/link.md):

1. market: the fitted game has a quantum advantage at all, on a perfect link;
2. fidelity: the link's fidelity (dark-count heralds and gate errors included) is above the game's Werner threshold;
3. deadline: each server decides before light could bring the other's input (no classical link can coordinate);
4. rate: the link delivers a pair for every decision (Li et al.'s criterion, enough certification rounds within
   the stationary window, beside it);
5. memory: the pair, as measured after its typical wait (herald delay and storage, T1/T2, readout, loss) with its
   settings re-aimed for its age, still beats the best classical rule;
6. detectable: the expected quantum score of the rounds that get a pair within the market's stationary window is
   significant at the stated confidence (Hoeffding; exact binomial counts and counts with power beside it);
7. value: quantum pays after costs (``analysis.pays.money``: its certainty equivalent after switching costs and the
   link's cost per pair is above every local classical benchmark's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ...strategies import Noise, quantum_lower_bound, solve
from ...strategies.link import (
    Link,
    fidelity_from_visibility,
    rounds_to_certify,
    rounds_to_detect,
    visibility_from_fidelity,
)

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
POWER = 0.9  # the power at which the detectable stage also gives its counts


@dataclass(frozen=True)
class StationaryWindow:
    """How long the market's correlations stay put: ``seconds``, and where that came from (``source``, in words).
    ``rounds(rate)``: the decisions it holds at ``rate`` a second."""

    seconds: float
    source: str
    n_rounds: int | None = None  # the decisions it holds, counted on the data's clock (else seconds x rate)

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"a stationary window must be positive, finite seconds, got {self.seconds!r}")

    @classmethod
    def of_rounds(cls, rounds: float, round_seconds: float, source: str) -> StationaryWindow:
        """A window of ``rounds`` rounds of ``round_seconds`` each."""
        return cls(float(rounds) * float(round_seconds), source)

    def rounds(self, rate: float) -> int:
        if self.n_rounds is not None:
            return max(1, int(self.n_rounds))
        return max(1, int(round(self.seconds * rate)))


def _stage(name: str, passed: bool | None, text: str, **numbers) -> dict:
    passed = None if passed is None else bool(passed)
    return {"stage": name, "passed": passed, "result": RESULT[passed], "text": text, **numbers}


def certification_counts(game, omega_c: float, omega_q: float, gap: float, confidence: float) -> dict:
    """The rounds with a pair that certify ``gap`` above the classical value at ``confidence``: Hoeffding's bound
    (any utility) and, for a won-or-lost game, the exact binomial count; each at the expected score (about 50% power)
    and with ``POWER`` (every larger count passes too). ``li_rounds``: the count Li et al.'s criterion uses (the exact
    expected-score count for won-or-lost games, Hoeffding's otherwise, where Li et al. use their Eq. 20 bound)."""
    span = float(np.ptp(game.table))
    hoeffding = rounds_to_detect(gap, span, confidence)
    out = {
        "rounds_needed": hoeffding,
        "rounds_needed_power": rounds_to_detect(gap, span, confidence, power=POWER),
        "rounds_needed_binomial": None,
        "rounds_needed_binomial_power": None,
        "utility_span": span,
        "power": POWER,
    }
    # the exact counts are never above Hoeffding's (the same tail, bounded); past EXACT_MAX rounds (a gap barely
    # above the threshold: the search costs about 1.5 s a million rounds) they are not worked out
    if game.has_wins and gap > 0 and hoeffding <= EXACT_MAX:
        alpha = 1.0 - confidence
        n = rounds_to_certify(omega_c, omega_q, alpha, max_rounds=int(hoeffding))
        out["rounds_needed_binomial"] = None if math.isinf(n) else n
        n = rounds_to_certify(omega_c, omega_q, alpha, max_rounds=EXACT_MAX, power=POWER)
        out["rounds_needed_binomial_power"] = None if math.isinf(n) else n
    exact = out["rounds_needed_binomial"]
    out["li_rounds"] = exact if exact is not None else hoeffding
    return out


def feasibility(
    link: Link,
    fit,
    fit_noise: Noise,
    window: StationaryWindow,
    pair_share: float,
    value: dict | None,
    game_unit: str = "utility per round",
    *,
    decision_rate: float,
    deadline: float | None = None,
    memory_cutoff: float | None = None,
    aged: dict | None = None,
) -> dict:
    """The chain for ``link`` on the game ``fit`` (a ``players.roster.GameFit``) fitted with ``fit_noise`` (the
    link's noise at the pairs' typical age). ``window``: the market's stationary window (a ``StationaryWindow``);
    ``decision_rate``: the market's decisions a second and ``deadline``: the seconds a server may take to decide (the
    caller gives all three from the run's clock, ``feed.clock``; deadline unset: the link's decision latency);
    ``pair_share``: the share of decisions that got a pair; ``value``: whether quantum pays after costs
    (``analysis.pays.money``, the link's cost per pair included; None: no quantum player ran); ``game_unit``: the unit
    of the game's values, for the gaps; ``memory_cutoff``: the age (s, herald delay included) past which pairs were not
    played (inf or None: none); ``aged``: the age-aware play's grid (``strategies.aged.AgedPlay.describe``, with
    ``fixed_cutoff_s``: where settings fitted once would stop paying), None when the settings were not chosen by
    age."""
    decisions = float(decision_rate)
    window_rounds = window.rounds(decisions)
    game, p = fit.game, fit.p_xy
    perfect = solve(game, p, Noise())
    gap0 = perfect.quantum_value - perfect.classical_value
    stages = [
        _stage(
            "market",
            bool(perfect.uses_entanglement),
            f"quantum beats classical by {gap0:.4g} {game_unit} on a perfect link"
            if perfect.uses_entanglement
            else "no quantum advantage in this game even on a perfect link",
            gap=gap0,
        )
    ]
    v_star = visibility_threshold(game, p)
    f_star = None if v_star is None else fidelity_from_visibility(v_star)
    f = link.effective_fidelity
    # dark counts dilute the pairs as the photons fade: the longest fibre whose visibility still clears the threshold
    reach = None if v_star is None or link.dark_count_prob == 0 else link.max_distance_km(v_star)
    stages.append(
        _stage(
            "fidelity",
            None if f_star is None else f > f_star,
            "no threshold: the game has no advantage to keep"
            if f_star is None
            else f"fidelity {f:.4f} {'>' if f > f_star else '<='} threshold {f_star:.4f}"
            + ("" if reach is None else f"; dark counts keep it above up to {reach:.4g} km of fibre"),
            fidelity=f,
            threshold=f_star,
            visibility_threshold=v_star,
            herald_purity=link.herald_purity,
            max_distance_km=reach,
        )
    )
    t_light = link.straight_line_time
    t_dec = link.decision_latency if deadline is None else float(deadline)
    met = t_dec < t_light
    stages.append(
        _stage(
            "deadline",
            met,
            f"a server decides within {_duration(t_dec)} {'<' if met else '>='} light's "
            f"{_duration(t_light)} straight-line ({_duration(link.fibre_time)} through the fibre)"
            + ("" if met else ": a classical message arrives in time, so the servers can talk"),
            decision_latency_s=t_dec,
            straight_line_time_s=t_light,
            fibre_time_s=link.fibre_time,
        )
    )
    gap = fit.solution.quantum_value - fit.solution.classical_value
    stored = bool(fit.solution.uses_entanglement)
    counts = certification_counts(
        game, fit.solution.classical_value, fit.solution.quantum_value, gap if stored else 0.0, link.confidence
    )
    stages.append(_rate_stage(link, decisions, pair_share, counts["li_rounds"], window))
    stages.append(_memory_stage(link, stages, stored, gap, fit_noise.storage_time, memory_cutoff, game_unit, aged))
    stages[-1] |= {"quantum_value": fit.solution.quantum_value, "classical_value": fit.solution.classical_value}
    needed = counts["rounds_needed"]
    available = pair_share * window_rounds
    stages.append(
        _stage(
            "detectable",
            needed <= available,
            _detectable_text(counts, available, window, link),
            **counts,
            rounds_available=available,
            window_rounds=window_rounds,
            window_s=window.seconds,
            window_from=window.source,
            confidence=link.confidence,
        )
    )
    stages.append(_value_stage(link, value, available, pair_share))
    first = next((s["stage"] for s in stages if s["passed"] is False), None)
    return {
        "stages": stages,
        "first_failing": first,
        "frontier": frontier(link, fit, fit_noise, window_rounds, f_star, decisions) if f_star is not None else None,
        "link": link.to_dict(),
        "derived": link.derived(),
        "description": _describe(link, decisions, t_dec),
        "decision_rate_hz": decisions,
        "window_s": window.seconds,
    }


def _value_stage(link: Link, value: dict | None, available: float, pair_share: float) -> dict:
    """Stage 7: quantum's certainty equivalent after every cost against the local classical benchmarks, currency a
    round, and what the pairs of a stationary window earn net of their cost."""
    ce = None if value is None else value.get("certainty_equivalent")
    if value is None or value["pays"] is None or ce is None:
        return _stage(
            "value",
            None,
            "no local classical strategy to compare with after costs",
            certainty_equivalent=ce,
            cost_per_pair=link.cost_per_pair,
            value_per_pair=None,
            value_per_window=None,
        )
    # one pair's worth: the round's certainty equivalent (the pair cost put back) over the pairs a round plays
    per_pair = (ce + value["pair_cost_per_round"]) / pair_share if pair_share > 0 else None
    net = None if per_pair is None else per_pair - link.cost_per_pair
    window = "" if net is None else f"; {net * available:.4g} currency a stationary window"
    return _stage(
        "value",
        value["pays"],
        f"after switching costs and {link.cost_per_pair:.4g} a pair, quantum's certainty equivalent is "
        f"{ce:+.4g} currency a round against {value['opponent']} (risk aversion "
        f"{value['risk_aversion']:g}){window}",
        certainty_equivalent=ce,
        opponent=value["opponent"],
        cost_per_pair=link.cost_per_pair,
        value_per_pair=per_pair,
        value_per_window=None if net is None else net * available,
    )


def _rate_stage(link: Link, decisions: float, pair_share: float, li_rounds: float, window: StationaryWindow) -> dict:
    """Stage 4: a pair for every decision (ours), with Li et al.'s criterion beside it: enough certification rounds
    within the stationary window, R > n_req / T_env (arXiv:2604.07451, abstract; the criterion as an independent
    implementation reads the paper). It does not decide the stage."""
    rate = link.delivered_pair_rate
    need = li_rounds / window.seconds if math.isfinite(li_rounds) else math.inf
    li_ok = rate > need
    published = link.link_pair_rate is not None  # a published rate has no per-channel physics to multiply
    per_decision = (
        "published rate"
        if published
        else f"{link.channels_needed(decisions)} channel(s) of this link would give one a decision"
    )
    text = (
        f"{rate:.4g} pairs/s for {decisions:.4g} decisions/s ({rate / decisions:.3g} a decision; {per_decision}); "
        f"{pair_share:.1%} of rounds got a pair. Li et al.'s criterion, {_count(li_rounds)} certification rounds "
        f"in the {_duration(window.seconds)} window, needs {need:.4g} pairs/s: "
        f"{'met' if li_ok else 'not met'}"
    )
    return _stage(
        "rate",
        rate >= decisions,
        text,
        pair_rate_hz=rate,
        decision_rate_hz=decisions,
        pairs_per_decision=rate / decisions,
        pair_share=pair_share,
        channels_for_decisions=None if published else link.channels_needed(decisions),
        li_rounds_needed=li_rounds,
        li_required_rate_hz=need,
        li_passed=bool(li_ok),
        channels_for_li=None if published or not math.isfinite(need) else link.channels_needed(need),
    )


def _detectable_text(counts: dict, available: float, window: StationaryWindow, link: Link) -> str:
    """Stage 6 in words: what each count shows and no more (an expected-score count passes about half the time)."""
    conf = f"{1 - link.confidence:.2g}"
    text = (
        f"{_count(counts['rounds_needed'])} rounds with a pair make the expected quantum score significant at "
        f"{conf} by Hoeffding's bound ({_count(counts['rounds_needed_power'])} give it {POWER:.0%} power)"
    )
    if counts["rounds_needed_binomial"] is not None:
        power = counts["rounds_needed_binomial_power"]
        text += f"; by the exact binomial test {_count(counts['rounds_needed_binomial'])} (about half the time), " + (
            f"{_count(power)} with {POWER:.0%} power"
            if power is not None
            else f"no count with that power below {_count(EXACT_MAX)}"
        )
    return text + f"; {_count(available)} in the {_duration(window.seconds)} stationary window ({window.source})"


def _memory_stage(
    link: Link,
    stages: list,
    stored: bool,
    gap: float,
    storage: float,
    cutoff: float | None,
    game_unit: str,
    aged: dict | None = None,
) -> dict:
    """Stage 5: the pair after its typical wait (``storage`` s), re-optimised for that age when ``aged`` (the age
    grid) is given, and the memory cutoff the run applied (s, or None)."""
    wait = f"after its typical {_duration(storage)} wait (herald and storage)"
    how = ", its settings re-aimed for its age," if aged else ""
    earlier = next((s["stage"] for s in stages if s["stage"] in ("market", "fidelity") and s["passed"] is False), None)
    cut = cutoff if cutoff is not None and math.isfinite(cutoff) else None
    fixed = (aged or {}).get("fixed_cutoff_s")
    oldest = (aged or {}).get("ages_s", [None])[-1]
    if cut is None:
        dropped = (
            f"; re-aimed for their age, pairs beat it at every age up to {_duration(oldest)} (the age grid, "
            "past the oldest pair seen in training)"
            if aged and oldest and stored
            else ""
        )
    elif link.memory_cutoff != "auto":
        dropped = f"; pairs older than {_duration(cut)} are not played (the link's cutoff)"
    elif cut > link.herald_delay:
        dropped = (
            f"; pairs older than {_duration(cut)} are not played (even re-aimed for their age they no longer "
            "beat the classical rule)"
            if aged
            else f"; pairs older than {_duration(cut)} are not played (they no longer beat the classical rule)"
        )
    else:
        dropped = "; no pair is young enough to beat the classical rule, so none is played"
    if aged and fixed is not None and math.isfinite(fixed) and stored:
        dropped += f"; settings fitted once for the typical age would stop beating it at {_duration(fixed)}"
    text = (
        f"{wait}{how} with readout and loss, the pair still beats the classical rule by {gap:.4g} {game_unit}"
        if stored
        else f"{wait} the pair cannot beat the classical rule: the {earlier} already fails"
        if earlier
        else f"{wait}{how} with readout and loss, the pair no longer beats the classical rule"
    )
    return _stage(
        "memory",
        stored,
        text + dropped,
        gap=gap,
        storage_time_s=storage,
        memory_cutoff_s=cut,
        age_aware=bool(aged),
        ages_checked_to_s=oldest if aged else None,
        fixed_angle_cutoff_s=fixed if fixed is not None and math.isfinite(fixed) else None,
    )


def _describe(link: Link, decisions: float, deadline: float) -> str:
    """The link in one line of its derived numbers (the summary and the report print it)."""
    d = link.derived()
    return (
        f"{link.distance_km:g} km of fibre ({d['transmission_per_photon']:.3g} of each photon arrives), "
        f"{d['pair_rate_hz']:.4g} Bell pairs a second ({'published' if link.link_pair_rate else 'derived'}), "
        f"fidelity {d['effective_fidelity']:.4f} (visibility {d['visibility']:.4f}), herald delay "
        f"{_duration(d['herald_delay_s'])}; decisions within {_duration(deadline)} at {decisions:.4g} a second"
    )


def frontier(
    link: Link, fit, fit_noise: Noise, window_rounds: int, f_star: float, decisions: float, points: int = 40
) -> dict:
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
        # the grid bound covers binary inputs; a K-level game (the load balancer's) takes the solver's seesaw
        gap = (quantum_lower_bound(game, p, nz) if game.levels == (2, 2) else solve(game, p, nz).quantum_value) - cl
        need = rounds_to_detect(gap, span, link.confidence)
        share = need / window_rounds if math.isfinite(need) else math.inf
        rates.append(share * decisions if share <= 1 else None)  # beyond one pair a decision: never
    return {
        "fidelity": fs.tolist(),
        "min_pair_rate_hz": rates,
        "link_fidelity": link.effective_fidelity,
        "link_pair_rate_hz": link.delivered_pair_rate,
        "decision_rate_hz": decisions,
    }


def _count(n: float) -> str:
    return "infinitely many" if not math.isfinite(n) else f"{n:,.0f}"


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds * 1e6:.3g} us"  # microseconds, ASCII: the summary is plain text
