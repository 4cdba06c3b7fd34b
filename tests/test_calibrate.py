"""``qcoord calibrate``: fill parameters from quote and trade bars, recovered on a synthetic stream with known
parameters, re-derived on the shared real quotes (queue ahead and the fill rate it implies beside the touch rate),
and refused where the files cannot identify them."""

from __future__ import annotations

import json
import math

import pytest

from qcoord import data
from qcoord.backtest import config
from qcoord.backtest.cli.main import main
from qcoord.backtest.fills.calibrate import NO_DEPTH, NO_TRADES, calibrate, synthetic_bars
from qcoord.backtest.fills.queue import ADVERSE_SELECTION, MODEL_HALF_SPREAD_BPS, P_FIRST, P_SECOND, QueueFill

from .conftest import shared_file

TICKERS = ("BAC", "AIG", "SPY", "IBM")
QUOTES = {t: f"{t}_minute_quotes_2013-10-04_2013-10-11.csv" for t in TICKERS}
TRADES = {t: f"{t}_minute_2013-10-04_2013-10-11.csv" for t in TICKERS}
CASES = [(0.5, 0.2, 0.4, 0.5), (0.8, 0.6, 0.1, 0.3), (0.25, 0.03, 0.9, 0.8), (0.6, 0.6, 0.0, 0.5)]


def _synthetic(n, touch, through, adverse, share, seed):
    q, t = synthetic_bars(n, touch=touch, through=through, adverse=adverse, volume_share=share, seed=seed)
    return {"S": q}, {"S": t}


@pytest.mark.parametrize("touch, through, adverse, share", CASES)
def test_recovers_the_parameters_of_a_synthetic_quote_and_trade_stream(touch, through, adverse, share):
    """Each true value lies in its estimate's interval at a family-wise 99% level (Bonferroni over 4 cases x 8
    estimates). An order at the back of the displayed queue fills on a print through it, or on a touch whose volume
    clears the queue ahead: through + (touch - through) x share. The price impact over the 5-minute horizon is
    a x E|mid move| / h = a x 2 x 0.3 tick / 1.5 ticks: only the fill's own minute moves with the fill here."""
    quotes, trades = _synthetic(40_000, touch, through, adverse, share, seed=7)
    est = calibrate(quotes, trades, level=1 - 0.01 / 32)["pooled"]
    queue = through + (touch - through) * share
    truth = {
        "touch_rate": touch,
        "through_rate": through,
        "queue_fill_rate": queue,
        "p_first": queue,
        "p_second": through,
        "adverse_selection": adverse,
        "adverse_selection_from_rates": adverse,
        "price_impact_share": adverse * 2 * 0.3 / 1.5,
    }
    for name, true in truth.items():
        e = est[name]
        assert e.lo <= true <= e.hi, (name, true, e)
    assert est["half_spread"].value == pytest.approx(0.015)
    assert est["queue_ahead"].value == 1_000.0


def test_the_intervals_cover_at_their_level():
    """Over 60 independent synthetic weeks the 95% intervals of p_first, p_second and a cover the truth in 95% of
    them: at least 51 of 60 each (the 0.1% lower tail of Binomial(60, 0.95) is 51)."""
    truth = {"p_first": 0.2 + 0.3 * 0.5, "p_second": 0.2, "adverse_selection": 0.4}
    cover = dict.fromkeys(truth, 0)
    for seed in range(60):
        est = calibrate(*_synthetic(5_000, 0.5, 0.2, 0.4, 0.5, seed=100 + seed))["pooled"]
        for k, v in truth.items():
            cover[k] += est[k].lo <= v <= est[k].hi
    assert all(c >= 51 for c in cover.values()), cover


def test_quotes_alone_cannot_identify_fills_and_say_so():
    """Without trade bars a fill cannot be seen: the three fill parameters carry the reason, not a number, and the
    [fill] section keeps the package's defaults for them."""
    quotes, trades = _synthetic(5_000, 0.5, 0.2, 0.4, 0.5, seed=1)
    result = calibrate(quotes)
    for name in ("p_first", "p_second", "adverse_selection", "price_impact_share"):
        e = result["pooled"][name]
        assert e.why == NO_TRADES and math.isnan(e.value) and not e.identified
    assert result["kept_defaults"] == ["p_first", "p_second", "adverse_selection"]
    assert set(result["fill"]) == {"name", "half_spread", "model_half_spread_bps"}
    assert result["pooled"]["half_spread"].identified
    # trades but no displayed sizes: the queue ahead is unknown, so the fill rate is too; the touch rate is measured
    sizeless = {"S": quotes["S"].drop(columns=["BidSize", "AskSize"])}
    blind = calibrate(sizeless, trades)["pooled"]
    for name in ("p_first", "queue_fill_rate", "queue_ahead", "adverse_selection"):
        assert blind[name].why == NO_DEPTH and not blind[name].identified
    assert blind["touch_rate"].identified and blind["through_rate"].identified
    assert calibrate(sizeless, trades)["kept_defaults"] == ["p_first", "p_second", "adverse_selection"]


def _shared():
    quotes = {t: data.load_quote_bars(shared_file(QUOTES[t]), session="regular") for t in TICKERS}
    trades = {t: data.load_trade_bars(shared_file(TRADES[t]), session="regular") for t in TICKERS}
    return quotes, trades


def test_the_defaults_are_the_calibration_on_the_shared_quote_and_trade_bars():
    est = calibrate(*_shared())["pooled"]
    for name, default in (("p_first", P_FIRST), ("p_second", P_SECOND), ("adverse_selection", ADVERSE_SELECTION)):
        e = est[name]
        assert abs(default - e.value) <= 0.005 and e.lo - 0.005 <= default <= e.hi + 0.005, (name, default, e)
    assert est["half_spread_bps"].value == pytest.approx(MODEL_HALF_SPREAD_BPS, abs=0.05)
    assert QueueFill().p_first == P_FIRST and QueueFill().adverse_selection == ADVERSE_SELECTION


def test_the_queue_ahead_makes_a_fill_rarer_than_a_touch():
    """On BAC (one-cent spread, about 140k shares a minute, 68,550 shares displayed ahead of an order joining the
    best bid) a trade printed at or through the resting bid in nearly every minute: an order at the front of the
    queue would fill in about 98% of minutes. One at the back of the displayed queue fills only when the volume at
    its price clears the queue ahead: in about half of them, above the through rate (a level traded away fills every
    order on it). Fills from the back are adversely selected (they need heavy volume on their side), where a touch
    barely is."""
    quotes, trades = _shared()
    bac = calibrate({"BAC": quotes["BAC"]}, {"BAC": trades["BAC"]})["pooled"]
    assert 60_000 < bac["queue_ahead"].value < 80_000
    assert bac["touch_rate"].lo > 0.97 and bac["queue_fill_rate"].hi < bac["touch_rate"].lo
    assert bac["through_rate"].hi < bac["queue_fill_rate"].lo < 0.6
    assert bac["p_first"] == bac["queue_fill_rate"] and bac["p_second"] == bac["through_rate"]
    assert bac["one_tick_share"] > 0.99 and bac["volume_per_bar"] > 100_000
    assert bac["adverse_selection"].lo > 0.1 and bac["adverse_selection_from_rates"].lo > 0.1


def test_cli_pairs_quote_and_trade_files_and_its_config_reproduces_them(tmp_path, capsys):
    files = [str(shared_file(p)) for t in ("BAC", "AIG") for p in (QUOTES[t], TRADES[t])]
    out = tmp_path / "fill.toml"
    assert main(["calibrate", *files, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pooled = doc["pooled"]
    assert {"BAC", "AIG"} == set(doc["tickers"]) and doc["kept_defaults"] == []
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
    # quotes only: the reason, and a config that keeps the defaults and says so
    only = tmp_path / "quotes_only.toml"
    assert main(["calibrate", files[0], "--out", str(only)]) == 0
    text = capsys.readouterr().out
    assert "not identified: no trade bars" in text and "left at the package defaults" in text
    assert "Not identified by these files" in only.read_text()
    assert config.RunConfig.from_toml(only).fill.build().p_first == P_FIRST


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "X_quotes.csv"
    bad.write_text("Date,BidClose,AskClose\n2013-10-07 09:30:00,1,1.01\n")
    assert main(["calibrate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "X_quotes.csv: not a quote-bar file: missing column(s)" in err and len(err.strip().splitlines()) == 1
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "f.txt")]) == 2
    assert "expected a .toml file name" in capsys.readouterr().err
    lonely = tmp_path / "Y_minute.csv"
    lonely.write_text("Date,Open,High,Low,Close,Volume\n2013-10-07 09:30:00,1,1,1,1,100\n")
    assert main(["calibrate", str(lonely)]) == 2
    assert "trade bars for ['Y'] but no quote bars" in capsys.readouterr().err
    broken = tmp_path / "Z_minute.csv"
    broken.write_text("Date,Open,High,Low,Close,Volume\n2013-10-07 09:30:00,1,0.9,1,1,100\n")
    assert main(["calibrate", str(shared_file(QUOTES["BAC"])), str(broken)]) == 2
    assert "Z_minute.csv: trade bar at" in capsys.readouterr().err
    assert main(["calibrate", str(shared_file(QUOTES["BAC"])), "--horizon", "0"]) == 2
    assert "--horizon" in capsys.readouterr().err
