"""An independent optimiser over every measurement direction, for checking ``strategies.solve``.

It shares nothing with the solver's method: no Pauli tensor, no effective observables, no fallback
parametrisation. It works on the density matrix itself (qiskit's, noise included) with projectors
Pi_t(n) = (I + (-1)^t n.sigma)/2, a detector matrix D[true outcome, reported outcome] (readout then loss,
outcome 2 = no click), and every deterministic output function f: {0, 1, no click} -> {0, 1} (8 of them,
the two constants being "ignore the qubit"). For fixed B, A's expected utility on input x is affine in
A's direction for each f, so A's best response is exact: enumerate f, take the best direction. Seesaw
alternates best responses from B's four constant rules and many random starts; the best results are
polished by Nelder-Mead over all four directions, valued with projectors.

Strategies are arrays: directions n[..., input, 3] and output functions as indices f[..., input] into
``OUTPUT_FUNCTIONS``, with any leading batch of starts, so one seesaw step serves every start at once.
"""

from __future__ import annotations

import itertools

import numpy as np

SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
EYE = np.eye(2)
OUTPUT_FUNCTIONS = list(itertools.product((0, 1), repeat=3))  # f[o] for o = 0, 1, no click
FUNCTION_INDEX = {f: i for i, f in enumerate(OUTPUT_FUNCTIONS)}
CONSTANT = (FUNCTION_INDEX[(0, 0, 0)], FUNCTION_INDEX[(1, 1, 1)])


def detector(readout: tuple[float, float], loss: float) -> np.ndarray:
    e01, e10 = readout
    return np.array(
        [[(1 - e01) * (1 - loss), e01 * (1 - loss), loss], [e10 * (1 - loss), (1 - e10) * (1 - loss), loss]]
    )


def n_sigma(n: np.ndarray) -> np.ndarray:
    """n.sigma for directions n[..., 3], shape (..., 2, 2) (the sum over Pauli matrices written out)."""
    n = np.asarray(n, dtype=float)
    out = np.empty(n.shape[:-1] + (2, 2), dtype=complex)
    out[..., 0, 0] = n[..., 2]
    out[..., 1, 1] = -n[..., 2]
    out[..., 0, 1] = n[..., 0] - 1j * n[..., 1]
    out[..., 1, 0] = n[..., 0] + 1j * n[..., 1]
    return out


def _combine(q: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """E[..., a] = q[..., 0, a] Pi_0 + q[..., 1, a] Pi_1 with Pi_t = (I +- n.sigma)/2, from q[..., t, a] and n.sigma
    [..., 2, 2]: shape (..., 2, 2, 2)."""
    ns = ns[..., None, :, :]
    return q[..., 0, :, None, None] * ((EYE + ns) / 2) + q[..., 1, :, None, None] * ((EYE - ns) / 2)


def _arrays(how) -> tuple[np.ndarray, np.ndarray]:
    """[(direction, output function), ...] per input as (n[input, 3], f[input])."""
    return np.array([np.asarray(n, dtype=float) for n, _ in how]), np.array([FUNCTION_INDEX[tuple(f)] for _, f in how])


def _unit_vectors(params: np.ndarray) -> np.ndarray:
    """(polar, azimuth) pairs -> unit vectors, shape (len(params) // 2, 3)."""
    polar, azimuth = params[0::2], params[1::2]
    sp = np.sin(polar)
    out = np.empty((len(polar), 3))
    out[:, 0], out[:, 1], out[:, 2] = sp * np.cos(azimuth), sp * np.sin(azimuth), np.cos(polar)
    return out


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
        r = self.r
        # partial traces as matrix products on flattened 2x2 operators: Tr over B's qubit of rho (I x E) has
        # entries sum_{b, c} r[b, a, c, d] E[c, b] (rows (c, b), columns (a, d)); over A's likewise
        self._trace_out = {"A": r.transpose(2, 0, 1, 3).reshape(4, 4), "B": r.transpose(3, 1, 0, 2).reshape(4, 4)}
        # Tr[rho (E_B (x) E_A)] = sum r[i, j, k, l] E_B[k, i] E_A[l, j]: rows (k, i), columns (l, j)
        self._joint = r.transpose(2, 0, 3, 1).reshape(4, 4)
        # K[x, a] = sum_{y, b} w[x, y, a, b] Tr_other[rho (E_other[y][b])] as one (x a) x (y b) matrix per side
        self._weights = {
            side: ws.transpose(0, 2, 1, 3).reshape(ws.shape[0] * 2, ws.shape[1] * 2) for side, ws in self.w.items()
        }
        self._value_weights = w.transpose(1, 3, 0, 2).reshape(w.shape[1] * 2, w.shape[0] * 2)  # [(y b), (x a)]

    def _povms(self, side: str, n: np.ndarray, f: np.ndarray) -> np.ndarray:
        """E[..., input, output] = sum_t q_f[t, output] Pi_t(n) for directions n[..., K, 3] and output functions
        f[..., K], shape (..., K, 2, 2, 2)."""
        return _combine(self.q[side][f], n_sigma(n))

    def _respond(self, side: str, other: np.ndarray):
        """Exact best responses of ``side`` to the other side's POVMs other[S, K', 2, 2, 2], one per start:
        (value[S], n[S, K, 3], f[S, K]). For each input x the operator K[x, a] (Tr over the other qubit, weighted
        by the utility) gives, per output function f, L[f, t] = sum_a q_f[t, a] K[x, a]; the value of measuring
        along n is Tr(L[f, 0] + L[f, 1]) / 2 + n.v / 2 with v_s = Tr(sigma_s (L[f, 0] - L[f, 1])), best at n = v/|v|."""
        s = other.shape[0]
        part = (other.reshape(-1, 4) @ self._trace_out[side]).reshape(s, -1, 4)  # [S, (y b), 4]
        k = self._weights[side] @ part  # [S, (x a), 4]: entries (i, j) of the 2x2 operator flattened
        kx = k.shape[1] // 2
        L = np.einsum("fta,sxak->sxftk", self.q[side], k.reshape(s, kx, 2, 4))
        diff = L[:, :, :, 0] - L[:, :, :, 1]  # [S, x, f, 4]
        vx = diff[..., 1].real + diff[..., 2].real  # Tr(sigma_x D) = D10 + D01
        vy = diff[..., 2].imag - diff[..., 1].imag  # Tr(sigma_y D) = -i D10 + i D01
        vz = diff[..., 0].real - diff[..., 3].real
        norm = np.sqrt(vx * vx + vy * vy + vz * vz)
        trace = (L[..., 0].real + L[..., 3].real).sum(axis=-1)  # [S, x, f]
        values = trace / 2 + norm / 2
        best = values.argmax(axis=-1)  # [S, x]
        pick = (np.arange(s)[:, None], np.arange(kx)[None, :], best)
        nb = norm[pick]
        safe = np.where(nb > 0, nb, 1.0)
        n = np.stack([vx[pick], vy[pick], vz[pick]], axis=-1) / safe[..., None]
        n[nb <= 0] = (0.0, 0.0, 1.0)
        return values[pick].sum(axis=-1), n, best

    def _value(self, na, fa, nb, fb) -> float:
        return self._value_of(self._povms("A", na, fa), self._povms("B", nb, fb))

    def _value_of(self, ea: np.ndarray, eb: np.ndarray) -> float:
        joint = (eb.reshape(-1, 4) @ self._joint @ ea.reshape(-1, 4).T).real  # [(y b), (x a)]
        return float((self._value_weights * joint).sum())

    def value(self, how_a, how_b) -> float:
        """Expected utility of the strategy pair: sum over (x, y, a, b) of p u Tr[rho (E_B[y][b] (x) E_A[x][a])]."""
        return self._value(*_arrays(how_a), *_arrays(how_b))

    def _seesaw(self, nb: np.ndarray, fb: np.ndarray, steps: int):
        """Alternating best responses from B's strategies nb[S, K, 3], fb[S, K], every start stopping when its own
        value stops rising: (value[S], na, fa, nb, fb)."""
        nb, fb = np.array(nb, dtype=float), np.array(fb)
        s, ka = nb.shape[0], self.p.shape[0]
        value = np.full(s, -np.inf)
        na, fa = np.zeros((s, ka, 3)), np.zeros((s, ka), dtype=int)
        active = np.arange(s)
        for _ in range(steps):
            if not active.size:
                break
            _, na_, fa_ = self._respond("A", self._povms("B", nb[active], fb[active]))
            new, nb_, fb_ = self._respond("B", self._povms("A", na_, fa_))
            na[active], fa[active], nb[active], fb[active] = na_, fa_, nb_, fb_
            rising = new > value[active] + 1e-15
            value[active[rising]] = new[rising]
            active = active[rising]
        return value, na, fa, nb, fb

    def _polish(self, na, fa, nb, fb) -> float:
        """Nelder-Mead over all four directions (output functions kept), valued with projectors; then seesaw."""
        from scipy.optimize import minimize

        ka = len(fa)
        start = np.concatenate([[np.arccos(np.clip(n[2], -1, 1)), np.arctan2(n[1], n[0])] for n in [*na, *nb]])
        q = np.concatenate([self.q["A"][fa], self.q["B"][fb]])  # the output functions are fixed: looked up once

        def negative(params):
            e = _combine(q, n_sigma(_unit_vectors(params)))  # all four POVMs in one go
            return -self._value_of(e[:ka], e[ka:])

        res = minimize(
            negative,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-13, "maxiter": 4000, "maxfev": 4000},
        )
        return float(self._seesaw(_unit_vectors(res.x)[None, ka:], np.asarray(fb)[None], 500)[0][0])

    def _pauli_parts(self, povms_y) -> np.ndarray:
        """For each B choice's POVM (2 outputs): Tr_B[rho (I x E_b)] as (trace, Pauli vector), shape (n, 2, 4)."""
        part = np.einsum("bacd,nkcb->nkad", self.r, povms_y)  # partial trace over B's qubit
        trace = np.real(np.einsum("nkaa->nk", part))
        vec = np.real(np.einsum("sij,nkji->nks", SIGMA, part))
        return np.concatenate([trace[..., None], vec], axis=-1)

    def _best_polished(self, starts_b: tuple[np.ndarray, np.ndarray], steps: int, polished: int) -> float:
        """Seesaw from every start, then the best ``polished`` refined by Nelder-Mead; the best value found."""
        value, na, fa, nb, fb = self._seesaw(*starts_b, steps)
        order = sorted(range(len(value)), key=lambda i: -value[i])  # stable: ties keep the starts' order
        return max(max(value[i], self._polish(na[i], fa[i], nb[i], fb[i])) for i in order[:polished])

    def grid_optimum(self, polar_steps: int = 9, azimuth_steps: int = 16, top: int = 8, polished: int = 3) -> float:
        """Brute force over a (polar, azimuth) grid of B's two directions and every output function per input,
        with A's exact best response, valued by projectors. The best grid point for each pair of B's output
        functions and the ``top`` best overall are refined by a short seesaw, and the best ``polished`` of those
        by Nelder-Mead on all four directions, then seesaw."""
        dirs = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
        for pol in np.linspace(0, np.pi, polar_steps + 2)[1:-1]:
            for az in np.linspace(-np.pi, np.pi, azimuth_steps, endpoint=False):
                dirs.append(np.array([np.sin(pol) * np.cos(az), np.sin(pol) * np.sin(az), np.cos(pol)]))
        varying = [i for i, f in enumerate(OUTPUT_FUNCTIONS) if len(set(f)) > 1]
        func = np.array(list(CONSTANT) + [i for _ in dirs for i in varying])  # B's choices: (direction, function)
        n = np.array([dirs[0]] * len(CONSTANT) + [d for d in dirs for _ in varying])
        parts = self._pauli_parts(self._povms("B", n[:, None], func[:, None])[:, 0])  # [k, b, 4]
        # A's operator for input x and output a, as (trace, Pauli vector): sum over y of w[x, y, a, b] parts[k_y, b]
        contrib = np.einsum("xyab,kbs->ykxas", self.w["A"], parts)  # per y and B choice k
        q = self.q["A"]  # [f, t, a]
        dq = q[:, 0, :] - q[:, 1, :]  # [f, a]
        sq = q.sum(axis=1)  # [f, a]
        total = np.zeros((len(func), len(func)))
        for x in (0, 1):
            # A's operator is linear in B's two choices (k0 on y = 0, k1 on y = 1): its trace and Pauli parts per
            # output function f are the sums of one part per choice, so the grid is a sum of two tables, here
            # laid out [f, k] so that each Pauli component and the maximum over f are whole-array operations
            trace = [np.einsum("fa,ka->fk", sq, contrib[y, :, x, :, 0]) / 2 for y in (0, 1)]  # [f, k]
            vec = [np.einsum("fa,kas->sfk", dq, contrib[y, :, x, :, 1:]) for y in (0, 1)]  # [3, f, k]
            for i in range(0, len(func), 32):  # B's choices on y = 0 in cache-sized blocks, all on y = 1 at once
                square = None
                for s in range(3):
                    v = vec[0][s, :, i : i + 32, None] + vec[1][s, :, None, :]  # [f, i, k1]
                    square = v * v if square is None else square + v * v
                t = trace[0][:, i : i + 32, None] + trace[1][:, None, :]
                total[i : i + 32] += (t + np.sqrt(square) / 2).max(axis=0)
        # near-equal basins are closer than the grid can tell apart: a short seesaw from the best grid point for
        # each pair of B's output functions (basins often differ in those) and the best points overall, then the
        # best few polished
        starts = []
        groups = [np.flatnonzero(func == f) for f in np.unique(func)]
        for g0 in groups:
            for g1 in groups:
                i0, i1 = np.unravel_index(int(np.argmax(total[np.ix_(g0, g1)])), (len(g0), len(g1)))
                starts.append((g0[i0], g1[i1]))
        flat = total.ravel()
        best = np.argpartition(flat, flat.size - top)[flat.size - top :]  # the top values, then only they sorted
        starts += [np.unravel_index(idx, total.shape) for idx in best[np.argsort(flat[best])][::-1]]
        chosen = np.array(starts)  # [start, y]
        return self._best_polished((n[chosen], func[chosen]), 40, polished)

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
        seesaw = self._best_polished(_starts(fixed + randoms), steps, polished)
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
        return float(self._seesaw(*_starts(fixed + randoms), steps)[0].max())

    def swapped(self) -> BlochSeesaw:
        """The same game with the parties' roles exchanged (so the grid covers A's directions and functions)."""
        rho = self.r.transpose(1, 0, 3, 2).reshape(4, 4)
        return BlochSeesaw(rho, self.u.transpose(1, 0, 2), self.p.T, self.det["B"], self.det["A"])


def _starts(hows: list) -> tuple[np.ndarray, np.ndarray]:
    """Starts [[(direction, output function) per input], ...] as arrays n[S, K, 3], f[S, K]."""
    arrays = [_arrays(how) for how in hows]
    return np.array([n for n, _ in arrays]), np.array([f for _, f in arrays])
