"""An independent optimiser over every measurement direction, for checking ``strategies.solve``.

It shares nothing with the solver's method: no Pauli tensor, no effective observables, no fallback
parametrisation. It works on the density matrix itself (qiskit's, noise included) with projectors
Pi_t(n) = (I + (-1)^t n.sigma)/2, a detector matrix D[true outcome, reported outcome] (readout then loss,
outcome 2 = no click), and every deterministic output function f: {0, 1, no click} -> {0, 1} (8 of them,
the two constants being "ignore the qubit"). For fixed B, A's expected utility on input x is affine in
A's direction for each f, so A's best response is exact: enumerate f, take the best direction. Seesaw
alternates best responses from B's four constant rules and many random starts.
"""

from __future__ import annotations

import itertools

import numpy as np

SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
OUTPUT_FUNCTIONS = list(itertools.product((0, 1), repeat=3))  # f[o] for o = 0, 1, no click


def detector(readout: tuple[float, float], loss: float) -> np.ndarray:
    e01, e10 = readout
    return np.array([[(1 - e01) * (1 - loss), e01 * (1 - loss), loss], [e10 * (1 - loss), (1 - e10) * (1 - loss), loss]])


def projector(n: np.ndarray, t: int) -> np.ndarray:
    return (np.eye(2) + (-1) ** t * np.einsum("i,ijk->jk", n, SIGMA)) / 2


def povm(n: np.ndarray, f: tuple[int, int, int], det: np.ndarray) -> np.ndarray:
    """E[a] = sum_t Pi_t(n) P(output a | true t), shape (2, 2, 2)."""
    q = np.array([[det[t, list(np.flatnonzero(np.array(f) == a))].sum() for a in (0, 1)] for t in (0, 1)])
    return np.array([sum(q[t, a] * projector(n, t) for t in (0, 1)) for a in (0, 1)])


class BlochSeesaw:
    """Best strategy on a two-qubit state ``rho`` (4x4, qiskit order: qubit 0 = A is the low bit)."""

    def __init__(self, rho: np.ndarray, game_table: np.ndarray, p_xy: np.ndarray, det_a, det_b):
        self.r = np.asarray(rho).reshape(2, 2, 2, 2)  # [b, a, b', a']
        self.u, self.p, self.det = game_table, p_xy, {"A": det_a, "B": det_b}
        # P(output a | true outcome t) for each output function: q[side][f, t, a]
        self.q = {side: np.array([[[d[t, np.array(f) == a].sum() for a in (0, 1)] for t in (0, 1)]
                                  for f in OUTPUT_FUNCTIONS]) for side, d in self.det.items()}
        # utility weights seen from each side: w[x, y, a, b] = p(x, y) u(x, y, a XOR b) with x this side's input
        xor = np.array([[0, 1], [1, 0]])
        w = self.p[:, :, None, None] * self.u[:, :, xor]
        self.w = {"A": w, "B": w.transpose(1, 0, 3, 2)}

    def _reduced(self, side: str, other_povms) -> np.ndarray:
        """K[x, a]: the operator on this side's qubit whose trace with this side's POVM gives the utility."""
        e = np.asarray(other_povms)  # [y, b, 2, 2]
        part = (np.einsum("bacd,ykcb->ykad", self.r, e) if side == "A"
                else np.einsum("badc,ykca->ykbd", self.r, e))  # Tr over the other qubit, per (y, b)
        return np.einsum("xyak,ykij->xaij", self.w[side], part)

    def best_response(self, side: str, other_povms) -> tuple[float, list]:
        """(value, [(direction, f) per input]) of the exact best response against the other side's POVMs."""
        total, how = 0.0, []
        for ks in self._reduced(side, other_povms):
            L = np.einsum("fta,aij->ftij", self.q[side], ks)  # [f, t]
            diff = L[:, 0] - L[:, 1]
            v = np.real(np.einsum("sij,fji->fs", SIGMA, diff))
            norm = np.linalg.norm(v, axis=1)
            values = np.real(np.einsum("ftii->f", L)) / 2 + norm / 2
            i = int(np.argmax(values))
            n = v[i] / norm[i] if norm[i] > 0 else np.array([0.0, 0.0, 1.0])
            total += float(values[i])
            how.append((n, OUTPUT_FUNCTIONS[i]))
        return total, how

    def povms(self, side: str, how) -> list:
        return [povm(n, f, self.det[side]) for n, f in how]

    def value(self, how_a, how_b) -> float:
        """Expected utility of the strategy pair, from the density matrix and the POVMs."""
        ea, eb = self.povms("A", how_a), self.povms("B", how_b)
        rho = self.r.reshape(4, 4)
        total = 0.0
        for x, y, a, b in itertools.product((0, 1), repeat=4):
            joint = np.kron(eb[y][b], ea[x][a])  # qiskit order: B is the high qubit
            total += self.p[x, y] * self.u[x, y, a ^ b] * float(np.real(np.trace(rho @ joint)))
        return total

    def optimum(self, starts: int, rng: np.random.Generator, steps: int = 500) -> float:
        best = -np.inf
        z = np.array([0.0, 0.0, 1.0])
        # B's four constant rules (where the classical optimum lies), then random directions and output functions
        fixed = [[(z, (c0,) * 3), (z, (c1,) * 3)] for c0 in (0, 1) for c1 in (0, 1)]
        for i in range(len(fixed) + starts):
            how_b = fixed[i] if i < len(fixed) else [
                (v / np.linalg.norm(v), OUTPUT_FUNCTIONS[rng.integers(8)]) for v in rng.normal(size=(2, 3))]
            value = -np.inf
            for _ in range(steps):
                _, how_a = self.best_response("A", self.povms("B", how_b))
                new, how_b = self.best_response("B", self.povms("A", how_a))
                if new <= value + 1e-14:
                    break
                value = new
            best = max(best, value)
        return best
