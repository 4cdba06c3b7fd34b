"""Optimal strategies for the input statistics actually seen, with and without noise.

Everything reduces to correlators. With outputs as +-1 (0 -> +1, 1 -> -1) the expected utility is
U = k + sum_xy c[x, y] E[A_x B_y] (``Game.correlator_weights``). A server's final output on input x,
whatever it does, is described by an *effective observable* o = (o_I, o_X, o_Y, o_Z) on its half of the pair:

- output a constant bit (ignore the qubit): o = (+-1, 0, 0, 0);
- measure along the Bloch direction n (``pair.direction``), report the (possibly misread) outcome, fall
  back to bit f on no click: o = (g, h n) with g = (1 - L) d + L f and h = (1 - L) s, where L is the
  loss probability and d + s A the readout-error map (``noise.readout_affine``).

Then E[A_x B_y] = o_A(x)^T R o_B(y), R the Pauli tensor of the stored pair (from qiskit.quantum_info,
noise included, or a device's measured tensor). For fixed B the best response of A is closed-form per
input (measure along R o_B's Bloch part, or output the sign of its I part), so ``solve`` grids B's
choices (constants, and every direction on a grid with either fallback), takes A's best response exactly,
and refines the best candidates.

Measurement directions anywhere on the sphere matter once the stored pair has a Bloch vector or its
correlations are largest outside the X-Z plane: amplitude damping (T1) keeps the Y-Y correlation as large as
X-X while Z-Z decays, so the best axes leave the X-Z plane. When the pair is *planar-symmetric* (no local
Bloch vector, Y decoupled, and the Y-Y correlation no larger than the X-Z block's smaller singular value:
every Werner pair with pure dephasing) the X-Z plane holds an optimum, and the solver uses the faster
planar search with a finer grid. Otherwise it searches the sphere: a Fibonacci grid for B, A's exact best
response, then a short seesaw (alternating exact best responses, which never lowers the value) from the best
grid points and from the planar optimum; the best few are polished (quasi-Newton steps on the exact gradient over B's
directions with A best-responding, then seesaw to convergence), so the sphere result is never below the planar one.

Classical rules are in the search space (both constant), so the quantum optimum is never below the
classical one; when it is not above, the returned quantum strategy *is* the classical one and the advantage is 0.

Independent checks for the noiseless game: ``tsirelson_value`` (Tsirelson's vector program reduced to
one angle, exact for 2x2 XOR games) and ``tsirelson_sdp`` (the semidefinite program, needs cvxpy).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Mapping
from functools import lru_cache
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import kernels, pair
from .classical import RULES, classical_optimum, classical_rule_dict, deterministic
from .errors import StrategyError
from .game import Game, check_p_xy
from .noise import Noise, readout_affine
from .quantum import quantum_strategy, textbook_angles
from .strategy import Strategy

if TYPE_CHECKING:  # annotations only: devices load when a run names one
    from .devices import Device

ADVANTAGE_TOL = 1e-9
IXZ = [0, 1, 3]
SPHERE_GRID = 256  # Fibonacci directions for B in the sphere search
SEESAW_STARTS = 32  # best grid points refined by a short seesaw
SEESAW_ROUGH = 40  # steps of that short seesaw
POLISHED = 4  # best of those polished to convergence
SEESAW_STEPS = 4000
SYMMETRY_TOL = 1e-12
LEVEL_STARTS = 48  # random starts of the seesaw for games whose inputs have more than two levels
MIXED_STARTS = 4  # per level: B measures there only (random direction), the classical rule elsewhere
LEVEL_POLISH = 200  # quasi-Newton steps polishing the best seesaw point (K levels: 2K parameters)
LEVEL_SEED = 20240731  # their directions come from this fixed stream


def pair_tensor(noise: Noise) -> np.ndarray:
    """The stored pair's Pauli tensor R[i, j] = <sigma_i (x) sigma_j>, i, j over I, X, Y, Z (rows: A); read-only,
    shared between calls with the same noise."""
    return _pair_tensor(noise)


@lru_cache(maxsize=512)
def _pair_tensor(noise: Noise) -> np.ndarray:
    # one density matrix through Qiskit takes about 1 ms, and a fit asks for the same noise dozens of times
    R = pair.pauli_tensor(pair.stored_state(noise))
    R.setflags(write=False)
    return R


def planar_symmetric(R: np.ndarray) -> bool:
    """Whether the X-Z plane holds an optimal pair of measurement directions for every game (module docstring):
    no local Bloch vectors, Y decoupled from X and Z, and |R_YY| at most the X-Z block's smaller singular value."""
    R = np.asarray(R, dtype=float)
    if np.abs(R[0, 1:]).max() > SYMMETRY_TOL or np.abs(R[1:, 0]).max() > SYMMETRY_TOL:
        return False
    off_y = np.abs(np.r_[R[2, [1, 3]], R[[1, 3], 2]]).max()
    smallest = np.linalg.svd(R[np.ix_([1, 3], [1, 3])], compute_uv=False).min()
    return off_y <= SYMMETRY_TOL and abs(R[2, 2]) <= smallest + SYMMETRY_TOL


def _party(noise: Noise, side: str) -> tuple[float, float, float]:
    """(L, d, s): loss, readout offset and scale of one party."""
    e = noise.readout_a if side == "A" else noise.readout_b
    loss = noise.loss_a if side == "A" else noise.loss_b
    d, s = readout_affine(e)
    return loss, d, s


def observable(
    theta: float | None, fallback: int, party: tuple[float, float, float], phi: float | None = None, flip: bool = False
) -> np.ndarray:
    """Effective observable of a party: measure at theta (None: output ``fallback`` without measuring) and report
    the outcome, or its opposite with ``flip``.

    Flipping is not measuring the opposite direction once readout errors are asymmetric: the readout's bias d
    changes sign with the report, not with the direction. With ``phi`` None the vector is (I, X, Z) (the planar
    search); with an azimuth phi it is (I, X, Y, Z)."""
    pm = 1.0 - 2.0 * fallback
    if theta is None:
        return np.array([pm, 0.0, 0.0] if phi is None else [pm, 0.0, 0.0, 0.0])
    loss, d, s = party
    sign = -1.0 if flip else 1.0
    h = sign * (1.0 - loss) * s
    g = sign * (1.0 - loss) * d + loss * pm
    if phi is None:
        return np.array([g, h * math.sin(2 * theta), h * math.cos(2 * theta)])
    return np.r_[g, h * pair.direction(theta, phi)]


def strategy_value(c: np.ndarray, k: float, R: np.ndarray, obs_a: np.ndarray, obs_b: np.ndarray) -> float:
    """k + sum_xy c[x,y] o_A(x)^T R o_B(y); obs_* are (2, 3) or (2, 4) arrays of effective observables."""
    return float(k + np.einsum("xy,xi,ij,yj->", c, obs_a, R, obs_b))


def _best_response(w: np.ndarray, party: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """A's best value against w (..., 3 or 4) and how: (value, measures?, direction (..., dim - 1), fallback bit,
    flip?). Reporting the flipped outcome turns the readout's bias term (1 - L) d w0 to its favourable sign."""
    loss, d, s = party
    w0, vec = w[..., 0], w[..., 1:]
    h = (1.0 - loss) * s
    norm = np.hypot(vec[..., 0], vec[..., 1]) if vec.shape[-1] == 2 else np.sqrt((vec * vec).sum(axis=-1))
    measured = (1.0 - loss) * np.abs(d * w0) + loss * np.abs(w0) + abs(h) * norm
    constant = np.abs(w0)
    measures = measured > constant + 1e-15
    flip = d * w0 < 0
    sign = np.where(flip, -1.0, 1.0) * (1.0 if h >= 0 else -1.0)
    fallback = (w0 < 0).astype(int)  # +1 (bit 0) when w0 >= 0
    return np.maximum(measured, constant), measures, sign[..., None] * vec, fallback, flip


def _theta(vec) -> float:
    """Planar angle of an (x, z) direction."""
    return float(np.mod(np.arctan2(vec[..., 0], vec[..., 1]) / 2.0, math.pi))


def _fibonacci(n: int) -> np.ndarray:
    """n nearly uniform unit vectors on the sphere (golden-angle spiral), shape (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _flips(party) -> tuple[bool, ...]:
    """Report options worth searching: the flipped report differs from the opposite direction only when d != 0."""
    return (False, True) if party[1] != 0 else (False,)


def _b_candidates(party: tuple[float, float, float], grid: int) -> tuple[np.ndarray, list[tuple]]:
    """B's planar choices (theta or None, fallback, flip) and their effective observables."""
    thetas = np.arange(grid) * (math.pi / grid)
    choices: list[tuple] = [(None, 0, False), (None, 1, False)]
    choices += [(float(t), f, fl) for fl in _flips(party) for f in (0, 1) for t in thetas]
    return np.array([observable(t, f, party, None, fl) for t, f, fl in choices]), choices


def _grid_values(c, k, R, party_a, party_b, grid: int):
    """Value of A's exact best response to every pair of B's grid choices (k0 for y = 0, k1 for y = 1)."""
    ob_all, choices = _b_candidates(party_b, grid)
    v = np.ascontiguousarray(ob_all @ R.T)  # v[k] = R o_B(k)
    return kernels.grid_values(np.ascontiguousarray(c, dtype=float), float(k), v, *party_a), choices


def _link(noise: Noise, device=None) -> tuple[np.ndarray, tuple, tuple]:
    """(Pauli tensor R, party A, party B) of the link measured: the noise model's stored pair, or a device's
    measured Bell-pair tensor and readout errors (``strategies.devices.Device``; loss still from ``noise``)."""
    if device is None:
        return pair_tensor(noise), _party(noise, "A"), _party(noise, "B")
    parties = []
    for loss, e in ((noise.loss_a, device.readout_a), (noise.loss_b, device.readout_b)):
        parties.append((loss, *readout_affine(e)))
    return np.asarray(device.tensor, dtype=float), parties[0], parties[1]


def quantum_lower_bound(games, p_xy, noise: Noise | None = None, *, grid: int = 90, device=None):
    """The quantum value of ``solve`` without its refining step: B's directions on a grid (``grid`` angles
    per [0, pi) in the X-Z plane for a planar-symmetric pair, else the sphere grid), A's exact best response.
    A lower bound within the grid's second-order error (about 4e-4 of the game's scale at 2 degrees, planar),
    a hundred times faster: for scans that call the solver many times. ``games``: one Game (returns a
    float) or a sequence of them (returns a list; the noisy pair is built once).
    """
    p = check_p_xy(p_xy)
    noise = noise or Noise()
    if device is None:  # "what it would take" asks for the same link dozens of times a pair
        v, party_a = _grid_candidates(noise, grid)
    else:
        v, party_a = _grid_candidates_of(*_link(noise, device), grid)
    many = not isinstance(games, Game)
    out = []
    for game in games if many else [games]:
        c, k = game.correlator_weights(p)
        out.append(float(kernels.grid_best(np.ascontiguousarray(c, dtype=float), float(k), v, *party_a)))
    return out if many else out[0]


def _grid_candidates_of(R4, party_a, party_b, grid: int) -> tuple[np.ndarray, tuple]:
    """B's grid candidates through the link's tensor, v[k] = R o_B(k) (planar or sphere grid), and A's party."""
    if planar_symmetric(R4):
        v = _b_candidates(party_b, grid)[0] @ R4[np.ix_(IXZ, IXZ)].T
    else:
        v = _sphere_candidates(party_b)[0] @ R4.T
    v = np.ascontiguousarray(v)
    v.setflags(write=False)
    return v, party_a


@lru_cache(maxsize=256)
def _grid_candidates(noise: Noise, grid: int) -> tuple[np.ndarray, tuple]:
    return _grid_candidates_of(*_link(noise), grid)


@dataclass(frozen=True)
class Solution:
    """What ``solve`` found. Values are expected utilities per round (= win rates at beta = 0).

    ``angles[P][x]``, ``azimuths[P][x]``: party P's measurement direction (theta, phi) in radians on input x
    (``pair.direction``), or None where it ignores its qubit and outputs ``fallback[P][x]``;
    ``fallback[P][x]`` is also its output on no click; ``flipped[P][x]``: it reports the opposite of its outcome
    (worth it when its readout errors are asymmetric). ``planar``: the pair was planar-symmetric, so the
    X-Z plane was searched (azimuths 0); else the whole sphere. ``device``: the device whose measured link
    the angles are fitted to, or None.
    """

    game: Game
    p_xy: np.ndarray
    noise: Noise
    classical_value: float
    classical_rule: tuple[tuple[int, ...], tuple[int, ...]]  # (A's output per input level, B's)
    quantum_value: float
    angles: dict[str, tuple[float | None, ...]]  # one per input level
    fallback: dict[str, tuple[int, ...]]
    textbook_value: float
    uses_entanglement: bool
    checks: dict = field(default_factory=dict)
    azimuths: dict[str, tuple[float | None, ...]] | None = None
    planar: bool = True
    device: Device | None = None
    flipped: dict[str, tuple[bool, ...]] | None = None

    @property
    def advantage(self) -> float:
        return max(0.0, self.quantum_value - self.classical_value)

    def correlators(self) -> np.ndarray:
        """E[A_x B_y] of the quantum strategy (the classical rule where entanglement is not used), outputs as +-1
        (0 -> +1), on the link it was fitted to: shape (K_A, K_B). Unlike angles, these are the same for every
        member of an optimum's symmetry class, so they are what to compare across machines."""
        R, party_a, party_b = _link(self.noise, self.device)
        az = self.azimuths or {P: (0.0,) * len(self.angles[P]) for P in "AB"}
        fl = self.flipped or {P: (False,) * len(self.angles[P]) for P in "AB"}

        def obs(P, party):
            return np.array(
                [
                    observable(t, f, party, 0.0 if a is None else a, g)
                    for t, f, a, g in zip(self.angles[P], self.fallback[P], az[P], fl[P])
                ]
            )

        return np.einsum("xi,ij,yj->xy", obs("A", party_a), R, obs("B", party_b))

    def classical_strategy(self, name: str = "classical") -> Strategy:
        return deterministic(*self.classical_rule, name=name)

    def _backend(self, backend: str, aer_backend):
        if self.device is not None:  # a device's link is sampled on its own noise model
            return "aer", self.device
        return backend, aer_backend

    def quantum_strategy(self, backend: str = "exact", name: str = "quantum", aer_backend=None) -> Strategy:
        """The optimal strategy; the classical rule itself when entanglement does not help."""
        if not self.uses_entanglement:
            return deterministic(*self.classical_rule, name=name)
        backend, aer_backend = self._backend(backend, aer_backend)
        az: Mapping[str, tuple[float | None, ...] | None] = self.azimuths or {"A": None, "B": None}
        fl: Mapping[str, tuple[bool, ...] | None] = self.flipped or {"A": None, "B": None}
        return quantum_strategy(
            self.angles["A"],
            self.angles["B"],
            self.noise,
            fallback_a=self.fallback["A"],
            fallback_b=self.fallback["B"],
            backend=backend,
            name=name,
            aer_backend=aer_backend,
            azimuths_a=az["A"],
            azimuths_b=az["B"],
            flipped_a=fl["A"],
            flipped_b=fl["B"],
        )

    def textbook_strategy(self, backend: str = "exact", name: str = "textbook", aer_backend=None) -> Strategy:
        if self.game.levels != (2, 2):
            raise StrategyError(
                f"the textbook CHSH angles are for binary inputs; this game has {self.game.levels} "
                "input levels (use the fitted quantum strategy)"
            )
        ang = textbook_angles(self.game.rule)
        fa, fb = self.checks["textbook_fallback"]
        backend, aer_backend = self._backend(backend, aer_backend)
        return quantum_strategy(
            ang["A"],
            ang["B"],
            self.noise,
            fallback_a=fa,
            fallback_b=fb,
            backend=backend,
            name=name,
            aer_backend=aer_backend,
        )

    def to_dict(self) -> dict:
        out = {
            "p_xy": self.p_xy.tolist(),
            **self.game.to_dict(),
            "classical_value": self.classical_value,
            "quantum_value": self.quantum_value,
            "textbook_value": self.textbook_value,
            "advantage": self.advantage,
            "uses_entanglement": self.uses_entanglement,
            "angles": {p: list(v) for p, v in self.angles.items()},
            "azimuths": {
                p: list(v) for p, v in (self.azimuths or {P: (0.0,) * len(self.angles[P]) for P in "AB"}).items()
            },
            "measurement_search": self.checks.get("search")
            or ("X-Z plane (planar-symmetric pair)" if self.planar else "Bloch sphere"),
            "fallback": {p: list(v) for p, v in self.fallback.items()},
            "correlators": self.correlators().tolist(),
            "flipped": {
                p: list(v) for p, v in (self.flipped or {P: (False,) * len(self.angles[P]) for P in "AB"}).items()
            },
            "classical_rule": classical_rule_dict(*self.classical_rule),
            "noise": self.noise.to_dict(),
        }
        if self.device is not None:
            out["device"] = self.device.describe()
        return out


def _textbook(c, k, R, party_a, party_b, rule) -> tuple[float, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Value of the textbook angles (X-Z plane) with their best no-click fallbacks; R is the full 4x4 tensor."""
    ang = textbook_angles(rule)
    best = None
    for fa, fb in itertools.product(RULES, RULES):
        oa = np.array([observable(ang["A"][x], fa[x], party_a, 0.0) for x in (0, 1)])
        ob = np.array([observable(ang["B"][y], fb[y], party_b, 0.0) for y in (0, 1)])
        v = strategy_value(c, k, R, oa, ob)
        if best is None or v > best[0] + 1e-15:
            best = (v, (fa, fb))
    assert best is not None  # RULES is not empty
    return best


def solve(game: Game, p_xy, noise: Noise | None = None, *, grid: int = 180, device=None) -> Solution:
    """Classical optimum, quantum optimum (directions, fallbacks) and textbook-angle value for ``p_xy``.

    ``noise`` describes the pair and detectors at the time of measurement (its ``storage_time`` is the
    storage the directions are optimized for). A K_A x K_B game (inputs with several levels) gets one direction
    per input level from a many-start seesaw (``_solve_levels``); it has no textbook angles (value NaN). ``grid``
    is the number of angles per [0, pi) in the planar search. ``device`` (``strategies.devices.Device``): fit to
    that device's measured Bell-pair tensor and readout errors instead of the noise model's pair (``noise`` then
    only gives the loss).
    """
    if not isinstance(game, Game):
        raise StrategyError(f"game must be a Game, got {type(game).__name__}")
    p = check_p_xy(p_xy, game.levels)
    noise = noise or Noise()
    if game.levels != (2, 2):
        return _solve_levels(game, p, noise, device)
    c, k = game.correlator_weights(p)
    R4, party_a, party_b = _link(noise, device)
    planar = planar_symmetric(R4)
    R = R4[np.ix_(IXZ, IXZ)]
    cl_value, f_a, f_b = classical_optimum(game, p)

    q_value, b_choice, a_choice = _planar_optimum(c, k, R, party_a, party_b, grid)
    azimuths = None
    if not planar:
        q_value, a_choice, b_choice, azimuths = _sphere_optimum(c, k, R4, party_a, party_b, a_choice, b_choice)

    uses = any(ch[0] is not None for ch in a_choice) and any(ch[0] is not None for ch in b_choice)
    if q_value <= cl_value + ADVANTAGE_TOL or not uses:
        q_value, uses = cl_value, False
        angles: dict[str, tuple[float | None, ...]] = {"A": (None, None), "B": (None, None)}
        fallback = {"A": f_a, "B": f_b}
        flipped: dict[str, tuple[bool, ...]] = {"A": (False, False), "B": (False, False)}
        azimuths = None
    else:
        angles = {P: tuple(ch[0] for ch in how) for P, how in (("A", a_choice), ("B", b_choice))}
        fallback = {P: tuple(ch[1] for ch in how) for P, how in (("A", a_choice), ("B", b_choice))}
        flipped = {P: tuple(bool(ch[2]) for ch in how) for P, how in (("A", a_choice), ("B", b_choice))}
    tb_value, tb_fallback = _textbook(c, k, R4, party_a, party_b, game.rule)
    if uses and planar:
        angles, fallback, flipped = _canonical(
            c,
            k,
            R,
            party_a,
            party_b,
            q_value,
            angles,
            fallback,
            flipped,
            (textbook_angles(game.rule), tb_value, tb_fallback),
        )
    elif uses:
        azimuths = _canonical_azimuths(c, k, R4, party_a, party_b, q_value, angles, azimuths, fallback, flipped)
    if azimuths is None:
        azimuths = {P: tuple(None if t is None else 0.0 for t in angles[P]) for P in "AB"}
    return Solution(
        game=game,
        p_xy=p,
        noise=noise,
        classical_value=cl_value,
        classical_rule=(f_a, f_b),
        quantum_value=float(q_value),
        angles=angles,
        fallback=fallback,
        textbook_value=tb_value,
        uses_entanglement=uses,
        checks={"textbook_fallback": tb_fallback, "grid": grid},
        azimuths=azimuths,
        planar=planar,
        device=device,
        flipped=flipped,
    )


def _planar_optimum(c, k, R, party_a, party_b, grid):
    """Best X-Z-plane strategy: B on the angle grid with A's exact best response, the best few polished."""
    total, choices = _grid_values(c, k, R, party_a, party_b, grid)
    flat = _top(total, 8)
    # Polishing moves a value by at most the grid's second-order error (below 1e-3 at 1 degree), so only
    # candidates that close to the best grid value can end up best.
    flat = [i for i in flat if total.flat[i] >= total.flat[flat[0]] - 1e-3]
    best = (-np.inf, None, None)
    for idx in flat:
        k0, k1 = np.unravel_index(idx, total.shape)
        cand = _polish(c, k, R, party_a, party_b, choices[k0], choices[k1])
        if cand[0] > best[0]:
            best = cand
    return best


def _top(total: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of the ``count`` largest values of ``total``, largest first, as ``np.argsort(total,
    axis=None)[::-1][:count]`` gives them without sorting the whole grid (a quarter of a million values in the planar
    search, a million on the sphere; the full sort was most of a solve's time). Exactly equal values come in no
    promised order, as with argsort's quicksort: the starts they seed reach the same optimum, reported canonically
    (``_canonical``)."""
    flat = total.ravel()
    if flat.size <= count:
        return np.argsort(flat)[::-1]
    top = np.argpartition(flat, flat.size - count)[flat.size - count :]
    return top[np.argsort(flat[top])][::-1]


def _canonical(c, k, R, party_a, party_b, value, angles, fallback, flipped, textbook):
    """One representative of the optimum's symmetry class: the textbook angles when they are optimal, else A's first
    angle at 0 and, where reflecting every angle (theta -> -theta) keeps the value, the next measured angle in
    [0, pi/2].

    Without relaxation towards |0> a common rotation of all angles leaves every correlator unchanged, and so does a
    common reflection when the pair has no X-Z cross correlation: the optimum is a family, and which member a
    polish lands on depends on rounding (another processor found the mirror image). Each step is kept only if it
    gives the same value, so the representative is always a strategy of the claimed value.
    """
    tb_angles, tb_value, tb_fallback = textbook
    if tb_value >= value - 1e-10:
        return (
            {p: tuple(tb_angles[p]) for p in "AB"},
            {"A": tb_fallback[0], "B": tb_fallback[1]},
            {"A": (False, False), "B": (False, False)},
        )
    measured = [t for p in "AB" for t in angles[p] if t is not None]
    if not measured:
        return angles, fallback, flipped

    def same_value(cand) -> bool:
        def obs(p, party):
            return np.array([observable(cand[p][i], fallback[p][i], party, None, flipped[p][i]) for i in (0, 1)])

        return abs(strategy_value(c, k, R, obs("A", party_a), obs("B", party_b)) - value) < 1e-12

    def mapped(f):
        return {p: tuple(None if t is None else float(np.mod(f(t), math.pi)) for t in angles[p]) for p in "AB"}

    first = measured[0]
    turned = mapped(lambda t: t - first)
    if not same_value(turned):
        return angles, fallback, flipped
    angles = turned
    nxt = next(
        (t for t in [t for p in "AB" for t in angles[p] if t is not None][1:] if 1e-9 < t < math.pi - 1e-9), None
    )
    if nxt is not None and nxt > math.pi / 2:
        mirror = mapped(lambda t: -t)
        if same_value(mirror):
            angles = mirror
    return angles, fallback, flipped


def _canonical_azimuths(c, k, R, party_a, party_b, value, angles, azimuths, fallback, flipped):
    """A's first azimuth at 0 when turning A by -phi and B by +phi about Z keeps the value (a symmetry of
    |Phi+> under relaxation towards |0>); otherwise the azimuths as found."""
    first = next((p for t, p in zip(angles["A"], azimuths["A"]) if t is not None), None)
    if not first:
        return azimuths
    turned = {
        "A": tuple(None if p is None else float(_wrap(p - first)) for p in azimuths["A"]),
        "B": tuple(None if p is None else float(_wrap(p + first)) for p in azimuths["B"]),
    }

    def obs(P, party):
        return np.array([observable(angles[P][i], fallback[P][i], party, turned[P][i], flipped[P][i]) for i in (0, 1)])

    if abs(strategy_value(c, k, R, obs("A", party_a), obs("B", party_b)) - value) < 1e-12:
        return turned
    return azimuths


def _wrap(phi: float) -> float:
    return float(np.mod(phi + math.pi, 2 * math.pi) - math.pi)


def _a_best(c, R, party_a, ob: np.ndarray) -> tuple[float, list[tuple]]:
    value, how = 0.0, []
    for x in (0, 1):
        w = c[x, 0] * (R @ ob[0]) + c[x, 1] * (R @ ob[1])
        val, measures, vec, fallback, flip = _best_response(w, party_a)
        value += float(val)
        how.append((_theta(vec), int(fallback), bool(flip)) if measures else (None, int(fallback), False))
    return value, how


def _polish(c, k, R, party_a, party_b, choice0, choice1):
    """Continuous refinement of B's measuring angles (fallbacks and constant choices kept), A best-responding:
    quasi-Newton steps on the exact gradient (``_value_gradient``)."""
    free = [i for i, ch in enumerate((choice0, choice1)) if ch[0] is not None]
    ch = [list(choice0), list(choice1)]
    if free:
        ob = np.array([observable(t, f, party_b, None, fl) for t, f, fl in ch])
        amp = [_amplitude(party_b, ch[i][2]) for i in free]

        def neg(thetas):
            for j, i in enumerate(free):  # o = (g, h sin 2t, h cos 2t): only the Bloch part moves
                ob[i, 1], ob[i, 2] = amp[j] * math.sin(2 * thetas[j]), amp[j] * math.cos(2 * thetas[j])
            value, grad_ob = _value_gradient(c, R, party_a, ob)
            grad = [
                2 * amp[j] * (grad_ob[i, 1] * math.cos(2 * thetas[j]) - grad_ob[i, 2] * math.sin(2 * thetas[j]))
                for j, i in enumerate(free)
            ]
            return -value, -np.array(grad)

        best = _ascend(neg, np.array([ch[i][0] for i in free]), c)
        for i, t in zip(free, best):
            ch[i][0] = float(t)
    ob = np.array([observable(t, f, party_b, None, fl) for t, f, fl in ch])
    a_val, a_how = _a_best(c, R, party_a, ob)
    b_how = [(None if t is None else float(np.mod(t, math.pi)), int(f), bool(fl)) for t, f, fl in ch]
    return k + a_val, b_how, a_how


def _amplitude(party, flip: bool) -> float:
    """h of a measuring party's effective observable (g, h n): (1 - L) s, negated when it reports the flipped
    outcome."""
    loss, _, s = party
    return (-1.0 if flip else 1.0) * (1.0 - loss) * s


def _value_gradient(c, R, party_a, ob: np.ndarray) -> tuple[float, np.ndarray]:
    """A's best-response value sum_x max_o o . w_x (w_x = sum_y c[x, y] R o_B(y)) against B's observables ``ob``
    (K_B, dim), and its gradient with respect to ``ob``.

    By the envelope theorem the gradient is sum_x c[x, y] R^T o*_x, o*_x A's best response (its own derivative does
    not enter: o*_x is optimal). Exact wherever A's choice is unique; the polishes only ever need it near an
    optimum, where it is."""
    loss, d, s = party_a
    h = abs((1.0 - loss) * s)
    w = c @ (ob @ R.T)
    w0, vec = w[:, 0], w[:, 1:]
    norm = np.sqrt((vec * vec).sum(axis=1))
    measured = (1.0 - loss) * np.abs(d * w0) + loss * np.abs(w0) + h * norm
    constant = np.abs(w0)
    measures = measured > constant
    best = np.empty_like(w)
    best[:, 0] = np.where(measures, (1.0 - loss) * abs(d) + loss, 1.0) * np.sign(w0)
    best[:, 1:] = np.where(measures[:, None], h * vec / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
    return float(np.maximum(measured, constant).sum()), c.T @ (best @ R)


def _ascend(neg, start: np.ndarray, c: np.ndarray, maxiter: int | None = None) -> np.ndarray:
    """BFGS on ``neg`` (returns minus the value and its gradient) from ``start``, on the game's scale (a hedge game's
    weights are currency^2, of any size), to a gradient of 1e-11 of it: at a smooth optimum the value is then
    converged far below 1e-9 of the scale, the tolerance its answers are pinned to (tests/test_solver_values.py)."""
    scale = float(np.abs(c).sum()) or 1.0

    def scaled(x):
        value, grad = neg(x)
        return value / scale, grad / scale

    options = {"gtol": 1e-11, **({} if maxiter is None else {"maxiter": maxiter})}
    from scipy.optimize import minimize  # imported when first needed: the engine's option tree loads this module

    return minimize(scaled, start, jac=True, method="BFGS", options=options).x


# -- the sphere search --------------------------------------------------------------------------------
def _obs4(n, f: int, party, flip: bool = False) -> np.ndarray:
    """Effective (I, X, Y, Z) observable measuring along the unit vector n (None: output f), report flipped or not."""
    pm = 1.0 - 2.0 * f
    if n is None:
        return np.array([pm, 0.0, 0.0, 0.0])
    loss, d, s = party
    sign = -1.0 if flip else 1.0
    scale = sign * (1.0 - loss) * s  # the same products as scale * n on an array, without np.r_'s overhead
    return np.array(
        [sign * (1.0 - loss) * d + loss * pm, scale * float(n[0]), scale * float(n[1]), scale * float(n[2])]
    )


def _sphere_candidates(party_b) -> tuple[np.ndarray, list]:
    """B's sphere-grid choices (direction or None, fallback, flip) and their effective observables."""
    dirs = _fibonacci(SPHERE_GRID)
    choices = [(None, 0, False), (None, 1, False)] + [
        (n, f, fl) for fl in _flips(party_b) for f in (0, 1) for n in dirs
    ]
    return np.array([_obs4(n, f, party_b, fl) for n, f, fl in choices]), choices


def _sphere_grid(c, k, R, party_a, party_b):
    """A's best-response value to every pair of B's sphere-grid choices, and the choices (direction or None, f,
    flip)."""
    obs, choices = _sphere_candidates(party_b)
    v = np.ascontiguousarray(obs @ R.T)
    return kernels.grid_values(np.ascontiguousarray(c, dtype=float), float(k), v, *party_a), choices


def _respond(c, R, party, ob: np.ndarray) -> tuple[float, list]:
    """Exact best response of the party facing observables ``ob`` (K_other, 4) through R (rows: this party), one
    choice per own input level."""
    value, how = 0.0, []
    v = [R @ o for o in ob]
    # every input level at once (w[x] = 0 + c[x,0] v0 + c[x,1] v1 + ..., the same sums as one level at a time):
    # a seesaw runs thousands of these, and one best response on a (K, 4) array costs what one level's did
    w = 0 + c[:, 0, None] * v[0]
    for y in range(1, c.shape[1]):
        w = w + c[:, y, None] * v[y]
    vals, measures, vecs, fallbacks, flips = _best_response(w, party)
    for x, (val, measured, fallback, flip) in enumerate(
        zip(vals.tolist(), measures.tolist(), fallbacks.tolist(), flips.tolist(), strict=True)
    ):
        value += val
        vec = vecs[x]
        norm = math.sqrt(vec @ vec)
        how.append((vec / norm, fallback, flip) if measured and norm > 0 else (None, fallback, False))
    return value, how


def _obs_of(how, party) -> np.ndarray:
    return np.array([_obs4(n, f, party, fl) for n, f, fl in how])


def _seesaw(c, k, R, party_a, party_b, b_how, steps: int = SEESAW_STEPS) -> tuple[float, list, list]:
    """Alternate exact best responses from B's choices ``b_how`` until the value stops rising (or ``steps``)."""
    value = -np.inf
    for _ in range(steps):
        new, a_how = _respond(c, R, party_a, _obs_of(b_how, party_b))
        new, b_how = _respond(c.T, R.T, party_b, _obs_of(a_how, party_a))
        if new <= value + 1e-15:
            break
        value = new
    return strategy_value(c, k, R, _obs_of(a_how, party_a), _obs_of(b_how, party_b)), a_how, b_how


def _seesaw_many(c, k, R, party_a, party_b, b_hows: list, steps: int = SEESAW_STEPS) -> list[tuple[float, list, list]]:
    """``_seesaw`` from every start in ``b_hows``: the same alternating exact best responses, each start stopping
    exactly when its own seesaw would, in one compiled loop (``kernels.seesaw``) instead of tens of thousands of
    small numpy operations. Values agree with ``_seesaw`` start by start to rounding
    (tests/test_solver_batched.py)."""
    if not b_hows:
        return []
    b = _how_arrays(b_hows)
    values, *a = kernels.seesaw(
        np.ascontiguousarray(c, dtype=float),
        float(k),
        np.ascontiguousarray(R, dtype=float),
        party_a,
        party_b,
        *b,
        int(steps),
    )
    return [(float(values[i]), _how_list(a, i), _how_list(b, i)) for i in range(len(b_hows))]


def _how_arrays(hows: list) -> tuple[np.ndarray, ...]:
    """Choices [(unit vector or None, fallback, flip), ...] per start as arrays (directions, measures?, fallback,
    flip), shapes (S, K, 3) and (S, K)."""
    dirs = np.array([[np.zeros(3) if n is None else np.asarray(n, dtype=float) for n, _, _ in how] for how in hows])
    measures = np.array([[n is not None for n, _, _ in how] for how in hows], dtype=bool)
    fallback = np.array([[int(f) for _, f, _ in how] for how in hows], dtype=np.int64)
    flip = np.array([[bool(fl) for _, _, fl in how] for how in hows], dtype=bool)
    return dirs, measures, fallback, flip


def _how_list(arrays, i: int) -> list:
    dirs, measures, fallback, flip = arrays
    return [
        (dirs[i, j].copy() if measures[i, j] else None, int(fallback[i, j]), bool(flip[i, j]) and bool(measures[i, j]))
        for j in range(dirs.shape[1])
    ]


def _unit(polar: float, azimuth: float) -> np.ndarray:
    return np.array([math.sin(polar) * math.cos(azimuth), math.sin(polar) * math.sin(azimuth), math.cos(polar)])


def _sphere_polish(c, k, R, party_a, party_b, b_how, maxiter: int | None = None) -> tuple[float, list, list]:
    """Quasi-Newton steps on the exact gradient over B's measuring directions (polar and azimuthal angles;
    fallbacks, flips and constants kept), A best-responding exactly, then seesaw: seesaw alone creeps where the
    optimum is a long shallow ridge."""
    free = [i for i, ch in enumerate(b_how) if ch[0] is not None]
    if not free:
        return _seesaw(c, k, R, party_a, party_b, b_how)
    ob = _obs_of(b_how, party_b)
    amp = [_amplitude(party_b, b_how[i][2]) for i in free]

    def neg(params):
        grad = np.empty(params.size)
        trig = []
        for j, i in enumerate(free):
            sp, cp = math.sin(params[2 * j]), math.cos(params[2 * j])
            sa, ca = math.sin(params[2 * j + 1]), math.cos(params[2 * j + 1])
            ob[i, 1], ob[i, 2], ob[i, 3] = amp[j] * sp * ca, amp[j] * sp * sa, amp[j] * cp
            trig.append((sp, cp, sa, ca))
        value, grad_ob = _value_gradient(c, R, party_a, ob)
        for j, i in enumerate(free):  # chain rule through n = (sin p cos a, sin p sin a, cos p)
            sp, cp, sa, ca = trig[j]
            gx, gy, gz = amp[j] * grad_ob[i, 1:]
            grad[2 * j] = gx * cp * ca + gy * cp * sa - gz * sp
            grad[2 * j + 1] = -gx * sp * sa + gy * sp * ca
        return -value, -grad

    start = []
    for i in free:
        n = b_how[i][0]
        start += [math.acos(max(-1.0, min(1.0, float(n[2])))), math.atan2(float(n[1]), float(n[0]))]
    best = _ascend(neg, np.array(start), c, maxiter)
    how = list(b_how)
    for j, i in enumerate(free):
        how[i] = (_unit(best[2 * j], best[2 * j + 1]), b_how[i][1], b_how[i][2])
    return _seesaw(c, k, R, party_a, party_b, how)


def _sphere_optimum(c, k, R, party_a, party_b, a_planar, b_planar):
    """Best strategy over all Bloch directions: seesaw from the best sphere-grid points and from the planar optimum.

    Returns (value, A's choices, B's choices, azimuths) with choices as (theta or None, fallback, flip)."""
    total, choices = _sphere_grid(c, k, R, party_a, party_b)
    flat = _top(total, SEESAW_STARTS)
    starts = [[choices[i] for i in np.unravel_index(idx, total.shape)] for idx in flat]
    starts.append([(None if t is None else pair.direction(t, 0.0), f, fl) for t, f, fl in b_planar])
    # a short seesaw settles each start's basin and discrete choices; the best few are polished to convergence
    rough = sorted(_seesaw_many(c, k, R, party_a, party_b, starts, SEESAW_ROUGH), key=lambda r: -r[0])
    value, a_how, b_how = max(
        (_sphere_polish(c, k, R, party_a, party_b, r[2]) for r in rough[:POLISHED]), key=lambda r: r[0]
    )
    settings = {
        P: [(None, f, fl) if n is None else (pair.setting_of(n), f, fl) for n, f, fl in how]
        for P, how in (("A", a_how), ("B", b_how))
    }
    azimuths = {P: tuple(None if st is None else st[1] for st, _, _ in settings[P]) for P in "AB"}
    a_choice = [(None if st is None else st[0], f, fl) for st, f, fl in settings["A"]]
    b_choice = [(None if st is None else st[0], f, fl) for st, f, fl in settings["B"]]
    return value, a_choice, b_choice, azimuths


def _solve_levels(game: Game, p: np.ndarray, noise: Noise, device=None) -> Solution:
    """A K_A x K_B game: the exhaustive classical optimum, and one measurement direction per input level from a
    seesaw (alternating exact best responses, noise and readout included) started from ``LEVEL_STARTS`` random
    directions for B and from B's classical rule with one level measured (``MIXED_STARTS`` each; a fixed
    stream: same game, same answer); the best ``POLISHED`` run to convergence and the best of those polished by
    quasi-Newton steps over B's directions, then seesaw. A lower bound on the two-qubit optimum (seesaw finds local
    optima); ``tsirelson_sdp`` bounds it from above."""
    c, k = game.correlator_weights(p)
    R4, party_a, party_b = _link(noise, device)
    cl_value, f_a, f_b = classical_optimum(game, p)
    rng = np.random.default_rng(LEVEL_SEED)
    kb = game.levels[1]

    def unit():
        n = rng.normal(size=3)
        return n / np.linalg.norm(n)

    # B measuring on every level, and B playing the classical rule except on one measured level: with a noisy
    # link the optimum often mixes the two, and a seesaw from all-measuring starts stays in that basin
    starts = [[(unit(), 0, False) for _ in range(kb)] for _ in range(LEVEL_STARTS)]
    for y in range(kb):
        for _ in range(MIXED_STARTS):
            starts.append([(unit(), f_b[j], False) if j == y else (None, f_b[j], False) for j in range(kb)])
    rough = sorted(_seesaw_many(c, k, R4, party_a, party_b, starts, SEESAW_ROUGH), key=lambda r: -r[0])
    settled = sorted(_seesaw_many(c, k, R4, party_a, party_b, [r[2] for r in rough[:POLISHED]]), key=lambda r: -r[0])
    # steps capped: the seesaw has already converged, the polish only walks a shallow ridge further
    value, a_how, b_how = _sphere_polish(c, k, R4, party_a, party_b, settled[0][2], maxiter=LEVEL_POLISH)
    if settled[0][0] > value:  # the polish only ever refines; keep the seesaw's point if it did not
        value, a_how, b_how = settled[0]
    uses = any(n is not None for n, _, _ in a_how) and any(n is not None for n, _, _ in b_how)
    if value <= cl_value + ADVANTAGE_TOL or not uses:
        value, uses = cl_value, False
        angles: dict[str, tuple[float | None, ...]] = {"A": (None,) * len(f_a), "B": (None,) * len(f_b)}
        azimuths = dict(angles)
        fallback, flipped = {"A": f_a, "B": f_b}, {"A": (False,) * len(f_a), "B": (False,) * len(f_b)}
    else:
        settings = {
            P: [None if n is None else pair.setting_of(n) for n, _, _ in how] for P, how in (("A", a_how), ("B", b_how))
        }
        angles = {P: tuple(None if st is None else st[0] for st in settings[P]) for P in "AB"}
        azimuths = {P: tuple(None if st is None else st[1] for st in settings[P]) for P in "AB"}
        fallback = {P: tuple(int(f) for _, f, _ in how) for P, how in (("A", a_how), ("B", b_how))}
        flipped = {P: tuple(bool(fl) for _, _, fl in how) for P, how in (("A", a_how), ("B", b_how))}
    return Solution(
        game=game,
        p_xy=p,
        noise=noise,
        classical_value=cl_value,
        classical_rule=(f_a, f_b),
        quantum_value=float(value),
        angles=angles,
        fallback=fallback,
        textbook_value=math.nan,
        uses_entanglement=uses,
        checks={
            "textbook_fallback": None,
            "starts": LEVEL_STARTS,
            "search": f"Bloch sphere, seesaw from {LEVEL_STARTS} starts",
        },
        azimuths=azimuths,
        planar=False,
        device=device,
        flipped=flipped,
    )


# -- independent checks for the noiseless game ------------------------------------------------------
def tsirelson_value(game: Game, p_xy) -> float:
    """Quantum value of the noiseless game from Tsirelson's vector program, reduced to one angle.

    max over unit vectors of sum c[x,y] u_x . v_y: for fixed u's the best v_y is the unit vector along
    sum_x c[x,y] u_x, leaving a function of the angle phi between u_0 and u_1 only.
    """
    c, k = game.correlator_weights(check_p_xy(p_xy))

    def f(phi: float) -> float:
        cp = math.cos(phi)
        return sum(math.sqrt(max(0.0, c[0, y] ** 2 + c[1, y] ** 2 + 2 * c[0, y] * c[1, y] * cp)) for y in (0, 1))

    phis = np.linspace(0.0, math.pi, 2001)
    i = int(np.argmax([f(p) for p in phis]))
    lo, hi = phis[max(i - 1, 0)], phis[min(i + 1, phis.size - 1)]
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda p: -f(p), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return k + max(f(phis[i]), -res.fun)


def tsirelson_sdp(game: Game, p_xy) -> float:
    """Quantum value of the noiseless game from Tsirelson's semidefinite program (needs cvxpy): the best any
    entangled state of any dimension can do in this XOR game.

    maximize sum c[x,y] G[x, K_A + y] over (K_A + K_B)-square Gram matrices G >= 0 with unit diagonal
    (Tsirelson: XOR-game correlators are exactly inner products of unit vectors).
    """
    c, k = game.correlator_weights(check_p_xy(p_xy, game.levels))
    return tsirelson_weights(c, k)


def tsirelson_weights(c, k: float = 0.0) -> float:
    """Tsirelson's SDP on correlator weights directly: max k + sum c[x, y] E[A_x B_y] over every entangled strategy,
    for a K_A x K_B matrix ``c`` of any size (a ``Game`` stops at ``MAX_LEVELS`` inputs a side; a discretised
    continuous game goes further). Needs cvxpy."""
    try:
        import cvxpy as cp
    except ImportError as exc:  # optional: the closed-form search is the default method
        raise StrategyError("tsirelson_sdp needs cvxpy: pip install 'qcoord[sdp]'") from exc
    c = np.asarray(c, dtype=float)
    if c.ndim != 2 or not np.isfinite(c).all():
        raise StrategyError(f"correlator weights must be a finite K_A x K_B matrix, got shape {c.shape}")
    scale = float(np.abs(c).max())
    if scale == 0.0:
        return k
    problem, weights = _tsirelson_problem(*c.shape)
    with _SDP_LOCK:  # one compiled problem per shape, shared by a worker's threads
        # weights scaled to 1: the solver's tolerances are absolute, and a hedge game's are currency^2 (1e-6 or less)
        weights.value = c / scale
        problem.solve(solver=cp.CLARABEL)
        status, value = problem.status, problem.value
    if status not in ("optimal", "optimal_inaccurate"):
        raise StrategyError(f"Tsirelson's SDP did not solve: {status}")
    return k + scale * float(value)


_SDP_LOCK = threading.Lock()


@lru_cache(maxsize=None)
def _tsirelson_problem(ka: int, kb: int):
    """Tsirelson's SDP for a K_A x K_B game with the weights as a cvxpy Parameter: cvxpy compiles it once per shape
    (a quarter of a solve's time was that compilation) and each game only sets the weights."""
    import cvxpy as cp

    weights = cp.Parameter((ka, kb))
    G = cp.Variable((ka + kb, ka + kb), symmetric=True)
    problem = cp.Problem(cp.Maximize(cp.sum(cp.multiply(weights, G[:ka, ka:]))), [G >> 0, cp.diag(G) == 1])
    return problem, weights
