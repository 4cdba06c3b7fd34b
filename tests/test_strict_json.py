"""Every JSON file qcoord writes, and every --json it prints, is strict JSON (issue 44): Python's json.loads refusing
NaN and Infinity reads it, and so does Node's JSON.parse where Node is installed. An infinite option is the string
"inf" (as config.toml writes it), a result that is not finite is null."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import qcoord


def _refuse(constant: str):
    raise ValueError(f"not JSON: {constant}")


def strict(text: str):
    return json.loads(text, parse_constant=_refuse)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A backtest with a physical link (infinite memory times, rounds that never suffice), a sweep, a scan and a
    comparison, with their --json output."""
    root = tmp_path_factory.mktemp("json")
    small = ["--rounds", "4000"]
    printed = {}
    for name, args in {
        "backtest": ["backtest", "--link", "nyse-nasdaq", "--distance-km", "80", *small, "--out", "runs/link"],
        "plain": ["backtest", *small, "--json", "--out", "runs/plain"],
        "sweep": ["sweep", "distance_km=5,80", "--link", "nyse-nasdaq", *small, "--json", "--out", "sweep"],
        "scan": [
            "scan",
            "--sample",
            "pypfopt",
            "--tickers",
            "JPM",
            "BAC",
            "GM",
            "--workers",
            "0",
            "--json",
            "--out",
            "scan",
        ],
        "compare": ["compare", "runs/link", "runs/plain", "--json", "--out", "cmp"],
        "data": ["data", "--sample", "jpm_bac", "--json"],
        "game": ["game", "--json", "--visibility", "0.9"],
    }.items():
        res = qcoord(*args, cwd=root)
        assert res.returncode == 0, (name, res.stderr)
        printed[name] = res.stdout
    return root, printed


def test_every_json_file_written_is_strict(written):
    root, _ = written
    files = sorted(root.rglob("*.json"))
    names = {p.name for p in files}
    assert {"metrics.json", "sweep.json", "sweep_options.json", "scan.json", "scan_options.json"} <= names
    assert len([p for p in files if p.parent.name in ("points", "pairs")]) >= 5  # each finished job's record
    for path in files:
        strict(path.read_text())
    metrics = strict((root / "runs" / "link" / "metrics.json").read_text())
    assert metrics["config"]["noise"]["t1"] == "inf"  # an infinite option, as config.toml writes it
    assert strict((root / "sweep" / "sweep.json").read_text())["config"]["noise"]["t1"] == "inf"


def test_every_json_printed_is_strict(written):
    _, printed = written
    for name, text in printed.items():
        if name != "backtest":
            strict(text)


def test_node_reads_every_json_file(written):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    root, _ = written
    script = (
        "const fs=require('fs');for(const f of process.argv.slice(1)){JSON.parse(fs.readFileSync(f,'utf8'));}"
        "console.log(process.argv.length-1)"
    )
    files = [str(p) for p in sorted(root.rglob("*.json"))]
    out = subprocess.run([node, "-e", script, *files], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(files)
