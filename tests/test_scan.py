"""qcoord scan: pairs of a universe on a real Dask cluster (a LocalCluster, and separately started scheduler and
workers), deterministic whatever the cluster, batch size or order; a killed worker loses only its batch; resumable;
Benjamini-Hochberg checked against a hand-written step-up; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qcoord import data
from qcoord.backtest.batch import cluster
from qcoord.backtest.batch import scan
from qcoord.backtest.config import RunConfig
from tests.conftest import qcoord, qcoord_process

TICKERS = ["JPM", "BAC", "GM", "T"]
CLI_UNIVERSE = [
    "--sample",
    "pypfopt",
    "--tickers",
    *TICKERS,
    "--start",
    "2016-01-01",
    "--indicator",
    "volatility_burst",
]


@pytest.fixture(scope="module")
def universe():
    return data.sample_universe("pypfopt", TICKERS).between(pd.Timestamp("2016-01-01"), None)


@pytest.fixture(scope="module")
def cfg():
    return RunConfig().with_values({"indicator": "volatility_burst", "seed": 7})


@pytest.fixture(scope="module")
def jobs(universe):
    sel = scan.select_pairs(universe)
    return [(a, b, {}) for a, b in sel.pairs]


@pytest.fixture(scope="module")
def reference(universe, cfg, jobs, tmp_path_factory):
    rows, computed = scan.execute(universe, cfg, jobs, tmp_path_factory.mktemp("ref"), cluster.LocalLoop(), 1)
    assert computed == len(jobs) == 6
    return rows


def test_a_pair_depends_only_on_seed_pair_and_options(universe, cfg, jobs, reference, tmp_path):
    # another batch size, the jobs in another order: the same rows bit for bit
    shuffled = [jobs[i] for i in (3, 0, 5, 1, 4, 2)]
    rows, _ = scan.execute(universe, cfg, shuffled, tmp_path, cluster.LocalLoop(), 4)
    by_pair = {(r["a"], r["b"]): r for r in rows}
    for r in reference:
        assert by_pair[(r["a"], r["b"])] == r
    assert len({scan.pair_seed(7, a, b) for a, b, _ in jobs}) == len(jobs)  # every pair its own stream
    # the row is what a plain backtest of that pair with that seed gives
    from qcoord.backtest import run_backtest

    a, b, _ = jobs[0]
    r = run_backtest(universe.pair(a, b), cfg.with_values({"seed": scan.pair_seed(7, a, b)}), progress=False)
    assert reference[0]["variance_ratio"] == r.comparison["quantum_vs_best_local"]["variance_ratio"]


def test_resume_computes_only_the_missing_pairs(universe, cfg, jobs, reference, tmp_path):
    rows, computed = scan.execute(universe, cfg, jobs, tmp_path, cluster.LocalLoop(), 2)
    files = sorted((tmp_path / "pairs").glob("*.json"))
    for f in files[:2]:
        f.unlink()
    again, computed = scan.execute(universe, cfg, jobs, tmp_path, cluster.LocalLoop(), 3)
    assert computed == 2 and again == rows == reference


def test_benjamini_hochberg_matches_the_step_up_rule():
    rng = np.random.default_rng(0)
    p = np.r_[rng.uniform(0, 0.002, 8), rng.uniform(0, 1, 92)]
    table = pd.DataFrame({"p_one_sided": p, "variance_ratio": np.where(np.arange(100) < 8, 0.9, 1.05)})
    out = scan.fdr(table, 0.05)
    order = np.argsort(p)
    ranked = p[order]
    passing = np.nonzero(ranked <= 0.05 * np.arange(1, 101) / 100)[0]
    k = passing.max() + 1 if passing.size else 0
    expected = np.zeros(100, dtype=bool)
    expected[order[:k]] = True
    assert (out["significant"].to_numpy() == (expected & (table["variance_ratio"] < 1).to_numpy())).all()
    q = np.minimum.accumulate((ranked * 100 / np.arange(1, 101))[::-1])[::-1]  # step-up q-values
    assert np.allclose(out["q_value"].to_numpy()[order], np.minimum(q, 1.0))


def test_no_pair_survives_when_quantum_is_the_classical_rule(reference):
    table = scan.fdr(pd.DataFrame([{k: v for k, v in r.items() if k != "equity"} for r in reference]))
    # these real pairs' co-movement has one sign in every cell: quantum is the classical rule, nothing to discover
    assert not table["uses_entanglement"].any() and not table["significant"].any()
    assert (table["p_one_sided"] == 1.0).all()


@pytest.mark.slow
def test_local_cluster_one_and_two_workers_give_the_same_rows(universe, cfg, jobs, reference, tmp_path):
    import psutil

    for workers, batch in ((1, 3), (2, 1)):
        ex = cluster.executor(None, workers)
        try:
            assert ex.workers == workers
            # the cluster serves this machine only: its scheduler, workers and dashboard on loopback
            info = ex.client.scheduler_info(n_workers=-1)
            assert all(a.startswith("tcp://127.0.0.1:") for a in [info["address"], *info["workers"]]), info
            port = int(ex.dashboard.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            listening = {
                c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port
            }
            assert listening == {"127.0.0.1"}, listening  # read from this machine's socket table, nothing contacted
            rows, computed = scan.execute(universe, cfg, jobs, tmp_path / f"w{workers}", ex, batch)
        finally:
            ex.close()
        assert computed == len(jobs) and rows == reference


@pytest.mark.slow
def test_a_worker_killed_mid_scan_loses_only_its_batch(universe, cfg, jobs, reference, tmp_path):
    ex = cluster.executor(None, 2)
    pids = list(ex.client.run(os.getpid).values())
    killed = []

    def kill_after_first_batch(n):
        if n and not killed:
            os.kill(pids[0], signal.SIGKILL)  # a worker process dies with its task(s) in flight
            killed.append(pids[0])

    try:
        rows, computed = scan.execute(universe, cfg, jobs, tmp_path, ex, 1, on_done=kill_after_first_batch)
    finally:
        ex.close()
    assert killed and computed == len(jobs)
    assert rows == reference  # every pair once, the same numbers
    assert len(list((tmp_path / "pairs").glob("*.json"))) == len(jobs)


def _wait(cond, what: str, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


LOOPBACK = ["--host", "127.0.0.1"]  # dask's scheduler listens on every interface and names the machine's address


@pytest.mark.slow
def test_separately_started_scheduler_and_workers_give_the_same_scan_csv(tmp_path):
    dask = str(Path(sys.executable).with_name("dask"))
    sched_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [dask, "scheduler", *LOOPBACK, "--scheduler-file", str(sched_file), "--port", "0"]
            + ["--dashboard-address", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        _wait(sched_file.is_file, "the scheduler file")
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:"), address  # the test talks to this machine's loopback only
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [dask, "worker", address, *LOOPBACK, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            _wait(lambda: len(client.scheduler_info(n_workers=-1)["workers"]) == 2, "two workers")
            assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info(n_workers=-1)["workers"])

        def run_scan(*extra, env=None):  # in this process: the scheduler and workers are the separate processes
            res = qcoord("scan", *CLI_UNIVERSE, *extra, cwd=tmp_path, env=env)
            assert res.returncode == 0, res.stderr
            return res

        remote = run_scan("--scheduler", address, "--out", "remote")
        assert f"Dask scheduler {address}, 2 worker(s)" in remote.stderr
        local = run_scan("--workers", "2", "--out", "local")
        assert "local Dask cluster, 2 worker(s)" in local.stderr
        by_env = run_scan("--out", "env", env={**os.environ, "DASK_SCHEDULER_ADDRESS": address})
        assert f"Dask scheduler {address}" in by_env.stderr
        csv = (tmp_path / "local" / "scan.csv").read_bytes()
        assert (tmp_path / "remote" / "scan.csv").read_bytes() == csv
        assert (tmp_path / "env" / "scan.csv").read_bytes() == csv
        doc = json.loads((tmp_path / "remote" / "scan.json").read_text())
        assert doc["pairs"] == 6 and doc["fdr"]["tests"] == 6 and len(doc["ranking"]) == 6
        report = (tmp_path / "remote" / "report.html").read_text()
        assert "Ranking" in report and "scan_heatmap" in report
        # qcoord sweep takes the same scheduler and gives the same table as here
        sweep = ["sweep", "visibility=1,0.9", "--rounds", "20000"]
        for name, extra in (("s_remote", ["--scheduler", address]), ("s_here", [])):
            res = qcoord(*sweep, *extra, "--out", name, cwd=tmp_path)
            assert res.returncode == 0, res.stderr
        assert (tmp_path / "s_remote" / "sweep.csv").read_bytes() == (tmp_path / "s_here" / "sweep.csv").read_bytes()
    finally:
        # the workers first, then the scheduler: a worker whose scheduler went first retries it for 8 s before it
        # exits (measured), the test's largest wait
        for group in (procs[1:], procs[:1]):
            for p in group:
                p.terminate()
            for p in group:
                p.wait(timeout=30)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["scan"], "a scan needs a universe of real tickers"),
        (["scan", "--sample", "pypfopt", "--same-sector"], "--same-sector needs --sectors"),
        (["scan", "--sample", "pypfopt", "--pairs", "PAIRS"], "line 2: ticker(s) ['XYZ'] not in the universe"),
        (["scan", "--sample", "pypfopt", "--min-rows", "100000"], "no pair left to scan"),
        (["scan", "--sample", "pypfopt", "--grid", "visiblity=1,0.9"], "cannot sweep 'visiblity'"),
    ],
)
def test_bad_scan_input_is_one_line_and_exit_2(argv, message, tmp_path):
    (tmp_path / "PAIRS").write_text("JPM,BAC\nJPM,XYZ\n")
    res = qcoord(*argv, "--out", "o", "--workers", "0", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_universe_keeps_each_tickers_history_and_reads_folders(tmp_path):
    u = data.sample_universe("pypfopt")
    # a 2014 listing does not cut a 1990 pair: each pair is aligned on its own common rows, as load_csv would
    assert u.pair("JPM", "BAC").prices.equals(data.load_sample("jpm_bac").prices)
    assert u.pair("AMZN", "BABA").prices.index[0] == pd.Timestamp("2014-09-19")
    # a folder of per-ticker files, and an aligned MarketData (e.g. Yahoo tickers)
    for t in ("JPM", "BAC", "GM"):
        s = u.series[t].price.dropna().iloc[-600:]
        pd.DataFrame(
            {"Date": s.index.strftime("%Y-%m-%d"), "Open": s, "High": s, "Low": s, "Close": s, "Volume": 1000}
        ).to_csv(tmp_path / f"{t}.csv", index=False)
    folder = data.load_universe(tmp_path)
    assert sorted(folder.tickers) == ["BAC", "GM", "JPM"] and len(folder.pair("GM", "JPM").prices) == 600
    aligned = data.universe_of(data.load_sample("pypfopt", ["JPM", "BAC", "GM"]))
    assert aligned.pair("JPM", "GM").prices.index[0] == data.load_sample("pypfopt", ["JPM", "BAC", "GM"]).index[0]


def test_filters_say_why_a_pair_is_skipped(universe, tmp_path):
    sectors = tmp_path / "s.csv"
    sectors.write_text("ticker,sector\nJPM,banks\nBAC,banks\nGM,autos\nT,telecom\n")
    sel = scan.select_pairs(universe, sectors=scan.read_sectors(sectors, universe), same_sector=True)
    assert sel.pairs == [("JPM", "BAC")] and sel.skipped["JPM/GM"] == "different sectors (banks, autos)"
    sel = scan.select_pairs(universe, min_corr=0.6)
    assert ("JPM", "BAC") in sel.pairs and all("below --min-corr 0.6" in v for v in sel.skipped.values())
    assert sel.skipped and all(sel.correlation[k] < 0.6 for k in sel.skipped)


def test_scan_cli_with_a_grid_on_a_plain_loop(tmp_path):
    res = qcoord_process(
        "scan",
        "--sample",
        "pypfopt",
        "--tickers",
        "JPM",
        "BAC",
        "GM",
        "--start",
        "2016-01-01",
        "--grid",
        "visibility=1,0.9",
        "--workers",
        "0",
        "--out",
        "g",
        "--json",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    table = pd.read_csv(tmp_path / "g" / "scan.csv")
    assert len(table) == 6 and sorted(table["visibility"].unique()) == [0.9, 1.0]
    assert doc["jobs"] == 6 and doc["fdr"]["tests"] == 6 and doc["grid"] == {"visibility": [1.0, 0.9]}
    assert "running here, one after another" in res.stderr
    again = qcoord(
        "scan",
        "--sample",
        "pypfopt",
        "--tickers",
        "JPM",
        "BAC",
        "GM",
        "--start",
        "2016-01-01",
        "--grid",
        "visibility=1,0.9",
        "--workers",
        "0",
        "--out",
        "g",
        cwd=tmp_path,
    )
    assert again.returncode == 0 and "(0 computed, 6 reused)" in again.stdout
    other = qcoord(
        "scan", "--sample", "pypfopt", "--tickers", "JPM", "BAC", "--workers", "0", "--out", "g", cwd=tmp_path
    )
    assert other.returncode == 2 and "holds a scan with other options" in other.stderr


def test_run_scan_is_one_call(universe, reference, tmp_path):
    from qcoord.backtest import run_scan

    result = run_scan(
        universe, None, workers=0, out=tmp_path / "s", indicator="volatility_burst", seed=7, progress=False
    )
    by_pair = {(r["a"], r["b"]): r for r in result.rows}
    assert all(by_pair[(r["a"], r["b"])] == r for r in reference)  # the same rows as the executor test's
    assert result.doc["fdr"]["tests"] == 6 and list(result.ranking["a"] + "/" + result.ranking["b"])
    result.write(tmp_path / "s")
    for name in ("scan.csv", "scan.json", "report.html", "scan_heatmap.png", "scan_distribution.png"):
        assert (tmp_path / "s" / name).is_file(), name
    assert pd.read_csv(tmp_path / "s" / "scan.csv").shape[0] == 6


def test_a_yahoo_universe_through_the_real_loader(tmp_path, monkeypatch):
    """--yahoo tickers: the real loader, fed a yfinance-shaped answer once (no network here), then a scan of its pairs
    (here SPY, QQQ, IWM: three ETF pairs) on a plain loop."""
    import yfinance

    from qcoord.backtest import run_scan
    from tests.conftest import shared_file
    from tests.test_data_yahoo import _yfinance_frame

    files = {t: shared_file(f"{t}_daily.csv") for t in ("SPY", "QQQ", "IWM")}
    frame = _yfinance_frame(files, "2015-01-01", "2019-12-31")
    monkeypatch.setattr(yfinance, "download", lambda tickers, **kw: frame)
    # yahoo=[...] as a keyword chooses the Yahoo source, as --yahoo does on the command line
    cfg = RunConfig().with_values(
        {
            "yahoo": ["SPY", "QQQ", "IWM"],
            "start": "2015-01-01",
            "end": "2019-12-31",
            "cache_dir": str(tmp_path / "cache"),
            "indicator": "volatility_burst",
        }
    )
    assert cfg.source.kind == "yahoo"
    result = run_scan(None, cfg, workers=0, progress=False)
    assert sorted(result.table["a"] + "/" + result.table["b"]) == ["QQQ/IWM", "SPY/IWM", "SPY/QQQ"]
    assert result.table["error"].isna().all() and result.doc["universe"]["tickers"] == ["SPY", "QQQ", "IWM"]
    assert (result.table["rounds"] > 1000).all()


def test_a_classical_win_is_never_a_quantum_discovery():
    """The issue's pair: quantum (there the classical rule) beat best_local with ratio 0.946 [0.921, 0.972], p 0.004,
    and was ranked first as significant. Without entanglement its p-value is 1, whatever the ratio."""
    beaten = {"opponent": "classical_levels", "variance_ratio": 0.946, "variance_p_value": 0.004}
    assert scan.one_sided_p(False, beaten, beaten) == 1.0
    assert scan.one_sided_p(True, beaten, beaten) == pytest.approx(0.002)
    # against every local classical strategy: the larger one-sided p of the two comparisons (intersection-union)
    lost = {"opponent": "history", "variance_ratio": 1.01, "variance_p_value": 0.5}
    assert scan.one_sided_p(True, beaten, lost) == pytest.approx(0.75)
    rows = [
        {"p_one_sided": 1e-6, "variance_ratio": 0.946, "variance_ratio_vs_strongest": 0.946, "uses_entanglement": uses}
        for uses in (False, True)
    ]
    rows.append(
        {"p_one_sided": 1e-6, "variance_ratio": 0.946, "variance_ratio_vs_strongest": 1.02, "uses_entanglement": True}
    )
    table = scan.fdr(pd.DataFrame(rows))
    assert table["significant"].tolist() == [False, True, False]


def test_the_ranking_puts_pairs_without_entanglement_after_those_with_it():
    table = pd.DataFrame(
        [
            {
                "a": "A",
                "b": "B",
                "significant": False,
                "uses_entanglement": False,
                "variance_ratio": 0.9,
                "q_value": 0.5,
                "move_needed": 0.3,
                "error": None,
            },
            {
                "a": "A",
                "b": "C",
                "significant": False,
                "uses_entanglement": True,
                "variance_ratio": 0.99,
                "q_value": 0.4,
                "move_needed": None,
                "error": None,
            },
            {
                "a": "B",
                "b": "C",
                "significant": False,
                "uses_entanglement": False,
                "variance_ratio": 1.0,
                "q_value": 1.0,
                "move_needed": 0.1,
                "error": None,
            },
        ]
    )
    ranked = scan.ranking(table)
    assert [f"{a}/{b}" for a, b in zip(ranked["a"], ranked["b"])] == ["A/C", "B/C", "A/B"]  # then by move_needed
    from qcoord.reports.scan import ranking_table

    shown = ranking_table(ranked, [])
    assert shown["variance ratio"].isna().tolist() == [False, True, True]  # no ratio shown for a classical rule


def test_a_default_scan_of_the_shipped_panel_ranks_by_a_figure_that_varies(tmp_path):
    """With the purely local default indicator every pair has a distance to paying (move_needed), and it varies."""
    u = data.sample_universe("pypfopt", ["JPM", "BAC", "GM", "T", "AMZN"])
    res = scan.run_scan(u, workers=0, out=tmp_path / "s", progress=False)
    ran = res.ranking
    assert len(ran) == 10 and ran["move_needed"].notna().all()
    assert ran["move_needed"].std() > 0.02
    assert list(ran["move_needed"]) == sorted(ran["move_needed"])  # nothing uses entanglement: ranked by distance


@pytest.fixture
def http_port():
    """A local port that answers TCP but is no Dask scheduler (a plain HTTP server)."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["scan", "sweep"])
@pytest.mark.parametrize("kind", ["refused", "not_dask", "malformed"])
def test_a_wrong_scheduler_address_is_one_line_in_seconds_and_writes_nothing(command, kind, http_port, tmp_path):
    """README's own example address hung or ended in a 40-line traceback (3.07 EiB); a refused port took 20 s and
    left points/ and the options file behind."""
    address = {
        "refused": f"tcp://127.0.0.1:{_free_port()}",
        "not_dask": f"tcp://127.0.0.1:{http_port}",
        "malformed": "127.0.0.1",
    }[kind]
    args = (
        ["scan", "--sample", "pypfopt", "--tickers", "JPM", "BAC"]
        if command == "scan"
        else ["sweep", "visibility=1,0.9", "--rounds", "2000"]
    )
    started = time.monotonic()
    res = subprocess.run(
        ["qcoord", *args, "--scheduler", address, "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr, res.stderr
    assert ("cannot reach the Dask scheduler" in res.stderr) or ("tcp://HOST:PORT" in res.stderr), res.stderr
    assert elapsed < 30, elapsed  # imports and the 3 s + 5 s connection budget, with room for a loaded machine
    assert list(tmp_path.iterdir()) == []
