"""Age-aware play for a physical link: the fitted game's settings re-aimed for each stored pair's age
(``strategies.aged.AgedPlay``), both nodes knowing the age from the same herald.

``age_aware`` builds the grid for a fit from the youngest age a pair can have (the herald's delay) to past the oldest
the supply delivered on the training window; ``reaimed`` does it again for a walk-forward refit on the same ages;
``fixed_cutoff`` is where the settings fitted once, for the typical age, would stop beating the classical rule (the
memory stage shows it beside the re-aimed play's)."""

from __future__ import annotations

import math

from ...strategies.aged import AgedPlay
from ...strategies.lifetime import useful_lifetime

MARGIN = 1.25  # the grid runs this far past the oldest pair seen in training


def age_aware(fit, youngest: float, oldest: float, backend: str = "exact") -> AgedPlay | None:
    """The age grid of ``fit`` (a ``roster.GameFit`` fitted with the link's noise) from ``youngest`` to ``MARGIN``
    times ``oldest`` seconds of age; None when no pair at any of those ages beats the classical rule."""
    top = max(float(youngest), float(oldest) * MARGIN)
    aged = AgedPlay.solve(fit.game, fit.p_xy, fit.noise, float(youngest), top, backend=backend)
    return aged if any(s.uses_entanglement for s in aged.solutions) else None


def reaimed(fit, previous: AgedPlay | None, backend: str = "exact") -> AgedPlay | None:
    """A refit's age grid over the same ages as ``previous`` (None: none)."""
    if previous is None:
        return None
    return age_aware(fit, previous.ages[0], previous.ages[-1] / MARGIN, backend)


def fixed_cutoff(fit, youngest: float) -> float:
    """The age (s) at which the fit's settings, aimed once for the typical age, stop beating the classical rule
    (``strategies.useful_lifetime``); inf when they never do or no pair is used."""
    sol = fit.solution
    if not sol.uses_entanglement:
        return math.inf
    return useful_lifetime(sol.quantum_strategy(), fit.game, fit.p_xy, sol.classical_value, youngest=youngest)
