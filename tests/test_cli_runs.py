"""``qcoord backtest``, ``compare`` and ``sweep`` end to end, as users run them (``main`` in this process; the
first run and README's command as programs of their own)."""

from __future__ import annotations

import json
import math
import re
import shlex
import subprocess

from pathlib import Path

import pandas as pd
import pytest

from qcoord.backtest.output.result import SCHEMA
from tests.conftest import ROOT, qcoord, qcoord_process, shared_file

SMALL = ["--rounds", "6000", "--seed", "3"]


def _finite_numbers(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite_numbers(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def _pnl(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "pnl.parquet") if (run / "pnl.parquet").exists() else pd.read_csv(run / "pnl.csv")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("runs")
    a = qcoord_process("backtest", *SMALL, "--name", "ideal", cwd=cwd)  # the program itself, once
    b = qcoord(
        "backtest",
        *SMALL,
        "--name",
        "noisy",
        "--visibility",
        "0.9",
        "--readout-error",
        "0.02",
        "--fill",
        "queue",
        cwd=cwd,
    )
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    return cwd


def test_backtest_writes_every_file_with_the_schema(two_runs):
    run = two_runs / "runs" / "ideal"
    names = {p.name for p in run.iterdir()}
    assert {
        "metrics.json",
        "config.toml",
        "report.html",
        "equity.csv",
        "cumulative_pnl.png",
        "rolling_variance.png",
        "win_rate_by_input.png",
        "pnl_distribution.png",
        "hedge_cells.png",
    } <= names
    assert "pnl.parquet" in names or "pnl.csv" in names
    doc = json.loads((run / "metrics.json").read_text())
    for key in (
        "schema",
        "qcoord_version",
        "created",
        "seed",
        "n_rounds",
        "n_train",
        "source",
        "game",
        "strategies",
        "comparison",
        "best_local",
        "hedge",
        "drift",
        "periods",
        "config",
    ):
        assert key in doc
    assert doc["schema"] == SCHEMA and doc["n_rounds"] == 6000 and doc["seed"] == 3
    for key in ("kind", "tickers", "start", "end", "periods_per_year"):
        assert key in doc["source"]
    for key in (
        "kind",
        "table",
        "unit",
        "rule",
        "p_xy",
        "classical_value",
        "quantum_value",
        "advantage",
        "constant_rule",
    ):
        assert key in doc["game"]
    assert doc["game"]["kind"] == "hedge"
    h = doc["hedge"]
    for key in (
        "exposure",
        "coin_variance",
        "shrinkage",
        "comove_shrunk",
        "values",
        "unit",
        "informativeness",
        "bell_pair_value",
    ):
        assert key in h
    assert set(h["values"]) == {"uncoordinated", "constant_hedge", "classical", "quantum", "oracle"}
    assert set(h["informativeness"]) == {"train", "test"}
    assert set(doc["strategies"]) == {
        "uncoordinated",
        "always_hedge",
        "classical",
        "quantum",
        "oracle",
        "regime_oracle",
        "talk",
        "delayed_comm",
    }
    for m in doc["strategies"].values():
        for key in (
            "win_rate",
            "win_rate_ci95",
            "utility",
            "hedged_rate",
            "hedged_rate_ci95",
            "pnl_mean",
            "pnl_std",
            "pnl_var",
            "variance_share",
            "sharpe",
            "sortino",
            "max_drawdown",
            "hedging_efficiency",
            "bell_pairs",
            "quantum_share",
        ):
            assert key in m
        for key, value in m.items():  # undefined values are null with a reason, never NaN
            if value is None:
                assert key in m["undefined"]
    assert doc["best_local"] in ("always_hedge", "classical", "uncoordinated")
    for which in ("quantum_vs_classical", "quantum_vs_best_local"):
        c = doc["comparison"][which]
        for key in (
            "opponent",
            "win_rate_diff",
            "mcnemar_p_value",
            "variance_ratio",
            "variance_p_value",
            "variance_ratio_ci95",
            "sharpe_diff_ci95",
            "sharpe_p_value",
            "squared_pnl_diff",
            "squared_pnl_p_value",
            "utility_diff",
            "utility_p_value",
            "levene_p_value",
            "hac_lags",
        ):
            assert key in c
    assert doc["comparison"]["quantum_vs_best_local"]["opponent"] == doc["best_local"]
    assert _finite_numbers(doc)
    assert "NaN" not in (run / "metrics.json").read_text()
    pnl = _pnl(run)
    assert len(pnl) == 3000 and {"x", "y", "quantum", "classical"} <= set(pnl.columns)
    assert (two_runs / "runs" / "noisy" / "inventory.png").exists()


def test_report_is_self_contained_with_every_figure_inline(two_runs):
    html = (two_runs / "runs" / "noisy" / "report.html").read_text()
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # nothing fetched from anywhere: opens offline
    # one inline script, the table fitter (stacked cards where a table does not fit); nothing loaded from outside
    assert html.count("<script") == 1 and "<script src" not in html and "qcoordFit" in html
    for fig in (
        "hedge_cells",
        "cumulative_pnl",
        "rolling_variance",
        "win_rate_by_input",
        "pnl_distribution",
        "inventory",
    ):
        assert f'id="fig-{fig}"' in html
    assert html.count('src="data:image/png;base64,') == 6
    for section in (
        "Verdict.",
        "After costs.",
        "The game fitted on the training window",
        "Metrics of the combined book",
        "Quantum against the best local classical strategy",
        "Configuration",
        "x=1, y=1",
        "constant hedge",
        "Training against test window",
    ):
        assert section in html
    # quantum plays the classical rule here: no paired tests of a rule against itself, no per-period ratios of 1
    assert "Not tested: the fitted quantum strategy is the classical rule" in html
    assert 'id="fig-period_ratios"' not in html and "Per day" not in html and "table-comparison" not in html
    ideal = (two_runs / "runs" / "ideal" / "report.html").read_text()
    assert "One Bell pair is worth" in ideal and "What it would take" not in ideal  # entanglement helps there
    for section in ('id="fig-period_ratios"', "Per day", "Newey–West", "table-comparison"):
        assert section in ideal


@pytest.mark.slow
def test_config_reproduces_the_run_bit_for_bit(two_runs):
    for name in ("ideal", "noisy"):
        run = two_runs / "runs" / name
        res = qcoord("backtest", "--config", str(run / "config.toml"), "--out", f"again-{name}", cwd=two_runs)
        assert res.returncode == 0, res.stderr
        first = json.loads((run / "metrics.json").read_text())
        again = json.loads((two_runs / f"again-{name}" / "metrics.json").read_text())
        for doc in (first, again):
            for volatile in ("created", "elapsed_seconds"):
                doc.pop(volatile)
        assert again == first
        assert _pnl(two_runs / f"again-{name}").equals(_pnl(run))


@pytest.mark.slow
def test_json_output_and_no_progress_bar_without_a_terminal(tmp_path):
    res = qcoord("backtest", *SMALL, "--json", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0
    assert json.loads(res.stdout)["schema"] == SCHEMA
    assert res.stderr == ""  # stderr is not a terminal here: no progress bar


@pytest.mark.slow
def test_summary_prints_indicators_and_fitted_thresholds(tmp_path):
    res = qcoord("backtest", "--sample", "jpm_bac", "--seed", "1", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = res.stdout.replace("\n  ", " ")  # the summary wraps at 80 columns, continuation lines indented by two
    assert re.search(r"A: return_shock\(window=60, target=0.5, threshold=-?\d\.\d+", text)
    assert "partner latency 1 bar" in text
    cfg = (tmp_path / "r" / "config.toml").read_text()
    assert "[fitted.indicator_A]" in cfg and "threshold = " in cfg


@pytest.mark.slow
def test_compare_on_real_runs(two_runs):
    """Runs are labelled by pair and source, told apart by the options that differ; each run's answer to "does
    quantum pay after costs" comes first; the figure and table go to a folder of their own, never into a run's."""
    res = qcoord(
        "compare",
        "runs/ideal",
        "runs/noisy",
        "--metrics",
        "win_rate,pnl_var",
        "--json",
        "--figure",
        "cmp.png",
        cwd=two_runs,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    ideal = "X/Y, synthetic signals (fill=bias, readout_a=0,0, readout_b=0,0, visibility=1)"
    noisy = "X/Y, synthetic signals (fill=queue, readout_a=0.02, readout_b=0.02, visibility=0.9)"
    assert set(doc["runs"]) == {ideal, noisy} and "quantum.win_rate" in doc["runs"][ideal]
    assert doc["folders"] == {ideal: "runs/ideal", noisy: "runs/noisy"}
    metrics = json.loads((two_runs / "runs" / "noisy" / "metrics.json").read_text())
    assert doc["pays"][noisy] == metrics["pays"]
    assert (two_runs / "cmp.png").stat().st_size > 10_000
    text = qcoord("compare", "runs/ideal", "runs/noisy", "--out", "cmp", cwd=two_runs).stdout
    assert " ".join(text.split()).startswith(f"run 1: {ideal}, in runs/ideal run 2: {noisy}, in runs/noisy")
    assert "variance_share" in text and "hedged_rate" in text and "2: quantum" in text
    assert (two_runs / "cmp" / "compare.png").is_file() and (two_runs / "cmp" / "compare.csv").is_file()
    default = qcoord("compare", "runs/ideal", "runs/noisy", cwd=two_runs)
    assert default.returncode == 0 and not list((two_runs / "runs" / "ideal").glob("compare*"))
    assert list((two_runs / "runs").glob("compare-*/compare.png"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["runs/ideal", "runs/missing"], "runs/missing: not a run folder"),
        (["runs/ideal", "."], "not a qcoord run folder (no metrics.json)"),
        (["runs/ideal", "--metrics", "nope"], "unknown metric(s) ['nope']"),
    ],
)
def test_compare_bad_folders_exit_2(two_runs, args, message):
    res = qcoord("compare", *args, "--figure", "never.png", cwd=two_runs)
    assert res.returncode == 2 and message in res.stderr
    assert not (two_runs / "never.png").exists()


@pytest.mark.slow
def test_sweep_marks_the_crossing_and_resumes(tmp_path):
    args = ["sweep", "visibility=1,0.8,0.7,0.6", "--rounds", "8000", "--strategies", "classical,quantum", "--out", "sw"]
    res = qcoord(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert len(table) == 4 * 4  # 4 points x (classical, quantum + uncoordinated, oracle)
    assert {
        "visibility",
        "strategy",
        "win_rate",
        "win_rate_lo",
        "win_rate_hi",
        "pnl_var",
        "hedging_efficiency",
        "advantage",
    } <= set(table.columns)
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    x = doc["crossing"]["all"]["advantage"]["crossing"]
    assert 0.7 <= x <= 0.8  # the threshold 1/sqrt(2) lies between the grid points 0.7 and 0.8
    said = " ".join(res.stdout.split())
    assert "fitted game's advantage (before costs): quantum's edge over classical ends at visibility" in said
    for fig in ("sweep_win_rate", "sweep_variance", "sweep_hedging_efficiency"):
        assert (tmp_path / "sw" / f"{fig}.png").exists()
    points = sorted((tmp_path / "sw" / "points").glob("*.json"))
    points[0].unlink()  # as if interrupted before this point finished
    again = qcoord(*args, cwd=tmp_path)
    assert "(1 computed, 3 reused)" in again.stdout
    assert pd.read_csv(tmp_path / "sw" / "sweep.csv").equals(table)


@pytest.mark.parametrize(
    "args, message",
    [
        (["backtest", "--visibility", "1.5"], "--visibility: 1.5 is out of range [0, 1]"),
        (["backtest", "--pair-rate", "-5"], "--pair-rate: -5.0 is out of range (0, inf)"),
        (["backtest", "--strategies", "quantum,magic"], "unknown strategy 'magic'"),
        (["backtest", "--indicator", "no_such_indicator"], "unknown indicator 'no_such_indicator'"),
        (["backtest", "--sample", "jpm_bac", "--tickers", "JPM", "ZZZ"], "unknown ticker(s) ['ZZZ']"),
        (["backtest", "--csv", "missing.csv"], "missing.csv: file not found"),
        (["backtest", "--config", "nope.toml"], "nope.toml: config file not found"),
        (["backtest", "--t1", "1e-5", "--t2", "1e-4"], "exceeds 2*T1"),
        (["backtest", "--decision-rate", "100"], "give the supply's --pair-rate too"),
        (
            ["backtest", "--sample", "jpm_bac", "--pair-rate", "100", "--decision-rate", "1000"],
            "--decision-rate 1000 contradicts the data's own clock (it decides at its timestamps)",
        ),
        (["backtest", "--notional", "50"], "do not apply to the bias fill model"),
        (["backtest", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["sweep", "visibility=1,2"], "sweep parameter visibility: 2.0 is out of range [0, 1]"),
        (["sweep", "colour=1,2"], "cannot sweep 'colour'"),
        (["sweep", "visibility"], "write PARAM=V1,V2"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, message):
    synthetic = args[0] == "backtest" and "--config" not in args and not {"--sample", "--csv", "--yahoo"} & set(args)
    res = qcoord(*args, "--rounds", "2000", cwd=tmp_path) if synthetic else qcoord(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stdout
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_unreadable_config_and_unknown_key(tmp_path):
    (tmp_path / "bad.toml").write_text("[run\nrounds = 5")
    res = qcoord("backtest", "--config", "bad.toml", cwd=tmp_path)
    assert res.returncode == 2 and "bad.toml: unreadable config" in res.stderr
    (tmp_path / "odd.toml").write_text("[run]\nspeed = 5\n")
    res = qcoord("backtest", "--config", "odd.toml", cwd=tmp_path)
    assert res.returncode == 2 and "unknown key 'speed' in [run]" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "odd.toml"]


def test_existing_output_folder_is_not_overwritten(two_runs):
    res = qcoord("backtest", *SMALL, "--name", "ideal", cwd=two_runs)
    assert res.returncode == 2 and "already exists" in res.stderr


@pytest.mark.slow
def test_csv_source_and_yahoo_from_a_cache(tmp_path, monkeypatch):
    res = qcoord(
        "backtest",
        "--csv",
        str(shared_file("SPY_daily.csv")),
        str(shared_file("QQQ_daily.csv")),
        "--strategies",
        "classical,quantum",
        "--out",
        "csv",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "csv" / "metrics.json").read_text())["source"]["tickers"] == ["SPY", "QQQ"]
    # fill a Yahoo cache through the real loader, then run the CLI offline from it
    import yfinance

    from qcoord import data
    from tests.test_data_yahoo import _yfinance_frame

    frame = _yfinance_frame(
        {"BAC": shared_file("BAC_daily.csv"), "AIG": shared_file("AIG_daily.csv")}, "2005-01-01", "2012-12-31"
    )
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame)
    data.load_yahoo(["BAC", "AIG"], "2005-01-01", "2013-01-01", cache_dir=tmp_path / "cache")
    res = qcoord(
        "backtest",
        "--yahoo",
        "BAC",
        "AIG",
        "--start",
        "2005-01-01",
        "--end",
        "2013-01-01",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        "yahoo",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "yahoo" / "metrics.json").read_text())
    assert doc["source"]["kind"] == "yahoo" and doc["source"]["served_from"] == "cache"


def test_pnl_falls_back_to_csv_without_pyarrow(monkeypatch, tmp_path):
    from qcoord.backtest import run_backtest
    from qcoord.backtest import RunConfig
    from qcoord.backtest.output.runs import write_run

    def no_pyarrow(self, *a, **k):
        raise ImportError("pyarrow is not installed")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_pyarrow)
    result = run_backtest("signals", rounds=2000, seed=1, strategies=["classical", "quantum"])
    write_run(result, RunConfig(), tmp_path / "run")
    assert (tmp_path / "run" / "pnl.csv").exists() and not (tmp_path / "run" / "pnl.parquet").exists()


@pytest.mark.slow
def test_readme_main_command_runs(tmp_path):
    """README's first command, minus the install this test environment already did."""
    line = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith("pip install -e . && "))
    command = line.split("&&", 1)[1].split("#", 1)[0].strip()
    assert command.startswith("qcoord backtest")
    res = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "verdict:" in res.stdout
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "report.html").exists()


def test_run_sweep_in_python_is_the_command_resumable(tmp_path):
    """run_sweep is qcoord sweep for Python users: the same job folder, resumed, and refused for other options."""
    from qcoord import run_sweep
    from qcoord.backtest import BacktestError

    kw = dict(rounds=3000, strategies="classical,quantum", out=tmp_path / "sw")
    first = run_sweep(grid={"visibility": [1.0, 0.6]}, **kw)
    assert first.doc["computed"] == 2 and len(first.table) == 2 * 4
    q = first.table[first.table.strategy == "quantum"].set_index("visibility")
    assert q.loc[1.0, "advantage"] > 0 and q.loc[0.6, "advantage"] == 0  # 0.6 < 1/sqrt(2): nothing to gain
    again = run_sweep(grid={"visibility": [1.0, 0.6]}, **kw)
    assert again.doc["computed"] == 0 and again.table.equals(first.table)
    with pytest.raises(BacktestError, match="holds a sweep with other options"):
        run_sweep(grid={"visibility": [0.9]}, **kw)
    assert run_sweep(grid={"visibility": [0.9]}, force=True, **kw).doc["computed"] == 1
    written = first.write(tmp_path / "sw")
    assert (written / "sweep.csv").is_file() and (written / "sweep_variance.png").is_file()
