"""Noise of a real IBM device, offline: ``qiskit_ibm_runtime.fake_provider`` backends run on Aer.

Needs the optional extra ``ibm`` (``pip install -e ".[ibm]"``). A ``Device`` is one device and one pair of
its physical qubits (Alice on the first): every quantum strategy of a run plays on that pair through the
device's calibrated noise model (gate errors, T1/T2 during gates, readout), and the solver fits its
directions to the link the device actually gives:

- the **Bell-pair tensor**: the Bell circuit (``h``, ``cx``) transpiled onto the pair and simulated with
  the device's noise model on Aer's density-matrix method; ``tensor[i, j] = <sigma_i (x) sigma_j>``;
- the **readout errors** of the two qubits, from the noise model's readout-error entries.

The measurement rotations' own single-qubit gate errors (about 2e-4 a gate on FakeSherbrooke) are not in
the fit; the simulation applies them. Photon loss is not a device property: it is still ``Noise.loss_*``.

**Pair rule.** Among the device's coupled pairs (its two-qubit gate's edges), the one with the smallest
two-qubit gate error + readout error of A + readout error of B (each readout error the mean of its two
flip probabilities); ties go to the lower qubit indices. ``qubits=(a, b)`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .errors import StrategyError

TWO_QUBIT_GATES = ("ecr", "cz", "cx")
PAIR_RULE = "smallest two-qubit gate error + readout error of each qubit (mean of its two flip probabilities)"


@lru_cache(maxsize=8)
def _fake(name: str):
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise StrategyError(f"device {name!r} needs the optional extra: pip install -e '.[ibm]'") from None
    cls = getattr(fake_provider, name, None)
    if cls is None or not name.startswith("Fake"):
        known = sorted(
            n
            for n in dir(fake_provider)
            if n.startswith("Fake") and not n.endswith("V2") and n != "FakeProviderForBackendV2"
        )
        raise StrategyError(f"unknown device {name!r}; e.g. {', '.join(known[:8])}, ...")
    return cls()


@lru_cache(maxsize=8)
def device_backend(name: str):
    """``AerSimulator.from_backend`` of a fake IBM device, e.g. "FakeSherbrooke", "FakeBrisbane", "FakeTorino"."""
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(_fake(name))


@lru_cache(maxsize=16)
def pair_simulator(name: str, qubits: tuple[int, int]):
    """``device_backend(name)`` with the noise model's entries for ``qubits`` only (``aer.noise_on``): the same
    target (circuits are transpiled against the full device) and, for a circuit on those qubits, the same counts seed
    for seed (tested). Aer converts the whole noise model on every run, about 1.4 s for a 127-qubit device whatever
    the shots; this one converts in milliseconds."""
    from qiskit_aer import AerSimulator

    from .aer import noise_on

    model = noise_on(device_backend(name).options.noise_model, tuple(qubits))
    return device_backend(name) if model is None else AerSimulator.from_backend(_fake(name), noise_model=model)


def _readout_errors(simulator) -> dict[int, tuple[float, float]]:
    """(P(read 1 | 0), P(read 0 | 1)) per qubit from the simulator's noise model."""
    out = {}
    for error in simulator.options.noise_model.to_dict()["errors"]:
        if error["type"] == "roerror" and len(error["gate_qubits"][0]) == 1:
            p = error["probabilities"]
            out[int(error["gate_qubits"][0][0])] = (float(p[0][1]), float(p[1][0]))
    return out


def _edges(backend) -> dict[tuple[int, int], float]:
    """Two-qubit gate error per coupled pair, in the gate's native direction."""
    target = backend.target
    gate = next((g for g in TWO_QUBIT_GATES if g in target.operation_names), None)
    if gate is None:
        raise StrategyError(f"device {backend.name!r} has none of the two-qubit gates {', '.join(TWO_QUBIT_GATES)}")
    edges: dict[tuple[int, int], float] = {}
    for qubits, props in target[gate].items():
        if props is not None and props.error is not None:
            a, b = qubits  # a two-qubit gate's qubits
            edges[(int(a), int(b))] = float(props.error)
    return edges


def _cost(edge_error: float, ro: tuple[float, float], rb: tuple[float, float]) -> float:
    return edge_error + sum(ro) / 2 + sum(rb) / 2


def choose_pair(name: str) -> tuple[int, int]:
    """The device's best pair of physical qubits by ``PAIR_RULE`` (Alice first, in the gate's native direction)."""
    edges = _edges(_fake(name))
    ro = _readout_errors(device_backend(name))
    scored = sorted(
        (_cost(err, ro.get(a, (1.0, 1.0)), ro.get(b, (1.0, 1.0))), min(a, b), max(a, b), (a, b))
        for (a, b), err in edges.items()
    )
    return scored[0][3]


def _bell_tensor(name: str, qubits: tuple[int, int]) -> np.ndarray:
    from qiskit import QuantumCircuit, transpile

    from .pair import pauli_tensor

    simulator = device_backend(name)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    circuit = transpile(bell, simulator, initial_layout=list(qubits), optimization_level=1, seed_transpiler=0)
    circuit.save_density_matrix(qubits=list(qubits))  # first listed = qubit 0 = Alice
    rho = pair_simulator(name, qubits).run(circuit, method="density_matrix").result().data(0)["density_matrix"]
    tensor = pauli_tensor(rho)
    tensor.setflags(write=False)
    return tensor


@dataclass(frozen=True, eq=False)
class Device:
    """A fake IBM device and the pair of physical qubits (A, B) the servers' halves live on.

    ``tensor``: the Bell pair's Pauli tensor (I, X, Y, Z) as the device prepares it; ``readout_a``,
    ``readout_b``: (P(read 1 | 0), P(read 0 | 1)) of the two qubits; ``calibration``: the figures the pair
    was chosen on (two-qubit gate error, readout errors, T1 and T2 in microseconds), and the rule.
    """

    name: str
    qubits: tuple[int, int]
    tensor: np.ndarray = field(repr=False)
    readout_a: tuple[float, float]
    readout_b: tuple[float, float]
    calibration: dict = field(repr=False)
    chosen: bool = True  # by the pair rule (False: given with qubits=)

    @property
    def simulator(self):
        return device_backend(self.name)

    @property
    def runner(self):
        """The simulator that runs circuits transpiled onto ``qubits``: ``pair_simulator`` (the same counts as
        ``simulator``, without converting the other qubits' noise on every run)."""
        return pair_simulator(self.name, self.qubits)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "qubits": list(self.qubits),
            "pair": "chosen" if self.chosen else "given",
            "pair_rule": PAIR_RULE,
            **self.calibration,
            "bell_fidelity": float((1 + self.tensor[1, 1] - self.tensor[2, 2] + self.tensor[3, 3]) / 4),
        }


@lru_cache(maxsize=16)
def device(name: str, qubits: tuple[int, int] | None = None) -> Device:
    """The ``Device`` for a fake IBM backend, on ``qubits`` (A, B) or on the pair the rule chooses."""
    backend = _fake(name)
    edges = _edges(backend)
    chosen = qubits is None
    given = choose_pair(name) if qubits is None else tuple(int(q) for q in qubits)
    n = backend.num_qubits
    if len(given) != 2 or given[0] == given[1] or not all(0 <= q < n for q in given):
        raise StrategyError(f"qubits must be two different physical qubits of {name} (0..{n - 1}), got {given}")
    qubits = given
    edge = edges.get(qubits, edges.get((qubits[1], qubits[0])))
    if edge is None:
        best = choose_pair(name)
        raise StrategyError(
            f"qubits {qubits[0]},{qubits[1]} are not coupled on {name}: the Bell pair would need "
            f"SWAPs; choose a coupled pair (the rule's choice is {best[0]},{best[1]})"
        )
    ro = _readout_errors(device_backend(name))
    props = backend.target.qubit_properties
    calibration = {
        "two_qubit_gate_error": edge,
        "readout_error": [list(ro[q]) for q in qubits],
        "t1_us": [float(props[q].t1) * 1e6 for q in qubits],
        "t2_us": [float(props[q].t2) * 1e6 for q in qubits],
    }
    return Device(name, qubits, _bell_tensor(name, qubits), ro[qubits[0]], ro[qubits[1]], calibration, chosen)
