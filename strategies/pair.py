"""The shared pair, exactly: joint outcome distributions from ``qiskit.quantum_info``, and per-round formulas.

Conventions (../shared/REFERENCE.md): Alice is qubit 0, Bob qubit 1; the pair is |Phi+> = (|00> + |11>)/sqrt(2)
from ``h q0; cx q0,q1``; "measure at angle theta" is RY(-2 theta) then a Z measurement, so for |Phi+>
P(a = b) = cos^2(theta_A - theta_B). Outcomes per party: 0, 1, or 2 = no click (photon lost).

Two routes to the same numbers:

- ``joint_table`` evolves a qiskit ``DensityMatrix`` through the Werner mixture, the thermal-relaxation
  Kraus channel of each stored half and the measurement rotations, then applies loss and readout
  error. Used whenever the storage time is one number (the default exact path).
- ``kernels.stored_moments`` evaluates the same state in the Pauli basis, one round at a time, so every
  round can carry its own storage time (pairs of different ages from a Bell-pair buffer). Tests check
  it against ``joint_table``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .noise import Noise

NO_CLICK = 2
PAULI_LABELS = "IXYZ"


def direction(theta: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Bloch (x, z) components of the measured observable at angle theta: (sin 2 theta, cos 2 theta)."""
    theta = np.asarray(theta, dtype=float)
    return np.sin(2 * theta), np.cos(2 * theta)


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


@lru_cache(maxsize=256)
def _joint_table_cached(noise: Noise, angles_a: tuple[float, ...], angles_b: tuple[float, ...], t: float | None):
    from qiskit.circuit.library import RYGate

    rho = stored_state(noise, t)
    table = np.empty((len(angles_a), len(angles_b), 3, 3))
    for i, ta in enumerate(angles_a):
        rho_a = rho.evolve(RYGate(-2 * ta), qargs=[0])
        for j, tb in enumerate(angles_b):
            p = rho_a.evolve(RYGate(-2 * tb), qargs=[1]).probabilities([0, 1])  # index = a + 2 b
            p = np.clip(p.reshape(2, 2).T, 0.0, None)  # [a, b], clipped against round-off
            p /= p.sum()
            q = _detector(p.T, noise.readout_a, noise.loss_a)  # [b true, a reported]
            table[i, j] = _detector(q.T, noise.readout_b, noise.loss_b)  # [a reported, b reported]
    table.setflags(write=False)
    return table


def joint_table(noise: Noise, angles_a, angles_b, t: float | None = None) -> np.ndarray:
    """P(o_A, o_B | setting_A, setting_B), shape (len(angles_a), len(angles_b), 3, 3), outcomes 0, 1, no click.

    Computed with qiskit.quantum_info from the density matrix (noise included); ``t`` overrides the
    storage time of ``noise``.
    """
    return _joint_table_cached(noise, tuple(float(a) for a in angles_a), tuple(float(b) for b in angles_b), t)


@lru_cache(maxsize=64)
def link_tensor(visibility: float) -> np.ndarray:
    """Pauli tensor of the Werner pair before storage (from the qiskit density matrix)."""
    r = pauli_tensor(_werner(visibility))
    r.setflags(write=False)
    return r
