"""A multivariate Hawkes process with (delayed) exponential kernels: exact, seeded, streamed simulation and its
closed forms.

Dimension i has the intensity (events a second)

    lambda_i(t) = mu_i + sum_j sum_{t_k^j + d_ij < t} a_ij b_ij exp(-b_ij (t - t_k^j - d_ij))

where t_k^j are the past events of dimension j. ``adjacency`` a_ij = ||phi_ij|| is the kernel's norm: the mean number
of events of i that one event of j triggers directly (dimensionless); ``decays`` b_ij its rate (1/s); ``delays`` d_ij
the time before it acts at all (s): an event of j cannot touch i's intensity before t_k^j + d_ij. With every
d_ij = 0 this is the exponential-kernel Hawkes process of Bacry, Mastromatteo & Muzy, "Hawkes processes in finance"
(Market Microstructure and Liquidity 1, 2015), and ``adjacency``/``decays``/``baseline`` are the names the ``tick``
library uses for it.

Closed forms (stationary when the spectral radius of the adjacency matrix, the branching ratio, is below 1):

- mean intensity Lambda = (I - A)^-1 mu (events a second per dimension);
- long-window count covariance per second, lim Cov(N(T)) / T = (I - A)^-1 diag(Lambda) (I - A)^-T: the variance of
  a mean rate measured over a window T is that diagonal over T (the interval the tests use);
- the covariance of counts over any window tau, from the Bartlett spectrum (Hawkes 1971; Bacry, Delattre, Hoffmann &
  Muzy 2013): ``increment_covariance``. Delays enter only through phases exp(-i w d_ij), so the long-window forms
  above do not depend on them.

Simulation is exact: Ogata's thinning against the total intensity, which only decays between events until the next
delayed excitation switches on; a proposal that would pass that switch-on is not drawn again but its unit-exponential
residual is carried past it (memorylessness), so no randomness is wasted. The process starts from an empty history
at t = 0.

Randomness: uniforms in fixed internal blocks of ``BLOCK`` numbers, block k from ``SeedSequence(seed,
spawn_key=(k,))``, consumed strictly in order (one per waiting time, one per accept/which-dimension draw). The kernel
stops only at points where it has changed nothing, so the events depend only on the seed and the parameters, never on
how a consumer cuts the stream (``take`` n at a time, or ``until`` a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from .._jit import njit

from .errors import DataError

BLOCK = 1 << 20  # uniforms a random block
CHUNK = 1 << 20  # events a chunk, unless asked otherwise
_REACHED, _FULL, _NEED_U, _GROW, _DEAD = 0, 1, 2, 3, 4


def _matrix(value, d: int, name: str) -> np.ndarray:
    arr = np.array(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full((d, d), float(arr))
    if arr.shape != (d, d):
        raise DataError(
            f"{name} must be one number or a {d} x {d} matrix (rows: the excited dimension), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise DataError(f"{name} must be finite, got {arr.tolist()!r}")
    return arr


def _frozen(arr: np.ndarray):
    return tuple(float(v) for v in arr) if arr.ndim == 1 else tuple(tuple(float(v) for v in row) for row in arr)


@dataclass(frozen=True)
class Hawkes:
    """A D-dimensional Hawkes process with exponential kernels, each switched on after its own delay.

    Units: ``baseline`` mu_i in events a second (Hz); ``adjacency`` a_ij = ||phi_ij|| dimensionless (events of i
    triggered directly by one event of j; row i is the excited dimension); ``decays`` b_ij in 1/s; ``delays`` d_ij in
    seconds. ``decays`` and ``delays`` take one number for every pair or a D x D matrix. ``seed`` picks the random
    stream (see the module docstring).
    """

    baseline: tuple[float, ...]
    adjacency: tuple[tuple[float, ...], ...]
    decays: float | tuple[tuple[float, ...], ...] = 1.0
    delays: float | tuple[tuple[float, ...], ...] = 0.0
    seed: int = 0
    _mu: np.ndarray = field(init=False, repr=False, compare=False)
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)
    _d: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mu = np.array(self.baseline, dtype=float)
        if mu.ndim != 1 or mu.size < 1:
            raise DataError(f"baseline must be a list of D >= 1 rates (Hz), got {self.baseline!r}")
        d = mu.size
        if not (np.isfinite(mu).all() and (mu >= 0).all() and mu.sum() > 0):
            raise DataError(f"baseline must be non-negative finite rates (Hz), not all zero, got {mu.tolist()!r}")
        a = _matrix(self.adjacency, d, "adjacency")
        b = _matrix(self.decays, d, "decays")
        dl = _matrix(self.delays, d, "delays")
        if (a < 0).any():
            raise DataError(f"adjacency must be non-negative kernel norms, got {a.tolist()!r}")
        if (b[a > 0] <= 0).any():
            raise DataError(f"decays must be positive rates (1/s) wherever adjacency > 0, got {b.tolist()!r}")
        if (dl < 0).any():
            raise DataError(f"delays must be non-negative times (s), got {dl.tolist()!r}")
        rho = float(np.max(np.abs(np.linalg.eigvals(a))))
        if not rho < 1.0:
            raise DataError(
                f"adjacency has branching ratio (spectral radius) {rho:.6g} >= 1: the process is not "
                "stationary and explodes; lower the kernel norms"
            )
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise DataError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name, value in (("baseline", mu), ("adjacency", a), ("decays", b), ("delays", dl)):
            object.__setattr__(self, name, _frozen(value))
        for name, value in (("_mu", mu), ("_a", a), ("_b", b), ("_d", dl)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    # -- closed forms ------------------------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return self._mu.size

    @property
    def branching_ratio(self) -> float:
        """Spectral radius of the adjacency matrix: the mean number of descendants per event of the dominant mode
        (below 1: stationary)."""
        return float(np.max(np.abs(np.linalg.eigvals(self._a))))

    def mean_intensity(self) -> np.ndarray:
        """Stationary mean rate of each dimension (Hz): (I - A)^-1 mu."""
        return np.linalg.solve(np.eye(self.dimension) - self._a, self._mu)

    def count_covariance(self) -> np.ndarray:
        """Long-window covariance of the counts per second, lim_T Cov(N(T)) / T = R diag(Lambda) R^T with
        R = (I - A)^-1 (events^2 per second); its diagonal over T is the variance of a mean rate measured over T."""
        r = np.linalg.inv(np.eye(self.dimension) - self._a)
        return r @ np.diag(self.mean_intensity()) @ r.T

    def increment_covariance(self, tau: float) -> np.ndarray:
        """Stationary covariance of the counts in one window of ``tau`` seconds, Cov(N_i(t, t+tau), N_j(t, t+tau))
        (D x D, events^2), from the Bartlett spectrum S(w) = M(w) diag(Lambda) M(w)^H, M = (I - phi^(w))^-1,
        phi^_ij(w) = a_ij b_ij exp(-i w d_ij) / (b_ij + i w):

            Cov(tau) = diag(Lambda) tau + (1/pi) int_0^inf Re[S(w) - diag(Lambda)] 4 sin^2(w tau / 2) / w^2 dw.

        tau -> 0 gives diag(Lambda) tau and tau -> inf gives ``count_covariance() * tau``. Integrated by 4-point
        Gauss-Legendre on panels fine enough for every time scale (64 a decade, 12 a period of the delays' and the
        window's oscillations); past 2000 periods of the window, sin^2 is replaced by its mean 1/2 (relative error
        about 1e-6), and nothing is integrated past 1000 times the fastest kernel rate (decay or 1 / delay).
        Relative accuracy about 1e-6 (tests/test_hawkes.py checks it against the one-dimensional closed form)."""
        from scipy.special import sici

        tau = float(tau)
        if not (np.isfinite(tau) and tau > 0):
            raise DataError(f"tau must be a positive window in seconds, got {tau!r}")
        lam = self.mean_intensity()
        a, dl = self._a, self._d
        b = np.where(a > 0, self._b, 1.0)
        rates = [*b[a > 0].tolist(), *(1.0 / dl[(dl > 0) & (a > 0)]).tolist()] or [1.0 / tau]
        # Past 1000 times the fastest rate, |g| <= c / w and the rest adds at most c tau^2 ln(1 / (w tau)) for short
        # windows or c / w^2 for long ones: both below 1e-6 of the window's variance, so the window's own rate
        # 1/tau needs no panels of its own.
        lo, hi, w_avg = 1e-6 * min(*rates, 1.0 / tau), 1e3 * max(rates), 2000.0 * 2.0 * np.pi / tau
        d_max = float(dl[a > 0].max()) if (a > 0).any() else 0.0
        points = [lo]
        w = lo
        step_log = 10.0 ** (1.0 / 64) - 1.0
        while w < hi:
            h = w * step_log
            if w < w_avg:
                h = min(h, 2.0 * np.pi / tau / 12)
            if d_max > 0:
                h = min(h, 2.0 * np.pi / d_max / 12)
            w = min(w + h, hi)
            points.append(w)
        edges = np.array(points)
        x, wt = np.polynomial.legendre.leggauss(4)
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
        weights = (half[:, None] * wt[None, :]).ravel()
        total = np.zeros((self.dimension, self.dimension))
        eye = np.eye(self.dimension)[None]
        for k in range(0, nodes.size, 1 << 16):  # in slices: a few MB at a time
            om, weight = nodes[k : k + (1 << 16)], weights[k : k + (1 << 16)]
            phi = (a * b)[None] * np.exp(-1j * om[:, None, None] * dl[None]) / (b[None] + 1j * om[:, None, None])
            m = np.linalg.inv(eye - phi)
            g = np.einsum("nik,k,njk->nij", m, lam, m.conj()).real - np.diag(lam)[None]
            kern = np.where(om < w_avg, (2.0 * np.sin(0.5 * om * tau) / om) ** 2, 2.0 / om**2)
            total += np.einsum("n,nij->ij", weight * kern, g)
        # [0, lo]: g is g(0) there, and int_0^lo 4 sin^2(w tau/2) / w^2 dw = 2 (tau Si(lo tau) - (1 - cos(lo tau)) / lo)
        head = 2.0 * (tau * sici(lo * tau)[0] - (1.0 - np.cos(lo * tau)) / lo)
        g0 = self.count_covariance() - np.diag(lam)
        return np.diag(lam) * tau + (total + g0 * head) / np.pi

    # -- simulation --------------------------------------------------------------------------------------------
    def stream(self, chunk_events: int = CHUNK) -> HawkesStream:
        """A fresh stream of this process's events from t = 0 (see ``HawkesStream``)."""
        return HawkesStream(self, chunk_events)

    def simulate(self, t_end: float) -> tuple[np.ndarray, np.ndarray]:
        """All events in [0, t_end] in memory: (times in seconds, float64; dimensions, int8)."""
        parts = list(self.stream().until(t_end))
        if not parts:
            return np.empty(0), np.empty(0, dtype=np.int8)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def params(self) -> dict:
        """The parameters as a plain dict (lists, for configs and reports)."""
        return {
            "baseline": list(self.baseline),
            "adjacency": [list(r) for r in self.adjacency],
            "decays": self._b.tolist(),
            "delays": self._d.tolist(),  # as D x D matrices, however given
            "seed": int(self.seed),
        }


class HawkesStream:
    """One realisation of a ``Hawkes`` process, drawn in chunks with the kernel's state carried between them.

    ``take(n)`` gives the next n events, ``until(t)`` yields chunks up to time t (seconds); both read the same
    sequence, so any mix of calls gives the same events. ``time`` is the time of the last point the stream has
    processed (an event, a rejected proposal or a delayed excitation switching on); ``count`` the events given out.
    Memory: the chunk being returned plus one block of uniforms (8 MB) and, per dimension with delayed kernels, the
    event times still inside their delay.
    """

    def __init__(self, process: Hawkes, chunk_events: int = CHUNK) -> None:
        if not isinstance(chunk_events, (int, np.integer)) or isinstance(chunk_events, bool) or chunk_events < 1:
            raise DataError(f"chunk_events must be a whole number of at least 1, got {chunk_events!r}")
        self.process = process
        self.chunk_events = int(chunk_events)
        a, b, dl = process._a, process._b, process._d
        tgt, src = np.nonzero(a > 0)  # the active pairs, excited dimension first
        betas, bid = np.unique(b[tgt, src], return_inverse=True)
        order = np.argsort(src, kind="stable")  # outgoing pairs of each source, contiguous
        self._tgt, self._src = tgt[order].astype(np.int64), src[order].astype(np.int64)
        self._alpha = (a * b)[self._tgt, self._src].astype(float)
        self._bid = bid.reshape(-1)[order].astype(np.int64)
        self._betas = betas.astype(float)
        self._delay = dl[self._tgt, self._src].astype(float)
        d = process.dimension
        self._out_start = np.searchsorted(self._src, np.arange(d + 1)).astype(np.int64)
        self._mu = process._mu.copy()
        self._S = np.zeros(self._tgt.size)  # each pair's switched-on excitation at `time`
        self._ptr = np.zeros(self._tgt.size, dtype=np.int64)  # next source event to switch on, per delayed pair
        self._tail = np.zeros(d, dtype=np.int64)  # events pushed into each source's ring of delayed times
        self._buf = np.zeros((d, 64))
        self._f = np.array([0.0, -1.0])  # time, carried unit-exponential residual (-1: none)
        self._pos = np.zeros(1, dtype=np.int64)
        self._block = 0
        self._u = self._uniforms(0)
        self.count = 0

    @property
    def time(self) -> float:
        return float(self._f[0])

    def _uniforms(self, k: int) -> np.ndarray:
        return np.random.default_rng(np.random.SeedSequence(int(self.process.seed), spawn_key=(k,))).random(BLOCK)

    def _grow(self) -> None:
        """Double the rings of delayed event times, keeping each ring's live entries at their absolute index."""
        cap = self._buf.shape[1]
        new = np.zeros((self._buf.shape[0], 2 * cap))
        for j in range(self._buf.shape[0]):
            lo = max(int(self._tail[j]) - cap, 0)
            idx = np.arange(lo, int(self._tail[j]))
            new[j, idx & (2 * cap - 1)] = self._buf[j, idx & (cap - 1)]
        self._buf = new

    def _run(self, n: int, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
        times, marks = np.empty(n), np.empty(n, dtype=np.int8)
        got = 0
        while got < n:
            status, k = _thin(
                self._f,
                self._S,
                self._mu,
                self._tgt,
                self._src,
                self._alpha,
                self._bid,
                self._betas,
                self._delay,
                self._out_start,
                self._buf,
                self._tail,
                self._ptr,
                self._u,
                self._pos,
                times[got:],
                marks[got:],
                t_stop,
            )
            got += k
            if status == _NEED_U:
                self._block += 1
                self._u, self._pos[0] = self._uniforms(self._block), 0
            elif status == _GROW:
                self._grow()
            elif status in (_REACHED, _DEAD):
                break
        self.count += got
        return times[:got], marks[:got]

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` events: (times in seconds since the start, float64; dimensions, int8)."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise DataError(f"n must be a non-negative whole number of events, got {n!r}")
        return self._run(int(n), np.inf)

    def until(self, t_stop: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Chunks of at most ``chunk_events`` events, up to and including time ``t_stop`` (seconds): (times,
        dimensions). Only events not given out before are yielded; the last chunk may be short (or empty)."""
        t_stop = float(t_stop)
        if np.isnan(t_stop):
            raise DataError("t_stop must be a time in seconds, got nan")
        while True:
            times, marks = self._run(self.chunk_events, t_stop)
            yield times, marks
            if times.size < self.chunk_events:
                return


@njit(cache=True, nogil=True)
def _thin(
    f, S, mu, tgt, src, alpha, bid, betas, delay, out_start, buf, tail, ptr, u, pos, out_t, out_m, t_stop
):  # pragma: no cover - compiled
    """Ogata's thinning from the state (f = [time, carried unit-exponential residual or -1], S = each pair's
    switched-on excitation), writing events into out_t/out_m. Returns (status, events written): _REACHED (the next
    point is past t_stop), _FULL (out is full), _NEED_U (the uniforms ran out), _GROW (a ring of delayed times is
    full) or _DEAD (no intensity and nothing pending). It returns only at the top of a step, before changing
    anything, so that resuming from the state with fresh uniforms, space or a later t_stop continues the same path."""
    n_out, n_max, nu = 0, out_t.size, u.size
    P, D, U = tgt.size, mu.size, betas.size
    mask = buf.shape[1] - 1
    lam = np.empty(D)
    fac = np.empty(U)
    mu_sum = 0.0
    for i in range(D):
        mu_sum += mu[i]
    t, E = f[0], f[1]
    while True:
        if n_out == n_max:
            f[0], f[1] = t, E
            return _FULL, n_out
        # room in every ring of delayed times (an event pushes at most one time into its own ring)
        for p in range(P):
            if delay[p] > 0.0 and tail[src[p]] - ptr[p] > mask:
                f[0], f[1] = t, E
                return _GROW, n_out
        total = mu_sum
        for p in range(P):
            total += S[p]
        if E < 0.0:
            if pos[0] >= nu:
                f[0], f[1] = t, E
                return _NEED_U, n_out
            E = -np.log(1.0 - u[pos[0]])
            pos[0] += 1
        t_act, which = np.inf, -1  # the next delayed excitation to switch on
        for p in range(P):
            if delay[p] > 0.0 and ptr[p] < tail[src[p]]:
                ta = buf[src[p], ptr[p] & mask] + delay[p]
                if ta < t_act:
                    t_act, which = ta, p
        t_prop = t + E / total if total > 0.0 else np.inf
        if which >= 0 and t_act <= t_prop:
            if t_act > t_stop:
                f[0], f[1] = t, E
                return _REACHED, n_out
            step = t_act - t
            E = max(E - step * total, 0.0)  # the residual of the same exponential, past the switch-on
            for k in range(U):
                fac[k] = np.exp(-betas[k] * step)
            for p in range(P):
                S[p] *= fac[bid[p]]
            t = t_act
            S[which] += alpha[which]
            ptr[which] += 1
            continue
        if t_prop == np.inf:
            f[0], f[1] = t, E
            return _DEAD, n_out
        if t_prop > t_stop:
            f[0], f[1] = t, E
            return _REACHED, n_out
        if pos[0] >= nu:
            f[0], f[1] = t, E
            return _NEED_U, n_out
        step = t_prop - t
        for k in range(U):
            fac[k] = np.exp(-betas[k] * step)
        for i in range(D):
            lam[i] = mu[i]
        for p in range(P):
            S[p] *= fac[bid[p]]
            lam[tgt[p]] += S[p]
        t, E = t_prop, -1.0
        v = u[pos[0]] * total
        pos[0] += 1
        c, i = 0.0, -1
        for k in range(D):
            c += lam[k]
            if v < c:
                i = k
                break
        if i < 0:
            continue  # rejected: the intensity decayed below the bound
        out_t[n_out], out_m[n_out] = t, i
        n_out += 1
        pushed = False
        for q in range(out_start[i], out_start[i + 1]):
            if delay[q] > 0.0:
                if not pushed:
                    buf[i, tail[i] & mask] = t
                    tail[i] += 1
                    pushed = True
            else:
                S[q] += alpha[q]
