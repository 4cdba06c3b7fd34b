"""A user's indicator in its own process, checked for causality on every view the run plays.

``IsolatedIndicator`` is the engine's proxy for a user indicator (an ``Indicator`` subclass, or a function in a
``FunctionIndicator``). The user object is pickled once, when the run starts; from then on the engine holds its
bytes and plain facts its worker reported (name, lookback, levels, what ``describe`` says), never the object.

**Every evaluation runs in a fresh worker** (``strategies.sandbox``) given the indicator's state as fitted and one
server's view: ``fit`` returns the new state (bytes the engine forwards, never unpickles), ``__call__`` the outputs.
A fresh process per evaluation means nothing the indicator computed on one view (a memoised answer, a call count)
survives into another.

**The played view is checked** where it is played: together with it, ``CUTS`` perturbed copies (``CHUNK_CUTS``
for each chunk of a streamed run), their cuts spread over the whole view, are evaluated in a secret order, each in
its own worker (``feed.causality.perturbed_views``: the future after a cut mirrored or rotated). The copies have
the played view's length, first row, clock and seed, and a perturbed future as plausible as the true one, so the
indicator cannot tell the played view from a checked one; an output that moves before its cut is look-ahead, and
the run stops with one line naming the indicator. A view sent to a worker carries the timestamps of its own rows
only (``views.Stamps``), not the feed's clock (a synthetic clock would carry the generator and its seed).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ...strategies import sandbox
from ...strategies.sandbox import UserCodeError

from .. import streams
from ..errors import BacktestError
from .causality import CHUNK_CUTS, CUTS, check_outputs, perturbed_views
from .indicators import Indicator, QuantileBins, ThresholdIndicator, indicator_output
from .views import LocalView, Stamps

BATCH = 4  # fresh workers evaluating at once
sandbox.preload(__name__)  # every worker of an indicator runs this module's functions on views


# -- in the worker ----------------------------------------------------------------------------------------------------
def _load(held: dict, payload: bytes):
    import cloudpickle

    return sandbox.user_call(held, "unpickling", cloudpickle.loads, payload)


def _plain(value):
    """``value`` as JSON can carry it (numbers, strings, lists, dicts), or its text."""
    import json

    try:
        return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    except (TypeError, ValueError):
        return str(value)


def _profile(held: dict, ind) -> dict:
    get = lambda attr, default=None: sandbox.user_call(held, attr, lambda: getattr(ind, attr, default))  # noqa: E731
    lookback = get("lookback")
    levels = get("levels", 2)
    note = get("note")
    return {
        "name": str(get("name", type(ind).__name__)),
        "lookback": int(lookback) if isinstance(lookback, (int, np.integer)) else None,
        "levels": int(levels) if isinstance(levels, (int, np.integer)) else levels,
        "needs_fit": bool(get("needs_fit", False)),
        "note": note if isinstance(note, str) else None,
        "describe": _plain(sandbox.user_call(held, "describe", ind.describe)),
    }


def _w_profile(held: dict, payload: bytes):
    return _profile(held, _load(held, payload)), []


def _w_fit(held: dict, payload: bytes, view: LocalView, start: int):
    import cloudpickle

    ind = _load(held, payload)
    sandbox.user_call(held, "fit", lambda: ind.fit(view, start=start))
    return _profile(held, ind), [sandbox.user_call(held, "pickling", cloudpickle.dumps, ind)]


def _numeric(values, n: int) -> np.ndarray:
    out = np.asarray(values)
    if out.dtype == bool:
        return out.astype(np.uint8)
    if out.dtype.kind not in "biuf":
        raise TypeError(
            f"returned values of dtype {out.dtype}; outputs must be numbers (0, 1, or NaN while warming up)"
        )
    if out.dtype.kind in "iu" and out.size and out.min() >= 0 and out.max() <= 255:
        return out.astype(np.uint8)
    return out.astype(np.float64)


def _w_call(held: dict, payload: bytes, view: LocalView):
    ind = _load(held, payload)
    return None, [_numeric(sandbox.user_call(held, "__call__", ind, view), len(view))]


def _w_first_defined(held: dict, payload: bytes, view: LocalView):
    """The first row at which the indicator is defined (``feeds.warmup``), in the worker."""
    ind = _load(held, payload)
    if isinstance(ind, ThresholdIndicator):
        values = sandbox.user_call(held, "score", ind.score, view)
    elif isinstance(ind, QuantileBins):
        values = sandbox.user_call(held, "score", ind.base.score, view)
    else:
        values = sandbox.user_call(held, "__call__", ind, view)
    ok = np.flatnonzero(~np.isnan(np.asarray(values, dtype=float)))
    return (int(ok[0]) if ok.size else None), []


# -- in the engine ----------------------------------------------------------------------------------------------------
def stamps_of(view: LocalView) -> Stamps | None:
    """The timestamps of the view's own rows (``views.Stamps``), or None without a clock."""
    return None if view.clock is None else Stamps(view.first_row, view.clock(view.first_row, len(view)))


def for_worker(view: LocalView, stamps: Stamps | None = None) -> LocalView:
    """The view as a worker gets it: its known rows, nothing cached, and the timestamps of its own rows only
    (``stamps``, when the caller has them already: a view's perturbed copies share its clock)."""
    stamps = stamps if stamps is not None else stamps_of(view)
    k = view._known
    own, other = k["own"], k["other"]
    assert own is not None and other is not None  # a view always holds both price columns
    return LocalView(
        view.side,
        view.ticker,
        view.partner,
        view.latency,
        own,
        other,
        volume=k["volume"],
        spread=k["spread"],
        signal=view.signal,
        regime=view.regime,
        seed=view.seed,
        first_row=view.first_row,
        clock=stamps,
        lagged=True,
    )


class IsolatedIndicator(Indicator):
    """A user indicator evaluated in fresh workers, its played views checked for causality (module docstring).

    ``check``: check the played views (``--no-indicator-check`` turns it off); ``seed``: the run's, for the cuts;
    ``cuts``: perturbed copies of a whole view (``CHUNK_CUTS`` for a view shorter than ``chunk_rows``, a streamed
    chunk); ``timeout``: seconds one evaluation may take."""

    builtin = False
    levels: Any  # as the user's indicator reports it (checked when built)

    def __init__(
        self, indicator: Indicator, *, check: bool = True, seed: int = 0, timeout: float | None = None, cuts: int = CUTS
    ):
        own = vars(indicator).get("name") if isinstance(vars(indicator).get("name"), str) else None
        self.name = own or type(indicator).__name__
        self.check, self.seed, self.timeout, self.cuts = bool(check), int(seed), timeout, int(cuts)
        self.calls = 0  # evaluations so far: each draws its own cuts
        try:
            self.state = sandbox.dumps(indicator)
        except Exception as exc:  # noqa: BLE001 - an object that cannot be sent cannot be run apart
            raise BacktestError(
                f"indicator {self.name} cannot be sent to its own process: {type(exc).__name__}: {exc}"
            ) from None
        self._apply(self._one(_w_profile, None, "profile")[0])
        if not isinstance(self.levels, int) or not 2 <= self.levels <= 8:
            raise BacktestError(
                f"indicator {self.name}: levels must be a whole number from 2 to 8, got {self.levels!r}"
            )

    def _apply(self, prof: dict) -> None:
        self.name = prof.get("name") or self.name
        self.lookback, self.levels = prof.get("lookback"), prof.get("levels")
        self._needs_fit, self.note, self._describe = bool(prof.get("needs_fit")), prof.get("note"), prof.get("describe")

    @property
    def needs_fit(self) -> bool:
        return self._needs_fit

    def describe(self) -> dict:
        d = self._describe
        return dict(d) if isinstance(d, dict) else {"name": self.name}

    def params(self) -> dict:
        return {k: v for k, v in self.describe().items() if k != "name"}

    def __deepcopy__(self, memo):  # A's and B's copies: the same bytes, no worker to share
        out = copy.copy(self)
        out._describe = copy.deepcopy(self._describe)
        return out

    # -- evaluations, each in a fresh worker --------------------------------------------------------------------------
    def _label(self, view: LocalView | None) -> str:
        return f"indicator {self.name}" + (f" (server {view.side}, {view.ticker})" if view is not None else "")

    def _many(self, fn, views: list, what: str, extra=(), stamps: Stamps | None = None) -> list:
        """``fn(held, state, view, *extra)`` for each view, in fresh workers, ``BATCH`` at a time (``stamps``: the
        views' shared clock)."""
        out = []
        for lo in range(0, len(views), BATCH):
            batch = views[lo : lo + BATCH]
            workers = []
            try:
                for v in batch:
                    w = sandbox.Worker(self._label(v), self.timeout)
                    workers.append(w)
                    w.send(fn, self.state, *(() if v is None else (for_worker(v, stamps),)), *extra, what=what)
                for w, v in zip(workers, batch):
                    out.append(w.receive([max(len(v), 1) if v is not None else 1]))
            except UserCodeError as exc:
                raise BacktestError(str(exc)) from None
            finally:
                for w in workers:
                    w.close()
        return out

    def _one(self, fn, view, what: str, extra=()):
        return self._many(fn, [view], what, extra)[0]

    def fit(self, view: LocalView, start: int = 0) -> None:
        prof, (state,) = self._one(_w_fit, view, "fit", (int(start),))
        self.state = state
        self._apply(prof)

    def first_defined(self, view: LocalView) -> int | None:
        """The first row at which the indicator's output (or a threshold indicator's score) is defined."""
        return self._one(_w_first_defined, view, "__call__")[0]

    def evaluate_views(self, views: list[LocalView], stamps: Stamps | None = None) -> list[np.ndarray]:
        """Outputs on each view, each in a fresh worker, checked as outputs (``indicator_output``); ``stamps``: the
        views' shared clock (perturbed copies of one view)."""
        if (
            stamps is None
            and views
            and all(v.first_row == views[0].first_row and len(v) == len(views[0]) for v in views)
        ):
            stamps = stamps_of(views[0])
        got = self._many(_w_call, views, "__call__", stamps=stamps)
        return [indicator_output(arrays[0], self.name, v, self.levels) for (_, arrays), v in zip(got, views)]

    def __call__(self, view: LocalView) -> np.ndarray:
        """The outputs on the played view; with ``check``, evaluated beside perturbed copies in a secret order and
        refused if any output moves before its cut."""
        self.calls += 1
        if not self.check or len(view) < 4:
            return self.evaluate_views([view])[0]
        rng = streams.rng(self.seed, "causality", 0 if view.side == "A" else 1, self.calls)
        cuts = self.cuts if view.first_row == 0 else min(self.cuts, CHUNK_CUTS)
        pairs = perturbed_views(view, cuts, rng)
        views = [view] + [v for _, v in pairs]
        order = rng.permutation(len(views))
        outs: list = [None] * len(views)
        for i, o in zip(order, self.evaluate_views([views[i] for i in order])):
            outs[i] = o
        check_outputs(self.name, outs[0], [(cut, o) for (cut, _), o in zip(pairs, outs[1:])], view.latency)
        return outs[0]


def is_builtin(indicator) -> bool:
    """Whether ``indicator`` is exactly one of this package's indicator classes (identity, as for strategies: a user
    subclass that sets ``builtin = True`` is still user code)."""
    from .indicators import BUILTINS

    return type(indicator) in set(BUILTINS.values()) | {QuantileBins}


def isolate(indicator: Indicator, *, check: bool, seed: int, timeout: float | None = None) -> Indicator:
    """A built-in as it is; anything else as an ``IsolatedIndicator``."""
    if is_builtin(indicator) or isinstance(indicator, IsolatedIndicator):
        return indicator
    return IsolatedIndicator(indicator, check=check, seed=seed, timeout=timeout)
