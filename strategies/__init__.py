"""Coordination strategies for the hedging game: classical and quantum (Qiskit), the optimum for any
input statistics, and noise. This package imports neither ``data`` nor ``reports`` nor ``backtest``.

Public API: ``Game``, ``independent``, ``empirical_p_xy``, ``check_p_xy``, ``Noise``, ``Strategy``,
``LocalRule``, resources (``NoResource``, ``SharedRandomness``, ``LocalRandomness``, ``EntangledPair``),
classical strategies (``classical_optimum``, ``deterministic``, ``uncoordinated``,
``always_hedge_positive``, ``follow_indicator``), ``quantum_strategy``, ``textbook_angles``, ``solve``
with its ``Solution``, ``play_rounds`` (the one flow every strategy plays through), ``certify`` and
``SignallingError`` (no-signalling and the quantum bound, checked before and while a strategy plays: ``FrozenTable``,
``play_checked``, ``plays_user_code``, ``is_local``; the trust boundary ``is_engine_owned``, ``strategies.trust``), the checks ``tsirelson_value`` and ``tsirelson_sdp``, and ``StrategyError``.
"""

from .classical import (
    always_hedge_positive,
    best_constant,
    classical_optimum,
    deterministic,
    deterministic_value,
    follow_indicator,
    uncoordinated,
)
from .errors import StrategyError
from .game import Game, check_p_xy, empirical_p_xy, independent
from .noise import Noise
from .nosignal import FrozenTable, SignallingError, certify, is_local, play_checked, plays_user_code
from .trust import is_engine_owned
from .quantum import EntangledPair, quantum_strategy, textbook_angles
from .solver import Solution, quantum_lower_bound, solve, tsirelson_sdp, tsirelson_value
from .strategy import LocalRandomness, LocalRule, NoResource, Resource, SharedRandomness, Strategy, play_rounds

__all__ = [
    "EntangledPair",
    "FrozenTable",
    "Game",
    "LocalRandomness",
    "LocalRule",
    "NoResource",
    "Noise",
    "Resource",
    "SignallingError",
    "SharedRandomness",
    "Solution",
    "Strategy",
    "StrategyError",
    "always_hedge_positive",
    "best_constant",
    "certify",
    "check_p_xy",
    "classical_optimum",
    "deterministic",
    "deterministic_value",
    "empirical_p_xy",
    "follow_indicator",
    "independent",
    "is_engine_owned",
    "is_local",
    "play_checked",
    "play_rounds",
    "plays_user_code",
    "quantum_lower_bound",
    "quantum_strategy",
    "solve",
    "textbook_angles",
    "tsirelson_sdp",
    "tsirelson_value",
    "uncoordinated",
]
