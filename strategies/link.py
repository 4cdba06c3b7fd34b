"""The quantum link from physics: distance, fibre, source, memory and deadline in; what the engine takes out.

A ``Link`` holds the physical parameters a quantum-network researcher quotes for a two-node link, and derives
the numbers the backtest already plays with (docs/link.md has every formula and its source):

- transmission of one photon through its fibre, 10^(-alpha L / 10) (alpha in dB/km);
- heralding probability per attempt (a herald's click is a photon or a detector's dark count), and from the
  attempt rate, the memory qubits and their occupancy (attempt, herald round trip, decision, reset: Li et al.'s
  definition) and the channels, the Bell-pair rate (a published ``link_pair_rate`` replaces the derived one);
- Werner visibility from the heralded fidelity, v = (4F - 1) / 3, times the share of heralds made by photons
  alone (a dark-count herald leaves the memories uncorrelated), times (1 - p)^2 for a depolarizing error p of
  each party's measurement rotation; hence the largest distance at which dark counts still leave a visibility;
- the storage a pair needs before it can be used (the herald's delay), T1/T2 of the memories, loss from the
  memory's retrieval efficiency, readout error;
- the light-speed deadline: one-way times through the fibre (n / c per km) and in a straight line (1 / c per km);
- how many rounds certify an advantage: Hoeffding's bound and the exact binomial count, at the expected score or
  with a stated power (``rounds_to_detect``, ``rounds_to_certify``).

Conventions: distances in km, times in seconds, rates in Hz (per second), probabilities in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import StrategyError
from .noise import Noise

C_KM_PER_S = 299_792.458  # speed of light in vacuum
SOURCES = ("midpoint", "a")
POLICIES = ("freshest", "fifo")  # which stored pair a decision uses: the youngest, or the oldest still usable


def visibility_from_fidelity(f: float) -> float:
    """Werner visibility of a state with fidelity F to |Phi+>: v = (4F - 1) / 3 (F = 1/4 is the maximally mixed
    state)."""
    return (4.0 * f - 1.0) / 3.0


def fidelity_from_visibility(v: float) -> float:
    """Fidelity to |Phi+> of the Werner state of visibility v: F = (1 + 3v) / 4."""
    return (1.0 + 3.0 * v) / 4.0


def rounds_to_detect(gap: float, span: float, confidence: float, power: float | None = None) -> float:
    """Rounds after which a mean utility ``gap`` above the classical value rules out every classical strategy at
    ``confidence``: Hoeffding's inequality for i.i.d. rounds with utility in an interval of width ``span`` gives
    P(classical mean >= its value + gap) <= exp(-2 n gap^2 / span^2), so n = span^2 ln(1 / (1 - confidence)) /
    (2 gap^2). The standard certification bound for nonlocal games; inf when there is no gap.

    That count asks only that the *expected* quantum mean be significant: the observed mean falls short of its
    expectation about half the time, so the test passes with about 50% power. With ``power`` the test's threshold
    t = span sqrt(ln(1/alpha) / 2n) must also be reached by the quantum mean with probability >= ``power``, which
    Hoeffding's inequality on the quantum side guarantees when gap >= t + span sqrt(ln(1/(1 - power)) / 2n):
    n = span^2 (sqrt(ln 1/alpha) + sqrt(ln 1/(1 - power)))^2 / (2 gap^2), alpha = 1 - confidence."""
    if not (0.0 < confidence < 1.0):
        raise StrategyError(f"confidence must be in (0, 1), got {confidence!r}")
    if power is not None and not (0.0 < power < 1.0):
        raise StrategyError(f"power must be in (0, 1), got {power!r}")
    if not (gap > 0 and span > 0 and math.isfinite(gap)):
        return math.inf
    root = math.sqrt(math.log(1.0 / (1.0 - confidence)))
    if power is not None:
        root += math.sqrt(math.log(1.0 / (1.0 - power)))
    return math.ceil(span**2 * root**2 / (2.0 * gap**2))


def critical_wins(n, omega_c: float, alpha: float) -> np.ndarray:
    """The fewest wins k_n out of n rounds that the best classical strategy (win probability ``omega_c`` a round,
    i.i.d.) reaches with probability <= ``alpha``: the one-sided exact binomial test at level alpha rejects "classical"
    at k_n wins or more (n + 1 when no count is that rare)."""
    from scipy.stats import binom

    n = np.asarray(n, dtype=np.int64)
    k = binom.isf(alpha, n, omega_c) + 1.0  # isf: the least k with P[X > k] <= alpha
    k = np.where(np.isnan(k), n + 1, k).astype(np.int64)
    # guard scipy's inversion by one step either way: P[X >= k] <= alpha < P[X >= k - 1]
    k = np.where(binom.sf(k - 1, n, omega_c) > alpha, k + 1, k)
    k = np.where((k > 0) & (binom.sf(k - 2, n, omega_c) <= alpha), k - 1, k)
    return k


def certification_power(n, omega_c: float, omega_q: float, alpha: float) -> np.ndarray:
    """The chance that n rounds won with probability ``omega_q`` each pass the exact one-sided binomial test at level
    ``alpha`` against ``omega_c``: P[Binomial(n, omega_q) >= k_n] (``critical_wins``)."""
    from scipy.stats import binom

    n = np.asarray(n, dtype=np.int64)
    return binom.sf(critical_wins(n, omega_c, alpha) - 1, n, omega_q)


def rounds_to_certify(
    omega_c: float, omega_q: float, alpha: float, max_rounds: int = 10**8, power: float | None = None
) -> float:
    """Rounds needed to certify a won-or-lost game's advantage by an exact one-sided binomial test at level
    ``alpha`` (the binomial p-value of Bell tests, Elkouss & Wehner, arXiv:1510.07233, the kind of certification Li
    et al., arXiv:2604.07451, abstract, adapt to these games); inf when omega_q <= omega_c or past ``max_rounds``.

    - ``power`` None: the expected-score count, the fewest n at which the expected quantum wins, ceil(n omega_q),
      would be reached by the best classical strategy (win probability omega_c a round, i.i.d.) with probability <=
      alpha, P[Binomial(n, omega_c) >= ceil(n omega_q)] <= alpha. At that n the test passes only about half the time
      (the wins fall short of their expectation about as often as not), and the tail is not monotone in n (the
      ceiling): for CHSH at alpha 0.01 it passes at 81 rounds and fails again at 82-85, 89 and 90.
    - ``power`` p: the fewest N such that at every n >= N the test passes with probability >= p,
      P[Binomial(n, omega_q) >= k_n] >= p (``certification_power``). That power is not monotone in n either, so
      every n up to a bound past which p is guaranteed is checked: Hoeffding's inequality on both sides gives power
      >= p whenever omega_q - omega_c >= (sqrt(ln(1/alpha)/2) + sqrt(ln(1/(1 - p))/2)) / sqrt(n) + 1/n.

    Exact (contiguous searches in blocks), so tighter than ``rounds_to_detect``'s Hoeffding bound."""
    from scipy.stats import binom

    if not (0.0 < alpha < 1.0):
        raise StrategyError(f"alpha must be in (0, 1), got {alpha!r}")
    if power is not None and not (0.0 < power < 1.0):
        raise StrategyError(f"power must be in (0, 1), got {power!r}")
    if not (0.0 <= omega_c < omega_q <= 1.0):
        return math.inf
    if power is None:
        lo, block = 1, 1 << 16
        while lo <= max_rounds:
            n = np.arange(lo, min(lo + block, max_rounds + 1))
            tail = binom.sf(np.ceil(n * omega_q) - 1, n, omega_c)
            hit = np.flatnonzero(tail <= alpha)
            if hit.size:
                return int(n[hit[0]])
            lo, block = lo + block, min(block * 2, 1 << 20)
        return math.inf
    # past n_sure the power is >= p by Hoeffding: solve s^2 + (a + b) s <= gap for s = 1/sqrt(n)
    ab = math.sqrt(math.log(1.0 / alpha) / 2.0) + math.sqrt(math.log(1.0 / (1.0 - power)) / 2.0)
    gap = omega_q - omega_c
    s = (math.sqrt(ab**2 + 4.0 * gap) - ab) / 2.0
    n_sure = math.ceil(1.0 / s**2)
    if n_sure > max_rounds:
        return math.inf
    last_fail, lo = 0, 1
    while lo <= n_sure:
        n = np.arange(lo, min(lo + (1 << 18), n_sure + 1))
        fail = np.flatnonzero(certification_power(n, omega_c, omega_q, alpha) < power)
        if fail.size:
            last_fail = int(n[fail[-1]])
        lo = int(n[-1]) + 1
    return last_fail + 1


def _opt(help: str, **meta) -> dict:
    return {"help": help, **meta}


@dataclass(frozen=True)
class Link:
    """A two-node entanglement link between the servers, in physical units (see the module docstring).

    ``source_at``: "midpoint" (both nodes emit a photon entangled with their memory; a Bell-state measurement
    half-way heralds the pair: two photons each cross L/2) or "a" (A's memory emits a photon that crosses the
    whole fibre to B, whose detection heralds the pair). ``link_pair_rate`` (Hz), when given, is a published delivered
    rate and replaces the rate derived from ``attempt_rate``. ``stationary_window`` (s): how long the market's
    correlations stay put (unset: measured from the data by the backtest).
    """

    # Field metadata declares each parameter as a run option (backtest.options); names start link_ where they would
    # otherwise be the supply's (pair_rate, decision_rate, memory_slots), so that every name sets one option.
    distance_km: float = field(
        default=56.0, metadata=_opt("fibre length between the two nodes", unit="km", lo=0, finite=True)
    )
    straight_km: float | None = field(
        default=None,
        metadata=_opt(
            "straight-line distance between the servers, for the light-speed deadline (unset: the fibre length)",
            unit="km",
            lo=0,
            finite=True,
        ),
    )
    attenuation_db_km: float = field(default=0.2, metadata=_opt("fibre attenuation", unit="dB/km", lo=0, finite=True))
    refractive_index: float = field(
        default=1.468, metadata=_opt("fibre group index (light runs at c/n)", lo=1, finite=True)
    )
    source_at: str = field(
        default="midpoint",
        metadata=_opt(
            "where the pair is heralded: midpoint (a Bell-state measurement half-way) or a (A's photon crosses the "
            "whole fibre to B)",
            choices=SOURCES,
        ),
    )
    attempt_rate: float = field(
        default=1e6,
        metadata=_opt(
            "entanglement attempts per second the node can start, all modes together (1 / its attempt period)",
            unit="Hz",
            lo=0,
            open_lo=True,
            finite=True,
        ),
    )
    multiplexing: int = field(
        default=1,
        metadata=_opt("memory modes (qubits) that take attempts in turn, each busy for the occupancy time", lo=1),
    )
    reset_time: float = field(
        default=0.0,
        metadata=_opt(
            "time to reset a memory qubit after its pair is used or lost, part of its occupancy",
            unit="s",
            lo=0,
            finite=True,
        ),
    )
    link_channels: int = field(
        default=1,
        metadata=_opt("independent channels (node pairs) in parallel, each delivering the derived rate", lo=1),
    )
    photon_efficiency: float = field(
        default=1.0,
        metadata=_opt(
            "probability a photon is collected, converted and detected, fibre excluded", lo=0, hi=1, open_lo=True
        ),
    )
    herald_efficiency: float = field(
        default=0.5,
        metadata=_opt(
            "probability the heralding measurement succeeds when its photons arrive (0.5: linear-optics Bell-state "
            "measurement)",
            lo=0,
            hi=1,
            open_lo=True,
        ),
    )
    dark_count_prob: float = field(
        default=0.0,
        metadata=_opt(
            "probability a heralding detector clicks without a photon, per attempt's detection window (dark count "
            "rate times the window)",
            lo=0,
            hi=1,
            open_hi=True,
        ),
    )
    link_pair_rate: float | None = field(
        default=None,
        metadata=_opt(
            "published delivered Bell-pair rate, replacing the derived one", unit="Hz", lo=0, open_lo=True, finite=True
        ),
    )
    fidelity: float = field(
        default=1.0,
        metadata=_opt(
            "fidelity to |Phi+> (Werner state) of a pair heralded by its photons (a published fidelity already counts "
            "every effect at its distance)",
            lo=0.25,
            hi=1,
        ),
    )
    memory_t1: float = field(default=math.inf, metadata=_opt("memory T1 (inf: none)", unit="s", lo=0, open_lo=True))
    memory_t2: float | None = field(
        default=None, metadata=_opt("memory T2, <= 2*T1 (unset: 2*T1)", unit="s", lo=0, open_lo=True)
    )
    link_memory_slots: int = field(default=1, metadata=_opt("pairs each memory holds", lo=1))
    link_memory_policy: str = field(
        default="freshest",
        metadata=_opt(
            "which stored pair a decision uses: freshest (the youngest) or fifo (the oldest not past the cutoff)",
            choices=POLICIES,
        ),
    )
    memory_cutoff: float | str = field(
        default="auto",
        metadata=_opt(
            "discard a stored pair older than this, herald delay included: 'auto' (the age at which even settings "
            "re-aimed for the pair's age stop beating the classical rule on the fitted game) or seconds (inf: never)",
            unit="s",
            lo=0,
            open_lo=True,
            words=("auto",),
        ),
    )
    gate_error: float = field(
        default=0.0, metadata=_opt("depolarizing error of each party's measurement rotation", lo=0, hi=1)
    )
    measurement_error: float = field(
        default=0.0, metadata=_opt("readout error of each party's memory qubit", lo=0, hi=1)
    )
    retrieval_efficiency: float = field(
        default=1.0,
        metadata=_opt(
            "probability the stored qubit is read out at all (else the party plays its fallback bit)", lo=0, hi=1
        ),
    )
    decision_latency: float = field(
        default=1e-6,
        metadata=_opt("time from a server's input to its decision", unit="s", lo=0, open_lo=True, finite=True),
    )
    link_decision_rate: float | None = field(
        default=None,
        metadata=_opt(
            "the market's decisions per second: declares a synthetic source's step (a preset's only where the source "
            "sets none; unset: the data's own clock, which real data always keeps)",
            unit="Hz",
            lo=0,
            open_lo=True,
            finite=True,
        ),
    )
    stationary_window: float | None = field(
        default=None,
        metadata=_opt(
            "how long the market's correlations stay put (unset: measured from the data)",
            unit="s",
            lo=0,
            open_lo=True,
            finite=True,
        ),
    )
    confidence: float = field(
        default=0.99,
        metadata=_opt("confidence at which the advantage must be detected", lo=0, hi=1, open_lo=True, open_hi=True),
    )
    cost_per_pair: float = field(
        default=0.0, metadata=_opt("what one Bell pair costs", unit="currency", lo=0, finite=True)
    )

    def __post_init__(self) -> None:
        def number(name, lo=None, hi=None, open_lo=False, finite=True):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
            ok = ok and (math.isfinite(v) or not finite)
            ok = ok and (lo is None or (v > lo if open_lo else v >= lo)) and (hi is None or v <= hi)
            if not ok:
                rng = f"{'(' if open_lo else '['}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
                raise StrategyError(f"link {name} must be a number in {rng}, got {v!r}")
            object.__setattr__(self, name, float(v))

        number("distance_km", 0)
        if self.straight_km is not None:
            number("straight_km", 0)
            if self.straight_km > self.distance_km * (1 + 1e-12):
                raise StrategyError(
                    f"link straight_km {self.straight_km!r} exceeds the fibre's {self.distance_km!r} "
                    "km: a fibre cannot be shorter than the straight line"
                )
        number("attenuation_db_km", 0)
        number("refractive_index", 1)
        if self.source_at not in SOURCES:
            raise StrategyError(f"link source_at must be one of {', '.join(SOURCES)}, got {self.source_at!r}")
        number("attempt_rate", 0, open_lo=True)
        if not isinstance(self.multiplexing, int) or isinstance(self.multiplexing, bool) or self.multiplexing < 1:
            raise StrategyError(f"link multiplexing must be a whole number >= 1, got {self.multiplexing!r}")
        number("photon_efficiency", 0, 1, open_lo=True)
        number("herald_efficiency", 0, 1, open_lo=True)
        number("dark_count_prob", 0)
        if not self.dark_count_prob < 1:
            raise StrategyError(
                f"link dark_count_prob must be in [0, 1) (at 1 every detector always clicks and no "
                f"herald means anything), got {self.dark_count_prob!r}"
            )
        if self.link_pair_rate is not None:
            number("link_pair_rate", 0, open_lo=True)
        if not (isinstance(self.fidelity, (int, float)) and 0.25 <= self.fidelity <= 1):
            raise StrategyError(
                f"link fidelity must be in [0.25, 1] (1/4 is the maximally mixed state; no fidelity "
                f"exceeds 1), got {self.fidelity!r}"
            )
        object.__setattr__(self, "fidelity", float(self.fidelity))
        number("memory_t1", 0, open_lo=True, finite=False)
        if self.memory_t2 is None:
            object.__setattr__(self, "memory_t2", 2.0 * float(self.memory_t1))
        number("memory_t2", 0, open_lo=True, finite=False)
        assert self.memory_t2 is not None  # resolved above
        if self.memory_t2 > 2 * self.memory_t1:
            raise StrategyError(
                f"link memory_t2 = {self.memory_t2!r} s exceeds 2*T1 = {2 * self.memory_t1!r} s, which "
                "no physical qubit allows"
            )
        for name in ("link_memory_slots", "link_channels"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise StrategyError(f"link {name} must be a whole number >= 1, got {v!r}")
        if self.link_memory_policy not in POLICIES:
            raise StrategyError(
                f"link link_memory_policy must be one of {', '.join(POLICIES)}, got {self.link_memory_policy!r}"
            )
        number("reset_time", 0)
        if self.memory_cutoff != "auto":
            if isinstance(self.memory_cutoff, str):
                raise StrategyError(f"link memory_cutoff must be 'auto' or seconds > 0, got {self.memory_cutoff!r}")
            number("memory_cutoff", 0, open_lo=True, finite=False)
            if self.memory_cutoff <= self.herald_delay:
                raise StrategyError(
                    f"link memory_cutoff {self.memory_cutoff:g} s is not longer than the herald's "
                    f"delay ({self.herald_delay:g} s): no pair could ever be used"
                )
        for name in ("gate_error", "measurement_error", "retrieval_efficiency"):
            number(name, 0, 1)
        number("decision_latency", 0, open_lo=True)
        if self.link_decision_rate is not None:
            number("link_decision_rate", 0, open_lo=True)
        memory = min(self.memory_t1, self.memory_t2)
        if memory < self.decision_latency:
            raise StrategyError(
                f"link memory (T1 {self.memory_t1:g} s, T2 {self.memory_t2:g} s) is shorter than one "
                f"decision ({self.decision_latency:g} s): the qubit decays before its server decides"
            )
        if self.stationary_window is not None:
            number("stationary_window", 0, open_lo=True)
        if not (isinstance(self.confidence, float) and 0 < self.confidence < 1):
            raise StrategyError(f"link confidence must be in (0, 1), got {self.confidence!r}")
        number("cost_per_pair", 0)

    # -- presets ------------------------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **changes) -> Link:
        """A published or seed link (``LINK_PRESETS``), with ``changes`` on top of its numbers."""
        if name not in LINK_PRESETS:
            raise StrategyError(f"unknown link preset {name!r}; known: {', '.join(LINK_PRESETS)}")
        return cls(**{**LINK_PRESETS[name]["values"], **changes})

    # -- geometry and light ------------------------------------------------------------------------------------
    @property
    def straight_line_km(self) -> float:
        return self.distance_km if self.straight_km is None else self.straight_km

    @property
    def fibre_time(self) -> float:
        """One-way light time through the fibre, seconds: L n / c."""
        return self.distance_km * self.refractive_index / C_KM_PER_S

    @property
    def straight_line_time(self) -> float:
        """One-way light time in a straight line, seconds: no signal can cross faster."""
        return self.straight_line_km / C_KM_PER_S

    @property
    def deadline_met(self) -> bool:
        """The servers decide before any signal from the other could arrive, so only entanglement can coordinate
        them (decision latency < straight-line light time)."""
        return self.decision_latency < self.straight_line_time

    # -- rate ----------------------------------------------------------------------------------------------------
    @property
    def photon_km(self) -> float:
        """Fibre each heralding photon crosses: L/2 from each node to a midpoint station, L from A to B."""
        return self.distance_km / 2 if self.source_at == "midpoint" else self.distance_km

    @property
    def transmission(self) -> float:
        """Probability one photon survives its fibre: 10^(-alpha L_photon / 10)."""
        return 10.0 ** (-self.attenuation_db_km * self.photon_km / 10.0)

    @property
    def photons_heralding(self) -> int:
        """Clicks a herald needs: two photons meet at a midpoint station, one photon crosses to B."""
        return 2 if self.source_at == "midpoint" else 1

    @property
    def click_probability(self) -> float:
        """Probability one heralding click happens: its photon arrives and is detected (eta_p T), or, when it does
        not, the detector fires by itself (p_d): q = eta_p T + (1 - eta_p T) p_d."""
        photon = self.photon_efficiency * self.transmission
        return photon + (1.0 - photon) * self.dark_count_prob

    @property
    def herald_probability(self) -> float:
        """Success probability of one attempt, true or false: eta_h q^k, k the clicks a herald needs (2 at a
        midpoint, 1 with the source at A); without dark counts eta_h (eta_p T)^2 and eta_h eta_p T."""
        return self.herald_efficiency * self.click_probability**self.photons_heralding

    @property
    def herald_purity(self) -> float:
        """Share of heralds whose every click is its photon: (eta_p T / q)^k. The others leave the memories
        uncorrelated (a maximally mixed pair), so they scale the delivered pair's visibility by this share."""
        q = self.click_probability
        return (self.photon_efficiency * self.transmission / q) ** self.photons_heralding if q > 0 else 0.0

    @property
    def herald_delay(self) -> float:
        """Seconds from an attempt until both nodes know it succeeded (the pair's youngest usable age): the photons
        reach the station and the result comes back, L n / c at a midpoint; to B and back to A, 2 L n / c."""
        return self.fibre_time * (1.0 if self.source_at == "midpoint" else 2.0)

    @property
    def attempt_period(self) -> float:
        """Seconds between two attempts of the node's emitter: 1 / attempt_rate."""
        return 1.0 / self.attempt_rate

    @property
    def occupancy(self) -> float:
        """Seconds a memory qubit is busy with one attempt, as Li et al. (arXiv:2604.07451, Eq. 46 as read by an
        independent implementation; the paper itself was not available here) define it: the attempt, the herald's
        round trip, the decision and the reset, tau_e + t_herald + tau_dec + tau_reset. Every attempt is charged the
        decision, a failed one too (conservative by one decision latency)."""
        return self.attempt_period + self.herald_delay + self.decision_latency + self.reset_time

    @property
    def attempts_per_second(self) -> float:
        """A memory qubit is busy for its occupancy before it can try again, and the emitter starts one attempt an
        attempt period: min(attempt_rate, modes / occupancy) (Li et al.'s Gamma_HEG)."""
        return min(self.attempt_rate, self.multiplexing / self.occupancy)

    @property
    def channel_pair_rate(self) -> float:
        """Bell pairs per second one channel derives: attempts per second x heralding probability."""
        return self.attempts_per_second * self.herald_probability

    @property
    def derived_pair_rate(self) -> float:
        """Bell pairs per second from the physics: channels x attempts per second x heralding probability (Li et
        al.'s R = N_ch p Gamma_HEG)."""
        return self.link_channels * self.channel_pair_rate

    def channels_needed(self, rate: float) -> float:
        """Channels (each this link's derived per-channel rate) needed to deliver ``rate`` pairs per second: the
        least whole number, inf when one channel delivers nothing."""
        per = self.channel_pair_rate
        if not rate > 0:
            return 0
        return math.ceil(rate / per) if per > 0 else math.inf

    @property
    def delivered_pair_rate(self) -> float:
        """The published ``link_pair_rate`` when given, else the derived one (Hz)."""
        return self.derived_pair_rate if self.link_pair_rate is None else self.link_pair_rate

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def visibility(self) -> float:
        """Werner visibility at measurement: (4F - 1)/3 times the herald purity (a mixture of the heralded Werner
        pair and the maximally mixed one is a Werner pair of the mixed visibility) times (1 - p_gate)^2 (each
        party's depolarizing rotation shrinks its Bloch vector by 1 - p, so the correlations by (1 - p)^2)."""
        return self.visibility_at_purity(self.herald_purity)

    def visibility_at_purity(self, purity: float) -> float:
        """The visibility this link would have at herald purity ``purity`` (the rest of it as it is)."""
        return max(0.0, visibility_from_fidelity(self.fidelity)) * purity * (1.0 - self.gate_error) ** 2

    def max_distance_km(self, visibility: float) -> float:
        """The longest fibre at which this link's visibility still exceeds ``visibility`` (the rest of the link as
        it is): dark counts cost purity as the photons fade. Purity >= r holds while eta_p T >= s p_d / (1 - s +
        s p_d), s = r^(1/k) (solve (x / (x + (1 - x) p_d))^k >= r for x = eta_p T), so L = 2 or 1 times
        10 log10(eta_p / x) / alpha. 0.0 when even a fibre of no length falls short, inf when no length does."""
        full = self.visibility_at_purity(1.0)
        if not visibility < full:
            return 0.0
        r = visibility / full  # the purity needed
        if r <= 0 or self.dark_count_prob == 0:
            return math.inf
        s = r ** (1.0 / self.photons_heralding)
        x = s * self.dark_count_prob / (1.0 - s + s * self.dark_count_prob)
        if x > self.photon_efficiency:
            return 0.0
        if self.attenuation_db_km == 0:
            return math.inf
        km = 10.0 * math.log10(self.photon_efficiency / x) / self.attenuation_db_km
        return km * (2.0 if self.source_at == "midpoint" else 1.0)

    @property
    def effective_fidelity(self) -> float:
        """Fidelity of the state as measured (gate errors included), before storage."""
        return fidelity_from_visibility(self.visibility)

    @property
    def loss(self) -> float:
        return 1.0 - self.retrieval_efficiency

    def noise(self, storage_time: float | None = None) -> Noise:
        """The engine's noise model of this link; ``storage_time`` defaults to the herald's delay (a pair is
        stored at least that long before it can be used)."""
        return Noise.make(
            visibility=self.visibility,
            readout_error=self.measurement_error,
            storage_time=self.herald_delay if storage_time is None else storage_time,
            t1=self.memory_t1,
            t2=self.memory_t2,
            loss=self.loss,
        )

    def derived(self) -> dict:
        """Every derived number, with its unit in the key (metrics.json ``link.derived``)."""
        return {
            "transmission_per_photon": self.transmission,
            "photon_km": self.photon_km,
            "herald_probability": self.herald_probability,
            "herald_purity": self.herald_purity,
            "herald_delay_s": self.herald_delay,
            "occupancy_s": self.occupancy,
            "attempts_per_second": self.attempts_per_second,
            "channel_pair_rate_hz": self.channel_pair_rate,
            "derived_pair_rate_hz": self.derived_pair_rate,
            "pair_rate_hz": self.delivered_pair_rate,
            "visibility": self.visibility,
            "effective_fidelity": self.effective_fidelity,
            "loss": self.loss,
            "fibre_time_s": self.fibre_time,
            "straight_line_time_s": self.straight_line_time,
            "deadline_met": self.deadline_met,
        }

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("memory_t1", "memory_t2", "memory_cutoff"):
            if isinstance(d[k], float) and math.isinf(d[k]):
                d[k] = "inf"
        return d


# Presets: each names its source and the numbers taken from it; everything else keeps Link's defaults, which are
# stated there as assumptions. docs/link.md repeats this table with the derivations.
LINK_PRESETS: dict[str, dict] = {
    "nyse-nasdaq": {
        "values": {"distance_km": 56.0, "attenuation_db_km": 0.17},
        "source": "The seed scenario (Ding & Jiang, arXiv:2407.21723): servers at NYSE (Mahwah, NJ) and NASDAQ "
        "(Carteret, NJ), about 56 km apart, and telecom fibre at 0.17 dB/km, the low end of the "
        "0.17-0.2 dB/km range (both as ../shared/REFERENCE.md quotes them). The fibre is taken as straight "
        "(the most favourable case), so one-way light takes 186.8 us straight-line. Hardware is ideal "
        "(F = 1, no memory decay, lossless collection): what the distance alone allows.",
    },
    "li2026": {
        "values": {
            "distance_km": 50.0,
            "decision_latency": 1e-6,
            "link_decision_rate": 8e3,
            "attenuation_db_km": 0.25,
            "refractive_index": C_KM_PER_S / 2.1e5,
            "attempt_rate": 1 / 580e-9,
            "multiplexing": 250,
            "link_memory_slots": 250,
            "photon_efficiency": 0.504,
            "herald_efficiency": 0.5,
            "reset_time": 1e-6,
            "fidelity": 0.96,
            "measurement_error": 0.002,
            "memory_t2": 7.9,
        },
        "source": "Li, Kikura, Goban, Yamasaki, Sunami, arXiv:2604.07451 (2026). From its abstract: a 50 km fibre, "
        "decision latency of a microsecond, 8e3 decisions per second per channel. The node of its Table "
        "III, which was not available here, as an independent implementation of the paper reads it "
        "(secondary): attempt period 580 ns, 250 memory qubits taking attempts in turn and holding the "
        "pairs, photon efficiency 0.504 (emission 0.70 x detector 0.9 x optics 0.8), heralding 0.5, "
        "0.25 dB/km, light at 2.1e8 m/s in fibre, reset 1 us, state infidelity 0.04 (F = 0.96), "
        "measurement infidelity 0.002, memory lifetime 7.9 s (read here as T2). The pair rate is derived "
        "(about 7.4e3 per second), not taken.",
    },
    "vanleent2022": {
        "values": {"distance_km": 33.0, "straight_km": 0.4, "fidelity": 0.622, "link_pair_rate": 0.01},
        "source": "van Leent et al., Nature 607, 69 (2022): two single-Rb-atom memories in buildings 400 m apart "
        "(straight line 0.4 km), heralded over 33 km of telecom fibre; rate 0.01 per second and fidelity "
        "0.622(15), as quoted by Saha et al., Nat. Commun. (2025), s41467-025-57557-4, introduction.",
    },
}
