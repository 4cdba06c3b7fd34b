"""Optimal strategies for the input statistics actually seen, with and without noise.

Everything reduces to correlators. With outputs as +-1 (0 -> +1, 1 -> -1) the expected utility is
U = k + sum_xy c[x, y] E[A_x B_y] (``Game.correlator_weights``). A server's final output on input x,
whatever it does, is described by an *effective observable* o = (o_I, o_X, o_Z) on its half of the pair:

- output a constant bit (ignore the qubit): o = (+-1, 0, 0);
- measure at angle theta, report the (possibly misread) outcome, fall back to bit f on no click:
  o = (g, h sin 2theta, h cos 2theta) with g = (1 - L) d + L f and h = (1 - L) s, where L is the
  loss probability and d + s A the readout-error map (``noise.readout_affine``).

Then E[A_x B_y] = o_A(x)^T R o_B(y), R the I/X/Z block of the Pauli tensor of the stored pair (from
qiskit.quantum_info, noise included). For fixed B the best response of A is closed-form per input, so
``solve`` grids B's choices (constants, and every angle on a grid with either fallback), takes A's best
response exactly, and polishes the best candidates with a continuous optimizer. Classical rules are in
the search space (both constant), so the quantum optimum is never below the classical one; when it is
not above, the returned quantum strategy *is* the classical one and the advantage is 0.

Independent checks for the noiseless game: ``tsirelson_value`` (Tsirelson's vector program reduced to
one angle, exact for 2x2 XOR games) and ``tsirelson_sdp`` (the semidefinite program, needs cvxpy).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from . import pair
from .classical import RULES, classical_optimum, classical_rule_dict, deterministic
from .errors import StrategyError
from .game import Game, check_p_xy
from .noise import Noise, readout_affine
from .quantum import quantum_strategy, textbook_angles
from .strategy import Strategy

ADVANTAGE_TOL = 1e-9
IXZ = [0, 1, 3]


def pair_matrix(noise: Noise) -> np.ndarray:
    """The I/X/Z block of the stored pair's Pauli tensor (rows: A, columns: B)."""
    return pair.pauli_tensor(pair.stored_state(noise))[np.ix_(IXZ, IXZ)]


def _party(noise: Noise, side: str) -> tuple[float, float, float]:
    """(L, d, s): loss, readout offset and scale of one party."""
    e = noise.readout_a if side == "A" else noise.readout_b
    loss = noise.loss_a if side == "A" else noise.loss_b
    d, s = readout_affine(e)
    return loss, d, s


def observable(theta: float | None, fallback: int, party: tuple[float, float, float]) -> np.ndarray:
    """Effective observable of a party: measure at theta (None: output ``fallback`` without measuring)."""
    pm = 1.0 - 2.0 * fallback
    if theta is None:
        return np.array([pm, 0.0, 0.0])
    loss, d, s = party
    h = (1.0 - loss) * s
    return np.array([(1.0 - loss) * d + loss * pm, h * math.sin(2 * theta), h * math.cos(2 * theta)])


def strategy_value(c: np.ndarray, k: float, R: np.ndarray, obs_a: np.ndarray, obs_b: np.ndarray) -> float:
    """k + sum_xy c[x,y] o_A(x)^T R o_B(y); obs_* are (2, 3) arrays of effective observables."""
    return float(k + np.einsum("xy,xi,ij,yj->", c, obs_a, R, obs_b))


def _best_response(w: np.ndarray, party: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """A's best value against w (..., 3) and how: (value, measures?, theta, fallback bit)."""
    loss, d, s = party
    w0, wx, wz = w[..., 0], w[..., 1], w[..., 2]
    h = (1.0 - loss) * s
    measured = (1.0 - loss) * d * w0 + loss * np.abs(w0) + abs(h) * np.hypot(wx, wz)
    constant = np.abs(w0)
    measures = measured > constant + 1e-15
    sign = 1.0 if h >= 0 else -1.0
    theta = np.mod(np.arctan2(sign * wx, sign * wz) / 2.0, math.pi)
    fallback = (w0 < 0).astype(int)  # +1 (bit 0) when w0 >= 0
    return np.maximum(measured, constant), measures, theta, fallback


def _b_candidates(party: tuple[float, float, float], grid: int) -> tuple[np.ndarray, list[tuple[float | None, int]]]:
    thetas = np.arange(grid) * (math.pi / grid)
    choices: list[tuple[float | None, int]] = [(None, 0), (None, 1)]
    choices += [(float(t), f) for f in (0, 1) for t in thetas]
    return np.array([observable(t, f, party) for t, f in choices]), choices


def _grid_values(c, k, R, party_a, party_b, grid: int):
    """Value of A's exact best response to every pair of B's grid choices (k0 for y = 0, k1 for y = 1)."""
    ob_all, choices = _b_candidates(party_b, grid)
    v = ob_all @ R.T  # v[k] = R o_B(k)
    total = k + sum(
        _best_response(c[x, 0] * v[:, None, :] + c[x, 1] * v[None, :, :], party_a)[0] for x in (0, 1)
    )
    return total, choices


def quantum_lower_bound(games, p_xy, noise: Noise | None = None, *, grid: int = 90):
    """The quantum value of ``solve`` without its polishing step: B's angles on a grid of ``grid`` per
    [0, pi), A's exact best response. A lower bound within the grid's second-order error (about 4e-4 of
    the game's scale at 2 degrees), a hundred times faster: for scans that call the solver many times.
    ``games``: one Game (returns a float) or a sequence of them (returns a list; the noisy pair is built once).
    """
    p = check_p_xy(p_xy)
    noise = noise or Noise()
    R, party_a, party_b = pair_matrix(noise), _party(noise, "A"), _party(noise, "B")
    many = not isinstance(games, Game)
    out = []
    for game in (games if many else [games]):
        c, k = game.correlator_weights(p)
        out.append(float(_grid_values(c, k, R, party_a, party_b, grid)[0].max()))
    return out if many else out[0]


@dataclass(frozen=True)
class Solution:
    """What ``solve`` found. Values are expected utilities per round (= win rates at beta = 0).

    ``angles[P][x]``: party P's measurement angle (radians) on input x, or None where it ignores its
    qubit and outputs ``fallback[P][x]``; ``fallback[P][x]`` is also its output on no click.
    """

    game: Game
    p_xy: np.ndarray
    noise: Noise
    classical_value: float
    classical_rule: tuple[tuple[int, int], tuple[int, int]]
    quantum_value: float
    angles: dict[str, tuple[float | None, float | None]]
    fallback: dict[str, tuple[int, int]]
    textbook_value: float
    uses_entanglement: bool
    checks: dict = field(default_factory=dict)

    @property
    def advantage(self) -> float:
        return max(0.0, self.quantum_value - self.classical_value)

    def classical_strategy(self, name: str = "classical") -> Strategy:
        return deterministic(*self.classical_rule, name=name)

    def quantum_strategy(self, backend: str = "exact", name: str = "quantum", aer_backend=None) -> Strategy:
        """The optimal strategy; the classical rule itself when entanglement does not help."""
        if not self.uses_entanglement:
            return deterministic(*self.classical_rule, name=name)
        return quantum_strategy(self.angles["A"], self.angles["B"], self.noise, fallback_a=self.fallback["A"],
                                fallback_b=self.fallback["B"], backend=backend, name=name, aer_backend=aer_backend)

    def textbook_strategy(self, backend: str = "exact", name: str = "textbook") -> Strategy:
        ang = textbook_angles(self.game.rule)
        fa, fb = self.checks["textbook_fallback"]
        return quantum_strategy(ang["A"], ang["B"], self.noise, fallback_a=fa, fallback_b=fb, backend=backend, name=name)

    def to_dict(self) -> dict:
        return {
            "p_xy": self.p_xy.tolist(),
            **self.game.to_dict(),
            "classical_value": self.classical_value,
            "quantum_value": self.quantum_value,
            "textbook_value": self.textbook_value,
            "advantage": self.advantage,
            "uses_entanglement": self.uses_entanglement,
            "angles": {p: list(v) for p, v in self.angles.items()},
            "fallback": {p: list(v) for p, v in self.fallback.items()},
            "classical_rule": classical_rule_dict(*self.classical_rule),
            "noise": self.noise.to_dict(),
        }


def _textbook(c, k, R, party_a, party_b, rule) -> tuple[float, tuple]:
    ang = textbook_angles(rule)
    best = None
    for fa, fb in itertools.product(RULES, RULES):  # the best no-click fallback for these angles
        oa = np.array([observable(ang["A"][x], fa[x], party_a) for x in (0, 1)])
        ob = np.array([observable(ang["B"][y], fb[y], party_b) for y in (0, 1)])
        v = strategy_value(c, k, R, oa, ob)
        if best is None or v > best[0] + 1e-15:
            best = (v, (fa, fb))
    return best


def solve(game: Game, p_xy, noise: Noise | None = None, *, grid: int = 180) -> Solution:
    """Classical optimum, quantum optimum (angles, fallbacks) and textbook-angle value for ``p_xy``.

    ``noise`` describes the pair and detectors at the time of measurement (its ``storage_time`` is the
    storage the angles are optimized for). ``grid`` is the number of angles per [0, pi) in the search
    before polishing.
    """
    if not isinstance(game, Game):
        raise StrategyError(f"game must be a Game, got {type(game).__name__}")
    p = check_p_xy(p_xy)
    noise = noise or Noise()
    c, k = game.correlator_weights(p)
    R = pair_matrix(noise)
    party_a, party_b = _party(noise, "A"), _party(noise, "B")
    cl_value, f_a, f_b = classical_optimum(game, p)

    total, choices = _grid_values(c, k, R, party_a, party_b, grid)
    flat = np.argsort(total, axis=None)[::-1][:8]
    # Polishing moves a value by at most the grid's second-order error (below 1e-3 at 1 degree), so only
    # candidates that close to the best grid value can end up best.
    flat = [i for i in flat if total.flat[i] >= total.flat[flat[0]] - 1e-3]
    best = (-np.inf, None, None)
    for idx in flat:
        k0, k1 = np.unravel_index(idx, total.shape)
        cand = _polish(c, k, R, party_a, party_b, choices[k0], choices[k1])
        if cand[0] > best[0]:
            best = cand
    q_value, b_choice, a_choice = best

    uses = any(t is not None for t, _ in a_choice) and any(t is not None for t, _ in b_choice)
    if q_value <= cl_value + ADVANTAGE_TOL or not uses:
        q_value, uses = cl_value, False
        angles = {"A": (None, None), "B": (None, None)}
        fallback = {"A": f_a, "B": f_b}
    else:
        angles = {"A": tuple(t for t, _ in a_choice), "B": tuple(t for t, _ in b_choice)}
        fallback = {"A": tuple(f for _, f in a_choice), "B": tuple(f for _, f in b_choice)}
    tb_value, tb_fallback = _textbook(c, k, R, party_a, party_b, game.rule)
    if uses:
        angles, fallback = _canonical(c, k, R, party_a, party_b, q_value, angles, fallback,
                                      (textbook_angles(game.rule), tb_value, tb_fallback))
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
    )


def _canonical(c, k, R, party_a, party_b, value, angles, fallback, textbook):
    """Readable angles of equal value: the textbook ones when they are optimal, else A's first angle at 0.

    Without relaxation towards |0> a common rotation of all angles leaves every correlator unchanged,
    so the optimum is a family; we report one member, checked to give the same value.
    """
    tb_angles, tb_value, tb_fallback = textbook
    if tb_value >= value - 1e-10:
        return {p: tuple(tb_angles[p]) for p in "AB"}, {"A": tb_fallback[0], "B": tb_fallback[1]}
    first = next((t for t in angles["A"] if t is not None), None)
    if first is None:
        return angles, fallback
    turned = {p: tuple(None if t is None else float(np.mod(t - first, math.pi)) for t in angles[p]) for p in "AB"}

    def obs(p, party):
        return np.array([observable(turned[p][i], fallback[p][i], party) for i in (0, 1)])

    if abs(strategy_value(c, k, R, obs("A", party_a), obs("B", party_b)) - value) < 1e-12:
        return turned, fallback
    return angles, fallback


def _a_best(c, R, party_a, ob: np.ndarray) -> tuple[float, list[tuple[float | None, int]]]:
    value, how = 0.0, []
    for x in (0, 1):
        w = c[x, 0] * (R @ ob[0]) + c[x, 1] * (R @ ob[1])
        val, measures, theta, fallback = _best_response(w, party_a)
        value += float(val)
        how.append((float(theta) if measures else None, int(fallback)))
    return value, how


def _polish(c, k, R, party_a, party_b, choice0, choice1):
    """Continuous refinement of B's measuring angles (fallbacks and constant choices kept), A best-responding."""
    free = [i for i, (t, _) in enumerate((choice0, choice1)) if t is not None]

    def b_obs(thetas) -> np.ndarray:
        ch = [list(choice0), list(choice1)]
        for i, t in zip(free, thetas):
            ch[i][0] = float(t)
        return np.array([observable(t, f, party_b) for t, f in ch]), ch

    def neg(thetas) -> float:
        ob, _ = b_obs(thetas)
        return -(k + _a_best(c, R, party_a, ob)[0])

    start = np.array([(choice0, choice1)[i][0] for i in free])
    if free:
        step = math.pi / 180
        res = minimize(neg, start, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "initial_simplex": _simplex(start, step)})
        start = res.x
    ob, ch = b_obs(start)
    a_val, a_how = _a_best(c, R, party_a, ob)
    b_how = [(None if t is None else float(np.mod(t, math.pi)), int(f)) for t, f in ch]
    return k + a_val, b_how, a_how


def _simplex(x0: np.ndarray, step: float) -> np.ndarray:
    pts = [x0]
    for i in range(x0.size):
        p = x0.copy()
        p[i] += step
        pts.append(p)
    return np.array(pts)


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
    res = minimize_scalar(lambda p: -f(p), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return k + max(f(phis[i]), -res.fun)


def tsirelson_sdp(game: Game, p_xy) -> float:
    """Quantum value of the noiseless game from Tsirelson's semidefinite program (needs cvxpy).

    maximize sum c[x,y] G[x, 2+y] over 4x4 Gram matrices G >= 0 with unit diagonal.
    """
    try:
        import cvxpy as cp
    except ImportError as exc:  # optional: the closed-form search is the default method
        raise StrategyError("tsirelson_sdp needs cvxpy: pip install 'qcoord[sdp]'") from exc
    c, k = game.correlator_weights(check_p_xy(p_xy))
    G = cp.Variable((4, 4), symmetric=True)
    objective = cp.Maximize(sum(c[x, y] * G[x, 2 + y] for x in (0, 1) for y in (0, 1)))
    problem = cp.Problem(objective, [G >> 0, cp.diag(G) == 1])
    problem.solve(solver=cp.CLARABEL)
    return k + float(problem.value)
