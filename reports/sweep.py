"""The HTML report of a sweep: the answer first (does quantum pay after costs, over the grid and at each point), then
quantum against the classical rule point by point, the figures, where each metric's edge ends, and the
configuration."""

from __future__ import annotations

import html
import json

import pandas as pd

from .markup import CSS, FIT_TABLES, figure, html_table


def point_table(table: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """One row per grid point: quantum's and classical's book variance share, quantum's win rate (before costs),
    its certainty equivalent against the best local classical strategy after costs, and whether it pays."""
    q = table[table.strategy == "quantum"].set_index(params)
    c = table[table.strategy == "classical"].set_index(params)
    frame = pd.DataFrame(
        {
            "variance share, quantum": q.get("variance_share"),
            "variance share, classical": c.get("variance_share"),
            "win rate, quantum (before costs)": q.get("win_rate"),
            "certainty equivalent after costs": q.get("certainty_equivalent"),
            "pays after costs": q.get("pays").map({True: "yes", False: "no"}) if "pays" in q else None,
        }
    )
    frame.index = [
        ", ".join(
            f"{n}={v:g}" if isinstance(v, float) else f"{n}={v}"
            for n, v in zip(params, k if isinstance(k, tuple) else (k,))
        )
        for k in frame.index
    ]
    frame.index.name = "point"
    return frame.dropna(axis=1, how="all")


def sweep_report(doc: dict, table: pd.DataFrame, figures: dict[str, tuple[bytes, str]], lines: list[str]) -> str:
    """HTML of a sweep (``doc``: sweep.json; ``table``: sweep.csv's rows; ``lines``: where each metric's edge ends,
    and the link's frontier, as the terminal prints them)."""
    params = list(doc["params"])
    answer = doc.get("answer") or {}
    points = "".join(f"<li>{html.escape(p)}</li>" for p in answer.get("points", []))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>qcoord sweep</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>qcoord sweep: {html.escape(', '.join(params))}</h1>",
        f"<div class='verdict'><p>{html.escape(answer.get('grid', ''))}.</p><ul>{points}</ul></div>",
        "<p class='meta'>Pays after costs: quantum's fitted strategy uses entanglement and its certainty equivalent "
        "(mean book P&L after switching costs, and the link's pair cost, less risk aversion / 2 x variance over the "
        "book) is above every local classical benchmark's on the test window, and with a link every stage of its "
        "chain passes. Win rates and the fitted game's advantage are before costs.</p>",
        "<h2>Quantum and the classical rule at each point</h2>",
        html_table(point_table(table, params), "points"),
        "<h2>Figures</h2>",
        *(figure(name, png, caption) for name, (png, caption) in figures.items()),
        "<h2>Along the grid</h2>",
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>",
        f"<p class='meta'>{doc['points']} points ({doc['computed']} computed, {doc['reused']} reused); every row "
        "is in sweep.csv.</p>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(json.dumps(doc.get('config', {}), indent=2, default=str))}</pre>",
        FIT_TABLES,
        "</body></html>",
    ]
    return "\n".join(parts)
