"""Does quantum pay after costs? The one definition every command answers with (backtest, sweep, scan, link,
compare): ``decide`` on a result document (metrics.json's sections), ``money`` its test in currency, which is also
the link chain's value stage.

Quantum pays after costs when, on the test window:

1. its fitted strategy uses entanglement (otherwise it plays a classical rule, and nothing it earns is quantum's);
2. its certainty equivalent, CE = mean book P&L - risk_aversion / (2 book) x its variance, currency per round with
   every configured cost in the P&L (the switching costs of the fill model; with a physical link, the link's cost
   per Bell pair played), is above the CE of every local classical benchmark it is compared with: the best local
   classical strategy chosen on the training window and the strongest on the test window (``book.risk.compare``'s
   ``certainty_equivalent_diff``);
3. with a physical link, no stage of the link's feasibility chain fails (the value stage is test 2);
4. the servers cannot talk: on the run's clock (``feed.clock``) a message between the venues arrives after the
   decision. When it arrives before, the strongest opponent with the same information talks, and talking with shared
   randomness reproduces any correlation a Bell pair gives (and the oracle's win on every round), so nothing
   quantum earns there is entanglement's: quantum does not pay, reason ``talk``, whatever its CE against the local
   rules (the CE against the ``talk`` strategy is reported when it ran).

A variance reduction alone is not "pays": quantum's random outputs change the quoting order and the switching costs
they bring can outweigh the variance saved. Figures without costs (the fitted game's values, win and hedged rates)
are before costs and are labelled so wherever they are shown.
"""

from __future__ import annotations

import math
from typing import TypeGuard

OPPONENTS = ("quantum_vs_best_local", "quantum_vs_strongest_local")  # the comparisons quantum must win on CE
REASONS = ("pays", "costs", "classical_rule", "no_pairs", "link", "no_quantum", "no_opponent", "no_market", "talk")


def money(
    uses_entanglement: bool,
    comparison: dict,
    risk_aversion: float,
    pair_cost_per_round: float = 0.0,
    pairs_played: int | None = None,
) -> dict:
    """Test 2 (and 1): whether quantum's certainty equivalent after costs beats every local classical benchmark.

    ``comparison``: metrics.json's ``comparison`` (each ``quantum_vs_*`` entry with ``opponent`` and
    ``certainty_equivalent_diff``, currency per round, switching costs included); ``pair_cost_per_round``: the link's
    cost of the Bell pairs quantum played, per test round; ``pairs_played``: how many it played (None: not counted).
    Returns ``{"pays", "reason", "certainty_equivalent", "opponent", "break_even_cost_scale", "risk_aversion",
    "pair_cost_per_round"}``: ``pays`` None when there is nothing to decide (no comparison ran); ``reason`` one of
    ``REASONS``; ``certainty_equivalent`` quantum's CE minus the opponent's after every cost (the smallest over the
    benchmarks, whose ``opponent`` it names)."""
    out = {
        "pays": None,
        "reason": "no_opponent",
        "certainty_equivalent": None,
        "opponent": None,
        "break_even_cost_scale": None,
        "risk_aversion": risk_aversion,
        "pair_cost_per_round": pair_cost_per_round,
    }
    found = [comparison[k] for k in OPPONENTS if (comparison or {}).get(k)]
    diffs = [
        (c["certainty_equivalent_diff"] - pair_cost_per_round, c)
        for c in found
        if _finite(c.get("certainty_equivalent_diff"))
    ]
    if diffs:
        ce, c = min(diffs, key=lambda d: d[0])
        out |= {
            "certainty_equivalent": ce,
            "opponent": c["opponent"],
            "break_even_cost_scale": c.get("break_even_cost_scale") if not pair_cost_per_round else None,
        }
    if not uses_entanglement:
        return out | {"pays": False, "reason": "classical_rule"}
    if pairs_played == 0:
        return out | {"pays": False, "reason": "no_pairs"}
    if not diffs:
        return out
    return out | {"pays": bool(ce > 0), "reason": "pays" if ce > 0 else "costs"}


def decide(
    game: dict,
    comparison: dict,
    strategies: dict,
    risk_aversion: float,
    link: dict | None = None,
    degenerate: bool = False,
    clock: dict | None = None,
) -> dict:
    """Whether quantum pays after costs (module docstring), from a result document's sections: ``game``
    (``uses_entanglement``), ``comparison``, ``strategies`` (per-strategy metrics: quantum's ``bell_pairs`` and
    ``n_rounds``), the run's ``risk_aversion``, and ``link`` (the feasibility chain, or None). ``degenerate``: the
    prices did not move, so there is nothing to hedge and nothing to decide. ``clock``: metrics.json's ``clock``
    (``feed.clock.Clock.describe``; None for a run without one). Returns ``money``'s document, with ``link_stage``
    (the chain's first failing stage, None without a link or when every stage passes) and, when the servers can
    talk, ``talk_certainty_equivalent`` (quantum's CE minus the talk strategy's, None when talk did not run) and
    ``without_talk`` (``pays`` and ``reason`` against the strategies that do not communicate)."""
    q = (strategies or {}).get("quantum")
    if q is None:
        return {**money(False, {}, risk_aversion), "pays": None, "reason": "no_quantum"}
    if degenerate:
        return {**money(False, {}, risk_aversion), "pays": None, "reason": "no_market"}
    cost = pair_cost(link["link"].get("cost_per_pair", 0.0), q) if link else 0.0
    out = money(
        bool(game.get("uses_entanglement")), comparison, risk_aversion, cost, q.get("bell_pairs") if link else None
    )
    stage = (link or {}).get("first_failing")
    if stage and stage != "value":
        out |= {"pays": False, "reason": "link"}
    out["link_stage"] = stage
    # test 4, first in the answer: talking beats any no-communication strategy
    if clock is not None and clock.get("can_talk"):
        talk = (comparison or {}).get("quantum_vs_talk") or {}
        ce = talk.get("certainty_equivalent_diff")
        out |= {
            "without_talk": {"pays": out["pays"], "reason": out["reason"]},  # the answer were they unable to
            "pays": False,
            "reason": "talk",
            "talk_certainty_equivalent": ce - cost if _finite(ce) else None,
            "message_delay_s": clock.get("message_delay_s"),
            "deadline_s": clock.get("deadline_s"),
        }
    return out


def pair_cost(cost_per_pair: float, quantum: dict) -> float:
    """A link's cost of the Bell pairs quantum played, currency per test round (``quantum``: its metrics)."""
    n = quantum.get("n_rounds") or 0
    return cost_per_pair * (quantum.get("bell_pairs") or 0) / n if n else 0.0


def _finite(v) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and math.isfinite(v)
