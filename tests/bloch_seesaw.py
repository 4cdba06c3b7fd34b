"""An independent optimiser over every measurement direction, for checking ``strategies.solve``.

It shares nothing with the solver's method: no Pauli tensor, no effective observables, no fallback
parametrisation. It works on the density matrix itself (qiskit's, noise included) with projectors
Pi_t(n) = (I + (-1)^t n.sigma)/2, a detector matrix D[true outcome, reported outcome] (readout then loss,
outcome 2 = no click), and every deterministic output function f: {0, 1, no click} -> {0, 1} (8 of them,
the two constants being "ignore the qubit"). For fixed B, A's expected utility on input x is affine in
A's direction for each f, so A's best response is exact: enumerate f, take the best direction. Seesaw
alternates best responses from B's four constant rules and many random starts; the best results are
polished by Nelder-Mead over all four directions, valued with projectors.
"""

from __future__ import annotations

import itertools

import numpy as np

SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
OUTPUT_FUNCTIONS = list(itertools.product((0, 1), repeat=3))  # f[o] for o = 0, 1, no click
FUNCTION_INDEX = {f: i for i, f in enumerate(OUTPUT_FUNCTIONS)}


def detector(readout: tuple[float, float], loss: float) -> np.ndarray:
    e01, e10 = readout
    return np.array(
        [[(1 - e01) * (1 - loss), e01 * (1 - loss), loss], [e10 * (1 - loss), (1 - e10) * (1 - loss), loss]]
    )


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
        self.q = {
            side: np.array([[[d[t, np.array(f) == a].sum() for a in (0, 1)] for t in (0, 1)] for f in OUTPUT_FUNCTIONS])
            for side, d in self.det.items()
        }
        # utility weights seen from each side: w[x, y, a, b] = p(x, y) u(x, y, a XOR b) with x this side's input
        xor = np.array([[0, 1], [1, 0]])
        w = self.p[:, :, None, None] * self.u[:, :, xor]
        self.w = {"A": w, "B": w.transpose(1, 0, 3, 2)}

    def _reduced(self, side: str, other_povms) -> np.ndarray:
        """K[x, a]: the operator on this side's qubit whose trace with this side's POVM gives the utility."""
        e = np.asarray(other_povms)  # [y, b, 2, 2]
        part = (
            np.einsum("bacd,ykcb->ykad", self.r, e) if side == "A" else np.einsum("badc,ykca->ykbd", self.r, e)
        )  # Tr over the other qubit, per (y, b)
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

    def povms(self, side: str, how) -> np.ndarray:
        """E[input][output] for each (direction, output function) of ``how``, shape (2, 2, 2, 2)."""
        out = []
        for n, f in how:
            q = self.q[side][FUNCTION_INDEX[f]]  # [t, a]
            ns = np.einsum("i,ijk->jk", n, SIGMA)
            proj = np.array([(np.eye(2) + ns) / 2, (np.eye(2) - ns) / 2])  # [t]
            out.append(np.einsum("ta,tjk->ajk", q, proj))
        return np.array(out)

    def value(self, how_a, how_b) -> float:
        """Expected utility of the strategy pair: sum over (x, y, a, b) of p u Tr[rho (E_B[y][b] (x) E_A[x][a])]."""
        ea, eb = self.povms("A", how_a), self.povms("B", how_b)
        joint = np.real(np.einsum("ijkl,ybki,xalj->xyab", self.r, eb, ea))  # qiskit order: B is the high qubit
        return float((self.w["A"] * joint).sum())

    def _seesaw(self, how_b, steps: int):
        value, how_a = -np.inf, None
        for _ in range(steps):
            _, how_a = self.best_response("A", self.povms("B", how_b))
            new, how_b = self.best_response("B", self.povms("A", how_a))
            if new <= value + 1e-15:
                break
            value = new
        return value, how_a, how_b

    def _polish(self, how_a, how_b):
        """Nelder-Mead over all four directions (output functions kept), valued with projectors; then seesaw."""
        from scipy.optimize import minimize

        fs = [f for _, f in how_a] + [f for _, f in how_b]

        def split(params):
            dirs = [
                np.array(
                    [
                        np.sin(params[2 * i]) * np.cos(params[2 * i + 1]),
                        np.sin(params[2 * i]) * np.sin(params[2 * i + 1]),
                        np.cos(params[2 * i]),
                    ]
                )
                for i in range(4)
            ]
            return list(zip(dirs[:2], fs[:2])), list(zip(dirs[2:], fs[2:]))

        start = np.concatenate([[np.arccos(np.clip(n[2], -1, 1)), np.arctan2(n[1], n[0])] for n, _ in how_a + how_b])
        res = minimize(
            lambda p: -self.value(*split(p)),
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-13, "maxiter": 4000, "maxfev": 4000},
        )
        return self._seesaw(split(res.x)[1], 500)

    def _pauli_parts(self, povms_y) -> np.ndarray:
        """For each B choice's POVM (2 outputs): Tr_B[rho (I x E_b)] as (trace, Pauli vector), shape (n, 2, 4)."""
        part = np.einsum("bacd,nkcb->nkad", self.r, povms_y)  # partial trace over B's qubit
        trace = np.real(np.einsum("nkaa->nk", part))
        vec = np.real(np.einsum("sij,nkji->nks", SIGMA, part))
        return np.concatenate([trace[..., None], vec], axis=-1)

    def grid_optimum(self, polar_steps: int = 9, azimuth_steps: int = 16, top: int = 8, polished: int = 3) -> float:
        """Brute force over a (polar, azimuth) grid of B's two directions and every output function per input,
        with A's exact best response, valued by projectors. The best grid point for each pair of B's output
        functions and the ``top`` best overall are refined by a short seesaw, and the best ``polished`` of those
        by Nelder-Mead on all four directions, then seesaw."""
        dirs = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
        for pol in np.linspace(0, np.pi, polar_steps + 2)[1:-1]:
            for az in np.linspace(-np.pi, np.pi, azimuth_steps, endpoint=False):
                dirs.append(np.array([np.sin(pol) * np.cos(az), np.sin(pol) * np.sin(az), np.cos(pol)]))
        choices = [(dirs[0], f) for f in OUTPUT_FUNCTIONS if len(set(f)) == 1]
        choices += [(n, f) for n in dirs for f in OUTPUT_FUNCTIONS if len(set(f)) > 1]
        parts = self._pauli_parts(np.array([povm(n, f, self.det["B"]) for n, f in choices]))  # [k, b, 4]
        xor = np.array([[0, 1], [1, 0]])
        # A's operator for input x and output a, as (trace, Pauli vector): sum over y of w[x, y, a, b] parts[k_y, b]
        w = self.p[:, :, None, None] * self.u[:, :, xor]  # [x, y, a, b]
        contrib = np.einsum("xyab,kbs->ykxas", w, parts)  # per y and B choice k
        q = self.q["A"]  # [f, t, a]
        dq = q[:, 0, :] - q[:, 1, :]  # [f, a]
        sq = q.sum(axis=1)  # [f, a]
        total = np.zeros((len(choices), len(choices)))
        for x in (0, 1):
            # A's operator is linear in B's two choices (k0 on y = 0, k1 on y = 1): its trace and Pauli parts per
            # output function f are the sums of one part per choice, so the grid is a sum of two tables
            trace = [np.einsum("fa,ka->kf", sq, contrib[y, :, x, :, 0]) / 2 for y in (0, 1)]  # [k, f]
            vec = [np.einsum("fa,kas->kfs", dq, contrib[y, :, x, :, 1:]) for y in (0, 1)]  # [k, f, 3]
            for i in range(0, len(choices), 64):  # B's choices on y = 0 in blocks, all choices on y = 1 at once
                v = vec[0][i : i + 64, None] + vec[1][None]  # [i, k1, f, 3]
                t = trace[0][i : i + 64, None] + trace[1][None]
                total[i : i + 64] += (t + np.sqrt((v * v).sum(axis=-1)) / 2).max(axis=-1)
        # near-equal basins are closer than the grid can tell apart: a short seesaw from the best grid point for
        # each pair of B's output functions (basins often differ in those) and the best points overall, then the
        # best few polished
        func = np.array([FUNCTION_INDEX[f] for _, f in choices])
        starts = []
        groups = [np.flatnonzero(func == f) for f in np.unique(func)]
        for g0 in groups:
            for g1 in groups:
                i0, i1 = np.unravel_index(int(np.argmax(total[np.ix_(g0, g1)])), (len(g0), len(g1)))
                starts.append((g0[i0], g1[i1]))
        starts += [np.unravel_index(idx, total.shape) for idx in np.argsort(total, axis=None)[::-1][:top]]
        rough = [self._seesaw([choices[k0], choices[k1]], 40) for k0, k1 in starts]
        rough.sort(key=lambda r: -r[0])
        return max(max(r[0], self._polish(r[1], r[2])[0]) for r in rough[:polished])

    def optimum(self, starts: int, rng: np.random.Generator, steps: int = 300, polished: int = 1) -> float:
        """The grid brute force (over B's directions, and over A's with the roles exchanged), and seesaw from B's four
        constant rules and ``starts`` random strategies (the best
        ``polished`` refined by Nelder-Mead on all four directions and seesaw to convergence)."""
        z = np.array([0.0, 0.0, 1.0])
        fixed = [[(z, (c0,) * 3), (z, (c1,) * 3)] for c0 in (0, 1) for c1 in (0, 1)]
        randoms = [
            [(v / np.linalg.norm(v), OUTPUT_FUNCTIONS[rng.integers(8)]) for v in rng.normal(size=(2, 3))]
            for _ in range(starts)
        ]
        results = sorted((self._seesaw(b, steps) for b in fixed + randoms), key=lambda r: -r[0])
        seesaw = max(max(r[0], self._polish(r[1], r[2])[0]) for r in results[:polished])
        return max(seesaw, self.grid_optimum(), self.swapped().grid_optimum())

    def levels_optimum(self, starts: int, rng: np.random.Generator, steps: int = 400) -> float:
        """For inputs with K levels: seesaw from B's constant rules and ``starts`` random strategies (a random
        direction and output function per level), every start run to convergence; the best value found."""
        kb = self.p.shape[1]
        z = np.array([0.0, 0.0, 1.0])
        fixed = [[(z, (c,) * 3) for c in bits] for bits in itertools.product((0, 1), repeat=kb)]
        randoms = [
            [(v / np.linalg.norm(v), OUTPUT_FUNCTIONS[rng.integers(8)]) for v in rng.normal(size=(kb, 3))]
            for _ in range(starts)
        ]
        return max(self._seesaw(b, steps)[0] for b in fixed + randoms)

    def swapped(self) -> BlochSeesaw:
        """The same game with the parties' roles exchanged (so the grid covers A's directions and functions)."""
        rho = self.r.transpose(1, 0, 3, 2).reshape(4, 4)
        return BlochSeesaw(rho, self.u.transpose(1, 0, 2), self.p.T, self.det["B"], self.det["A"])
