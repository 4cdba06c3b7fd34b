"""The lines a scan or a sweep prints about its grid: the scan's headline, where quantum's edge on each metric ends
along a swept parameter, and a physical link's frontier over the grid."""

from __future__ import annotations


def scan_headline(doc: dict) -> str:
    """A scan in one paragraph: what ran, how often entanglement was used, and how many pairs survive the
    false-discovery control (scan.json ``headline``; the terminal and the report print it)."""
    f, failed = doc["fdr"], len(doc["errors"])
    text = (
        f"{doc['pairs']} pairs of {len(doc['universe']['tickers'])} tickers scanned "
        f"({len(doc['skipped'])} skipped by the filters, {failed} could not run"
        + (": listed in errors, not counted in any figure" if failed else "")
        + f"), {doc['jobs']} backtests "
        f"({doc['computed']} computed, {doc['reused']} reused); the fitted strategy uses entanglement in "
        f"{doc['entanglement_used']} of them; quantum's test-window book variance is below the best local "
        f"classical strategy's in {f['survivors']} of {f['tests']} pairs after Benjamini-Hochberg at "
        f"{f['level']:g}."
    )
    if f["survivors"] == 0:
        text += " No pair shows a quantum advantage that survives the false-discovery control."
    if "pays_after_costs" in doc:
        text += (
            f" Quantum pays after costs (its certainty equivalent above every local classical strategy's) in "
            f"{doc['pays_after_costs']} of the {doc['jobs'] - failed} backtests that ran."
        )
    return text


CROSSING_WORDS = {
    "win_rate": ("win rate (before costs)", "above"),
    "pnl_var": ("book variance (costs included, no mean)", "below"),
    "advantage": ("fitted game's advantage (before costs)", "above"),
}


def crossing_lines(cross: dict, param: str) -> list[str]:
    """Per group of the other swept parameters and metric: where quantum's edge over the classical rule on that
    metric ends along ``param``. None of these is "pays after costs" (``output.answer``): each says which it is."""
    lines = []
    for label, c in cross.items():
        where = "" if label == "all" else f" ({label})"
        for metric, info in c.items():
            what, side = CROSSING_WORDS.get(metric, (metric, "ahead of"))
            if info["crossing"] is not None:
                lines.append(f"{what}{where}: quantum's edge over classical ends at {param} = {info['crossing']:.4g}")
            elif not info["quantum_pays_at"]:
                lines.append(f"{what}{where}: quantum is never {side} classical on this grid")
            else:
                lines.append(f"{what}{where}: quantum is {side} classical over the whole grid")
    return lines


def link_frontier_lines(front: dict | None) -> list[str]:
    """A sweep with a physical link: the largest swept value at which its advantage is detectable in the market's
    stationary window, and at which it pays after costs, and what stops it at each point."""
    if not front:
        return []
    p = front["param"]
    det, pays = front["detectable_up_to"], front["pays_up_to"]
    stops = ", ".join(f"{x:g}: {stage}" for x, stage in front["first_failing"].items() if stage)
    return [
        (
            "link: the advantage is detectable in the stationary window up to " + f"{p} = {det:g}"
            if det is not None
            else "link: the advantage is detectable at no point of this grid"
        ),
        (
            f"link: entanglement pays after costs up to {p} = {pays:g}"
            if pays is not None
            else "link: entanglement pays after costs at no point of this grid"
        ),
        *([f"link: first failing stage by {p}: {stops}"] if stops else []),
        *(
            [
                f"link: the pair rate falls below the decision rate at {p} = {front['rate_frontier']:.4g} (from the "
                "link's physics, between the grid points)"
            ]
            if front.get("rate_frontier") is not None
            else []
        ),
        *(
            [
                f"link: the fidelity falls to the game's threshold at {p} = {front['fidelity_frontier']:.4g} (from the "
                "link's physics, between the grid points)"
            ]
            if front.get("fidelity_frontier") is not None
            else []
        ),
        *(
            [
                f"link: by Li et al.'s criterion (enough certification rounds in the window) feasible up to {p} = "
                f"{front['li_feasible_up_to']:g}"
                + (
                    f"; the pair rate falls below its need at {p} = {front['li_rate_frontier']:.4g}"
                    if front.get("li_rate_frontier") is not None
                    else ""
                )
            ]
            if front.get("li_feasible_up_to") is not None
            else []
        ),
    ]
