"""Sweeps: one backtest per point of a parameter grid, to see where entanglement stops paying.

``run_sweep(source, config, grid={option: [values]})`` runs a backtest per point of the grid (the product of the
swept values) on top of the base configuration and returns a ``SweepResult``: ``table`` (one row per point and
strategy), ``crossings`` (per group of the other swept parameters, where quantum's edge over the classical strategy
changes sign along the first one) and ``doc`` (sweep.json). Resumable: each finished point is saved under
``<out>/points/`` (``batch.jobs``), and a rerun computes only the missing ones.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import RunConfig
from ..errors import BacktestError
from ..output.atomic import atomic_files
from ..output.jsondoc import dumps, options
from . import cluster
from .jobs import JobFolder, run_jobs

COLUMNS = [
    "win_rate",
    "utility",
    "hedged_rate",
    "pnl_mean",
    "pnl_var",
    "variance_share",
    "sharpe",
    "hedging_efficiency",
    "bell_pairs",
    "quantum_share",
    "mean_pair_age",
]


def point_config(base: RunConfig, point: dict) -> RunConfig:
    """The configuration of one grid point: ``base`` with the point's values (checked as options are)."""
    return base.with_values(point, "sweep parameter ")


RECORD = 2  # a point's record format: 2 adds the answer to "does quantum pay after costs" (analysis.pays)


def point_key(cfg: RunConfig) -> str:
    """A point's file name: a hash of everything its result depends on (and of the record's format, so that a
    point saved before the format changed is computed again)."""
    text = json.dumps({**cfg.to_dict(), "record": RECORD}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _crossing(xs: list[float], ds: list[float]) -> float | None:
    """First x where d (quantum's edge over classical) changes sign, on the sorted grid.

    A genuine sign change is interpolated linearly. Where quantum has simply *become* the classical rule
    (edge exactly 0 past the threshold), the threshold lies between the grid points: it is extrapolated
    from the two nearest points where quantum pays, and kept within the bracketing interval.
    """
    pts = [(x, d) for x, d in zip(xs, ds) if d is not None and d == d]
    for i in range(len(pts) - 1):
        (x0, d0), (x1, d1) = pts[i], pts[i + 1]
        if (d0 > 0) == (d1 > 0):
            continue
        if d0 != 0 and d1 != 0:
            return x0 + (x1 - x0) * d0 / (d0 - d1)
        # one side is exactly zero: extrapolate from the paying side's two nearest points
        if d0 > 0 and i >= 1 and pts[i - 1][1] != d0:
            xa, da = pts[i - 1]
            x = x0 - d0 * (x0 - xa) / (d0 - da)
        elif d1 > 0 and i + 2 < len(pts) and pts[i + 2][1] != d1:
            xb, db = pts[i + 2]
            x = x1 - d1 * (xb - x1) / (db - d1)
        else:
            return x1 if d0 > 0 else x0
        lo, hi = min(x0, x1), max(x0, x1)
        return min(max(x, lo), hi)
    return None


def crossings(table, names: list[str]) -> dict:
    """Crossing points per group of the other swept parameters, for win rate, variance and fitted advantage."""
    import numpy as np

    first, others = names[0], names[1:]
    out: dict[str, dict[str, dict]] = {}
    groups = [((), table)] if not others else list(table.groupby(others))
    for key, sub in groups:
        q = sub[sub.strategy == "quantum"].sort_values(first)
        c = sub[sub.strategy == "classical"].sort_values(first)
        if q.empty or c.empty:
            continue
        xs = q[first].tolist()
        label = "all" if not others else ", ".join(f"{n}={v}" for n, v in zip(others, np.atleast_1d(key)))
        edges = {
            "win_rate": (q.win_rate.to_numpy() - c.win_rate.to_numpy()).tolist(),
            "pnl_var": (c.pnl_var.to_numpy() - q.pnl_var.to_numpy()).tolist(),
            "advantage": q.advantage.tolist(),
        }
        out[label] = {}
        for metric, ds in edges.items():
            x = _crossing(xs, ds)
            pays = [d > 0 for d in ds]
            out[label][metric] = {"crossing": x, "quantum_pays_at": [v for v, ok in zip(xs, pays) if ok]}
    return out


def compute_point(source, cfg: RunConfig, pt: dict, use_source: bool = True) -> dict:
    """One sweep point's record (a task on a cluster: ``source`` is the real data, scattered once, or None; with
    ``use_source`` False the point loads its own source from ``cfg``)."""
    from ..engine import run_backtest

    doc = run_backtest(source if use_source else None, cfg, progress=False).to_dict()
    link = doc.get("link")
    game = {k: doc["game"][k] for k in ("quantum_value", "classical_value", "advantage", "uses_entanglement")}
    clock = doc.get("clock") or {}  # the point's clock: a swept step or deadline moves it
    game |= {
        "decision_interval_s": clock.get("decision_interval_s"),
        "deadline_s": clock.get("deadline_s"),
        "message_delay_s": clock.get("message_delay_s"),
        "can_talk": clock.get("can_talk"),
    }
    if link:  # the chain's verdict at this point: detectable = every stage before value passes
        passed = {s["stage"]: s["passed"] for s in link["stages"]}
        game |= {
            "first_failing": link["first_failing"] or "",
            "link_detectable": all(v is not False for k, v in passed.items() if k != "value"),
            "link_passes": link["first_failing"] is None,
            "pair_rate_hz": link["derived"]["pair_rate_hz"],
            "fidelity": link["derived"]["effective_fidelity"],
            "fidelity_threshold": link["stages"][1]["threshold"],
            "decision_rate_hz": link["decision_rate_hz"],
            # Li et al.'s criterion in place of the rate and detectable stages: enough certification rounds
            "li_required_rate_hz": link["stages"][3]["li_required_rate_hz"],
            "li_feasible": all(v is not False for k, v in passed.items() if k not in ("rate", "detectable", "value"))
            and link["stages"][3]["li_passed"],
        }
    return {
        "point": pt,
        "game": game,
        "strategies": doc["strategies"],
        "pays": doc["pays"],
        "headline": doc["headline"],
        "verdict": doc["verdict"],
    }


def answers(points: list[dict], records: list[dict]) -> dict:
    """The sweep's answer to "does quantum pay after costs" (``analysis.pays``, as each point's backtest decided it):
    one line for the grid, and each point's sentence (sweep.json ``answer``)."""
    from ..output.answer import answer, grid_answer

    labels = [", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in pt.items()) for pt in points]
    return {
        "grid": grid_answer([(lab, rec.get("pays")) for lab, rec in zip(labels, records)]),
        "points": [f"{lab}: {answer(rec.get('pays'))}" for lab, rec in zip(labels, records)],
    }


def link_frontier(table, param: str, base: RunConfig | None = None) -> dict | None:
    """Along ``param``: the largest swept value at which the link's advantage is detectable in the stationary
    window, and at which it also pays after costs (None where no point does); None without a link. With ``base``,
    where the next point fails at the rate or the fidelity stage, the value between the two points at which that
    stage turns, from the link's physics alone (bisection to 1e-9 relative): ``rate_frontier``, where the pair rate
    equals the decision rate, or ``fidelity_frontier``, where the fidelity as measured equals the game's threshold.
    Beside ours, Li et al.'s criterion (enough certification rounds within the window, R > n_req / T_env, in place of
    the rate and detectable stages): ``li_feasible_up_to``, and ``li_rate_frontier`` where the pair rate equals n_req /
    T_env (n_req as fitted at the first point past it)."""
    if "link_detectable" not in table:
        return None
    t = table[table.strategy == "quantum"] if "quantum" in set(table.strategy) else table.drop_duplicates(param)
    det = t[t.link_detectable.astype(bool)][param]
    pays = t[t.pays.astype(bool)][param]  # after costs (analysis.pays): the chain passes, its value stage included
    first_failing = dict(zip(t[param].tolist(), t.first_failing.tolist()))
    out = {
        "param": param,
        "detectable_up_to": float(det.max()) if not det.empty else None,
        "pays_up_to": float(pays.max()) if not pays.empty else None,
        "first_failing": first_failing,
        "rate_frontier": None,
        "fidelity_frontier": None,
        "li_feasible_up_to": None,
        "li_rate_frontier": None,
    }
    if "li_feasible" in t:
        li = t[t.li_feasible.astype(bool)][param]
        out["li_feasible_up_to"] = float(li.max()) if not li.empty else None
        xs = sorted(t[param].tolist())
        after = [x for x in xs if not li.empty and x > li.max()]
        if base is not None and after:
            need = float(t.loc[t[param] == after[0], "li_required_rate_hz"].iloc[0])
            out["li_rate_frontier"] = _stage_crossing(
                base, param, float(li.max()), after[0], lambda link: link.delivered_pair_rate - need
            )
    if base is not None and not det.empty:
        xs = sorted(t[param].tolist())
        last = float(det.max())
        after = [x for x in xs if x > last]
        stage = first_failing.get(after[0]) if after else None
        if stage == "rate":  # the decisions a second at the failing point, on the run's clock
            rate = float(t.loc[t[param] == after[0], "decision_rate_hz"].iloc[0])
            out["rate_frontier"] = _stage_crossing(
                base, param, last, after[0], lambda link: link.delivered_pair_rate - rate
            )
        elif stage == "fidelity":
            f_star = float(t.loc[t[param] == after[0], "fidelity_threshold"].iloc[0])  # the game's, as fitted there
            out["fidelity_frontier"] = _stage_crossing(
                base, param, last, after[0], lambda link: link.effective_fidelity - f_star
            )
    return out


def _stage_crossing(base: RunConfig, param: str, ok: float, bad: float, margin) -> float | None:
    """The value of ``param`` between ``ok`` (``margin`` of the link >= 0) and ``bad`` (below) at which the link's
    ``margin`` turns negative; None when it does not turn there (a published rate, say)."""

    def at(x: float) -> float:
        return margin(point_config(base, {param: x}).link.build())

    lo, hi = ok, bad
    if not (at(lo) >= 0 > at(hi)):
        return None
    while abs(hi - lo) > 1e-9 * max(abs(lo), abs(hi), 1.0):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if at(mid) >= 0 else (lo, mid)
    return lo


@dataclass
class SweepResult:
    """A finished sweep: ``table`` (one row per point and strategy), ``crossings``, ``doc`` (sweep.json)."""

    table: pd.DataFrame
    crossings: dict
    doc: dict

    @property
    def params(self) -> list[str]:
        return list(self.doc["params"])

    def figures(self) -> dict:
        """``{name: (reports.Drawing, caption)}``: win rate, variance and hedging efficiency against the first
        swept parameter (the crossing marked; none for a metric undefined at every point), and with a link its
        frontier."""
        from ... import reports

        names, cross, table = self.params, self.crossings, self.table
        first_cross: dict = next(iter(cross.values()), {})
        figs = {
            "sweep_win_rate": (
                "win_rate",
                "win rate",
                "Win rate (before costs) of each strategy along "
                f"{names[0]}; the dotted line: where quantum's edge over the classical rule ends.",
            ),
            "sweep_variance": (
                "pnl_var",
                "book P&L variance",
                "Book P&L variance (switching costs included) "
                f"along {names[0]}; the dotted line: where quantum's edge over the classical rule "
                "ends.",
            ),
            "sweep_hedging_efficiency": (
                "hedging_efficiency",
                "hedging efficiency",
                "Hedging efficiency (0: independent coins, 1: the oracle) along " + names[0] + ".",
            ),
        }
        out = {}
        front = self.doc.get("link_frontier")
        if front and len(names) == 1:
            out["sweep_link_frontier"] = (
                reports.Drawing(
                    "distance_frontier",
                    (
                        table,
                        names[0],
                        front.get("rate_frontier"),
                        front.get("fidelity_frontier"),
                        front.get("li_rate_frontier"),
                    ),
                ),
                f"The link's Bell-pair rate against the decisions it must serve along {names[0]}, each point marked "
                "by the first stage of the chain that fails; below, the fidelity as measured against the game's "
                "threshold.",
            )
        horizons = table.get("decision_interval_s")
        if len(names) == 1 and horizons is not None and horizons.nunique() > 1:  # a sweep of the decision horizon
            out["sweep_horizon"] = (
                reports.Drawing("horizon_value", (table,)),
                "What talk, classical and quantum save of independent coins' book variance against the decision "
                "horizon; shaded where a message between the venues arrives before the decision (the servers can "
                "talk); dotted: one Bell pair a decision.",
            )
        for fname, (metric, label, caption) in figs.items():
            if not table[metric].notna().any():  # undefined at every point: no figure of nothing
                continue
            x = first_cross.get(metric, {}).get("crossing") if len(cross) == 1 else None
            out[fname] = (
                reports.Drawing(
                    "sweep_metric", (table.astype({metric: float}), names[0], metric, x, label, names[1:] or None)
                ),
                caption,
            )
        return out

    def write(self, out: str | Path) -> Path:
        """report.html (the answer first), sweep.csv, sweep.json and the figures (``figures``), written into
        ``out`` as one set (all or none of them)."""
        from ... import reports
        from ..output import sweeps

        out = Path(out)
        names, cross = self.params, self.crossings
        figs = self.figures()
        drawn = reports.pngs({name: make for name, (make, _) in figs.items()})
        pngs = {name: (drawn[name], caption) for name, (_, caption) in figs.items()}
        lines = sweeps.crossing_lines(cross, names[0]) + sweeps.link_frontier_lines(self.doc.get("link_frontier"))
        page = reports.sweep_report(self.doc, self.table, pngs, lines)
        with atomic_files(out) as put:  # all or nothing, sweep.json last
            with put("sweep.csv") as fh:
                self.table.to_csv(fh, index=False)
            for fname, (png, _) in pngs.items():
                with put(f"{fname}.png", "wb") as fh:
                    fh.write(png)
            with put("report.html") as fh:
                fh.write(page)
            with put("sweep.json") as fh:
                fh.write(dumps(self.doc))
        return out


def plan_sweep(base: RunConfig, grid: dict, source=None) -> tuple[list[dict], list[RunConfig], list]:
    """(points, their configurations, the source per point or None): every point checked as it will run and real
    data loaded once (not at all when ``source`` is given: every point plays it), before anything is written."""
    from ..plan import Plan

    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    configs = [point_config(base, pt) for pt in points]
    for pt, cfg in zip(points, configs):
        try:
            Plan.check(cfg)
        except BacktestError as exc:
            raise BacktestError(f"sweep point {pt}: {exc}") from None
    if source is not None:
        return points, configs, [source] * len(points)
    real = None if base.source.kind == "synthetic" else base.source.load()
    sources = [real if real is not None and cfg.source == base.source else None for cfg in configs]
    return points, configs, sources


def run_sweep(
    source=None,
    config: RunConfig | None = None,
    *,
    grid: dict,
    out: str | Path | None = None,
    force: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    **overrides,
) -> SweepResult:
    """Run a backtest per point of ``grid`` ({option: [values]}, by short name or ``section.field`` path) and return
    a ``SweepResult``.

    ``source``: market data for every point (None: the configuration's source); ``config``/``overrides``: the base
    options, as ``run_backtest``'s. ``out``: the folder whose ``points/`` makes the sweep resumable (None: a
    temporary one); a folder holding a sweep with other options is refused unless ``force``. ``scheduler``/
    ``workers``: where to run (``batch.cluster.choose``; neither: here or on a local cluster, by the size of the
    work, and said on stderr).
    """
    if not grid:
        raise BacktestError("grid: give at least one parameter and its values, e.g. {'visibility': [1, 0.9]}")
    grid = {k: list(v) for k, v in grid.items()}
    base = (config or RunConfig()).with_values(overrides) if overrides else (config or RunConfig())
    points, configs, sources = plan_sweep(base, grid, source)
    ex = cluster.choose(scheduler, workers, "point")  # before the folder: a wrong address writes nothing
    signature = {"grid": grid, "base": base.to_dict()}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            folder = JobFolder.create(
                Path(out) if out is not None else Path(scratch),
                "sweep",
                "points",
                signature,
                force,
                scratch=out is None,
            )
            # the real source (one for every point, or none) goes to the workers once
            shared = next((src for src in sources if src is not None), None)
            tasks = [(configs[i], points[i], sources[i] is not None) for i in range(len(points))]
            records, computed = run_jobs(
                folder,
                [point_key(c) for c in configs],
                compute_point,
                shared,
                tasks,
                ex,
                progress=progress,
                unit="point",
                desc="sweep",
            )
        finally:
            ex.close()
    rows = []
    for pt, record in zip(points, records):
        for name, m in record["strategies"].items():
            row = {**pt, "strategy": name, **{k: m.get(k) for k in COLUMNS}}
            row["win_rate_lo"], row["win_rate_hi"] = m.get("win_rate_ci95") or [None, None]
            row.update(record["game"])
            row["pays"] = (record.get("pays") or {}).get("pays")
            row["certainty_equivalent"] = (record.get("pays") or {}).get("certainty_equivalent")
            rows.append(row)
    table = pd.DataFrame(rows)
    cross = crossings(table, list(grid))
    doc = {
        "params": grid,
        "points": len(points),
        "computed": computed,
        "reused": len(points) - computed,
        "pays": [{"point": pt, **(record.get("pays") or {})} for pt, record in zip(points, records)],
        "answer": answers(points, records),
        "crossing": cross,
        "link_frontier": link_frontier(table, list(grid)[0], base),
        "config": options(base.to_dict()),
    }
    return SweepResult(table, cross, doc)
