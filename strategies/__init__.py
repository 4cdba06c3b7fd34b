"""Coordination strategies for the hedging game: classical and quantum (Qiskit), the optimum for any
input statistics, and noise. This package imports neither ``data`` nor ``reports`` nor ``backtest``.

Public API: ``Game``, ``independent``, ``empirical_p_xy``, ``check_p_xy``, ``Noise``, ``Strategy``,
``LocalRule``, resources (``NoResource``, ``SharedRandomness``, ``LocalRandomness``, ``EntangledPair``),
the physical link ``Link`` (``LINK_PRESETS``, ``rounds_to_detect``, ``rounds_to_certify``; a stored pair's
``useful_lifetime`` and ``value_at_age``; settings re-aimed for the pair's age, ``AgedPlay``; the node's memory bank
``MemoryBank``), classical strategies (``classical_optimum``, ``deterministic``,
``uncoordinated``, ``always_hedge_positive``, ``follow_indicator``), ``quantum_strategy``, ``textbook_angles``,
``solve`` with its ``Solution``, ``play_rounds`` (the one flow every strategy plays through), ``certify`` and
``SignallingError`` (no-signalling and the quantum bound, checked before and while a strategy plays: ``FrozenTable``,
``play_checked``, ``plays_user_code``, ``is_local``; the trust boundary ``is_engine_owned``, ``strategies.trust``;
user code in its own processes, ``strategies.sandbox`` and ``strategies.isolation``; the quantum set,
``strategies.quantum_set``), the checks ``tsirelson_value`` and ``tsirelson_sdp``, and ``StrategyError``.
Also ``tsirelson_weights`` (Tsirelson's SDP on correlator weights of any size) and the load-balancing routers'
threshold game (``strategies.balance``: ``threshold_game``, ``game_values``, ``best_threshold``).
"""

if __name__ != "qcoord.strategies":  # imported by its folder name from a checkout: its relative imports cannot work
    raise ImportError(
        "strategies/ installs as qcoord.strategies: `import qcoord.strategies` (or `import qcoord`) "
        "after `pip install -e .` (README)"
    )

from .._lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "aged": ("AgedPlay",),
        "bank": ("MemoryBank",),
        "balance": ("ThresholdRule", "best_threshold", "game_values", "threshold_game", "threshold_weights"),
        "classical": (
            "always_hedge_positive",
            "best_constant",
            "classical_optimum",
            "deterministic",
            "deterministic_value",
            "follow_indicator",
            "uncoordinated",
        ),
        "errors": ("StrategyError",),
        "game": ("Game", "check_p_xy", "empirical_p_xy", "independent"),
        "lifetime": ("useful_lifetime", "value_at_age"),
        "link": (
            "LINK_PRESETS",
            "Link",
            "fidelity_from_visibility",
            "rounds_to_certify",
            "rounds_to_detect",
            "visibility_from_fidelity",
        ),
        "noise": ("Noise",),
        "nosignal": ("FrozenTable", "SignallingError", "certify", "is_local", "play_checked", "plays_user_code"),
        "trust": ("is_engine_owned",),
        "quantum": ("EntangledPair", "quantum_strategy", "textbook_angles"),
        "solver": ("Solution", "quantum_lower_bound", "solve", "tsirelson_sdp", "tsirelson_value", "tsirelson_weights"),
        "strategy": (
            "LocalRandomness",
            "LocalRule",
            "NoResource",
            "Resource",
            "SharedRandomness",
            "Strategy",
            "play_rounds",
        ),
    },
)
