"""Event and quote files: LOBSTER and timestamped quotes to QuoteEvents, round trips, sampling on a cadence, the
2013 minute quote files through the same path, and bad input named by file, line, column and value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qcoord import data
from qcoord.data import DataError, QuoteEvents, load_lobster, load_quotes, quote_market
from tests.conftest import shared_file

HERE = Path(__file__).resolve().parent / "data" / "events"
MESSAGE = HERE / "DEMO_2012-06-21_34200000_34260000_message_2.csv"
NS_QUOTES = HERE / "DEMO2_quotes_ns.csv"
OPEN = pd.Timestamp("2012-06-21 09:30", tz="America/New_York").value  # UTC ns of 09:30 that day


def test_lobster_sample_gives_the_top_of_book_by_hand():
    q = load_lobster(MESSAGE)
    assert (q.ticker, q.kind, q.dropped, len(q)) == ("DEMO", "lobster", 1, 6)
    # message lines 1, 3+4 (one instant: the last), 8, 10, 11, 13; 2, 5, 9 change no price, 6-7 are a halt, 12
    # leaves the bid side empty (the dummy price)
    after_open = [4_241_176, 201_743_416, 2_000_000_100, 5_750_000_000, 10_000_001_000, 20_200_000_000]
    assert np.array_equal(q.ns, OPEN + np.array(after_open))
    assert np.array_equal(q.bid, [585.31, 585.31, 585.31, 585.10, 585.00, 585.25])
    assert np.array_equal(q.ask, [585.33, 585.36, 585.40, 585.40, 585.40, 585.40])
    assert np.array_equal(q.bid_size, [18, 18, 18, 50, 300, 100]) and q.ask_size[1] == 100
    assert np.allclose(q.seconds, 34_200 + np.array(after_open) / 1e9, rtol=0, atol=1e-9)
    assert np.allclose(q.mid, (q.bid + q.ask) / 2)
    assert str(q.index.tz) == "America/New_York" and q.index[0].nanosecond == 176
    same = load_lobster(
        MESSAGE, HERE / "DEMO_2012-06-21_34200000_34260000_orderbook_2.csv", ticker="D", date="2012-06-21"
    )
    assert same.ticker == "D" and np.array_equal(same.ns, q.ns)


def test_ns_quote_csv_collapses_instants_and_drops_size_only_rows():
    q = load_quotes(NS_QUOTES)
    assert (q.ticker, q.kind, len(q)) == ("DEMO2", "quotes", 5)
    assert np.array_equal(q.ns - OPEN, [500_000, 150_000_250, 2_000_000_001, 7_500_000_000, 18_000_000_999])
    assert np.array_equal(q.bid, [30.10, 30.11, 30.10, 30.09, 30.12])
    assert np.array_equal(q.ask, [30.12, 30.13, 30.13, 30.12, 30.14])
    assert np.array_equal(q.ask_size, [200, 500, 500, 100, 300])


def _write(path: Path, stamps, q: QuoteEvents) -> Path:
    frame = pd.DataFrame(
        {"timestamp": stamps, "bid": q.bid, "ask": q.ask, "bid_size": q.bid_size, "ask_size": q.ask_size}
    )
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s", "iso", "iso-utc"])
def test_quote_files_round_trip_in_every_time_unit(tmp_path, unit):
    q = load_lobster(MESSAGE)
    if unit in ("ns", "us", "ms", "s"):
        step = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}[unit]
        stamps, expected = q.ns // step, (q.ns // step) * step
    else:
        idx = q.index if unit == "iso" else q.index.tz_convert("UTC")
        stamps = [t.isoformat() if unit == "iso-utc" else t.tz_localize(None).isoformat() for t in idx]
        expected = q.ns
    again = load_quotes(_write(tmp_path / "DEMO_quotes.csv", stamps, q))
    keep = np.append(True, np.diff(expected) > 0)  # seconds merge two quotes of one second into the last
    last = np.append(np.diff(expected) > 0, True)
    assert np.array_equal(again.ns, expected[last])
    assert np.array_equal(again.bid, q.bid[last]) and np.array_equal(again.ask, q.ask[last])
    assert keep.sum() == last.sum()
    if unit != "s":  # explicit units read the same as the magnitude rule
        assert np.array_equal(
            load_quotes(tmp_path / "DEMO_quotes.csv", unit=None if "iso" in unit else unit).ns, again.ns
        )


def test_quote_market_samples_the_quote_in_force_on_the_cadence():
    a, b = load_lobster(MESSAGE), load_quotes(NS_QUOTES)
    md = quote_market([a, b], 0.5)
    # instants: every 0.5 s after midnight from the first with both quoted (09:30:00.5) to both's last quotes
    assert md.index[0] == pd.Timestamp("2012-06-21 09:30:00.5", tz="America/New_York")
    assert md.index[-1] == pd.Timestamp("2012-06-21 09:30:18", tz="America/New_York")
    at = md.prices.loc[pd.Timestamp("2012-06-21 09:30:02", tz="America/New_York")]
    assert at["DEMO"] == pytest.approx((585.31 + 585.36) / 2)  # 09:30:02.0000001 is not yet in force at 02.0
    assert at["DEMO2"] == pytest.approx((30.11 + 30.13) / 2)  # nor is 09:30:02.000000001
    at = md.prices.loc[pd.Timestamp("2012-06-21 09:30:02.5", tz="America/New_York")]
    assert at["DEMO"] == pytest.approx((585.31 + 585.40) / 2) and at["DEMO2"] == pytest.approx((30.10 + 30.13) / 2)
    assert md.spread.loc[md.index[0], "DEMO"] == pytest.approx(0.05)  # 585.31 / 585.36
    assert md.periods_per_year == pytest.approx(252 * 6.5 * 3600 / 0.5)
    assert md.meta["cadence_s"] == 0.5 and md.meta["quotes"] == {"DEMO": 6, "DEMO2": 5}
    fine = quote_market([a, b], 1e-4)  # from 09:30:00.0043 (DEMO's first, rounded up) to 18.0000 (DEMO2's last)
    assert len(fine) == 180_000 - 43 + 1
    rows = np.searchsorted(fine.index.asi8, a.ns[1:], side="left")  # the first instant at or after each change
    assert np.allclose(
        fine.prices["DEMO"].to_numpy()[rows[a.ns[1:] < fine.index.asi8[-1]]], a.mid[1:][a.ns[1:] < fine.index.asi8[-1]]
    )
    assert fine.meta["quote_age_s"]["DEMO"] > 0


@pytest.mark.filterwarnings("ignore::qcoord.data.errors.DataWarning")  # load_csv's own alignment note
def test_minute_quote_files_run_through_the_same_path_at_their_clock():
    bac = load_quotes(shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"))
    spy = load_quotes(shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"))
    assert bac.kind == "quote bars" and bac.ticker == "BAC"
    md = quote_market([bac, spy], 60.0, session="regular")
    assert len(md) == 6 * 391 and md.periods_per_year == pytest.approx(252 * 390)
    assert md.index[0] == pd.Timestamp("2013-10-04 09:30", tz="America/New_York")
    # a bar stamped at its start closes a minute later: the value at t is the close of the bar stamped t - 1 min
    bars = data.load_csv(
        [
            shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"),
            shared_file("SPY_minute_quotes_2013-10-04_2013-10-11.csv"),
        ]
    )
    shifted = bars.prices.copy()
    shifted.index = shifted.index + pd.Timedelta(minutes=1)
    common = md.index.intersection(shifted.index)
    assert len(common) > 0.95 * len(md)
    assert np.allclose(md.prices.loc[common].to_numpy(), shifted.loc[common].to_numpy())
    coarse = quote_market([bac, spy], 300.0, session="regular")  # the same path, a coarser clock
    assert len(coarse) == 6 * 79
    assert np.array_equal(coarse.prices.to_numpy(), md.prices.loc[coarse.index].to_numpy())


def test_a_real_minute_file_round_trips_as_nanosecond_quotes(tmp_path):
    bac = load_quotes(shared_file("BAC_minute_quotes_2013-10-04_2013-10-11.csv"))
    again = load_quotes(_write(tmp_path / "BAC_ns.csv", bac.ns, bac))
    assert np.array_equal(again.ns, bac.ns) and np.array_equal(again.mid, bac.mid)


BAD_LOBSTER = [
    (0, "34200.1.5,1,1,100,5853300,1", "line 1, column 'Time'.*'34200.1.5'"),
    (0, "34200.1,9,1,100,5853300,1", "line 1, column 'Type'.*'9'"),
    (1, "5853300,1x0,5853100,18", "line 1, column 'Ask Size 1'.*'1x0'"),
    (1, "5853300,100,5853500,18", "line 1: crossed quote"),
    (1, "-5853300,100,5853100,18", "line 1, column 'ask'.*not positive"),
]


@pytest.mark.parametrize("which, line, message", BAD_LOBSTER)
def test_bad_lobster_lines_are_named(tmp_path, which, line, message):
    msg, book = (tmp_path / "BAD_2012-06-21_0_1_message_1.csv", tmp_path / "BAD_2012-06-21_0_1_orderbook_1.csv")
    rows = [["34200.1,1,1,100,5853300,1", "34200.2,1,2,100,5853400,-1"], ["5853300,100,5853100,18"] * 2]
    rows[which][0] = line
    msg.write_text("\n".join(rows[0]) + "\n")
    book.write_text("\n".join(rows[1]) + "\n")
    with pytest.raises(DataError, match=message) as err:
        load_lobster(msg)
    assert "BAD_2012-06-21_0_1_" in str(err.value)


def test_bad_lobster_files_are_named(tmp_path):
    msg = tmp_path / "X_2012-06-21_0_1_message_1.csv"
    msg.write_text("34200.1,1,1,100,5853300,1\n34200.0,1,2,100,5853300,1\n")
    book = tmp_path / "X_2012-06-21_0_1_orderbook_1.csv"
    book.write_text("5853300,100,5853100,18\n")
    with pytest.raises(DataError, match="2 messages but .* has 1 book rows"):
        load_lobster(msg)
    book.write_text("5853300,100,5853100,18\n5853300,100,5853100,18\n")
    with pytest.raises(DataError, match="line 2: time goes back"):
        load_lobster(msg)
    book.write_text("5853300,100,5853100\n5853300,100,5853100\n")
    with pytest.raises(DataError, match="4 columns a level"):
        load_lobster(msg)
    with pytest.raises(DataError, match="order-book file not found"):
        load_lobster(msg, tmp_path / "none.csv")
    other = tmp_path / "messages.csv"
    other.write_text("34200.1,1,1,100,5853300,1\n")
    with pytest.raises(DataError, match="give ticker= and date="):
        load_lobster(other, book)
    msg.write_text("34200.1,1,1,100,5853300\n34200.2,1,2,100,5853300\n")
    with pytest.raises(DataError, match="6 columns"):
        load_lobster(msg)


@pytest.mark.parametrize(
    "text, message",
    [
        ("timestamp,bid,ask\n1340285400000500000,30.1,abc\n", r"line 2, column 'ask': cannot read 'abc'"),
        ("timestamp,bid,ask\n1340285400000500000,30.1,30.2\n1340285400000400000,30.1,30.2\n", "line 3: time goes back"),
        ("timestamp,bid,ask\n2012-06-21 09:30:00,30.1,30.2\n2012-06-21 9h31,30.1,30.2\n", "line 3, column 'timestamp'"),
        ("timestamp,bid,ask\n,30.1,30.2\n", "line 2, column 'timestamp': empty timestamp"),
        ("timestamp,bid,ask\n1340285400000500000,30.3,30.2\n", "line 2: crossed quote"),
        ("timestamp,bid,ask\n1340285400000500000,0,30.2\n", "line 2, column 'bid'.*not positive"),
        ("timestamp,bid,ask\n1340285400000500000,inf,30.2\n", "line 2, column 'bid': cannot read 'inf'"),
        ("time,bid,offer\n1,2,3\n", r"no column\(s\) \['ask'\]"),
        ("price,bid,ask\n1,2,3\n", "no time column"),
        ("timestamp,bid,ask\n", "header only"),
        ("", "empty CSV"),
        ("timestamp,bid,ask\n1340285400000500000,,\n", "no quotes with both a bid and an ask"),
    ],
)
def test_bad_quote_files_are_named(tmp_path, text, message):
    path = tmp_path / "Q_quotes.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        load_quotes(path)
    assert str(path) in str(err.value)


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(DataError, match="quote file not found"):
        load_quotes(tmp_path / "none.csv")
    with pytest.raises(DataError, match="unit must be one of"):
        load_quotes(NS_QUOTES, unit="minutes")
    a, b = load_lobster(MESSAGE), load_quotes(NS_QUOTES)
    with pytest.raises(DataError, match="cadence_s"):
        quote_market([a, b], 0.0)
    with pytest.raises(DataError, match="two or more"):
        quote_market([a], 1.0)
    with pytest.raises(DataError, match="tickers appear twice"):
        quote_market([a, a], 1.0)
    with pytest.raises(DataError, match="session"):
        quote_market([a, b], 1.0, session="night")
    with pytest.raises(DataError, match="common instants"):
        quote_market([a, b], 3600.0)
