"""A run folder: written whole or not at all (temp folder, then rename), and read back for ``compare``.

Contents: ``metrics.json`` (schema in docs/cli.md), ``config.toml`` (resolved; reproduces the run),
``pnl.parquet`` (``pnl.csv`` without pyarrow: per-round inputs and book P&L per strategy for the kept
rounds), ``equity.csv`` (cumulative book P&L over the whole test window), ``report.html`` (self-contained)
and the figures as PNG.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ... import reports

from ..options import toml_value
from .atomic import atomic_dir
from .jsondoc import dumps
from ..errors import RENAMED_STRATEGIES, BacktestError
from .result import SCHEMA, Result

if TYPE_CHECKING:
    from ..config import RunConfig

FIGURES = {
    "hedge_cells": "Top: share of rounds whose returns moved in opposite directions, per input cell (x, y), on the "
    "training and test windows (95% Wilson intervals; dashed: all rounds). Bottom: book variance "
    "relative to independent coins, predicted by the fitted hedge game and realised on the test window.",
    "information_value": "Book variance relative to independent coins for each kind of local information: today's "
    "reading, rules on a server's own last readings (history rules), and the smoothed K-level "
    "indicator, classical and quantum; bars as fitted on the training window, dots as realised "
    "on the test window.",
    "period_ratios": "Quantum's book variance relative to the best local classical strategy per calendar period, with "
    "paired 95% HAC intervals (log scale; dashed: equal variance).",
    "cumulative_pnl": "Cumulative book P&L per strategy over the test window (currency).",
    "rolling_variance": "Book P&L variance within consecutive blocks of rounds (log scale).",
    "win_rate_by_input": "Win rate per input pair (x, y) with 95% Wilson intervals.",
    "pnl_distribution": "Distribution of the per-round book P&L (kept rounds, central 99%).",
    "inventory": "End-of-round inventory per agent (queue fill model).",
    "link_frontier": "Fidelity against Bell-pair rate: right of the red curve the advantage is detectable at the "
    "link's confidence within the market's stationary window (the rest of the link as it is); the "
    "star is this link, the dashed line one pair a decision.",
}


def new_run_dir(runs_dir: str | Path, name: str | None) -> Path:
    """runs/<name>, the name from the clock unless given; never an existing folder."""
    root = Path(runs_dir)
    if name:
        if "/" in name or name.startswith("."):
            raise BacktestError(f"--name {name!r}: use a plain folder name")
        return root / name
    # the clock, then a random suffix: two runs started in the same second never pick the same folder
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = root / f"{stamp}-{secrets.token_hex(3)}"
        if not path.exists():
            return path


def figure_jobs(result: Result) -> dict:
    """``{name: reports.Drawing}`` of every figure the run's report shows (a figure function by name and its data:
    drawn in another process without importing matplotlib here); none without content (a comparison per period
    when quantum plays the classical rule would plot ratios of 1, and is left out)."""
    from ...reports.render import Drawing

    out: dict[str, Drawing] = {}
    if result.hedge is not None:
        realised = {s: m.get("variance_share") for s, m in result.metrics_dict.items()}
        out["hedge_cells"] = Drawing("hedge_cells", (result.hedge["informativeness"], result.hedge["values"], realised))
        info = result.information or {}
        if info.get("history") or info.get("levels"):
            out["information_value"] = Drawing(
                "information_value",
                (result.information, result.hedge["values"], realised, result.hedge["coin_variance"]),
            )
    out |= {
        "cumulative_pnl": Drawing("cumulative_pnl", (result.equity,)),
        "rolling_variance": Drawing("rolling_variance", (result.block_variance, result.block_len)),
        "win_rate_by_input": Drawing("win_rate_by_input", (result.win_by_input,)),
        "pnl_distribution": Drawing("pnl_distribution", (result.pnl,)),
    }
    if "quantum" in result.metrics_dict and result.best_local and result.game.get("uses_entanglement"):
        out["period_ratios"] = Drawing("period_ratios", (result.periods,))
    inv = result.inventory
    if inv is not None:
        out["inventory"] = Drawing("inventory", (inv,))
    if result.link and result.link.get("frontier"):
        out["link_frontier"] = Drawing("link_frontier", (result.link,))
    return out


def figures(result: Result, painter=None) -> dict[str, tuple[bytes, str]]:
    """The report's figures as ``{name: (PNG bytes, caption)}``, drawn side by side (``reports.Painter``; a painter
    started before the run has its workers ready)."""
    jobs = figure_jobs(result)
    drawn = painter.pngs(jobs) if painter is not None else reports.pngs(jobs)
    return {name: (png, FIGURES[name]) for name, png in drawn.items()}


def pnl_frame(result: Result) -> pd.DataFrame:
    frame = result.pnl.copy()
    frame.insert(0, "y", result.kept["y"])
    frame.insert(0, "x", result.kept["x"])
    frame.index.name = "time"
    return frame


def write_run(result: Result, cfg: RunConfig, out: Path, painter=None) -> Path:
    """Write the run into ``out`` (which must not exist), atomically (``painter``: a ``reports.Painter`` whose workers
    draw the figures)."""
    if out.exists():
        raise BacktestError(f"{out} already exists; choose another --name or --out")
    doc = result.to_dict()
    figs = figures(result, painter)
    fitted = {
        "indicator_A": _flat(result.indicators["A"]),
        "indicator_B": _flat(result.indicators["B"]),
        "game": {
            "p_xy": [v for row in result.game["p_xy"] for v in row],
            "classical_value": result.game["classical_value"],
            "quantum_value": result.game["quantum_value"],
            "advantage": result.game["advantage"],
        },
    }
    meta = {"qcoord_version": result.version, "created": result.created}
    with atomic_dir(out) as tmp:
        (tmp / "metrics.json").write_text(dumps(doc) + "\n")
        (tmp / "config.toml").write_text(cfg.to_toml({"fitted": {}, "meta": meta}) + _fitted_toml(fitted))
        frame = pnl_frame(result)
        try:
            frame.to_parquet(tmp / "pnl.parquet")
        except ImportError:  # pyarrow is optional: fall back to CSV
            frame.to_csv(tmp / "pnl.csv")
        result.equity.rename_axis("time").to_csv(tmp / "equity.csv")
        (tmp / "report.html").write_text(reports.run_report(doc, figs))
        for name, (png, _) in figs.items():
            (tmp / f"{name}.png").write_bytes(png)
    return out


def _flat(d: dict) -> dict:
    return {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool)) and v is not None}


def _fitted_toml(fitted: dict) -> str:
    lines = ["\n# What the run fitted on its training window (informational; ignored when read back)."]
    for section, values in fitted.items():
        lines.append(f"[fitted.{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {toml_value(v)}")
    return "\n".join(lines) + "\n"


def read_run(path: str | Path) -> tuple[dict, pd.DataFrame]:
    """(metrics.json document, equity curve) of a run folder, or a BacktestError naming the folder."""
    path = Path(path)
    if not path.is_dir():
        raise BacktestError(f"{path}: not a run folder (no such directory)")
    metrics = path / "metrics.json"
    if not metrics.is_file():
        raise BacktestError(f"{path}: not a qcoord run folder (no metrics.json)")
    try:
        doc = json.loads(metrics.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{metrics}: unreadable ({exc})") from None
    if doc.get("schema") not in range(1, SCHEMA + 1) or "strategies" not in doc:  # older runs still compare
        raise BacktestError(f"{metrics}: not a qcoord metrics file (schema {doc.get('schema')!r})")
    if doc["schema"] < 5:  # before schema 5 the history strategy was called memory: compare it with today's runs
        doc["strategies"] = {RENAMED_STRATEGIES.get(k, k): v for k, v in doc["strategies"].items()}
    equity_file = path / "equity.csv"
    equity = pd.read_csv(equity_file, index_col=0) if equity_file.is_file() else pd.DataFrame()
    return doc, equity


def _flatten(doc: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[prefix + k] = v
    return out


LABEL_SECTIONS = ("source", "fill", "link", "noise", "supply", "game", "indicators", "run")  # what tells runs apart


def run_labels(docs: dict[str, dict]) -> dict[str, str]:
    """A label per run folder (``docs``: folder -> metrics.json) for ``compare``: the pair and its source ("X/Y,
    synthetic signals", "JPM/BAC, sample jpm_bac", "AAA/BBB, csv"); runs that share it are told apart by the options
    that differ among them (at most four, "fill=queue, visibility=0.9"), and by their folder when none does."""
    base = {}
    for folder, doc in docs.items():
        src = doc.get("source") or {}
        kind = src.get("kind") or "?"
        detail = src.get("mode") if kind == "synthetic" else src.get("sample") if kind == "sample" else None
        base[folder] = f"{'/'.join(src.get('tickers') or ['?'])}, {kind}{' ' + detail if detail else ''}"
    labels = dict(base)
    for name in set(base.values()):
        group = [f for f in docs if base[f] == name]
        if len(group) < 2:
            continue
        flat = {
            f: _flatten({k: v for k, v in (docs[f].get("config") or {}).items() if k in LABEL_SECTIONS}) for f in group
        }
        keys = sorted({k for f in group for k in flat[f]}, key=lambda k: (LABEL_SECTIONS.index(k.split(".")[0]), k))
        differ = [k for k in keys if len({repr(flat[f].get(k)) for f in group}) > 1][:4]
        for f in group:
            shown = ", ".join(f"{_option(k)}={_value(flat[f].get(k))}" for k in differ)
            labels[f] = f"{name} ({shown})" if shown else name
    counts = {lab: list(labels.values()).count(lab) for lab in labels.values()}
    return {f: lab if counts[lab] == 1 else f"{lab} [{Path(f).name or f}]" for f, lab in labels.items()}


def _option(path: str) -> str:
    """An option's name in a label: the field, or the section for its name or preset ("fill=queue")."""
    section, _, field = path.rpartition(".")
    return section.split(".")[0] if field in ("name", "preset", "kind") else field


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ",".join(_value(x) for x in v)
    return "unset" if v is None else str(v)
