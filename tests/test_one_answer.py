"""One answer to "does quantum pay after costs" (issue 44): backtest, sweep, scan, link and compare all take it from
``analysis.pays.decide`` and word it with ``output.answer``; a before-costs figure says "before costs"."""

from __future__ import annotations

import json
import re

import pytest

from qcoord.backtest.analysis.pays import decide, money
from qcoord.backtest.output.answer import answer

from tests.conftest import qcoord


def _flat(text: str) -> str:
    """Printed text with its wrapping undone (the terminal wraps long lines with a two-space indent)."""
    return re.sub(r"\s*\n\s*", " ", text)


def _cmp(opponent: str, ce: float, k: float | None = None) -> dict:
    return {"opponent": opponent, "certainty_equivalent_diff": ce, "break_even_cost_scale": k}


def test_money_is_the_certainty_equivalent_after_costs_against_every_local_benchmark():
    """Pays when the certainty equivalent after costs beats both the best local classical strategy (chosen on
    training) and the strongest one on the test window; the smaller margin decides and is named; a classical rule,
    no pair played or a pair cost that eats the margin do not pay."""
    both = {"quantum_vs_best_local": _cmp("classical", 0.03), "quantum_vs_strongest_local": _cmp("history", 0.01)}
    p = money(True, both, 3.0)
    assert (p["pays"], p["reason"], p["opponent"], p["certainty_equivalent"]) == (True, "pays", "history", 0.01)
    assert money(True, both, 3.0, pair_cost_per_round=0.02)["pays"] is False  # the link's pairs cost more
    assert money(True, both, 3.0, pair_cost_per_round=0.02)["reason"] == "costs"
    assert money(False, both, 3.0)["reason"] == "classical_rule"
    assert money(True, both, 3.0, pairs_played=0)["reason"] == "no_pairs"
    assert money(True, {}, 3.0)["pays"] is None
    worse = {"quantum_vs_best_local": _cmp("classical", -0.0168, 0.702)}
    assert answer(money(True, worse, 3.0)) == (
        "quantum does not pay after costs: certainty equivalent -0.0168 a round "
        "against classical (risk aversion 3); it pays only below 0.702 times "
        "the configured costs"
    )
    # a link that fails a stage before value decides, whatever the money says
    link = {"first_failing": "deadline", "link": {"cost_per_pair": 0.0}}
    q = {"quantum": {"bell_pairs": 10, "n_rounds": 10}}
    p = decide({"uses_entanglement": True}, both, q, 3.0, link)
    assert (p["pays"], p["reason"], answer(p)) == (
        False,
        "link",
        "quantum does not pay after costs: the link stops it first at the light-speed deadline",
    )
    # servers that can talk: quantum does not pay whatever it makes against the local rules, and its CE against talk
    # (the pair cost taken off) is the figure shown
    clock = {"can_talk": True, "message_delay_s": 2.74e-4, "deadline_s": 60.0}
    both_talk = both | {"quantum_vs_talk": _cmp("talk", -0.05)}
    p = decide({"uses_entanglement": True}, both_talk, q, 3.0, None, clock=clock)
    assert (p["pays"], p["reason"], p["talk_certainty_equivalent"]) == (False, "talk", -0.05)
    assert answer(p) == (
        "quantum does not pay after costs: the servers can talk (a message crosses between the venues "
        "in 274 us, before the 1 min a server may take to decide), and talking reproduces any play a "
        "Bell pair allows"
    )
    assert decide({"uses_entanglement": True}, both, q, 3.0, None, clock=clock | {"can_talk": False})["pays"] is True


def test_the_default_backtest_and_a_sweep_through_it_give_the_same_answer(default_run, tmp_path):
    """`qcoord backtest` (its summary, README's) and `qcoord sweep visibility=1` (the same run as a grid point) print
    the same sentence, and it agrees with the verdict: a minute between decisions lets the servers talk."""
    said = answer(default_run.pays)
    assert said.startswith("quantum does not pay after costs: the servers can talk")
    assert said in _flat(default_run.summary())
    assert "the servers can talk" in default_run.headline() and "the servers can talk" in default_run.verdict()
    res = qcoord("sweep", "visibility=1", "--out", str(tmp_path / "sweep"))
    assert res.returncode == 0, res.stderr
    first = _flat(res.stdout)
    assert first.startswith("quantum pays after costs at no point of this grid visibility=1: " + said)
    assert "win rate (before costs)" in first
    doc = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert doc["pays"][0]["pays"] is False and doc["answer"]["points"] == [f"visibility=1: {said}"]
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert page.index("at no point of this grid") < page.index("<table")  # the answer first


@pytest.mark.slow
def test_a_link_sweep_and_the_backtests_of_its_points_give_the_same_answer(tmp_path):
    """README's link sweep (shortened): each point's sentence is the one the backtest of that point prints; the
    grid's line, the link frontier's "pays after costs" and the chain's value stage say the same."""
    rounds = ["--rounds", "20000"]
    res = qcoord("sweep", "distance_km=5,80", "--link", "nyse-nasdaq", *rounds, "--out", str(tmp_path / "sweep"))
    assert res.returncode == 0, res.stderr
    swept = _flat(res.stdout)
    doc = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    for km, point in zip((5, 80), doc["pays"]):
        run = qcoord(
            "backtest", "--link", "nyse-nasdaq", "--distance-km", str(km), *rounds, "--out", str(tmp_path / f"km{km}")
        )
        assert run.returncode == 0, run.stderr
        metrics = json.loads((tmp_path / f"km{km}" / "metrics.json").read_text())
        said = answer(metrics["pays"])
        assert said in _flat(run.stdout) and f"distance_km={km:g}: {said}" in swept
        assert point["pays"] == metrics["pays"]["pays"]
        value = next(s for s in metrics["link"]["stages"] if s["stage"] == "value")
        assert metrics["pays"]["pays"] == (metrics["link"]["first_failing"] is None)
        # a stage before value (the deadline where the servers can talk) decides before the money does
        assert value["passed"] in (metrics["pays"]["pays"] or metrics["pays"]["reason"] in ("link", "talk"), None)
    paying = [km for km, p in zip((5, 80), doc["pays"]) if p["pays"]]
    front = doc["link_frontier"]["pays_up_to"]
    assert front == (max(paying) if paying else None)
    assert ("pays after costs at no point" in swept) == (not paying)
