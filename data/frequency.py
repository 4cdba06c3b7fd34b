"""Infer how many bars make a year from the spacing of a DatetimeIndex.

Conventions (see docs/api.md): equities trade 252 days a year; intraday data has
``bars per session x 252`` periods a year, where bars per session is the median number of bars per
exchange-local calendar date. Weekly and monthly bars give 52 and 12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

TRADING_DAYS = 252


def is_intraday(index: pd.DatetimeIndex) -> bool:
    """True when any timestamp has a time of day other than midnight (bars within a day)."""
    if len(index) == 0:
        return False
    return bool((index != index.normalize()).any())


def infer_periods_per_year(index: pd.DatetimeIndex) -> float:
    """Periods per year implied by the bar spacing of ``index`` (at least two timestamps)."""
    if len(index) < 2:
        raise ValueError("need at least two timestamps to infer the bar spacing")
    if is_intraday(index):
        import pandas as pd

        per_day = pd.Series(1, index=index).groupby(index.date).size()
        return float(np.median(per_day.to_numpy())) * TRADING_DAYS
    # spacing in days from Timedeltas, whatever the index's resolution (pandas 3 reads CSV dates in microseconds)
    days = float(np.median(np.diff(index.as_unit("ns").asi8))) / 86_400e9
    if days <= 4.0:  # business days, with weekends and holidays in between
        return float(TRADING_DAYS)
    if days <= 10.0:
        return 52.0
    if days <= 45.0:
        return 12.0
    return round(365.25 / days, 6)
