"""benchmarks/run.py keeps working (tiny sizes; speed is measured by the script, never asserted here)."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys

from tests.conftest import ROOT


@pytest.mark.slow
def test_benchmark_script_runs_quick_with_tiny_sizes():
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--scale", "0.01", "--reps", "1", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["rounds_per_s"]) == {"naive", "aer", "exact", "backtest", "backtest_queue"}
    assert all(v > 0 for v in out["rounds_per_s"].values())
    assert set(out["speedup_vs_naive"]) == {"aer", "exact", "backtest", "backtest_queue"}
    rss_key = next(k for k in out if k.startswith("peak_rss_mb"))
    assert out[rss_key] > 0
    for key in ("cpu", "cores", "python", "numpy", "qiskit_aer"):
        assert key in out["machine"]


@pytest.mark.slow
def test_benchmark_events_path_reports_rates_and_memory():
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--only",
            "events",
            "--scale",
            "0.001",
            "--reps",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)["events"]
    assert out["events_per_s"] > 0 and out["rows_per_s"] > 0 and out["peak_rss_mb"] > 0
    assert (out["events"], out["rss_events"], out["dt_s"]) == (10_000, 100_000, 1e-5)
