"""The shared pair, exactly: joint outcome distributions from ``qiskit.quantum_info``, and per-round formulas.

Conventions (../shared/REFERENCE.md): Alice is qubit 0, Bob qubit 1; the pair is |Phi+> = (|00> + |11>)/sqrt(2)
from ``h q0; cx q0,q1``. A measurement setting is a direction on the Bloch sphere, given as (theta, phi):
n = (sin 2theta cos phi, sin 2theta sin phi, cos 2theta). "Measure along n" is RZ(-phi), then RY(-2 theta),
then a Z measurement; phi = 0 is the X-Z plane, where for |Phi+> P(a = b) = cos^2(theta_A - theta_B).
Outcomes per party: 0, 1, or 2 = no click (photon lost).

Two routes to the same numbers:

- ``joint_table`` evolves a qiskit ``DensityMatrix`` through the Werner mixture and the thermal-relaxation
  Kraus channel of each stored half, then the measurement rotations (qiskit's gate matrices and the contractions of
  ``DensityMatrix.evolve``, on the matrix itself: the same numbers to rounding), then applies loss and readout
  error. Used whenever the storage time is one number (the default exact path).
- ``kernels.stored_tensor`` and ``kernels.moments`` evaluate the same state in the Pauli basis, one round at a
  time, so every round can carry its own storage time (pairs of different ages from a Bell-pair buffer). Tests
  check it against ``joint_table``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .noise import Noise

NO_CLICK = 2
PAULI_LABELS = "IXYZ"


def direction(theta: np.ndarray | float, phi: np.ndarray | float = 0.0) -> np.ndarray:
    """Bloch vector(s) (x, y, z) of the measured observable, shape (..., 3): (sin 2theta cos phi,
    sin 2theta sin phi, cos 2theta)."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, dtype=float), np.asarray(phi, dtype=float))
    s = np.sin(2 * theta)
    return np.stack([s * np.cos(phi), s * np.sin(phi), np.cos(2 * theta)], axis=-1)


def setting_of(n: np.ndarray) -> tuple[float, float]:
    """(theta, phi) of a Bloch direction; in the X-Z plane (y = 0) phi = 0 and theta in [0, pi), else
    theta in (0, pi/2) and phi in (-pi, pi]."""
    x, y, z = (float(v) for v in np.asarray(n, dtype=float) / np.linalg.norm(n))
    if abs(y) <= 1e-12 or math.hypot(x, y) <= 1e-9:  # in the X-Z plane, or at a pole (where phi means nothing)
        return float(np.mod(math.atan2(x, z) / 2.0, math.pi)), 0.0
    return math.acos(max(-1.0, min(1.0, z))) / 2.0, math.atan2(y, x)


def _werner(visibility: float):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import DensityMatrix

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    pure = DensityMatrix(bell)
    return visibility * pure + (1.0 - visibility) * DensityMatrix(np.eye(4) / 4.0)


def thermal_kraus(t1: float, t2: float, t: float):
    """Kraus channel of a qubit resting for t seconds (relaxes towards |0>): amplitude damping, then
    the extra pure dephasing that brings coherences to exp(-t/T2). Requires T2 <= 2 T1."""
    from qiskit.quantum_info import Kraus

    gamma = 1.0 - np.exp(-t / t1)
    damping = Kraus([np.array([[1, 0], [0, np.sqrt(1 - gamma)]]), np.array([[0, np.sqrt(gamma)], [0, 0]])])
    lam = np.exp(-t / t2) / np.sqrt(1.0 - gamma) if gamma < 1 else 0.0  # remaining coherence factor
    lam = min(1.0, lam)
    dephasing = Kraus([np.sqrt((1 + lam) / 2) * np.eye(2), np.sqrt((1 - lam) / 2) * np.diag([1.0, -1.0])])
    return damping.compose(dephasing)


def stored_state(noise: Noise, t: float | None = None):
    """The pair as the servers measure it: Werner state, then storage of the stored halves for t seconds."""
    rho = _werner(noise.visibility)
    t = noise.storage_time if t is None else t
    if t > 0:
        assert noise.t2 is not None  # Noise.__post_init__ resolves an unset T2 (2 T1)
        channel = thermal_kraus(noise.t1, noise.t2, t)
        for qubit, stored in enumerate(noise.stores):
            if stored:
                rho = rho.evolve(channel, qargs=[qubit])
    return rho


def pauli_tensor(rho) -> np.ndarray:
    """R[i, j] = Tr[rho (sigma_i on Alice) (sigma_j on Bob)], i, j over I, X, Y, Z (real for real states)."""
    from qiskit.quantum_info import Pauli

    out = np.empty((4, 4))
    for i, pa in enumerate(PAULI_LABELS):
        for j, pb in enumerate(PAULI_LABELS):
            # qiskit labels read right to left: the last character acts on qubit 0 (Alice)
            out[i, j] = float(np.real(rho.expectation_value(Pauli(pb + pa))))
    return out


def _detector(p01: np.ndarray, e: tuple[float, float], loss: float) -> np.ndarray:
    """Map P(true outcome) over {0,1} to P(reported) over {0, 1, no click} along the last axis."""
    e01, e10 = e
    confusion = np.array([[1 - e01, e01, 0.0], [e10, 1 - e10, 0.0]]) * (1.0 - loss)
    confusion[:, NO_CLICK] = loss
    return p01 @ confusion


def _rotate_matrix(rho: np.ndarray, theta: float, phi: float, qubit: int) -> np.ndarray:
    """The 4 x 4 density matrix measured along (theta, phi) on ``qubit``, RZ(-phi) then RY(-2 theta), as qiskit's
    ``DensityMatrix.evolve`` computes it (tests/test_quantum.py compares the two): the gates' matrices
    from qiskit and the two contractions ``DensityMatrix.evolve`` makes for a one-qubit gate (U rho, then
    (U rho) U^dagger, as np.einsum on the (2, 2, 2, 2) tensor), without its per-call objects and copies, which were
    nine tenths of a joint table's time (a memory cutoff's search builds hundreds of tables)."""
    from qiskit.circuit.library import RYGate, RZGate

    if phi:
        rho = _evolve_one(rho, RZGate(-phi).to_matrix(), qubit)
    return _evolve_one(rho, RYGate(-2 * theta).to_matrix(), qubit)


def _evolve_one(rho: np.ndarray, mat: np.ndarray, qubit: int) -> np.ndarray:
    axis = 1 - qubit  # the tensor's axes read qubit 1, qubit 0 (rows), then the same for columns
    rows, cols = [0, 1, 2, 3], [0, 1, 2, 3]
    rows[axis], cols[axis + 2] = 4, 4
    tensor = np.einsum(rho.reshape(2, 2, 2, 2), rows, mat, [axis, 4])
    tensor = np.einsum(tensor, cols, np.transpose(np.conj(mat)), [4, axis + 2])
    return tensor.reshape(4, 4)


@lru_cache(maxsize=256)
def _joint_table_cached(noise: Noise, set_a: tuple, set_b: tuple, t: float | None):
    rho = stored_state(noise, t).data
    table = np.empty((len(set_a), len(set_b), 3, 3))
    for i, (ta, pa) in enumerate(set_a):
        rho_a = _rotate_matrix(rho, ta, pa, 0)
        for j, (tb, pb) in enumerate(set_b):
            # DensityMatrix.probabilities([0, 1]): |diagonal|, index = a + 2 b, clipped to [0, 1]
            p = np.clip(np.abs(_rotate_matrix(rho_a, tb, pb, 1).diagonal()), 0, 1)
            p = np.clip(p.reshape(2, 2).T, 0.0, None)  # [a, b], clipped against round-off
            p /= p.sum()
            q = _detector(p.T, noise.readout_a, noise.loss_a)  # [b true, a reported]
            table[i, j] = _detector(q.T, noise.readout_b, noise.loss_b)  # [a reported, b reported]
    table.setflags(write=False)
    return table


def _settings(angles, azimuths) -> tuple:
    azimuths = (0.0,) * len(angles) if azimuths is None else azimuths
    return tuple((float(t), float(p)) for t, p in zip(angles, azimuths, strict=True))


def joint_table(
    noise: Noise, angles_a, angles_b, t: float | None = None, azimuths_a=None, azimuths_b=None
) -> np.ndarray:
    """P(o_A, o_B | setting_A, setting_B), shape (len(angles_a), len(angles_b), 3, 3), outcomes 0, 1, no click.

    Settings are (angle theta, azimuth phi) in radians, azimuths 0 when not given. Computed with
    qiskit.quantum_info from the density matrix (noise included); ``t`` overrides the storage time of ``noise``.
    """
    return _joint_table_cached(noise, _settings(angles_a, azimuths_a), _settings(angles_b, azimuths_b), t)


@lru_cache(maxsize=64)
def link_tensor(visibility: float) -> np.ndarray:
    """Pauli tensor of the Werner pair before storage (from the qiskit density matrix)."""
    r = pauli_tensor(_werner(visibility))
    r.setflags(write=False)
    return r
