"""Whether a declared no-signalling table ``P(o_A, o_B | s_A, s_B)`` lies in the quantum set: exact for XOR games
with any number of settings and outcomes, and the NPA hierarchy's level 1+AB for the full behaviour.

- **Tsirelson's characterisation** (``tsirelson_gap``). Two servers that turn their outcomes into an output bit
  read each setting's outcome through a +-1 function g (a *reading*; a constant reading ignores the outcome). For
  any shared state and +-1 observables, <A_i B_j> = u_i . v_j with unit vectors u_i = A_i|psi>, v_j = B_j|psi>
  (the identity's vector is |psi> itself, on both sides); conversely any matrix of inner products of unit vectors
  is reached by a maximally entangled state (Tsirelson 1980). So the table is within what shared quantum states
  give in *every* XOR game, with any readings, iff the matrix M[(s, g), (t, h)] = E[g(o_A) h(o_B) | s, t] over all
  readings (one of each +-pair, the identity included) is the off-diagonal block of a positive semidefinite
  matrix with unit diagonal. A semidefinite program finds the largest least eigenvalue of such a completion:
  the table passes when it is >= -``SDP_TOL``.
- **NPA level 1+AB** (``npa_gap``; Navascues, Pironio & Acin, New J. Phys. 10, 073013 (2008)). The moment
  matrix of the operators {1, A_a|s, B_b|t, A_a|s B_b|t} (projectors, the last outcome of each setting left out)
  has the table's probabilities where they are defined (orthogonal projectors of one setting multiply to zero;
  A and B commute) and free entries elsewhere; a quantum behaviour has a positive semidefinite completion. This
  refuses full behaviours (marginals and all) that no state gives at this level of the hierarchy, an outer bound
  of the quantum set that is tight on XOR games through the first check.

The Tsirelson-Landau-Masanes inequalities (``nosignal.tlm_excess``) stay the fast pre-check: exact for two
settings and no marginals, but not for three (a 3 x 3 table can pass every 2 x 2 block and still beat the game's
Tsirelson bound). Both programs need cvxpy (a dependency); when it cannot be imported, or the solver fails,
certification refuses the table rather than pass it.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from .errors import StrategyError

SDP_TOL = 1e-6  # least eigenvalue a completion may have below 0 (the interior-point solver is accurate to ~1e-8)
_LOCK = threading.Lock()  # cvxpy problems are not shared across threads safely


class QuantumSetError(StrategyError):
    """The quantum-set check could not be run (cvxpy missing, or the solver failed)."""


def _cvxpy():
    try:
        import cvxpy as cp
    except ImportError as exc:  # a dependency: a broken install must not pass a table unchecked
        raise QuantumSetError(
            "the quantum-set check needs cvxpy (a dependency of qcoord: pip install cvxpy); "
            "without it a declared resource cannot be certified"
        ) from exc
    return cp


def readings(k: int) -> np.ndarray:
    """Every +-1 reading of ``k`` outcomes up to a global sign, the constant one (the identity) first: shape
    (2^(k-1), k)."""
    rows = [np.array((1.0,) + g) for g in itertools.product((1.0, -1.0), repeat=k - 1)]
    return np.array(rows)


def correlator_matrix(table: np.ndarray) -> tuple[np.ndarray, list, list]:
    """M[(s, g), (t, h)] = E[g(o_A) h(o_B) | s, t] over every reading, with the identity once per side (first row
    and column); and the labels of its rows and columns ((setting, reading index), the identity as (None, 0))."""
    n_a, n_b, k_a, k_b = table.shape
    ga, gb = readings(k_a), readings(k_b)
    full = np.einsum("ik,stkl,jl->sitj", ga, table, gb)  # [s, g, t, h]
    rows = [(None, 0)] + [(s, i) for s in range(n_a) for i in range(1, ga.shape[0])]
    cols = [(None, 0)] + [(t, j) for t in range(n_b) for j in range(1, gb.shape[0])]
    m = np.empty((len(rows), len(cols)))
    for r, (s, i) in enumerate(rows):
        for c, (t, j) in enumerate(cols):
            m[r, c] = full[s or 0, i, t or 0, j]
    return m, rows, cols


def _least_eigenvalue(size: int, fixed: dict, tied: list[list[tuple[int, int]]]) -> float:
    """max lambda such that some symmetric G with G[i, j] = fixed[(i, j)] (i <= j), entries in each group of
    ``tied`` equal, and G - lambda I >= 0 exists; lambda <= 1 (a bounded program)."""
    cp = _cvxpy()
    g = cp.Variable((size, size), symmetric=True)
    lam = cp.Variable()
    cons = [g - lam * np.eye(size) >> 0, lam <= 1.0]
    for (i, j), v in fixed.items():
        cons.append(g[i, j] == v)
    for group in tied:
        (i0, j0), rest = group[0], group[1:]
        cons += [g[i, j] == g[i0, j0] for i, j in rest]
    problem = cp.Problem(cp.Maximize(lam), cons)
    with _LOCK:
        try:
            problem.solve(solver=cp.CLARABEL)
        except Exception as exc:  # noqa: BLE001 - a solver failure refuses, never passes
            raise QuantumSetError(f"the quantum-set semidefinite program failed: {type(exc).__name__}: {exc}") from exc
    if problem.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
        raise QuantumSetError(f"the quantum-set semidefinite program did not solve ({problem.status})")
    return float(lam.value)


def tsirelson_gap(table: np.ndarray) -> float:
    """Largest least eigenvalue of a unit-diagonal completion of the table's reading correlators
    (``correlator_matrix``): >= -``SDP_TOL`` iff no XOR game, with any readings of the outcomes, is won beyond what
    shared quantum states allow (Tsirelson's theorem)."""
    m, rows, cols = correlator_matrix(np.asarray(table, dtype=float))
    na = len(rows)
    size = na + len(cols)
    fixed = {(i, i): 1.0 for i in range(size)}
    for r in range(na):
        for c in range(len(cols)):
            fixed[(r, na + c)] = float(m[r, c])
    fixed[(0, na)] = 1.0  # the identity on both sides is the state's own vector
    return _least_eigenvalue(size, fixed, [])


def npa_gap(table: np.ndarray) -> float:
    """Largest least eigenvalue of a completion of the NPA level-1+AB moment matrix of the behaviour (the module
    docstring): >= -``SDP_TOL`` for every quantum behaviour."""
    t = np.asarray(table, dtype=float)
    n_a, n_b, k_a, k_b = t.shape
    pa = t.sum(axis=3).mean(axis=1)  # [s, a]: no-signalling, so the partner's setting does not matter
    pb = t.sum(axis=2).mean(axis=0)  # [t, b]
    a_ops = [(s, a) for s in range(n_a) for a in range(k_a - 1)]
    b_ops = [(u, b) for u in range(n_b) for b in range(k_b - 1)]
    words = (
        [((), ())]
        + [((o,), ()) for o in a_ops]
        + [((), (o,)) for o in b_ops]
        + [((oa,), (ob,)) for oa in a_ops for ob in b_ops]
    )

    def reduce(word: tuple) -> tuple | None:
        out: list = []
        for op in word:
            if out and out[-1][0] == op[0]:  # the same setting: orthogonal projectors
                if out[-1][1] != op[1]:
                    return None
                continue
            out.append(op)
        return tuple(out)

    def value(wa: tuple, wb: tuple) -> float | None:
        """The behaviour's probability for a product of at most one projector a side; None if not determined."""
        if len(wa) > 1 or len(wb) > 1:
            return None
        if not wa and not wb:
            return 1.0
        if not wb:
            return float(pa[wa[0]])
        if not wa:
            return float(pb[wb[0]])
        (s, a), (u, b) = wa[0], wb[0]
        return float(t[s, u, a, b])

    fixed: dict = {}
    groups: dict = {}
    for i, (ai, bi) in enumerate(words):
        for j in range(i, len(words)):
            aj, bj = words[j]
            wa, wb = reduce(tuple(reversed(ai)) + aj), reduce(tuple(reversed(bi)) + bj)
            if wa is None or wb is None:
                fixed[(i, j)] = 0.0
                continue
            v = value(wa, wb)
            if v is not None:
                fixed[(i, j)] = v
                continue
            key = min((wa, wb), (tuple(reversed(wa)), tuple(reversed(wb))))  # a real moment matrix is symmetric
            groups.setdefault(key, []).append((i, j))
    return _least_eigenvalue(len(words), fixed, [g for g in groups.values() if len(g) > 1])


def quantum_gaps(table: np.ndarray) -> dict[str, float]:
    """Both checks' least eigenvalues (``tsirelson``, ``npa``)."""
    return {"tsirelson": tsirelson_gap(table), "npa": npa_gap(table)}
