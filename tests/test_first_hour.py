"""A new user's first hour (issue 44): the smaller defects, each with its test. A file given as a sweep's folder,
--fdr 0, a flat price's verdict, `qcoord data`'s text, a readable verdict and DataFrames in Python, serial or a cluster
by the size of the work, Ctrl-C on a Dask scan, and no printed line over 80 columns."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qcoord.backtest import BacktestError
from qcoord.backtest.batch import cluster
from qcoord.backtest.batch.jobs import run_group

from tests.conftest import one_line_exit_2, qcoord


def test_a_file_as_a_sweeps_folder_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("mine")
    res = qcoord("sweep", "visibility=1", "--rounds", "1000", "--out", "taken", cwd=tmp_path)
    one_line_exit_2(res, "--out taken is a file, not a folder")
    assert (tmp_path / "taken").read_text() == "mine"


def test_a_false_discovery_rate_of_zero_is_refused(tmp_path):
    res = qcoord("scan", "--sample", "pypfopt", "--fdr", "0", "--out", "o", cwd=tmp_path)
    one_line_exit_2(res, "is not a false-discovery rate in (0, 1]")
    from qcoord.backtest import run_scan

    with pytest.raises(BacktestError, match="false-discovery rate is in"):
        run_scan(fdr_level=0.0, sample="pypfopt")
    assert not (tmp_path / "o").exists()


def _flat_and_moving(folder: Path, n: int = 400) -> list[Path]:
    dates = pd.bdate_range("2019-01-01", periods=n).strftime("%Y-%m-%d")
    price = 50 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    flat, moving = folder / "FLAT_daily.csv", folder / "MOVE_daily.csv"
    flat.write_text("Date,Close\n" + "\n".join(f"{d},50.0" for d in dates) + "\n")
    moving.write_text("Date,Close\n" + "\n".join(f"{d},{p:.4f}" for d, p in zip(dates, price)) + "\n")
    return [flat, moving]


@pytest.mark.filterwarnings("ignore:FLAT. 400 unchanged prices")
def test_a_flat_price_is_named_in_the_verdict(tmp_path):
    """A price that never moves leaves nothing to hedge: the verdict says so (not only a warning on stderr)."""
    from qcoord import data
    from qcoord.backtest import run_backtest

    r = run_backtest(data.load_csv(_flat_and_moving(tmp_path)))
    said = "FLAT's price never moves over the training and test windows"
    assert r.headline().startswith(said) and said in r.verdict()
    assert "never change the sign of the co-movement" not in r.headline()


def test_data_prints_text_not_a_dict(tmp_path):
    res = qcoord("data", "--sample", "jpm_bac")
    assert res.returncode == 0 and "{" not in res.stdout and "00:00:00" not in res.stdout
    assert "rows             8796 (1990-01-02 to 2024-11-29)" in res.stdout
    assert "dropped rows     0 (0 leading, 0 interior, 0 trailing)" in res.stdout
    files = [str(p) for p in _flat_and_moving(tmp_path)]
    text = qcoord("data", "--csv", *files).stdout
    assert "source           csv (FLAT_daily.csv, MOVE_daily.csv)" in text
    assert "return corr      n/a (a price never moves)" in text


def test_verdict_and_nested_results_read_in_python(default_run):
    """r.verdict() has a sentence a line; r.comparison_table() and r.hedge_table() hold the dicts' numbers."""
    lines = default_run.verdict().splitlines()
    assert len(lines) >= 2 and all(line.rstrip().endswith(".") for line in lines)
    assert " ".join(lines) == default_run.to_dict()["verdict"].replace("\n", " ")
    table = default_run.comparison_table()
    c = default_run.comparison["quantum_vs_best_local"]
    assert table.loc["quantum_vs_best_local", "opponent"] == c["opponent"]
    assert (
        table.loc["quantum_vs_best_local", ["variance_ratio_lo", "variance_ratio_hi"]].tolist()
        == c["variance_ratio_ci95"]
    )
    hedge = default_run.hedge_table()
    assert hedge.loc["quantum", "saved_share"] == default_run.hedge["values"]["quantum"]["saved_share"]


def _announced(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_small_work_runs_here_and_says_why(capsys):
    """Serial or a cluster by the size of the work: tasks that take no time run here, with the reason on stderr."""
    tasks = [(operator.add, [(1,), (2,)]) for _ in range(5)]
    ex = cluster.choose(None, None, "pair")
    try:
        out = dict(ex.map(run_group, 10, tasks))
    finally:
        ex.close()
    assert out == {i: [11, 12] for i in range(5)}
    said = _announced(capsys)
    assert said.startswith("running here, one after another: about 0.0 s of work left")
    assert "a local cluster would not pay for its start" in said
    one = cluster.Auto("point", cores=1, threshold=0.0)
    assert dict(one.map(run_group, 1, tasks)) == {i: [2, 3] for i in range(5)}
    assert "(one core)" in _announced(capsys)


@pytest.mark.slow
def test_large_work_starts_a_local_cluster_and_says_so(capsys, monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    tasks = [(operator.mul, [(3,)]) for _ in range(6)]
    ex = cluster.Auto("pair", cores=2, threshold=0.0)  # any work left is "large"
    try:
        out = dict(ex.map(run_group, 7, tasks))
        assert ex.workers == 2
    finally:
        ex.close()
    assert out == {i: [21] for i in range(6)}
    assert "running on local Dask cluster, 2 worker(s): about" in _announced(capsys)


@pytest.mark.slow
def test_ctrl_c_on_a_dask_scan_is_one_line_and_keeps_what_finished(tmp_path):
    """Ctrl-C in the terminal reaches the whole process group, workers included: the scan says so in one line, no
    worker prints a traceback, and the pairs that finished stay for the rerun to reuse."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qcoord",
            "scan",
            "--sample",
            "pypfopt",
            "--workers",
            "2",
            "--batch-size",
            "1",
            "--out",
            "s",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pairs = tmp_path / "s" / "pairs"
    try:
        end = time.time() + 240
        while time.time() < end and proc.poll() is None and not (pairs.is_dir() and any(pairs.glob("*.json"))):
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    kept = len(list(pairs.glob("*.json")))
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "ERROR" not in err, err
    last = " ".join(err.split()).split("qcoord scan: ")[-1]
    assert last == f"interrupted; {kept} of 55 pairs done, kept in s/pairs (rerun the same command to resume)"
    assert 1 <= kept < 55 and err.count("\n") <= 3


def test_no_printed_line_is_over_80_columns(tmp_path):
    """What the commands print (summaries, link rows, written:, the scan's and sweep's lines on stderr) fits 80."""
    runs = [
        ["backtest", "--link", "nyse-nasdaq", "--rounds", "3000", "--out", "a"],
        ["backtest", "--rounds", "3000", "--out", "runs/a-long-folder-name-for-the-written-line"],
        ["sweep", "distance_km=5,80", "--link", "nyse-nasdaq", "--rounds", "3000", "--out", "s"],
        ["scan", "--sample", "pypfopt", "--tickers", "JPM", "BAC", "GM", "--out", "c"],
        ["compare", "a", "runs/a-long-folder-name-for-the-written-line", "--out", "cmp"],
        ["data", "--sample", "jpm_bac"],
    ]
    for args in runs:
        res = qcoord(*args, cwd=tmp_path)
        assert res.returncode == 0, (args, res.stderr)
        long = [line for line in (res.stdout + res.stderr).splitlines() if len(line) > 80]
        assert not long, (args[0], long)
