"""Compiled per-round loops (numba) behind the vectorized sampling API: ``qcoord.strategies.kernels``.

numba caches these on disk (``cache=True``) keyed by this file; a cache written before the package was named qcoord
names the old module, so this file changed with the rename to invalidate it.

numpy can only express "draw each round's cell from its own small table" as a searchsorted (about 30 ns
a round) or as several full-array gathers; these loops do it in a few ns a round without temporaries.
Uniform draws always come from the caller's numpy Generator, so results depend only on its seed.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def lookup(table, index):  # pragma: no cover - compiled
    """out[i] = table[index[i]] for a small uint8 table."""
    out = np.empty(index.size, dtype=np.uint8)
    for i in range(index.size):
        out[i] = table[index[i]]
    return out


@njit(cache=True, nogil=True)
def lookup2(table, first, second, stride):  # pragma: no cover - compiled
    """out[i] = table[first[i] * stride + second[i]] for a small uint8 table."""
    out = np.empty(first.size, dtype=np.uint8)
    for i in range(first.size):
        out[i] = table[first[i] * stride + second[i]]
    return out


@njit(cache=True, nogil=True)
def utility(table, x, y, a, b, k_b):  # pragma: no cover - compiled
    """u[x, y, a XOR b] per round from the flat (K_A, k_b, 2) utility table."""
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = table[(x[i] * k_b + y[i]) * 2 + (a[i] ^ b[i])]
    return out


@njit(cache=True, nogil=True)
def sample_cells(cum, setting_a, setting_b, n_b, k_b, u):  # pragma: no cover - compiled
    """Inverse-CDF draw of (o_A, o_B) per round from cum[s_A * n_b + s_B, cell] (last cell = 1)."""
    n = u.size
    cells = cum.shape[1]
    oa = np.empty(n, dtype=np.uint8)
    ob = np.empty(n, dtype=np.uint8)
    for i in range(n):
        row = setting_a[i] * n_b + setting_b[i]
        k = 0
        while k < cells - 1 and u[i] >= cum[row, k]:
            k += 1
        oa[i] = k // k_b
        ob[i] = k % k_b
    return oa, ob


@njit(cache=True, nogil=True)
def stored_tensor(R, e1a, e2a, e1b, e2b, out):  # pragma: no cover - compiled
    """out = M_A R M_B^T: the Pauli tensor R (I, X, Y, Z) after each half's thermal relaxation, whose
    Pauli transfer matrix M scales x and y by e2 = exp(-t/T2) and maps z -> e1 z + (1 - e1) (relaxation
    towards |0>, e1 = exp(-t/T1)); e1 = e2 = 1 for a half that is not stored."""
    for j in range(4):
        out[0, j] = R[0, j]
        out[1, j] = e2a * R[1, j]
        out[2, j] = e2a * R[2, j]
        out[3, j] = e1a * R[3, j] + (1.0 - e1a) * R[0, j]
    for i in range(4):
        r0 = out[i, 0]
        out[i, 1] *= e2b
        out[i, 2] *= e2b
        out[i, 3] = e1b * out[i, 3] + (1.0 - e1b) * r0


@njit(cache=True, nogil=True)
def moments(T, a, b, ro_a, ro_b):  # pragma: no cover - compiled
    """(E[A], E[B], E[AB]) of the reported +-1 outcomes given clicks, measuring the state of Pauli tensor T
    along Bloch directions a and b (3-vectors); ro_*: (d, s) readout maps, reported = d + s * true."""
    ma = 0.0
    mb = 0.0
    c = 0.0
    for i in range(3):
        ma += a[i] * T[i + 1, 0]
        mb += b[i] * T[0, i + 1]
        for j in range(3):
            c += a[i] * T[i + 1, j + 1] * b[j]
    c = ro_a[0] * ro_b[0] + ro_a[0] * ro_b[1] * mb + ro_a[1] * ro_b[0] * ma + ro_a[1] * ro_b[1] * c
    return ro_a[0] + ro_a[1] * ma, ro_b[0] + ro_b[1] * mb, c


@njit(cache=True, nogil=True)
def sample_stored_pair(R, dir_a, dir_b, setting_a, setting_b, ages, t1, t2, store_a, store_b,
                       ro_a, ro_b, loss_a, loss_b, u):  # pragma: no cover - compiled
    """Outcomes (0, 1, 2 = no click) of a pair stored ``ages[i]`` seconds, per round.

    R: Pauli tensor (I, X, Y, Z) of the pair before storage; dir_*: (settings, 3) Bloch directions of
    each setting's observable; u: (n, 4) uniforms (A's outcome, B's given A's, A's click, B's click).
    """
    n = u.shape[0]
    oa = np.empty(n, dtype=np.uint8)
    ob = np.empty(n, dtype=np.uint8)
    T = np.empty((4, 4))
    for i in range(n):
        t = ages[i]
        e1a, e2a, e1b, e2b = 1.0, 1.0, 1.0, 1.0
        if store_a:
            e1a = np.exp(-t / t1)
            e2a = np.exp(-t / t2)
        if store_b:
            e1b = np.exp(-t / t1)
            e2b = np.exp(-t / t2)
        stored_tensor(R, e1a, e2a, e1b, e2b, T)
        ma, mb, c = moments(T, dir_a[setting_a[i]], dir_b[setting_b[i]], ro_a, ro_b)
        a = 1 if u[i, 0] >= 0.5 * (1.0 + ma) else 0
        sgn = 1.0 - 2.0 * a
        p_a = 0.5 * (1.0 + sgn * ma)
        p_b0 = 0.5
        if p_a > 0.0:
            p_b0 = 0.25 * (1.0 + sgn * ma + mb + sgn * c) / p_a
        b = 1 if u[i, 1] >= p_b0 else 0
        oa[i] = 2 if u[i, 2] < loss_a else a
        ob[i] = 2 if u[i, 3] < loss_b else b
    return oa, ob


@njit(cache=True, nogil=True)
def grid_best(c, k, v, loss, d, s):  # pragma: no cover - compiled
    """max over every pair (k0, k1) of B's candidate observables of k + sum_x A's best-response value to
    w = c[x, 0] v[k0] + c[x, 1] v[k1] (a 2x2 game; ``v`` is (n, 3) planar (I, X, Z) or (n, 4) (I, X, Y, Z)), with
    A's party (loss, d, s): value max((1 - L)|d w0| + L|w0| + |(1 - L) s| |w_vec|, |w0|). The same arithmetic, in
    the same order, as ``solver._grid_values`` / ``solver._sphere_grid`` followed by ``.max()``, without the
    (n, n) temporaries: ``quantum_lower_bound`` is called tens of times per pair by "what it would take"."""
    n = v.shape[0]
    planar = v.shape[1] == 3
    h = abs((1.0 - loss) * s)
    best = -np.inf
    for i in range(n):
        for j in range(n):
            total = 0.0
            for x in range(2):
                a = c[x, 0]
                b = c[x, 1]
                w0 = a * v[i, 0] + b * v[j, 0]
                if planar:
                    norm = np.hypot(a * v[i, 1] + b * v[j, 1], a * v[i, 2] + b * v[j, 2])
                else:
                    w1 = a * v[i, 1] + b * v[j, 1]
                    w2 = a * v[i, 2] + b * v[j, 2]
                    w3 = a * v[i, 3] + b * v[j, 3]
                    norm = np.sqrt(w1 * w1 + w2 * w2 + w3 * w3)
                measured = (1.0 - loss) * abs(d * w0) + loss * abs(w0) + h * norm
                constant = abs(w0)
                total = total + (measured if measured > constant else constant)
            total = k + total
            if total > best:
                best = total
    return best
