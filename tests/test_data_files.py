"""CSV loading on real files (../shared/data and the shipped sample) and every bad input the loader must name."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qcoord import data
from qcoord.data import DataError, DataWarning
from tests.conftest import shared_file


# -- real files ----------------------------------------------------------------------------------
def test_shipped_sample_jpm_bac():
    md = data.load_sample("jpm_bac")
    assert md.tickers == ["JPM", "BAC"]
    assert len(md) == 8796 and md.index[0] == pd.Timestamp("1990-01-02") and md.index[-1] == pd.Timestamp("2024-11-29")
    assert md.periods_per_year == 252 and md.index.tz is None
    assert md.meta["kind"] == "sample"
    assert 0.6 < md.returns.corr().iloc[0, 1] < 0.85  # the README of the data quotes 0.74


def test_shipped_panel_pick_two_of_eleven_keeps_given_order_and_trims_listing_gap():
    md = data.load_sample("pypfopt", tickers=["META", "JPM"])
    assert md.tickers == ["META", "JPM"]
    assert md.index[0] == pd.Timestamp("2012-05-18")  # META's listing: earlier rows are leading gaps
    assert md.meta["alignment"]["leading"] > 5000
    assert md.dropped_rows == md.meta["alignment"]["leading"]
    assert set(data.samples()) >= {"jpm_bac", "pypfopt"}


def test_bac_aig_daily_ohlcv():
    md = data.load_csv([shared_file("BAC_daily.csv"), shared_file("AIG_daily.csv")])
    assert md.tickers == ["BAC", "AIG"] and len(md) == 5849
    assert md.index[0] == pd.Timestamp("1998-01-02") and md.index[-1] == pd.Timestamp("2021-03-31")
    assert md.periods_per_year == 252
    raw = pd.read_csv(shared_file("BAC_daily.csv"), index_col="Date", parse_dates=True)
    assert np.allclose(md.prices["BAC"].to_numpy(), raw["Adj Close"].to_numpy())  # Adj Close preferred
    assert set(md.ohlcv["AIG"].columns) == {"Open", "High", "Low", "Close", "Adj Close", "Volume"}
    assert md.volume.shape == (5849, 2)


def test_spy_qqq_daily_trims_leading_rows_before_qqq():
    md = data.load_csv([shared_file("SPY_daily.csv"), shared_file("QQQ_daily.csv")])
    assert len(md) == 2523 and md.index[0] == pd.Timestamp("2011-03-23")
    assert md.meta["alignment"] == {"leading": 5849 - 2523, "interior": 0, "trailing": 0}


def test_tickers_name_per_ticker_files():
    md = data.load_csv([shared_file("SPY_daily.csv"), shared_file("QQQ_daily.csv")], tickers=["A", "B"])
    assert md.tickers == ["A", "B"]


def test_bac_aig_minute_bars_intraday_tz_aware():
    files = [shared_file("BAC_minute_2013-10-04_2013-10-11.csv"), shared_file("AIG_minute_2013-10-04_2013-10-11.csv")]
    with pytest.warns(DataWarning, match="interior"):
        md = data.load_csv(files)
    assert str(md.index.tz) == "America/New_York"
    assert md.meta["alignment"]["interior"] > 0  # minutes without trades in one of the two
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        rth = data.load_csv(files, session="regular")
    local = rth.index.hour * 60 + rth.index.minute
    assert local.min() >= 570 and local.max() < 960
    # six sessions of 390 regular minutes; BAC and AIG share nearly all of them
    assert 6 * 380 < len(rth) <= 6 * 390
    assert rth.periods_per_year == pytest.approx(390 * 252, rel=0.01)
    assert rth.index[0] == pd.Timestamp("2013-10-04 09:30", tz="America/New_York")


def test_hourly_bars_periods_per_year():
    with pytest.warns(DataWarning, match="interior"):  # a few hours where only one of the two traded
        md = data.load_csv([shared_file("BAC_hourly.csv"), shared_file("AIG_hourly.csv")])
    assert md.periods_per_year == 7 * 252


def test_quote_files_give_mid_prices_and_spread():
    md = data.load_csv(
        [
            shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"),
            shared_file("IBM_minute_quotes_2013-10-04_2013-10-11.csv"),
        ],
        session="regular",
    )
    raw = pd.read_csv(shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"))
    first = raw[raw.Date == "2013-10-04 09:30:00"].iloc[0]
    assert md.prices["SPY"].iloc[0] == pytest.approx((first.BidClose + first.AskClose) / 2)
    assert (md.spread.to_numpy() >= 0).all()


def test_slicing_and_immutability():
    md = data.load_sample("jpm_bac")
    sub = md["2008":"2008-12-31"]
    assert isinstance(sub, data.MarketData) and sub.index[0].year == 2008 and sub.index[-1].year == 2008
    assert sub.periods_per_year == md.periods_per_year
    assert len(md.iloc[10:20]) == 10
    prices = md.prices
    prices.iloc[0, 0] = -1.0
    assert md.prices.iloc[0, 0] > 0  # the object never changes
    with pytest.raises(AttributeError):
        md.prices = prices
    r = md.returns
    assert r.index.equals(md.index[1:])
    assert r.iloc[0, 0] == pytest.approx(md.prices.iloc[1, 0] / md.prices.iloc[0, 0] - 1)


# -- bad input ------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "Date,AAA,BBB\n" + "".join(f"2020-01-{d:02d},{100 + d},{50 + d}\n" for d in range(1, 29))


@pytest.mark.parametrize(
    "name, text, culprit",
    [
        ("empty.csv", "", "empty CSV"),
        ("header.csv", "Date,AAA,BBB\n", "empty CSV"),
        ("nodate.csv", "When,AAA\n2020-01-01,1\n", "no Date column"),
        ("dup.csv", GOOD.replace("2020-01-03", "2020-01-02"), "duplicate timestamp 2020-01-02"),
        ("unsorted.csv", GOOD.replace("2020-01-03", "2020-01-13x").replace("2020-01-13x", "2020-01-13"), "not sorted"),
        ("negative.csv", GOOD.replace(",103,", ",-103,"), "AAA.*-103"),
        ("zero.csv", GOOD.replace(",53\n", ",0\n"), "BBB.*0.0"),
        ("inf.csv", GOOD.replace(",104,", ",inf,"), "AAA.*inf"),
        ("text.csv", GOOD.replace(",105,", ",abc,"), "'abc'"),
        ("baddate.csv", GOOD.replace("2020-01-07", "2020-13-45"), "2020-13-45"),
        ("mixedtz.csv", "Date,AAA\n2020-01-02 10:00:00-05:00,1\n2020-01-02 10:01:00,2\n", "mixed time zones"),
    ],
)
def test_bad_csv_names_file_and_culprit(tmp_path, name, text, culprit):
    path = _write(tmp_path, name, text)
    with pytest.raises(DataError, match=culprit) as exc:
        data.load_csv(path)
    assert name in str(exc.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        data.load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="a folder with no .csv files"):  # a folder means its per-ticker files
        data.load_csv(tmp_path)
    with pytest.raises(DataError, match="no file given"):
        data.load_csv([])


def test_unknown_ticker_and_too_few_rows(tmp_path):
    path = _write(tmp_path, "panel.csv", GOOD)
    with pytest.raises(DataError, match=r"unknown ticker\(s\) \['ZZZ'\]"):
        data.load_csv(path, tickers=["AAA", "ZZZ"])
    with pytest.raises(DataError, match="only 28 common rows .* at least 50"):
        data.load_csv(path, min_rows=50)
    with pytest.raises(DataError, match="2 names for 1 per-ticker files"):
        data.load_csv(shared_file("BAC_daily.csv"), tickers=["A", "B"])


def test_mixed_daily_and_intraday_files():
    with pytest.raises(DataError, match="mixed daily .* and intraday"):
        data.load_csv([shared_file("BAC_daily.csv"), shared_file("AIG_hourly.csv")])


def test_mixed_time_zones_between_series():
    daily = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2020-01-02 10:00", "2020-01-02 11:00"]))
    aware = pd.Series([1.0, 2.0], index=daily.index.tz_localize("UTC"))
    with pytest.raises(DataError, match="mixed time zones"):
        data.align({"A": daily, "B": aware})


def test_no_common_timestamps(tmp_path):
    a = _write(tmp_path, "A_x.csv", "Date,Close\n2020-01-01,1\n2020-01-02,2\n")
    b = _write(tmp_path, "B_x.csv", "Date,Close\n2021-01-01,1\n2021-01-02,2\n")
    with pytest.raises(DataError, match="no timestamp in common"):
        data.load_csv([a, b])


def test_duplicate_ticker_names_across_files(tmp_path):
    a = _write(tmp_path, "A_1.csv", "Date,Close\n2020-01-01,1\n2020-01-02,2\n")
    b = _write(tmp_path, "A_2.csv", "Date,Close\n2020-01-01,1\n2020-01-02,2\n")
    with pytest.raises(DataError, match="ticker 'A' appears twice"):
        data.load_csv([a, b])


def test_interior_gaps_dropped_counted_and_warned(tmp_path):
    text = GOOD.replace("2020-01-10,110,60", "2020-01-10,,60")
    with pytest.warns(DataWarning, match="1 interior"):
        md = data.load_csv(_write(tmp_path, "gap.csv", text))
    assert len(md) == 27 and md.meta["alignment"]["interior"] == 1
    assert pd.Timestamp("2020-01-10") not in md.index


def test_marketdata_constructor_checks():
    idx = pd.date_range("2020-01-01", periods=3)
    with pytest.raises(DataError, match="ticker A: price nan"):
        data.MarketData(pd.DataFrame({"A": [1.0, np.nan, 2.0]}, index=idx))
    with pytest.raises(DataError, match="must be tz-aware"):
        data.MarketData(
            pd.DataFrame({"A": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-01 10:00", "2020-01-01 10:01"]))
        )
    with pytest.raises(DataError, match="not sorted"):
        data.MarketData(pd.DataFrame({"A": [1.0, 2.0, 3.0]}, index=idx[::-1]))
    with pytest.raises(DataError, match="periods_per_year"):
        data.MarketData(pd.DataFrame({"A": [1.0, 2.0, 3.0]}, index=idx), periods_per_year=-1)


def test_unknown_sample():
    with pytest.raises(DataError, match="unknown sample 'nope'"):
        data.load_sample("nope")


def _ticker_files(folder: Path, header: str, n: int = 400, seed: int = 0) -> list[Path]:
    """AAA_daily.csv and BBB_daily.csv, one price column each, correlated random walks on business days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=n).strftime("%Y-%m-%d")
    common = rng.normal(0, 0.01, n)
    paths = []
    for name in ("AAA", "BBB"):
        price = 50 * np.exp(np.cumsum(common + rng.normal(0, 0.01, n)))
        lines = [f"Date,{header}"] + [f"{d},{p:.4f}" for d, p in zip(dates, price)]
        paths.append(_write(folder, f"{name}_daily.csv", "\n".join(lines) + "\n"))
    return paths


@pytest.mark.parametrize("header", ["Adj Close", "Close", "Price", "adj_close", "AdjClose"])
def test_files_named_by_ticker_with_one_price_column(tmp_path, header):
    """docs/data.md: the ticker comes from the file name; a single price column under any usual header is that
    ticker's price, alone or beside another file (never read as a panel with a ticker called 'Adj Close')."""
    a, b = _ticker_files(tmp_path, header)
    md = data.load_csv([a, b])
    assert md.tickers == ["AAA", "BBB"] and len(md) == 400
    text = a.read_text().splitlines()
    assert md.prices["AAA"].iloc[-1] == pytest.approx(float(text[-1].split(",")[1]))
    alone = data.load_csv(a, min_rows=2)
    assert alone.tickers == ["AAA"]


def test_files_named_by_ticker_run_a_backtest(tmp_path):
    """The first thing a quant tries: two Date,Adj Close files, qcoord backtest --csv."""
    from tests.conftest import qcoord

    a, b = _ticker_files(tmp_path, "Adj Close")
    res = qcoord("backtest", "--csv", str(a), str(b), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert "AAA / BBB (csv)" in res.stdout and (tmp_path / "run" / "metrics.json").is_file()
