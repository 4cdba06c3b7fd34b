"""Distributed load balancing with entangled routers (``qcoord balance``, docs/balance.md): two FCFS servers, paired
arrivals, a preemptible background task; the routers' threshold game (``strategies.balance``) played by classical,
quantum, oracle and talking routers on the same arrivals."""

from ..._lazy import exports

__getattr__, __dir__, __all__ = exports(
    __name__,
    {
        "run": ("run_balance",),
        "outcome": ("BalanceResult",),
        "settings": ("BalanceConfig", "BalanceSettings"),
        "queue": ("Background",),
    },
)
