"""``qcoord balance``: bad input is one line naming the option and exit 2; a run's folder (strict JSON, a config.toml
that repeats it, the report with the frontier first); the frontier's verdict at convex and at linear throughput."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qcoord.backtest.cli.main import main

TINY = [
    "--pairs",
    "20000",
    "--frontier-points",
    "2",
    "--frontier-pairs",
    "10000",
    "--warmup",
    "1000",
    "--levels",
    "2,4,8",
]


@pytest.mark.parametrize(
    "args, names",
    [
        (["--arrival-rate", "1200"], "--arrival-rate"),
        (["--arrival-rate", "-3"], "--arrival-rate"),
        (["--c-t", "1.5"], "--c-t"),
        (["--c-t", "0.3", "--t-star", "0.001"], "--t-star"),
        (["--routers", "quantum,psychic"], "--routers"),
        (["--levels", "2,3,4"], "--levels"),
        (["--pairs", "ten"], "--pairs"),
        (["--background", "cubic"], "--background"),
        (["--background-exponent", "0.5"], "--background-exponent"),
        (["--visibility", "1.5"], "--visibility"),
        (["--link", "nowhere"], "--link"),
        (["--link", "li2026", "--visibility", "0.9"], "--visibility"),
        (["--link-decision-rate", "100"], "--link-decision-rate"),
        (["--split-probability", "1.2"], "--split-probability"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, names, capsys, tmp_path):
    try:
        code = main(["balance", "--out", str(tmp_path / "run"), *TINY, *args])  # the bad value last: it counts
    except SystemExit as exc:  # argparse's own checks exit from the parser, with the same one line
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and names in err, err
    assert not (tmp_path / "run").exists()


def test_a_run_folder_is_strict_json_and_its_config_repeats_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["balance", "--json", "--out", str(out), "--seed", "3", "--split-probability", "0.55", *TINY]) == 0
    printed = capsys.readouterr().out

    def refuse(token):
        raise ValueError(f"non-strict JSON token {token}")

    doc = json.loads(printed, parse_constant=refuse)
    assert doc == json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    g = doc["game"]
    assert g["c_t"] == 0.33 and abs(g["classical_limit"] - 0.76) <= 0.015
    assert g["levels"] == [2, 4, 8] and len(g["quantum"]) == 3 and g["quantum_convergence"]["levels"] == [2, 4, 8]
    a = g["at_split"]  # --split-probability: the same game with P(split) fixed
    assert a["split_probability"] == 0.55 and a["levels"] == [2, 4, 8] and len(a["quantum"]) == 3
    assert a["classical_limit"] <= g["classical_limit"] + 1e-9 and a["quantum"][-1] <= g["quantum"][-1] + 1e-6
    assert {"threshold", "quantum", "oracle", "talk", "split", "bunch", "random"} <= set(doc["metrics"])
    for m in doc["metrics"].values():
        assert {"mean_wait", "p95_wait", "p99_wait", "qos_violation", "throughput"} <= set(m)
    html = (out / "report.html").read_text()
    assert html.index('id="fig-frontier"') < html.index("<h2>")  # the frontier figure comes first
    assert f"quantum <b>{a['quantum_limit']:.4f}</b> (Tsirelson's SDP with P(split) fixed" in html
    again = tmp_path / "again"
    assert main(["balance", "--json", "--config", str(out / "config.toml"), "--out", str(again)]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == doc["metrics"]


@pytest.mark.slow
def test_the_frontier_dominates_at_convex_throughput_and_not_at_linear():
    """Strictly convex output (tau (L/tau)^2): the quantum routers' frontier is significantly above the local one
    somewhere and below it nowhere. Linear output: throughput is 1 - rho for every router, so no domination, and
    the verdict says why."""
    from qcoord.backtest.balance import run_balance

    kw = dict(pairs=50_000, levels=(2, 4, 8), seed=1)  # the frontier at its default size: 10^6 pairs a threshold
    convex = run_balance(**kw)
    fc = convex.frontier_comparison
    assert fc["dominates"] and fc["significantly_better"] >= 1 and fc["significantly_worse"] == 0
    assert convex.headline.startswith("Entanglement pays")
    assert all(r["quantum"] >= r["classical"] - 1e-12 or r["difference_ci95"][1] >= 0 for r in fc["points"])
    linear = run_balance(background="linear", **kw)
    lc = linear.frontier_comparison
    assert not lc["dominates"]
    assert all(r["difference_ci95"][0] <= 1e-12 for r in lc["points"])
    for m in linear.metrics.values():
        assert m["throughput_ci95"][0] <= 0.6 <= m["throughput_ci95"][1]
    assert "linear background" in linear.headline and "cannot pay" in linear.headline


@pytest.mark.slow
def test_the_command_runs_as_a_program(tmp_path):
    """The one subprocess run: the installed entry point, the summary on stdout."""
    res = subprocess.run(
        [sys.executable, "-m", "qcoord", "balance", "--out", str(tmp_path / "r"), *TINY],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("verdict: ") and "written:" in res.stdout
