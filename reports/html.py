"""The self-contained HTML report of a run: figures embedded as data URIs, no network needed to view it."""

from __future__ import annotations

import html
import json

import pandas as pd

from .link import link_section
from .markup import CSS, FIT_TABLES, UNDEFINED, figure, fmt_value, html_table
from .tables import HEDGE_LEGEND, comparison_table, game_table, hedge_table, information_table, metrics_table, pvalue


def _drift_section(doc: dict) -> list[str]:
    d = doc.get("drift")
    if not d:
        return []
    cells = ["00", "01", "10", "11"]
    frame = pd.DataFrame(
        {
            "p(x,y) train": sum(d["p_xy_train"], []),
            "p(x,y) test": sum(d["p_xy_test"], []),
            "co‑movement change (z)": [d["comove_z"].get(c) for c in cells],
        },  # no break
        index=[f"x={c[0]}, y={c[1]}" for c in cells],
    )
    frame.index.name = "cell"
    flag = d.get("flag") or "none: the fitted game still describes the test window"
    p_txt = pvalue(d["chi2_p_value"]) if d.get("chi2_p_value") is not None else "= " + UNDEFINED
    return [
        "<h2>Training against test window</h2>",
        html_table(frame),
        f"<p>χ² test of equal input frequencies: p {p_txt}. Flag: {html.escape(flag)}.</p>",
    ]


def _periods_section(doc: dict) -> list[str]:
    per = doc.get("periods") or {}
    rows = per.get("rows") or []
    if not rows:
        return []
    names = list(rows[0]["variance"])
    data = {
        r["period"]: {
            "rounds": r["n"],
            **{f"var {s}": r["variance"][s] for s in names},
            "variance ratio": r.get("variance_ratio"),
            "95% CI": None
            if not r.get("variance_ratio_ci95")
            else f"[{r['variance_ratio_ci95'][0]:.3g}, {r['variance_ratio_ci95'][1]:.3g}]",
        }
        for r in rows
    }
    frame = pd.DataFrame.from_dict(data, orient="index")
    frame.index.name = per.get("by")
    share = per.get("share_significantly_below_1")
    txt = (
        (
            f"<p>Quantum's variance is significantly below {html.escape(str(per.get('opponent')))}'s in "
            f"{share:.0%} of the {len(rows)} periods.</p>"
        )
        if share is not None
        else ""
    )
    return [
        f"<h2>Per {html.escape(str(per.get('by')))}</h2>",
        txt,
        f"<details><summary>the {len(rows)} periods</summary>{html_table(frame)}</details>",
    ]


def _flags(doc: dict) -> str:
    """One line per kind of flag, naming the strategies (each one's reason is in metrics.json)."""
    by_key: dict[str, list[str]] = {}
    for s, m in doc["strategies"].items():
        for k in m.get("flags") or {}:
            by_key.setdefault(k, []).append(s)
    text = doc.get("flag_info") or {}  # the run's flag registry (backtest.output.metrics)
    items = [
        f"<li>⚑ {html.escape(text.get(k, k))}: {html.escape(', '.join(names))}</li>" for k, names in by_key.items()
    ]
    return f"<ul class='meta'>{''.join(items)}</ul>" if items else ""


def _game_name(game: dict) -> str:
    if game.get("kind", "paper") == "paper":
        return f"Ding &amp; Jiang's game, rule {html.escape(str(game.get('rule')))}, β = {fmt_value(game.get('beta'))}"
    return f"values in {html.escape(str(game.get('unit')))}"


def _hedge_section(doc: dict) -> list[str]:
    """The fitted hedge game: cells, values in variance units, what it would take, one Bell pair's worth."""
    h = doc["hedge"]
    v = h["values"]
    rows = {
        name.replace("_", " "): {
            "book variance (currency²/round)": d["book_variance"],
            "saved vs coins (currency²/round)": d["saved"],
            "share of coins' variance saved": d["saved_share"],
        }
        for name, d in v.items()
    }
    values = pd.DataFrame.from_dict(rows, orient="index")
    values.index.name = "fitted optimum"
    out = [
        "<p>The book's P&amp;L variance is itself an XOR game: a round is worth "
        "−2e²·E[r<sub>X</sub>r<sub>Y</sub> | x,y]·AB (A, B = ±1 outputs). Entanglement can only pay where the sign "
        "of the co-movement differs between input cells. Thin cells are shrunk toward the pooled value ("
        + html.escape(h["shrinkage"]["rule"])
        + ").</p>",
        html_table(hedge_table(doc)),
        f"<p class='meta'>{html.escape(HEDGE_LEGEND)}</p>",
        html_table(values),
    ]
    text = doc.get("text") or {}
    if text.get("what_it_would_take"):
        out.append(f"<p class='take'><b>What it would take.</b> {html.escape(text['what_it_would_take'])}</p>")
    if text.get("bell_pair"):
        out.append(f"<p>{html.escape(text['bell_pair'])}</p>")
    return out


def _information_section(doc: dict) -> list[str]:
    """Rules on each server's own past readings, and the same (or a K-level indicator's) information given to
    quantum."""
    info = doc.get("information")
    if not info:
        return []
    out = ["<h2>What each server's own past readings are worth</h2>"]
    text = doc.get("text") or {}
    paragraphs = [html.escape(text[k]) for k in ("history", "levels") if text.get(k)]
    if paragraphs:
        out.append("<p>" + " ".join(paragraphs) + "</p>")
    out.append(html_table(information_table(doc)))
    train = doc.get("best_local_training_variance") or {}
    if train:
        frame = pd.DataFrame({"book variance, training window": train}).sort_values("book variance, training window")
        frame.index.name = "local classical strategy"
        out += [
            "<p>The best local classical strategy is chosen on the training window, played exactly as on the "
            f"test window (costs included): <b>{html.escape(str(doc.get('best_local')))}</b>.</p>",
            html_table(frame),
        ]
    lv_table = comparison_table(doc, "quantum_levels_vs_best_local")
    if not lv_table.empty:
        out += ["<h3>quantum_levels against the best local classical strategy</h3>", html_table(lv_table)]
    return out


def _device_paragraph(d: dict) -> str:
    """The device every quantum strategy played on, the qubit pair and the calibration it was chosen on."""
    ro = ", ".join(f"{(e01 + e10) / 2:.2%}" for e01, e10 in d["readout_error"])
    t1 = ", ".join(f"{v:.0f}" for v in d["t1_us"])
    t2 = ", ".join(f"{v:.0f}" for v in d["t2_us"])
    how = f"chosen by the rule: {d['pair_rule']}" if d.get("pair") == "chosen" else "given with --qubits"
    return (
        f"<p><b>Device.</b> Every quantum strategy played on {html.escape(d['name'])}'s noise model, A on physical "
        f"qubit {d['qubits'][0]} and B on {d['qubits'][1]} ({html.escape(how)}): two-qubit gate error "
        f"{d['two_qubit_gate_error']:.2%}, readout errors {ro}, T1 {t1} µs, T2 {t2} µs; the Bell pair it prepares "
        f"has fidelity {d['bell_fidelity']:.4f}, and the measurement directions were fitted to it.</p>"
    )


def run_report(doc: dict, figures: dict[str, tuple[bytes, str]]) -> str:
    """HTML of a run from its metrics.json document and figures {name: (png bytes, caption)}."""
    src, game = doc["source"], doc["game"]
    title = f"qcoord backtest: {' / '.join(src.get('tickers', []))} ({src.get('kind')})"
    angles, azimuths = game.get("angles") or {}, game.get("azimuths") or {}

    def setting(a, phi) -> str:
        if a is None:
            return "ignore qubit"
        return f"θ {a:.4f}" + (f", φ {phi:.4f}" if phi else "") + " rad"

    ang_txt = "; ".join(
        f"{p}: " + " / ".join(setting(a, phi) for a, phi in zip(v, azimuths.get(p) or [0.0] * len(v)))
        for p, v in angles.items()
    )
    if game.get("measurement_search"):
        ang_txt += f" (Bloch direction (sin 2θ cos φ, sin 2θ sin φ, cos 2θ); searched: {game['measurement_search']})"
    rule = game.get("classical_rule") or {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{doc['n_rounds']} rounds ({doc['n_train']} to fit, {doc['n_rounds'] - doc['n_train']} to "
        f"test), {html.escape(str(src.get('start')))} → {html.escape(str(src.get('end')))}, "
        f"{src.get('periods_per_year'):g} periods a year, seed {doc['seed']}, qcoord {doc['qcoord_version']}, "
        f"{html.escape(doc['created'])}</p>",
        *(
            [f"<p class='verdict'><b>Shared information.</b> {html.escape(doc['shared_information'])}</p>"]
            if doc.get("shared_information")
            else []
        ),
        _verdict_box(doc),
        "<h2>The game fitted on the training window</h2>",
        *(_hedge_section(doc) if doc.get("hedge") else [html_table(game_table(doc))]),
        "<p>"
        + ", ".join(
            [
                f"classical optimum <b>{fmt_value(game['classical_value'])}</b> "
                f"(A: {html.escape(str(rule.get('A_name')))}, B: {html.escape(str(rule.get('B_name')))})",
                f"quantum optimum <b>{fmt_value(game['quantum_value'])}</b>",
                f"textbook CHSH angles {fmt_value(game.get('textbook_value'))}",
                f"advantage <b>{fmt_value(game['advantage'])}</b>",
            ]
        )
        + f" ({_game_name(game)}).</p>",
        "<p>Measurement angles: "
        + (
            html.escape(ang_txt)
            if game.get("uses_entanglement")
            else "none: entanglement does not help, the quantum strategy is the classical rule"
        )
        + ".</p>",
        *([_device_paragraph(game["device"])] if game.get("device") else []),
        "<h2>Metrics of the combined book (test window)</h2>",
        html_table(metrics_table(doc), "metrics"),
        *(
            [f"<p class='meta'><b>Money model.</b> {html.escape((doc.get('text') or {})['money_model'])}</p>"]
            if (doc.get("text") or {}).get("money_model")
            else []
        ),
        _flags(doc),
        *_comparison_section(doc),
        *_information_section(doc),
        *_drift_section(doc),
        *link_section(
            doc.get("link"), figure("link_frontier", *figures["link_frontier"]) if "link_frontier" in figures else ""
        ),
        *(_periods_section(doc) if game.get("uses_entanglement", True) else []),
        "<h2>Figures</h2>",
        *(figure(name, png, caption) for name, (png, caption) in figures.items() if name != "link_frontier"),
        "<h2>Indicators</h2>",
        f"<pre>{html.escape(json.dumps(doc.get('indicators', {}), indent=2))}</pre>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(json.dumps(doc.get('config', {}), indent=2, default=str))}</pre>",
        FIT_TABLES,
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _comparison_section(doc: dict) -> list[str]:
    """The paired tests of quantum against the best local classical strategy; when quantum plays the classical rule
    they would compare a rule with itself (ratios of 1, intervals [1, 1], p = 1): one sentence instead."""
    head = "<h2>Quantum against the best local classical strategy</h2>"
    if not doc["game"].get("uses_entanglement", True):
        return [
            head,
            "<p>Not tested: the fitted quantum strategy is the classical rule (it uses no entanglement), "
            "so every paired test would compare that rule with itself.</p>",
        ]
    return [
        head,
        html_table(comparison_table(doc), "comparison"),
        "<p class='meta'>Paired tests on the same rounds: Newey–West standard errors (the lag window from the "
        "data, Politis–White), the variance ratio and Sharpe difference by the delta method; Levene's test "
        "assumes independent samples and is shown for reference only.</p>",
    ]


def _verdict_box(doc: dict) -> str:
    """The verdict's gist (at most three sentences) first, then the answer to "does quantum pay after costs"; the
    full verdict, with every number, one click away."""
    head = doc.get("headline")
    answer = (doc.get("text") or {}).get("answer")
    pays = f"<br><b>After costs.</b> {html.escape(answer)}." if answer else ""
    if not head:
        return f"<div class='verdict'><b>Verdict.</b> {html.escape(doc['verdict'])}{pays}</div>"
    return (
        f"<div class='verdict'><b>Verdict.</b> {html.escape(head)}{pays}<details><summary>the verdict in full"
        f"</summary>{html.escape(doc['verdict'])}</details></div>"
    )
