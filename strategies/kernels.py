"""Compiled per-round loops (numba) behind the vectorized sampling API: ``qcoord.strategies.kernels``.

numba caches these on disk (``cache=True``) keyed by this file; a cache written before the package was named qcoord
names the old module, so this file changed with the rename to invalidate it.

numpy can only express "draw each round's cell from its own small table" as a searchsorted (about 30 ns
a round) or as several full-array gathers; these loops do it in a few ns a round without temporaries.
Uniform draws always come from the caller's numpy Generator, so results depend only on its seed.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit


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
    """Inverse-CDF draw of (o_A, o_B) per round from cum[s_A * n_b + s_B, cell] (last cell = 1): the first cell k
    with u < cum[row, k].

    That cell is counted as the number of thresholds at or below u, branch-free (u is random, so a search loop
    mispredicts about every other round: 9 ns a round against under 1 for a 2x2 table). The count equals the
    first-cell search once each row is made non-decreasing (its running maximum), which changes no draw: a
    threshold below an earlier one is never the first above u."""
    n = u.size
    cells = cum.shape[1]
    c = cum.copy()
    for r in range(c.shape[0]):
        for k in range(1, cells):
            if c[r, k] < c[r, k - 1]:
                c[r, k] = c[r, k - 1]
    oa = np.empty(n, dtype=np.uint8)
    ob = np.empty(n, dtype=np.uint8)
    if cells == 4 and k_b == 2:  # two outcomes a side, the common case, unrolled
        for i in range(n):
            row = setting_a[i] * n_b + setting_b[i]
            ui = u[i]
            k = np.uint8(ui >= c[row, 0]) + np.uint8(ui >= c[row, 1]) + np.uint8(ui >= c[row, 2])
            oa[i] = k >> 1
            ob[i] = k & 1
        return oa, ob
    for i in range(n):
        row = setting_a[i] * n_b + setting_b[i]
        ui = u[i]
        k = 0
        for j in range(cells - 1):
            k += ui >= c[row, j]
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
def sample_stored_pair(
    R, dir_a, dir_b, setting_a, setting_b, ages, t1, t2, store_a, store_b, ro_a, ro_b, loss_a, loss_b, u
):  # pragma: no cover - compiled
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
def _grid_row(c, vt, i, loss, d, s, row):  # pragma: no cover - compiled
    """row[j] = sum_x A's best-response value to w = c[x, 0] v[i] + c[x, 1] v[j], ``vt`` = v transposed (contiguous
    columns), A's party (loss, d, s): value max((1 - L)|d w0| + L|w0| + |(1 - L) s| |w_vec|, |w0|).

    The loop over j runs on contiguous columns with |w_vec| as a square root of a sum (not hypot, a libm call) so
    that it compiles to SIMD: four times faster than with hypot on the planar grid, equal within an ulp."""
    dim, n = vt.shape
    h = abs((1.0 - loss) * s)
    kept = 1.0 - loss
    for x in range(2):
        a = c[x, 0]
        b = c[x, 1]
        p0 = a * vt[0, i]
        p1 = a * vt[1, i]
        p2 = a * vt[2, i]
        p3 = a * vt[3, i] if dim == 4 else 0.0
        for j in range(n):
            w0 = p0 + b * vt[0, j]
            w1 = p1 + b * vt[1, j]
            w2 = p2 + b * vt[2, j]
            sq = w1 * w1 + w2 * w2
            if dim == 4:
                w3 = p3 + b * vt[3, j]
                sq = sq + w3 * w3
            measured = kept * abs(d * w0) + loss * abs(w0) + h * np.sqrt(sq)
            constant = abs(w0)
            val = measured if measured > constant else constant
            row[j] = val if x == 0 else row[j] + val


@njit(cache=True, nogil=True)
def grid_values(c, k, v, loss, d, s):  # pragma: no cover - compiled
    """total[k0, k1] = k + sum_x A's best-response value to w = c[x, 0] v[k0] + c[x, 1] v[k1]: the value of every
    pair of B's candidate observables in a 2x2 game (``v`` (n, 3) planar (I, X, Z) or (n, 4) (I, X, Y, Z)) with A
    best-responding, the arithmetic of ``solver._best_response`` on the grid without its (n, n, dim) temporaries."""
    n = v.shape[0]
    vt = np.ascontiguousarray(v.T)
    total = np.empty((n, n))
    for i in range(n):
        _grid_row(c, vt, i, loss, d, s, total[i])
        for j in range(n):
            total[i, j] = k + total[i, j]
    return total


@njit(cache=True, nogil=True)
def grid_best(c, k, v, loss, d, s):  # pragma: no cover - compiled
    """max of ``grid_values`` without the (n, n) matrix: ``quantum_lower_bound`` is called tens of times per pair by
    "what it would take"."""
    n = v.shape[0]
    vt = np.ascontiguousarray(v.T)
    row = np.empty(n)
    best = -np.inf
    for i in range(n):
        _grid_row(c, vt, i, loss, d, s, row)
        for j in range(n):
            total = k + row[j]
            if total > best:
                best = total
    return best


@njit(cache=True, nogil=True)
def _effective(dirs, measures, fallback, flip, loss, d, s, out):  # pragma: no cover - compiled
    """Effective (I, X, Y, Z) observables of one start's choices (``solver._obs_many`` for one start): (K, 4)."""
    for j in range(dirs.shape[0]):
        pm = 1.0 - 2.0 * fallback[j]
        sign = -1.0 if flip[j] else 1.0
        if measures[j]:
            out[j, 0] = sign * (1.0 - loss) * d + loss * pm
            scale = sign * (1.0 - loss) * s
            for m in range(3):
                out[j, m + 1] = scale * dirs[j, m]
        else:
            out[j, 0] = pm
            for m in range(3):
                out[j, m + 1] = 0.0


@njit(cache=True, nogil=True)
def _respond(c, R, loss, d, s, ob, dirs, measures, fallback, flip):  # pragma: no cover - compiled
    """Exact best response of the party with weights c (K_own, K_other), tensor R (rows: own), facing effective
    observables ``ob`` (K_other, 4); writes its choices, returns its value (``solver._respond``)."""
    k_own, k_other = c.shape
    v = np.zeros((k_other, 4))
    for y in range(k_other):
        for i in range(4):
            acc = 0.0
            for m in range(4):
                acc += R[i, m] * ob[y, m]
            v[y, i] = acc
    h = (1.0 - loss) * s
    total = 0.0
    w = np.empty(4)
    for x in range(k_own):
        for i in range(4):
            acc = 0.0
            for y in range(k_other):
                acc += c[x, y] * v[y, i]
            w[i] = acc
        w0 = w[0]
        norm = np.sqrt(w[1] * w[1] + w[2] * w[2] + w[3] * w[3])
        measured = (1.0 - loss) * abs(d * w0) + loss * abs(w0) + abs(h) * norm
        constant = abs(w0)
        measure = measured > constant + 1e-15
        flipped = d * w0 < 0
        sign = (-1.0 if flipped else 1.0) * (1.0 if h >= 0 else -1.0)
        fallback[x] = 1 if w0 < 0 else 0
        total += measured if measured > constant else constant
        # measure along sign * w_vec / |w_vec| (sign: the flipped report and the readout's scale), as solver._respond
        use = measure and norm > 0
        measures[x] = use
        flip[x] = flipped and use
        for m in range(3):
            dirs[x, m] = sign * w[m + 1] / norm if use else 0.0
    return total


@njit(cache=True, nogil=True)
def seesaw(c, k, R, party_a, party_b, dirs_b, measures_b, fallback_b, flip_b, steps):  # pragma: no cover - compiled
    """Alternating exact best responses from each start's choices for B (arrays (S, K_B, ...), updated in place),
    each start until its value stops rising by more than 1e-15 or ``steps``: ``solver._seesaw`` start by start.
    Returns (values (S,), A's choices: directions (S, K_A, 3), measures, fallbacks, flips)."""
    la, da, sa = party_a
    lb, db, sb = party_b
    n_starts, kb = measures_b.shape
    ka = c.shape[0]
    ct = np.ascontiguousarray(c.T)
    Rt = np.ascontiguousarray(R.T)
    dirs_a = np.zeros((n_starts, ka, 3))
    measures_a = np.zeros((n_starts, ka), dtype=np.bool_)
    fallback_a = np.zeros((n_starts, ka), dtype=np.int64)
    flip_a = np.zeros((n_starts, ka), dtype=np.bool_)
    ob_a = np.empty((ka, 4))
    ob_b = np.empty((kb, 4))
    values = np.empty(n_starts)
    for st in range(n_starts):
        value = -np.inf
        for _ in range(steps):
            _effective(dirs_b[st], measures_b[st], fallback_b[st], flip_b[st], lb, db, sb, ob_b)
            _respond(c, R, la, da, sa, ob_b, dirs_a[st], measures_a[st], fallback_a[st], flip_a[st])
            _effective(dirs_a[st], measures_a[st], fallback_a[st], flip_a[st], la, da, sa, ob_a)
            new = _respond(ct, Rt, lb, db, sb, ob_a, dirs_b[st], measures_b[st], fallback_b[st], flip_b[st])
            if not new > value + 1e-15:
                break
            value = new
        _effective(dirs_a[st], measures_a[st], fallback_a[st], flip_a[st], la, da, sa, ob_a)
        _effective(dirs_b[st], measures_b[st], fallback_b[st], flip_b[st], lb, db, sb, ob_b)
        total = 0.0
        for x in range(ka):
            for y in range(kb):
                acc = 0.0
                for i in range(4):
                    for j in range(4):
                        acc += ob_a[x, i] * R[i, j] * ob_b[y, j]
                total += c[x, y] * acc
        values[st] = k + total
    return values, dirs_a, measures_a, fallback_a, flip_a


@njit(cache=True, nogil=True)
def xor_classical(c):  # pragma: no cover - compiled
    """max over A's +-1 rules alpha (alpha_0 = +1: negating both rules changes nothing) of sum_y |sum_x c[x, y]
    alpha_x|, i.e. the classical value of the XOR game with correlator weights c, B best-responding with the sign of
    each column. A Gray code flips one alpha_x per step, so each of the 2^(K_A - 1) rules costs O(K_B).
    Returns (value, alpha as +-1 floats)."""
    ka, kb = c.shape
    alpha = np.ones(ka)
    col = np.zeros(kb)
    for y in range(kb):
        for x in range(ka):
            col[y] += c[x, y]
    best = 0.0
    for y in range(kb):
        best += abs(col[y])
    best_alpha = alpha.copy()
    for n in range(1, 1 << (ka - 1)):
        bit = 0
        while not (n >> bit) & 1:
            bit += 1
        x = bit + 1
        alpha[x] = -alpha[x]
        total = 0.0
        for y in range(kb):
            col[y] += 2.0 * alpha[x] * c[x, y]
            total += abs(col[y])
        if total > best + 1e-15:
            best = total
            best_alpha[:] = alpha
    return best, best_alpha
