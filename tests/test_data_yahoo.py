"""The Yahoo loader: served from its cache without the network; an empty yfinance answer is a clear error.

yfinance cannot reach Yahoo from these machines. The tests drive the real loader: the cache test feeds it a
yfinance-shaped frame once, then makes any further download fail; the offline test calls the real
``yfinance.download`` with a session whose proxy refuses every connection, exactly what offline looks like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yfinance

from qcoord import data
from qcoord.data import DataError
from tests.conftest import shared_file


def _yfinance_frame(paths: dict[str, str], start: str, end: str) -> pd.DataFrame:
    """What yf.download(auto_adjust=False) returns: (Price, Ticker) MultiIndex columns, Date index."""
    parts = {}
    for ticker, path in paths.items():
        f = pd.read_csv(path, index_col="Date", parse_dates=True).loc[start:end]
        parts[ticker] = f[["Adj Close", "Close", "High", "Low", "Open", "Volume"]]
    frame = pd.concat(parts, axis=1).swaplevel(0, 1, axis=1).sort_index(axis=1)
    frame.columns.names = ["Price", "Ticker"]
    frame.index.name = "Date"
    return frame


def test_cached_request_is_served_without_network(tmp_path, monkeypatch):
    frame = _yfinance_frame(
        {"BAC": shared_file("BAC_daily.csv"), "AIG": shared_file("AIG_daily.csv")}, "2008-01-01", "2008-12-31"
    )
    calls = []

    def download_once(tickers, **kwargs):
        calls.append(tickers)
        return frame

    monkeypatch.setattr(yfinance, "download", download_once)
    first = data.load_yahoo(["BAC", "AIG"], "2008-01-01", "2009-01-01", cache_dir=tmp_path)
    assert first.meta["served_from"] == "network" and len(calls) == 1
    assert list(tmp_path.glob("*.csv")), "the request was cached"

    def no_network(*args, **kwargs):
        raise AssertionError("the network was used for a cached request")

    monkeypatch.setattr(yfinance, "download", no_network)
    again = data.load_yahoo(["BAC", "AIG"], "2008-01-01", "2009-01-01", cache_dir=tmp_path)
    assert again.meta["served_from"] == "cache"
    assert again.tickers == ["BAC", "AIG"] and again.periods_per_year == 252
    assert np.array_equal(again.prices.to_numpy(), first.prices.to_numpy())
    assert np.allclose(again.prices["BAC"].to_numpy(), frame[("Adj Close", "BAC")].to_numpy())
    # other keys are other requests: a different interval or adjustment is not served from this file
    with pytest.raises(DataError, match="network was used"):
        data.load_yahoo(["BAC", "AIG"], "2008-01-01", "2009-01-01", cache_dir=tmp_path, adjusted=False)


def test_intraday_request_round_trips_through_the_cache(tmp_path, monkeypatch):
    idx = pd.date_range("2024-03-01 09:30", periods=60, freq="1min", tz="America/New_York")
    cols = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["SPY", "QQQ"]], names=["Price", "Ticker"]
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(100 + rng.random((60, 12)), index=idx, columns=cols)
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame)
    md = data.load_yahoo("SPY QQQ", "2024-03-01", "2024-03-02", interval="1m", cache_dir=tmp_path)
    assert str(md.index.tz) == "America/New_York" and md.index.equals(idx)
    assert np.allclose(md.prices["QQQ"].to_numpy(), frame[("Adj Close", "QQQ")].to_numpy())


def test_offline_download_is_a_clear_error_naming_tickers(tmp_path):
    from curl_cffi import requests as curl_requests

    dead = "http://127.0.0.1:9"  # discard port: every connection is refused, like a machine without internet
    session = curl_requests.Session(proxies={"http": dead, "https": dead})
    with pytest.raises(DataError, match=r"no data for JPM, BAC .*cache.*load_csv"):
        data.load_yahoo(["JPM", "BAC"], "2020-01-01", "2020-02-01", cache_dir=tmp_path, session=session)
    assert not list(tmp_path.glob("*.csv")), "a failed download must not be cached"


def test_partial_answer_names_the_missing_ticker(tmp_path, monkeypatch):
    frame = _yfinance_frame(
        {"BAC": shared_file("BAC_daily.csv"), "AIG": shared_file("AIG_daily.csv")}, "2008-01-01", "2008-12-31"
    )
    frame = frame.astype(float)
    frame.loc[:, (slice(None), "AIG")] = np.nan
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame)
    with pytest.raises(DataError, match="no data for AIG"):
        data.load_yahoo(["BAC", "AIG"], "2008-01-01", "2009-01-01", cache_dir=tmp_path)


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"tickers": []}, "tickers"),
        ({"interval": "7m"}, "interval '7m'"),
        ({"start": "2020-02-01", "end": "2020-01-01"}, "must be before end"),
        ({"start": "someday"}, "start"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, culprit):
    args = {"tickers": ["SPY"], "start": "2020-01-01", "end": "2020-02-01", "cache_dir": tmp_path, **kwargs}
    with pytest.raises(DataError, match=culprit):
        data.load_yahoo(**args)
