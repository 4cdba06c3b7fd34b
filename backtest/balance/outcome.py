"""What ``run_balance`` returns: every number of the run, its verdict in words, and metrics.json (strict JSON)."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import pandas as pd

from ... import __version__
from ..stats.intervals import format_p

SCHEMA = 1
COLUMNS = ("mean_wait", "p95_wait", "p99_wait", "qos_violation", "throughput", "bunch_rate", "win_rate")


def strict(v):
    """JSON without NaN or Infinity tokens: non-finite numbers become null (numpy scalars become Python's)."""
    if isinstance(v, dict):
        return {str(k): strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass
class BalanceResult:
    """A load-balancing run: ``metrics`` (one row per router), ``game`` (the K x K values and limits), ``fitted``
    (the qubit strategy played), ``comparison`` (paired tests at t*), ``frontier`` (each family's points over t*),
    ``frontier_comparison`` (quantum against the threshold rule at common waits), ``talk``, ``feasibility`` (the
    link's chain, or None), ``closed_forms``, ``verdict`` and ``headline``. Times in seconds."""

    config: dict
    toml: str
    settings: dict
    game: dict
    fitted: dict
    visibility_threshold: float | None
    metrics: dict
    comparison: dict
    frontier: dict
    frontier_comparison: dict
    talk: dict
    feasibility: dict | None
    closed_forms: dict
    strictly_convex: bool
    noise: dict
    link: dict | None
    verdict: str = field(init=False)
    headline: str = field(init=False)

    def __post_init__(self) -> None:
        self.headline, self.verdict = verdict(self)

    @property
    def table(self) -> pd.DataFrame:
        """One row per router: waiting time (mean, p95, p99; s), QoS violation rate, throughput per server, bunch
        rate, and the share of pairs routed as the oracle would (the game's win rate)."""
        return pd.DataFrame({k: {c: v[c] for c in COLUMNS} for k, v in self.metrics.items()}).T

    def to_dict(self) -> dict:
        return strict(
            {
                "schema": SCHEMA,
                "qcoord_version": __version__,
                "command": "balance",
                "headline": self.headline,
                "verdict": self.verdict,
                "settings": self.settings,
                "game": self.game,
                "fitted": self.fitted,
                "visibility_threshold": self.visibility_threshold,
                "metrics": self.metrics,
                "comparison": self.comparison,
                "frontier": self.frontier,
                "frontier_comparison": self.frontier_comparison,
                "talk": self.talk,
                "feasibility": self.feasibility,
                "closed_forms": self.closed_forms,
                "noise": self.noise,
                "link": self.link,
                "config": self.config,
            }
        )

    def summary(self, width: int = 80) -> str:
        g, s = self.game, self.settings
        lines = [
            *_wrap("verdict: " + self.headline, width),
            f"two servers, rho = {s['rho']:.3g} each; t* = {s['t_star'] * 1e3:.4g} ms (C_t = {s['c_t']:.4g}); "
            f"QoS: mean wait {s['qos_wait'] * 1e3:.4g} ms",
            *_wrap(f"background: {s['background']}", width),
            "game values (win probability) as the levels K refine:",
            "  K         " + "".join(f"{k:>9d}" for k in g["levels"]),
            "  classical " + "".join(f"{_f(v):>9}" for v in g["classical_threshold"]),
            "  quantum   " + "".join(f"{_f(v):>9}" for v in g["quantum"]),
            f"  limit: classical {g['classical_limit']:.4f} (best threshold pair on the continuum), quantum "
            f"{g['quantum_limit']:.4f} (Richardson, order "
            f"{_f(g['quantum_convergence'].get('order'), 2)})",
        ]
        if "at_split" in g:
            a = g["at_split"]
            lines += _wrap(
                f"at split probability {a['split_probability']:g}: classical {a['classical_limit']:.4f}, quantum "
                f"{a['quantum_limit']:.4f} (limits; the paper's comparison at fixed p)",
                width,
            )
        t = self.table.copy()
        for c in ("mean_wait", "p95_wait", "p99_wait"):
            t[c] = t[c] * 1e3
        t = t.rename(
            columns={
                "mean_wait": "wait_ms",
                "p95_wait": "p95_ms",
                "p99_wait": "p99_ms",
                "qos_violation": "qos_viol",
                "throughput": "thruput",
                "bunch_rate": "bunch",
                "win_rate": "win",
            }
        )
        lines += t.to_string(float_format=lambda v: f"{v:.4g}", line_width=width).splitlines()
        lines += _wrap(
            "columns: wait = waiting time before service (mean, 95th and 99th percentiles, ms), qos_viol = "
            "share of customers waiting longer than the QoS bound, thruput = background output a second "
            "per server, bunch = share of pairs on one server, win = share routed as the oracle would",
            width,
            "  ",
        )
        lines += _wrap("verdict in full: " + self.verdict, width)
        return "\n".join(lines)


def _f(v, digits: int = 4) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False)


def _ms(v: float) -> str:
    return f"{v * 1e3:.4g} ms"


def _ci(lo_hi, scale: float = 1.0, unit: str = "") -> str:
    lo, hi = lo_hi
    return f"95% CI {lo * scale:.3g} to {hi * scale:.3g}{unit}"


def _rel(point: dict) -> str:
    """A frontier difference and its interval in % of the local frontier's throughput."""
    base = point["classical"]
    lo, hi = (v / base for v in point["difference_ci95"])
    return f"{point['relative']:+.2%} (95% CI {lo:+.2%} to {hi:+.2%})"


def verdict(r: BalanceResult) -> tuple[str, str]:
    """(headline of at most three sentences, the verdict in full): does entanglement pay here, at what link quality,
    and what would it take. Talking comes first when it is possible."""
    head, full = [], []
    talk = r.talk
    if talk["in_time"]:
        t = (
            f"The routers can talk: a message crosses the {talk['distance_km']:g} km fibre in "
            f"{talk['message_s'] * 1e6:.3g} us, within the {talk['decision_latency_s'] * 1e6:.3g} us decision "
            "latency, so routing on both service times (the oracle's rule) is possible and beats every strategy "
            "without communication; entanglement is not needed here."
        )
        head.append(t)
        full.append(t)
    answer, more = _answer(r)
    head.append(answer)
    full += [_game_line(r) + ".", answer, *more, *_details(r)]
    if r.feasibility is not None and r.feasibility.get("first_failing") and len(head) < 3:
        head.append(_chain(r))
    return " ".join(head[:3]), " ".join(full)


def _uses(fit: dict) -> bool:
    return bool(fit.get("uses_entanglement")) or bool((fit.get("weighted") or {}).get("uses_entanglement"))


def _game_line(r: BalanceResult) -> str:
    s, g, fit = r.settings, r.game, r.fitted
    line = (
        f"On the routers' game at C_t = {s['c_t']:.4g} the best local threshold rule routes "
        f"{g['classical_limit']:.4f} of pairs as the oracle would and the qubit strategy fitted on "
        f"{fit['levels']} x {fit['levels']} levels {fit['quantum_value']:.4f} "
        f"(any entangled strategy: {g['quantum_limit']:.4f} as K grows)"
    )
    wf = fit.get("weighted")
    if wf:
        line += (
            f"; on the weighted game (service times saved a pair) the best local threshold rule earns "
            f"{wf['continuum_threshold_rule']['value']:.4f} and the fitted qubit strategy "
            f"{wf['quantum_value']:.4f}"
        )
    return line


def _answer(r: BalanceResult) -> tuple[str, list[str]]:
    """The answer in one sentence, and what would change it."""
    s, fit, fc = r.settings, r.fitted, r.frontier_comparison
    at = fc.get("at_qos") if fc.get("available") else None
    vis = r.noise.get("visibility", 1.0)
    if not _uses(fit):
        needs = [
            v
            for v in (r.visibility_threshold, (fit.get("weighted") or {}).get("visibility_threshold"))
            if v is not None
        ]
        need = (
            f"a Werner visibility above {min(needs):.4f}"
            if needs
            else "more than any visibility: the games have no quantum advantage at this threshold"
        )
        return (
            f"Entanglement cannot pay here: with this pair (visibility {vis:.4g}) the fitted quantum strategies "
            f"are the local rules; it would take {need}."
        ), []
    if not r.strictly_convex:
        diff = (
            ""
            if at is None
            else (
                f"; at the QoS mean wait {_ms(at['wait'])} the two frontiers differ by "
                f"{at['difference']:.3g} ({_ci(at['difference_ci95'])})"
            )
        )
        return (
            "With a linear background task throughput is the share of time without customers, 1 - rho = "
            f"{1 - s['rho']:.4g} per server, whatever the routing: no router trades waiting for throughput, "
            "always splitting waits least, and entanglement cannot pay (no domination of the frontier" + diff + ")."
        ), [
            "It would take a background task that rewards long uninterrupted stretches (strictly "
            "convex output, --background power)."
        ]
    if fc.get("available") and fc["dominates"]:
        # the QoS bound is the comparison chosen before the run; the largest of many is named, not led with
        top = max(fc["points"], key=lambda p: p["difference"] / p["classical"])
        over = (
            f"significantly above the local one at {fc['significantly_better']} of {len(fc['points'])} common "
            f"mean waits (most {top['relative']:+.2%} at {_ms(top['wait'])}) and below it at none"
        )
        if at is not None and at["difference_ci95"][0] > 0:
            return (
                f"Entanglement pays, at strictly convex background output: at the QoS mean wait of "
                f"{_ms(at['wait'])} the entangled routers' frontier gives {_rel(at)} background throughput "
                f"against the best local one ({at['quantum_family']} against {at['classical_family']}, paired "
                f"HAC {format_p(at['p_value'])}); over the frontier it is {over}."
            ), []
        qos = (
            "the QoS bound lies outside the waits both frontiers reach"
            if at is None
            else f"at the QoS mean wait of {_ms(at['wait'])} the difference, {_rel(at)}, is not significant"
        )
        return (
            f"Entanglement pays on part of the frontier, at strictly convex background output: the entangled "
            f"routers' frontier is {over}; {qos}."
        ), []
    why = (
        "no quantum router was played"
        if not fc.get("available")
        else f"the entangled routers' frontier is significantly above the best local one at "
        f"{fc['significantly_better']} and below it at {fc['significantly_worse']} of {len(fc['points'])} "
        "common waits"
        + ("" if at is None else f"; at the QoS mean wait of {_ms(at['wait'])} the difference is {_rel(at)}")
    )
    return f"Entanglement does not pay measurably here: {why}; its frontier does not dominate the local one.", []


def _chain(r: BalanceResult) -> str:
    assert r.feasibility is not None  # a run on a link
    first = r.feasibility["first_failing"]
    stage = next(x for x in r.feasibility["stages"] if x["stage"] == first)
    return f"On this link the feasibility chain fails first at {first}: {stage['text']}."


def _details(r: BalanceResult) -> list[str]:
    """The numbers behind the answer: quantum at t*, the link quality it needs, the link, the pairs, talking."""
    out, fit, talk = [], r.fitted, r.talk
    cmp = r.comparison.get("quantum_vs_threshold")
    if cmp:
        w, tp = cmp["wait_difference"], cmp["throughput_difference"]
        out.append(
            f"At t* itself, on the same arrivals, quantum against the threshold rule: mean wait "
            f"{w['mean'] * 1e3:+.4g} ms ({_ci(w['ci95'], 1e3, ' ms')}), throughput {tp['mean']:+.4g} a second "
            f"per server ({_ci(tp['ci95'])})."
        )
    v_star = r.visibility_threshold
    if v_star is not None:
        wv = (fit.get("weighted") or {}).get("visibility_threshold")
        weighted = "" if wv is None else f", on the weighted game above {wv:.4f} (fidelity {(1 + 3 * wv) / 4:.4f})"
        out.append(
            f"Link quality: the fitted qubit strategy beats the best local rule on the threshold game above a "
            f"Werner visibility of {v_star:.4f} (fidelity {(1 + 3 * v_star) / 4:.4f}){weighted}; this pair's "
            f"visibility is {r.noise.get('visibility', 1.0):.4g}"
            + ("" if _uses(fit) else ", so the quantum routers play the local rules")
            + "."
        )
    if r.feasibility is not None:
        out.append(
            _chain(r)
            if r.feasibility.get("first_failing")
            else "On this link every stage of the feasibility chain passes."
        )
    q = r.metrics.get("quantum", {})
    if "pair_share" in q and q["pair_share"] < 1:
        out.append(
            f"Only {q['pair_share']:.1%} of requests found a Bell pair in the memory; the others were routed "
            "by the threshold rule; it would take a link delivering one pair per request."
        )
    if not talk["in_time"]:
        out.append(
            f"Talking is too slow: a message takes {talk['message_s'] * 1e6:.3g} us over "
            f"{talk['distance_km']:g} km of fibre ({talk['from']}), the routers decide within "
            f"{talk['decision_latency_s'] * 1e6:.3g} us, so talking routes as the threshold rule does."
        )
    return out


def write_folder(result: BalanceResult, out) -> None:
    """The run folder, written whole or not at all: metrics.json (strict JSON), config.toml (repeats the run),
    report.html (the frontier first) and the figures as PNG."""
    import json
    from pathlib import Path

    from ... import reports
    from ..errors import BacktestError
    from ..output.atomic import atomic_dir

    out = Path(out)
    if out.exists():
        raise BacktestError(f"{out} already exists; choose another --name or --out")
    doc = result.to_dict()
    figs = reports.balance_figures(doc)
    with atomic_dir(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        (tmp / "config.toml").write_text(result.toml)
        (tmp / "report.html").write_text(reports.balance_report(doc, figs))
        for name, (png, _) in figs.items():
            (tmp / f"{name}.png").write_bytes(png)
