"""The run's summary as the terminal prints it: the verdict's gist first, then the data, the fitted game, the metrics
in tables that fit the width, the money model, flags, warnings, the link's chain and the full verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .answer import answer
from .metrics import FLAG_TEXT, SUMMARY_COLUMNS
from .notes import money_model, persistence
from .text import fit_table, wrapper
from .verdict import headline, link_lines, shared_information, verdict

if TYPE_CHECKING:
    from .result import Result


# The per-cell table's columns (Result.cell_table keys -> short headers, named in the line below the table).
CELL_COLUMNS = {
    "p_train": "p_tr",
    "corr_train": "corr_tr",
    "neg_share_train": "opp_tr",
    "corr_test": "corr_te",
    "neg_share_test": "opp_te",
    "shrink_weight": "shrink",
}


def summary(r: Result, width: int = 80) -> str:
    """The run in words and tables, ``width`` columns wide: the verdict's gist first (``headline``), then the
    data, the fitted game, the metrics (split into tables that fit the width; short headers, named in a legend),
    the money model, flags and warnings, and the full verdict last."""
    m = r.metrics
    para = wrapper(width)
    lines = para("verdict: " + headline(r))
    lines += para(answer(r.pays))
    shared = shared_information(r)
    if shared:
        lines += para(f"information: {shared}")
    lines += para(
        f"{r.tickers[0]} / {r.tickers[1]} ({r.source.get('kind')}): {r.n_rounds} rounds ({r.n_train} "
        f"train, {r.n_test} test), seed {r.seed}"
    )
    if r.hedge is not None:
        v = r.hedge["values"]
        saved = ", ".join(
            f"{k.replace('_', ' ')} {v[k]['saved_share']:.1%}"
            for k in ("constant_hedge", "classical", "quantum", "oracle")
            if v[k]["saved_share"] is not None
        )
        lines += para(f"hedge game fitted on training, book variance saved against coins before costs: {saved}")
        table = r.cell_table()
        assert table is not None  # a fitted hedge game has its cells
        cells = table[list(CELL_COLUMNS)].rename(columns=CELL_COLUMNS)
        lines.append("per input cell (x, y):")
        lines += fit_table(cells, width, lambda x: f"{x:.3f}")
        lines += para(
            "cells: corr = correlation of the two returns, opp = share of opposite moves, tr/te = "
            "training/test window, shrink = shrinkage weight of the cell's fit"
        )
    else:
        lines += para(
            f"fitted p(x,y) = {np.round(np.asarray(r.game['p_xy']), 4).tolist()}, classical "
            f"{r.game['classical_value']:.4f}, quantum {r.game['quantum_value']:.4f}, advantage "
            f"{r.game['advantage']:.4f}"
        )
    for line in _information_lines(r):
        lines += para(line)
    table = m[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS).astype(float)
    lines += fit_table(table, width, lambda v: f"{v:.4g}")
    lines += para(
        "columns: "
        + ", ".join(f"{short} = {key}" for key, short in SUMMARY_COLUMNS.items())
        + "; directional: the part of the P&L the quoting order decides, which the hedge changes; assumed: "
        "spread income the data cannot earn (no quotes at decision time), never in the P&L or a Sharpe ratio"
    )
    lines += para("money model: " + money_model(r))
    drift_flag = (r.drift or {}).get("flag")
    if drift_flag:
        lines += para(f"flag: drift: {drift_flag}")
    flagged: dict[str, list[str]] = {}
    for s, sm in r.metrics_dict.items():
        for k in sm.get("flags") or {}:
            flagged.setdefault(k, []).append(s)
    for k, v in flagged.items():
        lines += para(f"flag: {FLAG_TEXT.get(k, k)} for {', '.join(v)} (reasons in metrics.json)")
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
    for stage, mark, text in link_lines(doc):  # indented by two: wrapped two narrower
        lines += ["  " + x for x in para(f"{stage:<10} {mark:<4} {text}", narrower=2)]
    return lines


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
        parts.append(
            f"{persistence(per)}; best rule on a server's own readings (training): {mem['name']}, "
            f"saves {share(mem['saved'])}"
        )
    elif info.get("note"):
        parts.append(info["note"])
    if lv:
        tb = f", Tsirelson bound {share(lv['tsirelson_bound'])}" if lv.get("tsirelson_bound") is not None else ""
        what = "indicator" if lv.get("rule") == "indicator" else "smoothed indicator"
        parts.append(
            f"{what} {lv['name']}: classical {share(lv['classical_saved'])}, quantum {share(lv['quantum_saved'])}{tb}"
        )
    return ["history: " + "; ".join(parts)] if parts else []
