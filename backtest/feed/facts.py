"""What a market's own data says about trading it: whether each ticker can be traded as a fill model assumes (an
index, or a series without traded volume, cannot), the traded notional a fill is a share of, and signs that the two
series' clocks are misaligned."""

from __future__ import annotations

import numpy as np

from ...data import MarketData


def ticker_volume(md: MarketData, ticker: str) -> np.ndarray | None:
    """One ticker's traded volume per bar (shares): the data's volume table, else the ticker's own OHLCV file (a
    pair whose other file has none keeps it); None when the data has none for it."""
    if md.volume is not None and ticker in md.volume:
        return md.volume[ticker].to_numpy(dtype=float)
    ohlcv = (md.ohlcv or {}).get(ticker)
    if ohlcv is not None and "Volume" in ohlcv:
        return ohlcv["Volume"].to_numpy(dtype=float)
    return None


NO_VOLUME_SHARE = 0.5  # a series with no traded volume on more than this share of its bars is not a traded book


def untradable(md: MarketData) -> dict:
    """Tickers that cannot be traded as the fill model assumes, with the reason, decided by the data whatever the
    file is called: a series with quotes is a quoted book; one without quotes needs traded volume on most of its bars
    (an index has none: its file, named GSPC or ^GSPC, carries no volume or zeros). Yahoo's '^' prefix marks an
    index as well, even where its file carries an aggregate 'volume' of the index's members."""
    out = {}
    for t in md.tickers:
        vol = ticker_volume(md, t)
        quoted = md.spread is not None and t in md.spread and np.isfinite(md.spread[t].to_numpy(dtype=float)).any()
        if str(t).startswith("^"):
            out[t] = "an index (Yahoo's '^' symbol), which has no order book"
        elif quoted:
            continue  # a quoted book: the quotes are the evidence (quote files carry no volume)
        elif vol is None or not np.isfinite(vol).any():
            out[t] = "no traded volume in the data"
        elif not np.nansum(vol) > 0:
            out[t] = "zero traded volume in the data"
        elif np.mean(~(vol > 0)) > NO_VOLUME_SHARE:
            out[t] = f"no traded volume on {np.mean(~(vol > 0)):.0%} of its bars"
    return out


def clock_offset(md: MarketData) -> dict | None:
    """Signs that the two series' clocks are misaligned: their returns correlate far more one bar apart than on the
    same bar. Returns {"same", "lagged", "lead": ticker whose bar t moves with the other's bar t+1, "n"} when the
    one-bar correlation is over twice the same-bar one in size and more than 5 standard errors (5 / sqrt n) above
    it, else None. Two honest series of one market correlate most on the same bar."""
    r = md.prices.pct_change().iloc[1:].to_numpy(dtype=float)
    ok = np.isfinite(r).all(axis=1)
    r = r[ok]
    n = r.shape[0]
    if n < 30 or len(md.tickers) != 2:
        return None

    def corr(u, v):
        su, sv = u.std(), v.std()
        return float(np.mean((u - u.mean()) * (v - v.mean())) / (su * sv)) if su > 0 and sv > 0 else 0.0

    same = corr(r[:, 0], r[:, 1])
    ahead = corr(r[:-1, 0], r[1:, 1])  # X's bar t with Y's bar t+1
    behind = corr(r[1:, 0], r[:-1, 1])
    lagged, lead = (ahead, md.tickers[0]) if abs(ahead) >= abs(behind) else (behind, md.tickers[1])
    if abs(lagged) > 2 * abs(same) and abs(lagged) - abs(same) > 5 / np.sqrt(n):
        return {"same": same, "lagged": lagged, "lead": lead, "n": n}
    return None


def traded_notional(md: MarketData) -> dict:
    """Median traded notional per bar (volume x the unadjusted close where the data has one; currency) of each ticker
    with traded volume: what the fill model's participation is measured against."""
    out = {}
    for t in md.tickers:
        vol = ticker_volume(md, t)
        if vol is None:
            continue
        ohlcv = md.ohlcv.get(t) if md.ohlcv else None
        price = (ohlcv["Close"] if ohlcv is not None and "Close" in ohlcv else md.prices[t]).to_numpy(dtype=float)
        traded = vol * price
        traded = traded[np.isfinite(traded) & (traded > 0)]
        if traded.size:
            out[t] = float(np.median(traded))
    return out
