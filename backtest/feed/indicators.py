"""Indicators: each server's local bit "I see signs of negative correlation", one per round.

An indicator is called with one server's ``LocalView`` and returns one value per row: 1, 0, or NaN
while it is still warming up. It may be fitted on the training window first (``fit``). Write your own as
a plain function ``f(view) -> array`` or as a subclass of ``Indicator``; declare ``lookback`` (rows of
history it needs) to run it on streamed synthetic data. Built-ins:

- ``NoisySignal(flip)``: the exchange's own synthetic signal, misread with probability ``flip``;
- ``NoisyRegime(flip)``: detection of the hidden synthetic regime, wrong with probability ``flip``;
- ``RollingCorrelation(window, target)``: correlation of own and partner returns of the same bars (the
  partner's as late as the latency allows, own returns of those same bars) over ``window`` bars, below a
  threshold;
- ``Divergence(window, target)``: |z-score| of own minus partner return of the same bars, above a threshold;

purely local ones, which differ between the two exchanges (r = own simple return of the last bar):

- ``VolatilityBurst(window, target, short=5)``: sqrt(mean r^2 over the last ``short`` bars) / sqrt(mean r^2
  over the last ``window`` bars), above a threshold;
- ``ReturnShock(window, target)``: |r| / (std of r over the ``window`` bars before it), above a threshold;
- ``Momentum(window, target)``: sum of the last ``window`` returns / (std of r over them x sqrt(window)),
  *below* a threshold (a local sell-off);
- ``VolumeSpike(window, target)``: z-score of own log(1 + volume) against the ``window`` bars before it,
  above a threshold (zero-volume bars are fine; missing volume is an error naming the ticker);
- ``SpreadWidening(window, target)``: z-score of own quoted spread against the ``window`` bars before it,
  above a threshold (quote data).

Threshold indicators take ``threshold`` or, by default, set it on the training window so that
P(x = 1) = ``target`` there.

``check_causality`` perturbs the data after a random cut and verifies that earlier outputs do not
change; the engine runs it on every user-supplied indicator.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import BacktestError
from ..options import option
from .views import LocalView, lag


@dataclass(frozen=True)
class NoParams:
    """The parameters of an indicator that takes none."""


def params_with_defaults(cls: type, **defaults) -> type:
    """A copy of a parameters dataclass ``cls`` with other defaults (the same options, declared once)."""
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    return dataclasses.make_dataclass(
        cls.__name__,
        [
            (f.name, hints[f.name], dataclasses.field(default=defaults.get(f.name, f.default), metadata=f.metadata))
            for f in dataclasses.fields(cls)
        ],
        frozen=True,
    )


class Indicator:
    """Base class: override ``__call__`` (and ``fit`` if it learns from the training window)."""

    name = "indicator"
    lookback: int | None = None  # rows of history needed before a row's output is defined
    builtin = False
    # the parameters a built-in takes, declared once as options (``backtest.options``): a frozen dataclass whose
    # fields are the keyword arguments of ``__init__``; the command line's indicator options are generated from them
    Params: ClassVar[type] = NoParams
    levels = 2  # outputs 0..levels-1 (2: a bit); an indicator with more levels feeds classical_/quantum_levels

    def fit(self, view: LocalView, start: int = 0) -> None:
        """Learn from rows ``start:`` of ``view`` (the training window). Default: nothing to learn."""

    @property
    def needs_fit(self) -> bool:
        """Whether ``fit`` learns anything (a subclass that overrides it is assumed to)."""
        return type(self).fit is not Indicator.fit

    def __call__(self, view: LocalView) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def describe(self) -> dict:
        return {"name": self.name, **self.params()}


class FunctionIndicator(Indicator):
    """A plain function ``f(view) -> array of 0/1 (NaN while warming up)`` as an indicator."""

    def __init__(self, func: Callable[[LocalView], np.ndarray], name: str | None = None, lookback: int | None = None):
        self.func = func
        self.name = name or str(getattr(func, "__name__", "custom"))
        self.lookback = getattr(func, "lookback", lookback)
        self.levels = getattr(func, "levels", 2)

    def __call__(self, view: LocalView) -> np.ndarray:
        return self.func(view)

    def describe(self) -> dict:
        return {"name": self.name, "function": f"{self.func.__module__}:{getattr(self.func, '__qualname__', '?')}"}


def _flip_check(flip: float) -> float:
    if not (np.isfinite(flip) and 0.0 <= flip <= 1.0):
        raise BacktestError(f"indicator flip probability must be in [0, 1], got {flip!r}")
    return float(flip)


@dataclass(frozen=True)
class ReadingParams:
    flip: float = option(0.0, help="noisy_signal/noisy_regime: probability a reading is wrong", lo=0, hi=1)


class _NoisyReading(Indicator):
    """A local reading of something the synthetic feed knows (``field`` of the view), wrong with probability
    ``flip``, independently per server and round."""

    field = ""
    needs = ""
    stream = 0
    lookback = 0
    builtin = True
    Params: ClassVar[type] = ReadingParams  # a subclass may declare other defaults (params_with_defaults)

    def __init__(self, flip: float | None = None):
        self.flip = _flip_check(self.Params().flip if flip is None else flip)

    def __call__(self, view: LocalView) -> np.ndarray:
        truth = getattr(view, self.field)
        if truth is None:
            raise BacktestError(f"indicator {self.name} needs a synthetic {self.needs} source (no {self.field} here)")
        if self.flip == 0.0:  # an exact reading: no draws needed
            return truth.astype(bool, copy=False)
        flips = view.uniforms(stream=self.stream) < self.flip
        return np.not_equal(truth, flips)  # bool: no warm-up, never NaN

    def params(self) -> dict:
        return {"flip": self.flip}


class NoisySignal(_NoisyReading):
    """The server's own synthetic signal, each reading flipped with probability ``flip``."""

    name, field, needs, stream = "noisy_signal", "signal", "'signals'", 1


class NoisyRegime(_NoisyReading):
    """Detection of the hidden synthetic regime (1 = breakdown), wrong with probability ``flip``."""

    name, field, needs, stream = "noisy_regime", "regime", "'regime'", 2
    Params = params_with_defaults(ReadingParams, flip=0.1)


@dataclass(frozen=True)
class ThresholdParams:
    window: int = option(60, help="threshold indicators: rolling window", unit="bars", lo=2)
    target: float = option(0.5, help="threshold indicators: P(x=1) on the training window", lo=0, hi=1, open_lo=True)
    threshold: float | None = option(
        help="threshold indicators: a fixed threshold instead of fitting one", hi=math.inf, lo=-math.inf
    )


class ThresholdIndicator(Indicator):
    """x = 1 where a causal score is below (``below=True``) or above a threshold.

    ``threshold=None`` fits it on the training window so that P(x = 1) = ``target`` there.
    """

    below = True
    builtin = True
    Params = ThresholdParams

    def __init__(
        self,
        window: int = ThresholdParams.window,
        target: float = ThresholdParams.target,
        threshold: float | None = None,
    ):
        if not isinstance(window, (int, np.integer)) or window < 2:
            raise BacktestError(f"{self.name}: window must be an integer of at least 2 bars, got {window!r}")
        if not (0.0 < target < 1.0):
            raise BacktestError(f"{self.name}: target P(x=1) must be in (0, 1), got {target!r}")
        self.window = int(window)
        self.target = float(target)
        self.fixed = threshold is not None
        self.threshold = None if threshold is None else float(threshold)
        self.lookback = self.window + 1

    def score(self, view: LocalView) -> np.ndarray:
        raise NotImplementedError

    @property
    def needs_fit(self) -> bool:
        return not self.fixed

    note: str | None = None  # what the fit found that a user should know (the run's warnings repeat it)

    @property
    def quiet(self) -> float:
        """The score of a window whose statistic is undefined because nothing moved in it (zero variance): the
        indicator's "no signal" reading, x = 0, rather than an error."""
        return math.inf if self.below else -math.inf

    def _quieted(self, score: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """``score`` with the rows of a flat window (``flat``: zero variance after the warm-up) set to ``quiet``."""
        return np.where(flat, self.quiet, score)

    def fit(self, view: LocalView, start: int = 0) -> None:
        if self.fixed:
            return
        s = self.score(view)[start:]
        defined = s[~np.isnan(s)]
        s = defined[np.isfinite(defined)]
        if s.size < 10 and defined.size >= 10 and np.all(defined == self.quiet):
            # every training window was flat (a one-tick spread that never widens, a price that never moved): the
            # indicator can never fire on what the data shows, and the run says so instead of failing
            self.threshold = -self.quiet
            self.note = (
                f"indicator {self.name} ({view.ticker}): its statistic never moved over the training window "
                f"(zero variance in every window), so it reads 'no signal' (x = 0) throughout"
            )
            return
        if s.size < 10:
            raise BacktestError(
                f"indicator {self.name} ({view.ticker}): only {s.size} finite scores in the training window to fit on"
            )
        self.threshold = float(np.quantile(s, self.target if self.below else 1.0 - self.target))

    def __call__(self, view: LocalView) -> np.ndarray:
        if self.threshold is None:
            raise BacktestError(f"indicator {self.name} has no threshold: fit it on a training window first")
        s = self.score(view)
        out = (s < self.threshold) if self.below else (s > self.threshold)
        return np.where(np.isnan(s), np.nan, out.astype(float))

    def params(self) -> dict:
        return {"window": self.window, "target": self.target, "threshold": self.threshold}


def _rolling(values: np.ndarray, window: int):
    import pandas as pd  # here, not at the top: the option tree (and so --help) reads this module

    return pd.Series(values).rolling(window, min_periods=window)


def _zscore(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """z of each row against the mean and std of the ``window`` rows before it (NaN while warming up), and where
    that window was flat (zero std). After a flat window z is +-inf for a row that moved (a spike by any measure)
    and undefined (flat: True) for a row that did not."""
    roll = _rolling(values, window)
    mean, std = lag(roll.mean().to_numpy(), 1), lag(roll.std().to_numpy(), 1)  # stats of earlier rows only
    dev = values - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, dev / np.where(std > 0, std, 1.0), np.sign(dev) * np.inf)
    # a deviation of rounding size after a flat window is no move (rolling means carry rounding)
    still = (std == 0) & (np.abs(dev) <= 1e-12 * np.maximum(np.abs(values), 1e-300))
    z = np.where(np.isnan(std) | np.isnan(values), np.nan, z)
    return z, still


class RollingCorrelation(ThresholdIndicator):
    """Rolling correlation of own and partner returns of the same bars (``aligned_returns`` with
    ``partner_returns``); 1 when it is low."""

    name = "rolling_correlation"
    below = True

    def score(self, view: LocalView) -> np.ndarray:
        import pandas as pd

        own, other = pd.Series(view.aligned_returns), pd.Series(view.partner_returns)
        corr = own.rolling(self.window, min_periods=self.window).corr(other).to_numpy()
        flat = (_rolling(own.to_numpy(), self.window).std().to_numpy() == 0) | (
            _rolling(other.to_numpy(), self.window).std().to_numpy() == 0
        )
        return self._quieted(corr, flat)  # a stock that did not move has no correlation to read


class Divergence(ThresholdIndicator):
    """|z-score| of (own - partner return of the same bar) against the ``window`` bars before; 1 when large."""

    name = "divergence"
    below = False

    def score(self, view: LocalView) -> np.ndarray:
        z, flat = _zscore(view.aligned_returns - view.partner_returns, self.window)
        return self._quieted(np.abs(z), flat)


@dataclass(frozen=True)
class BurstParams(ThresholdParams):
    short: int = option(5, help="volatility_burst: the short window, below the rolling window", unit="bars", lo=1)


class VolatilityBurst(ThresholdIndicator):
    """Own short-window realised volatility over own long-window realised volatility; 1 when it bursts."""

    name = "volatility_burst"
    below = False
    Params = BurstParams

    def __init__(
        self,
        window: int = ThresholdParams.window,
        target: float = ThresholdParams.target,
        threshold: float | None = None,
        short: int = BurstParams.short,
    ):
        super().__init__(window, target, threshold)
        if not isinstance(short, (int, np.integer)) or not 1 <= short < self.window:
            raise BacktestError(f"{self.name}: short must be a whole number of bars in [1, window), got {short!r}")
        self.short = int(short)

    def score(self, view: LocalView) -> np.ndarray:
        r2 = view.returns**2
        fast = _rolling(r2, self.short).mean().to_numpy()
        slow = _rolling(r2, self.window).mean().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.sqrt(fast / np.where(slow > 0, slow, 1.0))
        return self._quieted(np.where(np.isnan(slow), np.nan, ratio), slow == 0)  # no move in the window: no burst

    def params(self) -> dict:
        return {**super().params(), "short": self.short}


class ReturnShock(ThresholdIndicator):
    """|own last return| in units of its std over the ``window`` bars before it; 1 on a shock."""

    name = "return_shock"
    below = False

    def score(self, view: LocalView) -> np.ndarray:
        r = view.returns
        std = lag(_rolling(r, self.window).std().to_numpy(), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # after a flat window a move of any size is a shock (inf); no move is no signal
            shock = np.where(std > 0, np.abs(r) / np.where(std > 0, std, 1.0), np.where(r != 0, np.inf, 0.0))
        return self._quieted(np.where(np.isnan(std) | np.isnan(r), np.nan, shock), (std == 0) & (r == 0))


class RecentMove(ThresholdIndicator):
    """How many of the last ``window`` bars moved own price (an event-time reading: on a microsecond clock most bars
    are flat, and a move of one's own venue is the local news the other venue cannot have yet); 1 when it is high.
    With moves rarer than the target, the fitted threshold is 0 and x = 1 when the venue moved at all."""

    name = "recent_move"
    below = False

    def score(self, view: LocalView) -> np.ndarray:
        moved = (view.returns != 0).astype(float)
        return _rolling(np.where(np.isnan(view.returns), np.nan, moved), self.window).sum().to_numpy()


class Momentum(ThresholdIndicator):
    """Own ``window``-bar return sum over its std x sqrt(window) (a t-statistic of the drift); 1 when it is
    low (a local sell-off)."""

    name = "momentum"
    below = True

    def score(self, view: LocalView) -> np.ndarray:
        roll = _rolling(view.returns, self.window)
        total, std = roll.sum().to_numpy(), roll.std().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            t = total / (np.where(std > 0, std, 1.0) * np.sqrt(self.window))
        return self._quieted(np.where(np.isnan(std), np.nan, t), std == 0)  # a window that never moved: no sell-off


class VolumeSpike(ThresholdIndicator):
    """z-score of own log(1 + volume) against the ``window`` bars before it; 1 when volume spikes."""

    name = "volume_spike"
    below = False

    def score(self, view: LocalView) -> np.ndarray:
        if view.volume is None:
            raise BacktestError(f"indicator volume_spike: no volume for {view.ticker} (use OHLCV files or Yahoo)")
        z, flat = _zscore(np.log1p(np.maximum(view.volume, 0.0)), self.window)  # a zero-volume bar is log1p(0) = 0
        return self._quieted(z, flat)


class SpreadWidening(ThresholdIndicator):
    """z-score of own quoted spread against the ``window`` bars before it; 1 when the spread widens."""

    name = "spread_widening"
    below = False

    def score(self, view: LocalView) -> np.ndarray:
        if view.spread is None:
            raise BacktestError(
                f"indicator spread_widening: no quoted spread for {view.ticker} (use quote files "
                "with BidClose/AskClose)"
            )
        z, flat = _zscore(view.spread, self.window)  # a one-tick spread that stays at one tick: no widening
        return self._quieted(z, flat)


class QuantileBins(Indicator):
    """K levels from a threshold indicator's causal score: the bin of the score among the K quantiles of its values
    on the training window (``fit``), 0..K-1, ordered so that the highest level is the base indicator's x = 1 side
    (low scores for ``below`` indicators such as rolling_correlation, high ones otherwise). NaN while warming up."""

    builtin = True

    def __init__(self, base: Indicator, levels: int):
        if not isinstance(base, ThresholdIndicator):
            raise BacktestError(
                f"quantile bins need a threshold indicator's score; {getattr(base, 'name', base)!r} "
                "has none (give a function with a levels attribute instead)"
            )
        if not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 8:
            raise BacktestError(f"levels must be a whole number from 2 to 8, got {levels!r}")
        self.base, self.levels = base, int(levels)
        self.name = f"{base.name}_bins"
        self.lookback = base.lookback
        self.edges: np.ndarray | None = None

    def fit(self, view: LocalView, start: int = 0) -> None:
        s = self.base.score(view)[start:]
        s = s[np.isfinite(s)]
        if s.size < 10 * self.levels:
            raise BacktestError(
                f"indicator {self.name}: only {s.size} finite scores in the training window to set "
                f"{self.levels} quantile bins on"
            )
        self.edges = np.quantile(s, np.arange(1, self.levels) / self.levels)

    def __call__(self, view: LocalView) -> np.ndarray:
        if self.edges is None:
            raise BacktestError(f"indicator {self.name} has no bins: fit it on a training window first")
        s = self.base.score(view)
        level = np.searchsorted(self.edges, s, side="right").astype(float)
        if self.base.below:
            level = self.levels - 1 - level
        return np.where(np.isnan(s), np.nan, level)  # a flat window's quiet score is the no-signal end

    def params(self) -> dict:
        return {
            "base": self.base.name,
            "window": self.base.window,
            "levels": self.levels,
            "edges": None if self.edges is None else self.edges.tolist(),
        }


def make_levels_indicator(spec: str | Indicator | Callable, levels: int, **params) -> Indicator:
    """A K-level indicator: quantile bins of a built-in threshold indicator's score (by name, with its parameters),
    or an indicator/function that declares ``levels`` (its outputs are 0..levels-1) as given."""
    if isinstance(spec, str) and spec in BUILTINS:
        return QuantileBins(make_indicator(spec, **params), levels)
    ind = make_indicator(spec)
    if not isinstance(ind.levels, (int, np.integer)) or not 2 <= ind.levels <= 8:
        raise BacktestError(f"indicator {ind.name}: levels must be a whole number from 2 to 8, got {ind.levels!r}")
    return ind


BUILTINS: dict[str, type[Indicator]] = {
    cls.name: cls
    for cls in (
        NoisySignal,
        NoisyRegime,
        RollingCorrelation,
        Divergence,
        VolatilityBurst,
        ReturnShock,
        RecentMove,
        Momentum,
        VolumeSpike,
        SpreadWidening,
    )
}


def _import_user_module(module: str):
    """Import a user's module as ``python -c`` would: the working directory first. The ``qcoord`` console script
    does not put it on sys.path, so ``--indicator mymodule:f`` failed from the folder holding mymodule.py."""
    import os
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    return importlib.import_module(module)


def make_indicator(spec: str | Indicator | Callable, **params) -> Indicator:
    """An indicator from a built-in name (with parameters), ``module:function``, a function or an Indicator."""
    if isinstance(spec, Indicator):
        return spec
    if callable(spec):
        return FunctionIndicator(spec)
    if not isinstance(spec, str):
        raise BacktestError(f"indicator must be a name, 'module:function', a function or an Indicator, got {spec!r}")
    if spec in BUILTINS:
        takes = [f.name for f in dataclasses.fields(BUILTINS[spec].Params)]
        stray = [k for k in params if k not in takes]
        if stray:
            raise BacktestError(
                f"indicator {spec} takes {', '.join('--' + t for t in takes)}; "
                f"{', '.join('--' + k for k in stray)} do(es) not apply to it"
            )
        return BUILTINS[spec](**params)
    if ":" in spec:
        module, _, attr = spec.partition(":")
        try:
            obj = getattr(_import_user_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise BacktestError(f"indicator {spec!r}: cannot import it ({exc})") from None
        if isinstance(obj, type) and issubclass(obj, Indicator):
            return obj(**params)
        if params:
            raise BacktestError(f"indicator {spec!r}: parameters are only for built-ins or Indicator classes")
        return make_indicator(obj)
    raise BacktestError(f"unknown indicator {spec!r}; built-ins: {', '.join(BUILTINS)}, or module:function")


def copy_indicator(ind: Indicator) -> Indicator:
    """An independent copy (A and B fit their own thresholds)."""
    import copy

    return copy.deepcopy(ind)


def evaluate(indicator: Indicator, view: LocalView, method: str = "__call__", **kwargs):
    """``indicator(view)`` (or another of its methods: ``score``, ``fit``), with any failure of a user's code turned
    into one BacktestError line naming the indicator and its exception."""
    try:
        return getattr(indicator, method)(view, **kwargs)
    except BacktestError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: any exception, reported in one line
        where = "" if method == "__call__" else f".{method}"
        raise BacktestError(
            f"indicator {indicator.name}{where} failed on the {view.side} server's view "
            f"({view.ticker}): {type(exc).__name__}: {exc}"
        ) from None


def indicator_output(values, name: str, view: LocalView, levels: int = 2) -> np.ndarray:
    """Indicator output of the view's length: uint8 0..levels-1 when it cannot be undefined (bool or integer
    output), else float 0..levels-1/NaN; a BacktestError naming the indicator otherwise."""
    out = np.asarray(values).ravel()
    allowed = "0, 1" if levels == 2 else f"whole numbers 0 to {levels - 1}"
    if out.shape[0] != len(view):
        raise BacktestError(f"indicator {name} returned {out.shape[0]} values for {len(view)} rows")
    if out.dtype == bool:
        return out.view(np.uint8)
    if np.issubdtype(out.dtype, np.integer):
        if out.size and (out.min() < 0 or out.max() > levels - 1):
            bad = out[(out < 0) | (out > levels - 1)][0]
            raise BacktestError(
                f"indicator {name} returned {bad.item()!r}; outputs must be {allowed} or NaN (warming up)"
            )
        return out.astype(np.uint8, copy=False)
    out = out.astype(float, copy=False)
    bad = np.isfinite(out) & ((out != np.round(out)) | (out < 0) | (out > levels - 1))
    if bad.any():
        raise BacktestError(
            f"indicator {name} returned {out[bad][0].item()!r}; outputs must be {allowed} or NaN (warming up)"
        )
    return out


# -- causality -------------------------------------------------------------------------------------
def parameter_options() -> dict[str, tuple[type, dataclasses.Field, dict[str, object]]]:
    """Every built-in's parameters as options: name -> (type, the field as first declared, {indicator: its default}).
    The indicator section of the configuration (``config.IndicatorSettings``) is generated from this."""
    import typing

    out: dict[str, tuple[type, dataclasses.Field, dict[str, object]]] = {}
    for name, cls in BUILTINS.items():
        hints = typing.get_type_hints(cls.Params)
        for f in dataclasses.fields(cls.Params):
            if f.name not in out:
                out[f.name] = (hints[f.name], f, {})
            out[f.name][2][name] = f.default
    return out
