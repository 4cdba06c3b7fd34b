"""The self-contained HTML report of a run: figures embedded as data URIs, no network needed to view it."""

from __future__ import annotations

import base64
import html
import json

import pandas as pd

from .tables import comparison_table, game_table, metrics_table

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
     color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.verdict{background:#f4f6fb;border-left:4px solid #d62728;padding:.8em 1em;font-size:1.05em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0} td,th{border:1px solid #ddd;padding:.25em .6em;
     text-align:right} th{background:#f6f6f6} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} img{max-width:100%;border:1px solid #eee} figcaption{font-size:.85em;color:#555}
pre{background:#f8f8f8;padding:.8em;overflow-x:auto;font-size:.8em} .meta{color:#555;font-size:.9em}
"""


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.4f}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>—</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *frame.columns])
    body = "".join(
        "<tr>" + f"<td>{html.escape(str(i))}</td>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
        for i, row in zip(frame.index, frame.itertuples(index=False))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>')


def run_report(doc: dict, figures: dict[str, tuple[bytes, str]]) -> str:
    """HTML of a run from its metrics.json document and figures {name: (png bytes, caption)}."""
    src, game = doc["source"], doc["game"]
    title = f"qcoord backtest: {' / '.join(src.get('tickers', []))} ({src.get('kind')})"
    angles = game.get("angles") or {}
    ang_txt = "; ".join(f"{p}: " + ", ".join("ignore qubit" if a is None else f"{a:.4f} rad" for a in v)
                        for p, v in angles.items())
    rule = game.get("classical_rule") or {}
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{doc['n_rounds']} rounds ({doc['n_train']} to fit, {doc['n_rounds'] - doc['n_train']} to "
        f"test), {html.escape(str(src.get('start')))} → {html.escape(str(src.get('end')))}, "
        f"{_fmt(src.get('periods_per_year'))} periods a year, seed {doc['seed']}, qcoord {doc['qcoord_version']}, "
        f"{html.escape(doc['created'])}</p>",
        f"<p class='verdict'><b>Verdict.</b> {html.escape(doc['verdict'])}</p>",
        "<h2>The game fitted on the training window</h2>",
        _table(game_table(doc)),
        "<p>" + ", ".join([
            f"classical optimum <b>{_fmt(game['classical_value'])}</b> (A: {html.escape(str(rule.get('A_name')))}, "
            f"B: {html.escape(str(rule.get('B_name')))})",
            f"quantum optimum <b>{_fmt(game['quantum_value'])}</b>",
            f"textbook CHSH angles {_fmt(game.get('textbook_value'))}",
            f"advantage <b>{_fmt(game['advantage'])}</b>",
        ]) + f" (rule {html.escape(str(game['rule']))}, β = {_fmt(game['beta'])}).</p>",
        f"<p>Measurement angles: {html.escape(ang_txt) if game.get('uses_entanglement') else 'none: entanglement does not help, the quantum strategy is the classical rule'}.</p>",
        "<h2>Metrics of the combined book (test window)</h2>",
        _table(metrics_table(doc)),
        "<h2>Quantum against classical</h2>",
        _table(comparison_table(doc)),
        "<h2>Figures</h2>",
        *(_figure(name, png, caption) for name, (png, caption) in figures.items()),
        "<h2>Indicators</h2>",
        f"<pre>{html.escape(json.dumps(doc.get('indicators', {}), indent=2))}</pre>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(json.dumps(doc.get('config', {}), indent=2, default=str))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
