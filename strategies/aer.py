"""The Aer path: the same pair and measurements as Qiskit circuits on qiskit-aer's AerSimulator.

Batched: one circuit per (setting A, setting B) pair with shots = the number of rounds that use it,
never one job per round (the shots run as equal batches of that circuit in one parallel Aer job). Each job gets
its own seed drawn from the caller's generator (AerSimulator reuses one ``seed_simulator`` for every run
otherwise, giving identical streams). Outcomes come back as counts and are placed on the job's rounds by a
seeded random permutation: shots are i.i.d., so this is statistically exact and 5-20x faster than per-shot
memory (../shared/REFERENCE.md).

Noise is modelled independently of the exact path: ``depolarizing_error`` on the pair, Aer's
``thermal_relaxation_error`` on each stored qubit, ``ReadoutError`` in a ``NoiseModel``, and loss as a
herald qubit per party rotated so that it reads 1 (no click) with the loss probability.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .errors import StrategyError
from .noise import Noise

MAX_AGE_GROUPS = 32
BATCH_SHOTS = 1 << 18  # shots per parallel experiment


def build_circuit(
    theta_a: float,
    theta_b: float,
    noise: Noise,
    storage_time: float | None = None,
    phi_a: float = 0.0,
    phi_b: float = 0.0,
):
    """Alice q0, Bob q1 (+ herald qubits q2, q3 when there is loss); clbit i measures qubit i. Each party
    measures along (theta, phi): RZ(-phi), RY(-2 theta), then Z."""
    from qiskit import QuantumCircuit
    from qiskit_aer.noise import depolarizing_error, thermal_relaxation_error

    herald = noise.loss_a > 0 or noise.loss_b > 0
    n = 4 if herald else 2
    qc = QuantumCircuit(n, n, name=f"pair_{theta_a:.6f}_{theta_b:.6f}")
    qc.h(0)
    qc.cx(0, 1)
    if noise.visibility < 1:
        qc.append(depolarizing_error(1.0 - noise.visibility, 2), [0, 1])
    t = noise.storage_time if storage_time is None else storage_time
    assert noise.t2 is not None  # Noise.__post_init__ resolves an unset T2 (2 T1)
    if t > 0 and not (math.isinf(noise.t1) and math.isinf(noise.t2)):
        relax = thermal_relaxation_error(noise.t1, noise.t2, t)
        for qubit, stored in enumerate(noise.stores):
            if stored:
                qc.append(relax, [qubit])
    for qubit, (theta, phi) in enumerate(((theta_a, phi_a), (theta_b, phi_b))):
        if phi:
            qc.rz(-phi, qubit)
        qc.ry(-2 * theta, qubit)
    if herald:
        qc.ry(2 * math.asin(math.sqrt(noise.loss_a)), 2)
        qc.ry(2 * math.asin(math.sqrt(noise.loss_b)), 3)
    qc.measure(range(n), range(n))
    return qc


@lru_cache(maxsize=16)
def _simulator(noise: Noise):
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = None
    if any(noise.readout_a) or any(noise.readout_b):
        model = NoiseModel()
        for qubit, (e01, e10) in enumerate((noise.readout_a, noise.readout_b)):
            model.add_readout_error(ReadoutError([[1 - e01, e01], [e10, 1 - e10]]), [qubit])
    # density_matrix keeps the channels exact and lets Aer sample all shots from one final state
    return AerSimulator(method="density_matrix", noise_model=model)


_NOISE_ON: dict = {}  # (id(model), qubits) -> (model, its entries on those qubits); the model kept alive with its id


def noise_on(model, qubits: tuple[int, ...]):
    """A device noise model's entries on ``qubits`` only (their gates' and readout errors, and the model's noise
    passes): for a circuit acting on those qubits alone, the same simulation as the whole model, which Aer converts
    on every run (about 1.4 s for 127 qubits, whatever the shots). None when the model has all-qubit entries, or
    qiskit-aer's private layout read here changed (then the whole model is used)."""
    key = (id(model), tuple(sorted(qubits)))
    if key in _NOISE_ON:
        return _NOISE_ON[key][1]
    from qiskit_aer.noise import NoiseModel

    parts = ["_local_quantum_errors", "_local_readout_errors", "_default_quantum_errors", "_default_readout_error"]
    parts.append("_custom_noise_passes")
    part = None
    if all(hasattr(model, a) for a in parts) and not model._default_quantum_errors and not model._default_readout_error:
        keep = set(qubits)
        part = NoiseModel(basis_gates=model.basis_gates)
        for instruction, by_qubits in model._local_quantum_errors.items():
            for on, error in by_qubits.items():
                if set(on) <= keep:
                    part.add_quantum_error(error, instruction, on)
        for on, error in model._local_readout_errors.items():
            if set(on) <= keep:
                part.add_readout_error(error, on)
        part._custom_noise_passes = list(model._custom_noise_passes)
    _NOISE_ON[key] = (model, part)
    return part


def _outcome_codes(bitstring: str, herald: bool) -> tuple[int, int]:
    bits = bitstring.replace(" ", "")[::-1]  # Aer prints clbit 0 last: reverse to index by clbit
    a, b = int(bits[0]), int(bits[1])
    if herald:
        a = 2 if bits[2] == "1" else a
        b = 2 if bits[3] == "1" else b
    return a, b


def _age_groups(ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group per-round storage times: exact when few distinct values, else quantile bins at their mean age."""
    values, inverse = np.unique(ages, return_inverse=True)
    if values.size <= MAX_AGE_GROUPS:
        return inverse.astype(np.intp), values
    edges = np.quantile(ages, np.linspace(0, 1, MAX_AGE_GROUPS + 1)[1:-1])
    group = np.searchsorted(edges, ages, side="right")
    sums = np.bincount(group, weights=ages, minlength=MAX_AGE_GROUPS)
    counts = np.bincount(group, minlength=MAX_AGE_GROUPS)
    return group, np.divide(sums, counts, out=np.zeros(MAX_AGE_GROUPS), where=counts > 0)


def _counts(backend, qc, shots: int, seed: int, rng: np.random.Generator, **options) -> dict[str, int]:
    """Counts of ``shots`` i.i.d. shots of ``qc``, run as equal batches in one parallel Aer job.

    A job of k copies of the circuit with ceil(shots/k) shots each lets Aer spread the work over all
    cores (max_parallel_experiments); Aer seeds experiment i of a run differently. The few surplus shots
    are removed by a multivariate hypergeometric draw, so exactly ``shots`` i.i.d. outcomes remain.
    """
    copies = -(-shots // BATCH_SHOTS)
    per = -(-shots // copies)
    result = backend.run([qc] * copies, shots=per, seed_simulator=seed, max_parallel_experiments=0, **options).result()
    total: dict[str, int] = {}
    for i in range(copies):
        for bitstring, k in result.get_counts(i).items():
            total[bitstring] = total.get(bitstring, 0) + k
    keys = sorted(total)
    colors = np.array([total[k] for k in keys], dtype=np.int64)
    if colors.sum() > shots:
        colors = rng.multivariate_hypergeometric(colors, shots)
    return dict(zip(keys, colors.tolist()))


def sample_aer(resource, setting_a: np.ndarray, setting_b: np.ndarray, rng: np.random.Generator, ages=None):
    """Outcomes per round (uint8, 2 = no click) from batched AerSimulator jobs."""
    noise = resource.noise
    if resource.aer_backend is not None and not (
        noise.ideal or noise == Noise(loss_a=noise.loss_a, loss_b=noise.loss_b)
    ):
        raise StrategyError("a device backend brings its own noise model: use Noise() (loss only) with it")
    device = resource.aer_backend if hasattr(resource.aer_backend, "qubits") else None  # a devices.Device
    backend, layout = resource.aer_backend, None
    runner = backend  # what runs the transpiled circuits
    if device is not None:
        if ages is not None:
            raise StrategyError(
                f"storage of the pair on {device.name} is not modelled: a device run takes fresh pairs "
                "(no Bell-pair memory)"
            )
        backend, layout, runner = device.simulator, list(device.qubits), device.runner
        # photon loss is not a device property: drawn after the run, so no herald qubit sits on a noisy physical qubit
        noise = Noise()
    n_b = len(resource.angles_b)
    group = setting_a.astype(np.intp) * n_b + setting_b
    n_combo = len(resource.angles_a) * n_b
    age_values = np.array([noise.storage_time])
    if ages is not None:
        age_group, age_values = _age_groups(np.asarray(ages, dtype=float))
        group = group + n_combo * age_group
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=n_combo * age_values.size)
    starts = np.concatenate([[0], np.cumsum(counts)])
    out_a = np.empty(group.size, dtype=np.uint8)
    out_b = np.empty(group.size, dtype=np.uint8)
    herald = noise.loss_a > 0 or noise.loss_b > 0
    jobs = np.flatnonzero(counts)
    seeds = rng.integers(0, 2**31 - 1, size=jobs.size)  # a distinct seed per job, drawn from the run's stream
    for job, seed in zip(jobs, seeds):
        combo, age_index = job % n_combo, job // n_combo
        i, j = combo // n_b, combo % n_b
        qc = build_circuit(
            resource.angles_a[i],
            resource.angles_b[j],
            noise,
            float(age_values[age_index]) if ages is not None else None,
            resource.azimuths_a[i],
            resource.azimuths_b[j],
        )
        shots = int(counts[job])
        if backend is not None:
            from qiskit import transpile

            qc = transpile(qc, backend, initial_layout=layout, optimization_level=1, seed_transpiler=int(seed))
        options = {}
        if device is None and getattr(getattr(backend, "options", None), "noise_model", None) is not None:
            # a device's noise model on a layout the transpiler chose: only the qubits the circuit acts on
            used = tuple(sorted({qc.find_bit(q).index for inst in qc.data for q in inst.qubits}))
            part = noise_on(backend.options.noise_model, used)
            options = {} if part is None else {"noise_model": part}
        codes_a, codes_b, reps = [], [], []
        for bitstring, k in _counts(
            runner if runner is not None else _simulator(noise), qc, shots, int(seed), rng, **options
        ).items():
            a, b = _outcome_codes(bitstring, herald)
            codes_a.append(a)
            codes_b.append(b)
            reps.append(k)
        rows = order[starts[job] : starts[job + 1]][rng.permutation(shots)]
        out_a[rows] = np.repeat(np.array(codes_a, dtype=np.uint8), reps)
        out_b[rows] = np.repeat(np.array(codes_b, dtype=np.uint8), reps)
    if device is not None:
        out_a[rng.random(out_a.size) < resource.noise.loss_a] = 2
        out_b[rng.random(out_b.size) < resource.noise.loss_b] = 2
    return out_a, out_b
