"""``qcoord game`` end to end: the JSON schema, the simulation block, and one-line errors with exit 2."""

from __future__ import annotations

import json
import math
import pytest

from tests.conftest import qcoord, qcoord_process


@pytest.mark.slow
def test_game_json_schema_and_values():
    """The program itself, once (the rest of this file runs ``main`` in-process)."""
    res = qcoord_process("game", "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    for key in (
        "p_xy",
        "beta",
        "classical_value",
        "quantum_value",
        "textbook_value",
        "advantage",
        "angles",
        "classical_rule",
        "noise",
    ):
        assert key in r
    assert r["p_xy"] == [[0.25, 0.25], [0.25, 0.25]]
    assert r["classical_value"] == pytest.approx(0.75)
    assert r["quantum_value"] == pytest.approx(math.cos(math.pi / 8) ** 2)
    # the optimum's correlators, the same for every member of its symmetry family (angles are one member)
    h = 2**-0.5
    assert r["correlators"] == [pytest.approx([-h, -h], abs=1e-9), pytest.approx([-h, h], abs=1e-9)]
    assert "simulated" not in r


@pytest.mark.slow
def test_game_simulation_block():
    r = json.loads(
        qcoord(
            "game",
            "--p-x",
            "0.5",
            "--p-y",
            "0.4",
            "--visibility",
            "0.95",
            "--rounds",
            "200000",
            "--seed",
            "4",
            "--json",
        ).stdout
    )
    sim = r["simulated"]
    assert sim["rounds"] == 200000 and sim["backend"] == "exact"
    for name in ("classical", "quantum"):
        lo, hi = sim[name]["ci95"]
        assert lo <= sim[name]["win_rate"] <= hi
    assert sim["quantum"]["ci95"][0] > sim["classical"]["ci95"][1]  # the advantage is visible
    again = json.loads(
        qcoord(
            "game",
            "--p-x",
            "0.5",
            "--p-y",
            "0.4",
            "--visibility",
            "0.95",
            "--rounds",
            "200000",
            "--seed",
            "4",
            "--json",
        ).stdout
    )
    assert again == r


def test_game_reports_no_advantage_in_plain_words():
    out = qcoord("game", "--p-xy", "0.3,0.3,0.3,0.1").stdout
    assert "no quantum advantage" in out and "advantage       0.000000" in out


@pytest.mark.slow
def test_game_aer_backend_and_pure_dephasing():
    res = qcoord(
        "game",
        "--storage-time",
        "2e-6",
        "--t1",
        "inf",
        "--t2",
        "1e-4",
        "--rounds",
        "20000",
        "--backend",
        "aer",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["noise"]["t1"] == "inf" and r["simulated"]["backend"] == "aer"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--p-x", "1.2"], "--p-x: '1.2' is not a probability"),
        (["--p-xy", "0.5,0.5,0.1,0"], "p_xy must sum to 1"),
        (["--p-xy", "0.5,0.5"], "four numbers"),
        (["--visibility", "1.5"], "--visibility: 1.5 is out of range [0, 1]"),
        (["--t1", "1", "--t2", "3"], "T2 = 3.0 s exceeds 2*T1"),
        (["--readout-error", "0.1,0.2,0.3"], "--readout-error takes 1 or 2 values (E|E01,E10), got 3"),
        (["--readout-error", "0.1,x"], "--readout-error: 'x' is not a number"),
        (["--p-xy", "0.25,0.25,0.25,0.25", "--p-x", "0.5"], "either --p-xy or --p-x"),
        (["--rounds", "0"], "--rounds"),
        (["--beta", "2"], "--beta"),
    ],
)
def test_game_bad_values_exit_2_with_one_line(args, message):
    res = qcoord("game", *args)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_one_simulated_round_has_no_interval_rather_than_nan():
    res = qcoord("game", "--rounds", "1", "--beta", "0.3", "--json")
    assert res.returncode == 0, res.stderr
    sim = json.loads(res.stdout)["simulated"]
    assert sim["quantum"]["utility_se"] is None and sim["quantum"]["vs_classical"]["ci95"] is None
    assert "win_rate" not in sim["quantum"] and sim["has_wins"] is False  # 0 < beta < 1: compared in utility
