"""The causality check every user indicator passes: its outputs must not depend on what its server could not
know yet.

``check_causality`` perturbs a view after random cut points spread over its whole length (the future mirrored or
rotated: a rotated future has the true one's statistics, so a checked view looks like a played one) and verifies
that the outputs before each cut do not change. A user's indicator in its own process (``feed.isolated``) is
evaluated on each copy in a fresh worker, so it cannot replay an answer memorised from another view.
"""

from __future__ import annotations

import numpy as np

from .. import streams
from ..errors import BacktestError
from .indicators import Indicator, evaluate, indicator_output
from .views import LocalView

CUTS = 16  # perturbed copies of a whole view (one cut in each sixteenth of its rows)
CHUNK_CUTS = 2  # of each chunk's view on a streamed run (every chunk played is checked)


def _perturbed(view: LocalView, cut: int, rng: np.random.Generator, mirror: bool) -> LocalView:
    """The view if everything the server could not yet know at round ``cut`` were different, and as plausible.

    A view keeps only known rows, lagged (own prices by one bar, the partner's by 1 + latency), so what is unknown
    at round ``cut`` is exactly their rows ``cut + 1`` on; the perturbation changes those raw rows and the view
    recomputes every array from them (so no attribute an indicator could reach keeps the true future). ``mirror``
    reflects log-prices about the last known one (every later return changes sign: catches any sign- or bit-based
    peek for sure) and flips every later signal; otherwise the later rows are *rotated*: every field (returns of
    both stocks, volume, spread, signals) of row ``cut + 1 + i`` becomes that of a far-away later row, jointly, and
    prices are rebuilt from the last known one. A rotated future has the statistics of the true one (the same
    returns, volumes and co-movement), so an indicator cannot tell a checked view from a played one by looking.
    """
    n, k = len(view), cut + 1
    known = view._known
    m = n - k
    shift = int(rng.integers(max(1, m // 4), max(2, 3 * m // 4 + 1))) if m > 1 else 0

    def rotated(a):
        if a is None:
            return None
        b = a.copy()
        if m > 1:
            b[k:] = np.roll(a[k:], shift)
        return b

    def prices(p: np.ndarray) -> np.ndarray:
        q = p.copy()
        if m <= 0 or not np.isfinite(p[k - 1]):
            return q
        if mirror:
            q[k:] = p[k - 1] ** 2 / p[k:]
            return q
        if m > 1:  # the returns of rows k.. rotated by ``shift``, compounded from p[k - 1], in closed form
            base = p[n - shift - 1]
            q[k : k + shift] = p[k - 1] * (p[n - shift :] / base)
            q[k + shift :] = p[n - 1] * (p[k : n - shift] / base)
        return q

    def bits(a):
        if a is None:
            return None
        if not mirror:
            return rotated(a)
        b = a.copy()
        b[k:] = 1 - b[k:]
        return b

    own, other = known["own"], known["other"]
    assert own is not None and other is not None  # a view always holds both price columns
    return view.known(
        own=prices(own),
        other=prices(other),
        volume=known["volume"] if mirror else rotated(known["volume"]),
        spread=known["spread"] if mirror else rotated(known["spread"]),
        signal=bits(view.signal),
        regime=bits(view.regime),
    )


def causal_cuts(n: int, cuts: int, rng: np.random.Generator) -> list[int]:
    """``cuts`` cut rounds spread over the whole of ``n`` rows: one uniform in each of ``cuts`` equal strata."""
    if n < 4:
        return []
    edges = np.linspace(1, n - 1, min(cuts, n - 2) + 1)
    return sorted({int(rng.integers(int(lo), max(int(lo) + 1, int(hi)))) for lo, hi in zip(edges[:-1], edges[1:])})


def perturbed_views(view: LocalView, cuts: int, rng: np.random.Generator) -> list[tuple[int, LocalView]]:
    """(cut, the view with everything after it perturbed) for cuts spread over the view, mirrored and rotated in
    turn."""
    return [
        (cut, _perturbed(view, cut, rng, mirror=i % 2 == 0)) for i, cut in enumerate(causal_cuts(len(view), cuts, rng))
    ]


def check_outputs(name: str, base: np.ndarray, checked: list[tuple[int, np.ndarray]], latency: int) -> None:
    """Raise BacktestError if some output up to its cut changed when only data after the cut changed."""
    for cut, other in checked:
        a, b = base[: cut + 1], other[: cut + 1]
        same = (a == b) | (np.isnan(a.astype(float)) & np.isnan(b.astype(float)))
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            raise BacktestError(
                f"indicator {name} is not causal: its output for round {row} changed when data it could not know "
                f"yet (from round {cut} on, partner latency {latency}) was altered; it peeks ahead"
            )


def check_causality(
    indicator: Indicator, view: LocalView, *, seed: int = 0, cuts: int = CUTS, max_rows: int | None = None
) -> None:
    """Raise BacktestError naming ``indicator`` if its output at some round depends on what the server
    could not know then (later prices, the partner's prices within the latency, later signals).

    Perturbs the view at ``cuts`` cut points spread over its whole length (or its first ``max_rows`` rows),
    mirrored and rotated in turn (``_perturbed``). A user's indicator in its own process (``isolated``) is
    evaluated on each copy in a fresh worker, so it cannot replay an answer it memorised from another one; the
    engine checks every view it plays this way (``isolated.IsolatedIndicator``).
    """
    if max_rows is not None:
        view = view.rows(0, min(len(view), max_rows))
    if len(view) < 4:
        return
    rng = streams.rng(seed, "causality")
    pairs = perturbed_views(view, cuts, rng)
    many = getattr(indicator, "evaluate_views", None)
    if many is not None:
        outs = many([view] + [v for _, v in pairs])
    else:
        outs = [
            indicator_output(evaluate(indicator, v), indicator.name, v, indicator.levels)
            for v in [view] + [v for _, v in pairs]
        ]
    check_outputs(indicator.name, outs[0], [(cut, o) for (cut, _), o in zip(pairs, outs[1:])], view.latency)
