"""``qcoord calibrate``: fill parameters from quote bars, recovered on synthetic quotes and checked on real ones."""

from __future__ import annotations

import json

import pytest

from qcoord import data
from qcoord.backtest import config
from qcoord.backtest.fills.calibrate import calibrate, synthetic_quotes
from qcoord.backtest.cli.main import main
from qcoord.backtest.fills.models import ADVERSE_SELECTION, MODEL_HALF_SPREAD_BPS, P_FIRST, P_SECOND, QueueFill

from .conftest import shared_file

QUOTES = [f"{t}_minute_quotes_2013-10-04_2013-10-11.csv" for t in ("BAC", "AIG", "SPY", "IBM")]


@pytest.mark.parametrize("p_first, p_second, adverse", [(0.5, 0.2, 0.4), (0.8, 0.6, 0.1), (0.25, 0.03, 0.9),
                                                        (0.6, 0.6, 0.0)])
def test_recovers_the_parameters_of_synthetic_quotes(p_first, p_second, adverse):
    """Quotes drawn from the queue-position model with known parameters: each true value lies in the estimate's
    interval at a family-wise 99% level (Bonferroni over the 4 cases x 3 parameters: 1 - 0.01 / 12 each)."""
    q = synthetic_quotes(40_000, p_first=p_first, p_second=p_second, adverse=adverse, seed=7)
    est = calibrate(q, level=1 - 0.01 / 12)["pooled"]
    for name, true in (("p_first", p_first), ("p_second", p_second), ("adverse_selection", adverse)):
        e = est[name]
        # clipped probabilities at p (1 + a) > 1 make the symmetric recovery inexact: excluded by the cases chosen
        assert e.lo <= true <= e.hi, (name, true, e)
    assert est["half_spread"].value == pytest.approx(0.015)


def test_the_intervals_cover_at_their_level():
    """Over 60 independent synthetic weeks the 95% intervals of p_first and a cover the truth in 95% of them:
    at least 51 of 60 (the 0.1% lower tail of Binomial(60, 0.95) is 51)."""
    cover = {"p_first": 0, "adverse_selection": 0}
    for seed in range(60):
        est = calibrate(synthetic_quotes(5_000, p_first=0.5, p_second=0.2, adverse=0.4, seed=100 + seed))["pooled"]
        cover["p_first"] += est["p_first"].lo <= 0.5 <= est["p_first"].hi
        cover["adverse_selection"] += est["adverse_selection"].lo <= 0.4 <= est["adverse_selection"].hi
    assert all(c >= 51 for c in cover.values()), cover


def test_the_defaults_are_the_calibration_on_the_shared_quote_bars():
    quotes = {p.split("_")[0]: data.load_quote_bars(shared_file(p), session="regular") for p in QUOTES}
    est = calibrate(quotes)["pooled"]
    for name, default in (("p_first", P_FIRST), ("p_second", P_SECOND), ("adverse_selection", ADVERSE_SELECTION)):
        e = est[name]
        assert abs(default - e.value) <= 0.005 and e.lo - 0.005 <= default <= e.hi + 0.005, (name, default, e)
    assert est["half_spread_bps"].value == pytest.approx(MODEL_HALF_SPREAD_BPS, abs=0.05)
    assert QueueFill().p_first == P_FIRST and QueueFill().adverse_selection == ADVERSE_SELECTION


def test_cli_prints_intervals_and_its_config_reproduces_them(tmp_path, capsys):
    files = [str(shared_file(p)) for p in QUOTES[:2]]
    out = tmp_path / "fill.toml"
    assert main(["calibrate", *files, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pooled = doc["pooled"]
    assert {"BAC", "AIG"} == set(doc["tickers"])
    for key in ("p_first", "p_second", "adverse_selection"):
        assert pooled[key]["lo"] <= pooled[key]["value"] <= pooled[key]["hi"]
    fill = config.RunConfig.from_toml(out).fill.build()
    assert fill.name == "queue" and fill.half_spread == "quoted"
    assert fill.p_first == pooled["p_first"]["value"] and fill.p_second == pooled["p_second"]["value"]
    assert fill.adverse_selection == pooled["adverse_selection"]["value"]
    assert fill.model_half_spread_bps == pooled["half_spread_bps"]["value"]
    assert main(["calibrate", *files]) == 0
    text = capsys.readouterr().out
    assert "adverse selection a" in text and "[" in text and "pooled" in text


def test_bad_quote_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "X_quotes.csv"
    bad.write_text("Date,BidClose,AskClose\n2013-10-07 09:30:00,1,1.01\n")
    assert main(["calibrate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "X_quotes.csv: not a quote-bar file: missing column(s)" in err and len(err.strip().splitlines()) == 1
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "f.txt")]) == 2
    assert "expected a .toml file name" in capsys.readouterr().err
