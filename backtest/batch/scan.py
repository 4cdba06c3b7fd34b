"""``scan``: which pairs of a universe does entanglement pay for? One backtest per pair (and grid point), ranked,
with intervals and false-discovery control, on this machine or a Dask cluster (``backtest.batch.cluster``).

- **Pairs**: every pair of the universe, or the pairs of a file, minus those a filter drops (fewer common rows
  than ``min_rows``, a training-window return correlation below ``min_corr``, different sectors with
  ``same_sector``); each dropped pair is listed with its reason.
- **Each pair** plays the scan's backtest options with its own seed, ``pair_seed(seed, a, b)``: a pair's result
  depends on the seed, the pair and the options only, never on the cluster, the batch size or the order in
  which tasks finish (tested bit for bit).
- **Statistics**: per pair, quantum's test-window book variance against ``best_local`` (the local classical
  strategy chosen on the training window, history rules included), its paired HAC interval and the one-sided
  p-value of "quantum's variance is lower"; across all pairs and grid points, Benjamini-Hochberg q-values
  (statsmodels): with many pairs some look good by chance, and only those with q below the level count.
- **Resumable**: each finished pair is written under ``out/pairs/`` as its batch completes; a rerun computes
  only the missing ones (and may use another batch size or cluster).

``run_scan(...)`` is the one call (``qcoord scan`` is a thin layer over it); ``ScanResult.write(out)`` writes the
tables, scan.json and the report.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ... import reports
from ...data import DataError, Universe

from .. import streams
from ..output import sweeps
from .jobs import JobFolder, run_jobs
from ..output.atomic import atomic_files
from ..output.jsondoc import dumps, options
from ..errors import BacktestError

EQUITY_POINTS = 150  # per pair, for the report's curves of the top pairs


def pair_seed(seed: int, a: str, b: str) -> int:
    """The seed a pair's backtest runs with: its own stream of the scan's seed."""
    return streams.seed_of(seed, f"scan:{a}/{b}")


@dataclass
class Selection:
    """The pairs to scan and the ones a filter dropped, with the reason."""

    pairs: list[tuple[str, str]]
    skipped: dict[str, str] = field(default_factory=dict)
    correlation: dict[str, float] = field(default_factory=dict)


def read_pairs(path: str | Path, universe: Universe) -> list[tuple[str, str]]:
    """Pairs from a CSV/text file, one "A,B" per line (a header line "a,b" is fine); unknown tickers are an error
    naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise BacktestError(f"--pairs {path}: no such file")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = [p.strip() for p in line.replace(";", ",").split(",") if p.strip()]
        if not parts or (n == 1 and [p.lower() for p in parts] == ["a", "b"]):
            continue
        if len(parts) != 2 or parts[0] == parts[1]:
            raise BacktestError(f"--pairs {path}, line {n}: expected two different tickers 'A,B', got {line!r}")
        missing = [t for t in parts if t not in universe.series]
        if missing:
            raise BacktestError(
                f"--pairs {path}, line {n}: ticker(s) {missing} not in the universe ({', '.join(universe.tickers)})"
            )
        out.append((parts[0], parts[1]))
    if not out:
        raise BacktestError(f"--pairs {path}: no pairs in the file")
    return out


def read_sectors(path: str | Path, universe: Universe) -> dict[str, str]:
    """Ticker -> sector from a CSV with columns ticker,sector (header required)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BacktestError(f"--sectors {path}: no such file")
    frame = pd.read_csv(path)
    cols = {c.lower(): c for c in frame.columns}
    if "ticker" not in cols or "sector" not in cols:
        raise BacktestError(f"--sectors {path}: needs columns 'ticker' and 'sector', got {list(frame.columns)}")
    out = dict(zip(frame[cols["ticker"]].astype(str), frame[cols["sector"]].astype(str)))
    missing = [t for t in universe.tickers if t not in out]
    if missing:
        raise BacktestError(f"--sectors {path}: no sector for {missing}")
    return out


def select_pairs(
    universe: Universe,
    *,
    pairs: list[tuple[str, str]] | None = None,
    min_rows: int = 250,
    min_corr: float | None = None,
    sectors: dict[str, str] | None = None,
    same_sector: bool = False,
    train_fraction: float = 0.5,
) -> Selection:
    """The pairs to scan (all pairs in universe order by default) after the filters."""
    if same_sector and sectors is None:
        raise BacktestError("--same-sector needs --sectors FILE (ticker,sector)")
    candidates = pairs if pairs is not None else list(itertools.combinations(universe.tickers, 2))
    sel = Selection([])
    for a, b in candidates:
        key = f"{a}/{b}"
        rows = universe.common_rows(a, b)
        if rows < min_rows:
            sel.skipped[key] = f"{rows} common rows, fewer than --min-rows {min_rows}"
            continue
        if same_sector and sectors is not None and sectors[a] != sectors[b]:  # refused above without sectors
            sel.skipped[key] = f"different sectors ({sectors[a]}, {sectors[b]})"
            continue
        if min_corr is not None:
            rho = universe.returns_correlation(a, b, train_fraction)
            sel.correlation[key] = rho
            if not rho >= min_corr:
                sel.skipped[key] = f"training-window return correlation {rho:.3f} below --min-corr {min_corr}"
                continue
        sel.pairs.append((a, b))
    return sel


RECORD = 2  # a pair's record format: 2 adds whether quantum pays after costs (analysis.pays)


def job_key(a: str, b: str, point: dict, cfg_doc: dict) -> str:
    """The file name of a pair's result: the pair, its grid point, the scan's options and the record's format."""
    text = json.dumps(
        {"a": a, "b": b, "point": point, "config": cfg_doc, "record": RECORD}, sort_keys=True, default=str
    )
    return f"{a}_{b}_{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def run_pair(universe: Universe, a: str, b: str, cfg, point: dict) -> dict:
    """One pair's backtest, summarised as a row (and its thinned equity curves); a pair that cannot run (too short,
    degenerate) is a row with ``error`` set."""
    from ..engine import run_backtest

    run_cfg = cfg.with_values({**point, "run.seed": pair_seed(cfg.run.seed, a, b)}, "scan ")
    row: dict = {"a": a, "b": b, **point}
    try:
        md = universe.pair(a, b)
        result = run_backtest(md, run_cfg, progress=False)
    except (BacktestError, DataError) as exc:
        return {**row, "error": str(exc)}
    return {**row, **summarize(result)}


def summarize(r) -> dict:
    """The scan's columns for one Result (README, ``qcoord scan``)."""
    doc_hedge = r.hedge or {}
    values = doc_hedge.get("values") or {}
    coins = doc_hedge.get("coin_variance")
    saved = {k: (values.get(k) or {}).get("saved") for k in ("constant_hedge", "classical", "quantum", "oracle")}
    comp = r.comparison.get("quantum_vs_best_local") or {}
    pays = r.pays  # after costs: the one answer (analysis.pays)
    strong = r.comparison.get("quantum_vs_strongest_local") or comp
    ratio, ci, p = comp.get("variance_ratio"), comp.get("variance_ratio_ci95"), comp.get("variance_p_value")
    uses = bool(r.game.get("uses_entanglement"))
    p_one = one_sided_p(uses, comp, strong)
    lv = r.comparison.get("quantum_levels_vs_best_local") or {}
    bp = doc_hedge.get("bell_pair_value") or {}
    info = (doc_hedge.get("informativeness") or {}).get("train") or {}
    advantage = (
        None if saved["quantum"] is None or saved["classical"] is None else saved["quantum"] - saved["classical"]
    )
    idx = r.timestamps(r.first_round, 1)[0], r.timestamps(r.first_round + r.n_rounds - 1, 1)[0]
    out = {
        "rounds": r.n_rounds,
        "n_train": r.n_train,
        "start": str(idx[0].date()),
        "end": str(idx[1].date()),
        "coin_variance": coins,
        "saved_constant": _share(saved["constant_hedge"], coins),
        "saved_classical": _share(saved["classical"], coins),
        "saved_quantum": _share(saved["quantum"], coins),
        "saved_oracle": _share(saved["oracle"], coins),
        "fitted_advantage": advantage,
        "fitted_advantage_share": _share(advantage, coins),
        "uses_entanglement": uses,
        "best_local": r.best_local,
        "variance_ratio": ratio,
        "variance_ratio_lo": ci[0] if ci else None,
        "variance_ratio_hi": ci[1] if ci else None,
        "p_value": p,
        "p_one_sided": p_one,
        "strongest_local": strong.get("opponent"),
        "variance_ratio_vs_strongest": strong.get("variance_ratio"),
        "variance_ratio_vs_classical": (r.comparison.get("quantum_vs_classical") or {}).get("variance_ratio"),
        "quantum_levels_ratio": lv.get("variance_ratio"),
        "history_rule": ((r.information or {}).get("history") or {}).get("name"),
        "bell_pair_predicted": bp.get("predicted_variance_saved"),
        "bell_pair_realised": bp.get("realised_variance_saved"),
        "sign_differs": info.get("sign_differs"),
        "sign_differs_significantly": info.get("sign_differs_significantly"),
        "move_needed": ((doc_hedge.get("what_it_would_take") or {}).get("best") or {}).get("move"),
        "drift": (r.drift or {}).get("flag"),
        "pays": pays["pays"],
        "pays_reason": pays["reason"],
        "certainty_equivalent": pays["certainty_equivalent"],
        "error": None,
    }
    eq = r.equity
    if "quantum" in eq and r.best_local in eq:
        step = max(1, len(eq) // EQUITY_POINTS)
        thin = eq.iloc[::step]
        out["equity"] = {
            "time": [str(t) for t in thin.index],
            "quantum": thin["quantum"].tolist(),
            "best_local": thin[r.best_local].tolist(),
        }
    return out


def one_sided_p(uses_entanglement: bool, *comparisons: dict) -> float | None:
    """One-sided p-value for "quantum has lower book variance than each opponent": the largest of the one-sided
    p-values against best_local (chosen on training) and against the strongest local classical strategy on the test
    window (an intersection-union test: it rejects only when every comparison does). 1 when the fitted quantum
    strategy uses no entanglement: it is then a classical rule, and nothing it does is a quantum result."""
    if not uses_entanglement:
        return 1.0
    out = 0.0
    for c in comparisons:
        ratio, p = c.get("variance_ratio"), c.get("variance_p_value")
        if ratio is None or p is None:
            return None
        out = max(out, 1.0 if ratio == 1.0 else (p / 2.0 if ratio < 1.0 else 1.0 - p / 2.0))
    return out


def _share(v, coins):
    return None if v is None or not coins else v / coins


def execute(
    universe: Universe,
    cfg,
    jobs: list[tuple[str, str, dict]],
    out: Path | JobFolder,
    ex,
    batch_size: int,
    on_done=None,
    progress: bool | None = False,
) -> tuple[list[dict], int]:
    """Every job's row: those already under ``out/pairs`` read back, the others run on ``ex`` in batches and
    written as each batch finishes (``batch.jobs``). Returns (rows in job order, number computed)."""
    cfg_doc = cfg.to_dict()
    keys = [job_key(a, b, pt, cfg_doc) for a, b, pt in jobs]
    tasks = [(a, b, cfg, pt) for a, b, pt in jobs]
    folder = out if isinstance(out, JobFolder) else JobFolder(out, "pairs")
    return run_jobs(
        folder,
        keys,
        run_pair,
        universe,
        tasks,
        ex,
        batch_size=batch_size,
        progress=progress,
        unit="pair",
        desc="scan",
        on_done=on_done,
    )


def fdr(table, level: float = 0.05):
    """Benjamini-Hochberg q-values of the one-sided p-values over every pair that ran (statsmodels), and which
    survive at ``level``; pairs without a p-value (errors) get none."""
    from statsmodels.stats.multitest import multipletests

    table = table.copy()
    ok = table["p_one_sided"].notna()
    table["q_value"] = np.nan
    table["significant"] = False
    if ok.any():
        reject, q, _, _ = multipletests(
            table.loc[ok, "p_one_sided"].astype(float).to_numpy(), alpha=level, method="fdr_bh"
        )
        table.loc[ok, "q_value"] = q
        ran = table.loc[ok]
        strongest = (
            ran["variance_ratio_vs_strongest"] if "variance_ratio_vs_strongest" in ran else ran["variance_ratio"]
        )
        uses = reports.uses_entanglement(ran)
        table.loc[ok, "significant"] = (
            reject
            & (ran["variance_ratio"].astype(float).to_numpy() < 1.0)
            & (strongest.astype(float).to_numpy() < 1.0)
            & np.asarray(uses)
        )
    return table


def ranking(table):
    """Pairs that ran, best first: significant ones first, then pairs whose fitted quantum strategy uses
    entanglement by the lowest variance ratio of quantum to the best local classical strategy, then (where entanglement
    does not help at all: quantum is a classical rule there, so its ratio says nothing about entanglement) the
    smallest change of one input cell's return correlation that would make it pay (``move_needed``, from the hedge
    game's "what it would take")."""
    ran = table[table["error"].isna()] if "error" in table else table
    ran = ran.assign(_uses=reports.uses_entanglement(ran))
    ran = ran.assign(_ratio=ran["variance_ratio"].where(ran["_uses"]))
    return ran.sort_values(
        ["significant", "_uses", "_ratio", "move_needed", "q_value"],
        ascending=[False, False, True, True, True],
        na_position="last",
    ).drop(columns=["_uses", "_ratio"])


@dataclass
class ScanResult:
    """A finished scan: ``table`` (one row per pair and grid point, with q-values), ``ranking`` (pairs that ran, best
    first), ``rows`` (with each pair's thinned equity curves), ``doc`` (scan.json), ``tickers``."""

    table: pd.DataFrame
    ranking: pd.DataFrame
    rows: list[dict]
    doc: dict
    tickers: list[str]

    def figures(self) -> tuple[dict, list[str]]:
        """The report's figures, ``{name: (reports.Drawing, caption)}``, each caption saying what its chart shows
        (variance ratios where a pair uses entanglement, else how far each pair is from paying), and a sentence per
        figure left out for want of data."""
        grid = self.doc["grid"]
        first = self.table
        for p in grid:  # figures show the first grid point
            first = first[first[p] == grid[p][0]]
        curves = {
            f"{r['a']}/{r['b']}": r["equity"]
            for r in self.rows
            if r.get("equity") and all(r.get(p) == grid[p][0] for p in grid)
        }
        top = [k for k in (f"{a}/{b}" for a, b in zip(self.ranking["a"], self.ranking["b"])) if k in curves][:4]
        ran = first[first["error"].isna()] if "error" in first else first
        uses = reports.uses_entanglement(ran)
        distance = "move_needed" in ran and ran["move_needed"].notna().any()
        figs, omitted = {}, []
        tickers = self.tickers
        if len(ran) and uses.any():
            figs["scan_heatmap"] = (
                reports.Drawing("scan_heatmap", (first, tickers)),
                "Per pair: quantum's "
                "test-window book variance relative to the best local classical strategy "
                "(blue: lower); hatched: skipped, failed, or quantum plays the classical rule "
                "there.",
            )
            figs["scan_distribution"] = (
                reports.Drawing("scan_distribution", (first,)),
                "Variance ratios of every "
                "pair that uses entanglement with their paired 95% intervals, sorted (filled: "
                "significant after Benjamini-Hochberg).",
            )
        elif len(ran) and distance:
            figs["scan_heatmap"] = (
                reports.Drawing("scan_heatmap", (first, tickers)),
                "No pair uses entanglement: per "
                "pair, the change of one input cell's return correlation that would make it pay "
                "(move needed; smaller is closer); hatched: skipped, failed, or no change of a "
                "single cell would do.",
            )
            figs["scan_distribution"] = (
                reports.Drawing("scan_distribution", (first,)),
                "No pair uses "
                "entanglement: the pairs closest to paying, by the change of one input "
                "cell's return correlation that would make entanglement pay.",
            )
        else:
            omitted.append(
                "No heat map or distribution: "
                + (
                    "no pair ran."
                    if not len(ran)
                    else "no pair uses entanglement, and for none would a change of a single input cell's "
                    "co-movement make it pay: these indicators carry too little independent information."
                )
            )
        top = [k for k in top if curves.get(k) is not None]
        if top and uses.any():
            shown = {k: curves[k] for k in top}
            figs["scan_top_pairs"] = (
                reports.Drawing("scan_curves", (shown,)),
                "Cumulative book P&L of quantum "
                "and of the best local classical strategy over the test window, for the "
                "top-ranked pairs.",
            )
        elif top:
            omitted.append(
                "No P&L curves of the top pairs: no pair uses entanglement, so quantum plays the classical "
                "rule and its curve is the best local classical strategy's."
            )
        return figs, omitted

    def write(self, out: str | Path) -> Path:
        """scan.csv, scan.parquet (when pyarrow is installed), scan.json, report.html and its figures, written
        into ``out`` as one set (all or none of them)."""
        out = Path(out)
        figs, omitted = self.figures()
        drawn = reports.pngs({name: make for name, (make, _) in figs.items()})
        pngs = {name: (drawn[name], caption) for name, (_, caption) in figs.items()}
        html = reports.scan_report(self.doc, self.ranking, pngs, tuple(omitted))
        try:
            import pyarrow  # noqa: F401  (optional: the CSV holds the same table)
        except ImportError:
            parquet = False
        else:
            parquet = True
        with atomic_files(out) as put:  # all or nothing, scan.json last
            with put("scan.csv") as fh:
                self.table.to_csv(fh, index=False)
            if parquet:
                with put("scan.parquet", "wb") as fh:
                    self.table.to_parquet(fh, index=False)
            with put("report.html") as fh:
                fh.write(html)
            for name, (png, _) in pngs.items():
                with put(f"{name}.png", "wb") as fh:
                    fh.write(png)
            with put("scan.json") as fh:
                fh.write(dumps(self.doc))
        return out


def run_scan(
    source: Universe | None = None,
    config=None,
    *,
    pairs=None,
    min_rows: int = 250,
    min_corr: float | None = None,
    sectors=None,
    same_sector: bool = False,
    grid: dict | None = None,
    out: str | Path | None = None,
    force: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    batch_size: int = 4,
    fdr_level: float = 0.05,
    progress: bool | None = None,
    **overrides,
) -> ScanResult:
    """Scan every pair of a universe (module docstring) and return a ``ScanResult``.

    ``source``: a ``data.Universe`` (``data.sample_universe("pypfopt")``, ``data.load_universe(folder)``), or None for
    the configuration's real source. ``config``/``overrides``: the backtest options of every pair (as
    ``run_backtest``'s, by name). ``pairs``: a list of (A, B) or a file; ``sectors``: a dict or a CSV file;
    ``grid``: {option: [values]}. ``out``: the folder whose ``pairs/`` makes the scan resumable (None: a temporary
    one); a folder holding a scan with other options is refused unless ``force``. ``scheduler``/``workers``: where
    to run (``backtest.batch.cluster.executor``).
    """
    import itertools
    import tempfile

    from . import cluster
    from ..config import RunConfig
    from ..plan import Plan

    if not 0.0 < fdr_level <= 1.0:  # 0 would declare nothing significant whatever the data: not a level
        raise BacktestError(f"fdr_level {fdr_level!r}: a false-discovery rate is in (0, 1]")
    base = (config or RunConfig()).with_values(overrides) if overrides else (config or RunConfig())
    universe = source if source is not None else base.source.universe()
    grid = {k: list(v) for k, v in (grid or {}).items()}
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] or [{}]
    for pt in points:
        try:
            Plan.check(base.with_values(pt, "scan grid "))
        except BacktestError as exc:
            raise BacktestError(f"scan grid point {pt}: {exc}") from None
    if isinstance(pairs, (str, Path)):
        pairs = read_pairs(pairs, universe)
    if isinstance(sectors, (str, Path)):
        sectors = read_sectors(sectors, universe)
    sel = select_pairs(
        universe,
        pairs=pairs,
        min_rows=min_rows,
        min_corr=min_corr,
        sectors=sectors,
        same_sector=same_sector,
        train_fraction=base.run.train_fraction,
    )
    if not sel.pairs:
        raise BacktestError(
            f"no pair left to scan ({len(sel.skipped)} skipped: "
            + "; ".join(f"{k}: {v}" for k, v in list(sel.skipped.items())[:3])
            + ")"
        )
    jobs = [(a, b, pt) for a, b in sel.pairs for pt in points]
    signature = {"grid": grid, "base": base.to_dict(), "pairs": sel.pairs}
    ex = cluster.choose(scheduler, workers, "pair")  # a wrong scheduler address fails here, before anything is written
    with tempfile.TemporaryDirectory() as scratch:
        try:
            folder = JobFolder.create(
                Path(out) if out is not None else Path(scratch), "scan", "pairs", signature, force, scratch=out is None
            )
            rows, computed = execute(universe, base, jobs, folder, ex, batch_size, progress=progress)
        finally:
            ex.close()
    table = fdr(pd.DataFrame([{k: v for k, v in r.items() if k != "equity"} for r in rows]), fdr_level)
    first = [c for c in ("a", "b", *grid) if c in table]
    table = table[first + [c for c in table.columns if c not in first]]
    ranked = ranking(table)
    ran = table[table["error"].isna()]
    doc = {
        "universe": {"tickers": universe.tickers, **{k: v for k, v in universe.meta.items() if k != "files"}},
        "pairs": len(sel.pairs),
        "skipped": sel.skipped,
        "grid": grid,
        "jobs": len(jobs),
        "computed": computed,
        "reused": len(jobs) - computed,
        "errors": {f"{r['a']}/{r['b']}": r["error"] for r in table[table["error"].notna()].to_dict("records")},
        "fdr": {
            "method": "Benjamini-Hochberg (statsmodels fdr_bh) on one-sided p-values of quantum's variance "
            "below best_local's (paired HAC)",
            "level": fdr_level,
            "tests": int(ran["p_one_sided"].notna().sum()),
            "survivors": int(ran["significant"].sum()),
        },
        "entanglement_used": int(reports.uses_entanglement(ran).sum()),
        "pays_after_costs": int((ran["pays"] == True).sum()) if "pays" in ran else 0,  # noqa: E712 (None: no answer)
        "ranking": json.loads(ranked.head(200).to_json(orient="records")),
        "config": options(base.to_dict()),
    }
    doc["headline"] = sweeps.scan_headline(doc)
    return ScanResult(table, ranked, rows, doc, universe.tickers)
