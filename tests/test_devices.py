"""A fake IBM device for every quantum player: the pair rule, the Bell-pair tensor fitted to, and plays on it.

Runs for real on qiskit-ibm-runtime's fake backends and Aer (the test extra installs them)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

pytest.importorskip("qiskit_ibm_runtime", reason="the optional 'ibm' extra (qiskit-ibm-runtime) is not installed")

from qcoord.backtest.stats.intervals import draw_inputs  # noqa: E402
from qcoord.strategies import Game, Noise, StrategyError, independent, solve  # noqa: E402
from qcoord.strategies.aer import noise_on  # noqa: E402
from qcoord.strategies.devices import PAIR_RULE, _fake, choose_pair, device  # noqa: E402
from tests.conftest import CI_ALPHA  # noqa: E402

NAME = "FakeSherbrooke"
UNIFORM = independent(0.5, 0.5)
Z = float(norm.ppf(1 - CI_ALPHA / 2))  # two-sided normal quantile of the suite's confidence level


def _rotation_allowance(d) -> float:
    """Largest change of a +-1 correlator from the measurement rotations' own gate errors, which the fit leaves out:
    a rotation compiles to at most two sx gates per qubit, each depolarizing with its calibrated error p, which
    shrinks a Bloch component by at most 4p/3."""
    target = _fake(NAME).target
    return 2 * 4 / 3 * sum(target["sx"][(q,)].error for q in d.qubits)


def _independent_costs() -> dict[tuple[int, int], float]:
    """The pair rule's cost per coupled pair from the backend's calibration record (BackendProperties), not the
    noise model the Device reads."""
    props = _fake(NAME).properties()
    ro = {
        q: (props.qubit_property(q)["prob_meas1_prep0"][0] + props.qubit_property(q)["prob_meas0_prep1"][0]) / 2
        for q in range(_fake(NAME).num_qubits)
    }
    costs = {}
    for gate in props.gates:
        if gate.gate == "ecr":
            a, b = gate.qubits
            err = next(p.value for p in gate.parameters if p.name == "gate_error")
            costs[(a, b)] = err + ro[a] + ro[b]
    return costs


def test_the_chosen_pair_minimises_the_stated_rule():
    costs = _independent_costs()
    a, b = choose_pair(NAME)
    assert costs[(a, b)] == pytest.approx(min(costs.values()), abs=1e-12)
    d = device(NAME)
    assert d.qubits == (a, b) and d.chosen and d.describe()["pair_rule"] == PAIR_RULE
    # the transpiler's default pair (0, 1) is worse: readout errors 1.1% and 2.4%
    assert costs.get((1, 0), costs.get((0, 1))) > costs[(a, b)] + 0.01


def test_the_bell_tensor_matches_correlators_measured_on_the_device():
    """The tensor the solver fits to, against XX, YY, ZZ correlators counted from Aer shots on the same qubits
    (readout error undone: E_measured = (1 - e_a1 - e_a2)(1 - e_b1 - e_b2) E for symmetric readout)."""
    from qiskit import QuantumCircuit, transpile

    d = device(NAME)
    shots = 40_000
    scale = (1 - sum(d.readout_a)) * (1 - sum(d.readout_b))
    for basis, (i, j) in {"XX": (1, 1), "YY": (2, 2), "ZZ": (3, 3)}.items():
        qc = QuantumCircuit(2, 2)
        qc.h(0)
        qc.cx(0, 1)
        for q in (0, 1):
            if basis[0] == "X":
                qc.h(q)
            elif basis[0] == "Y":
                qc.sdg(q)
                qc.h(q)
        qc.measure([0, 1], [0, 1])
        t = transpile(qc, d.simulator, initial_layout=list(d.qubits), optimization_level=1, seed_transpiler=1)
        counts = d.simulator.run(t, shots=shots, seed_simulator=5).result().get_counts()
        e = sum((1 if k.count("1") % 2 == 0 else -1) * v for k, v in counts.items()) / shots
        assert e / scale == pytest.approx(d.tensor[i, j], abs=(Z / math.sqrt(shots) + _rotation_allowance(d)) / scale)


def test_the_pair_simulator_gives_the_full_devices_counts_seed_for_seed():
    """Circuits on the device's pair run on a simulator holding only that pair's noise (Aer converts the whole noise
    model on every run): the same counts as the full device, shot for shot, for a circuit with every kind of gate
    the players compile to, on the chosen pair and on a given one."""
    from qiskit import QuantumCircuit, transpile

    for d in (device(NAME), device(NAME, (1, 0))):
        qc = QuantumCircuit(2, 2)
        qc.h(0)
        qc.cx(0, 1)
        qc.rz(-0.4, 0)
        qc.ry(-0.6, 0)
        qc.ry(-1.9, 1)
        qc.measure([0, 1], [0, 1])
        t = transpile(qc, d.simulator, initial_layout=list(d.qubits), optimization_level=1, seed_transpiler=3)
        assert d.runner is not d.simulator
        runs = [sim.run([t] * 2, shots=20_000, seed_simulator=9).result() for sim in (d.simulator, d.runner)]
        # a raw device backend (no Device): the entries on the qubits the transpiled circuit acts on, as a run option
        used = tuple(sorted({t.find_bit(q).index for inst in t.data for q in inst.qubits}))
        assert used == tuple(sorted(d.qubits))
        part = noise_on(d.simulator.options.noise_model, used)
        runs.append(d.simulator.run([t] * 2, shots=20_000, seed_simulator=9, noise_model=part).result())
        counts = [[run.get_counts(i) for i in range(2)] for run in runs]
        assert counts[0] == counts[1] == counts[2]


def test_given_qubits_override_the_rule_and_uncoupled_pairs_are_refused():
    worse = device(NAME, (1, 0))
    assert not worse.chosen and worse.qubits == (1, 0)
    assert (
        solve(Game(), UNIFORM, device=worse).quantum_value < solve(Game(), UNIFORM, device=device(NAME)).quantum_value
    )
    with pytest.raises(StrategyError, match="qubits 0,5 are not coupled on FakeSherbrooke"):
        device(NAME, (0, 5))


@pytest.mark.slow
def test_quantum_and_textbook_both_play_on_the_device_at_the_fitted_values():
    """Every quantum player on the device: simulated win rates match the values fitted to the device's tensor
    (within the interval of 200k rounds plus the rotation gates' error), and the textbook angles do not score
    the ideal cos^2(pi/8) any more."""
    d = device(NAME)
    noise = Noise.make(loss=0.01)
    sol = solve(Game(), UNIFORM, noise, device=d)
    n = 200_000
    x, y = draw_inputs(UNIFORM, n, np.random.default_rng(2))
    for strategy, value in ((sol.quantum_strategy(), sol.quantum_value), (sol.textbook_strategy(), sol.textbook_value)):
        assert strategy.resource.aer_backend is d
        a, b = strategy.play(x, y, np.random.default_rng(3))
        rate = float(Game().win(x, y, a, b).mean())
        se = math.sqrt(value * (1 - value) / n)
        # win rate = 1/2 + (1/8) sum of +-E_xy on uniform inputs: the rotations move it by at most half their allowance
        assert rate == pytest.approx(value, abs=Z * se + _rotation_allowance(d) / 2)
        assert rate < math.cos(math.pi / 8) ** 2 - Z * se


@pytest.mark.slow
def test_qcoord_game_on_a_device_reports_both_players_on_it(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "qcoord", "game", "--device", NAME, "--rounds", "200000", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["device"]["qubits"] == list(choose_pair(NAME)) and r["simulated"]["device"]["name"] == NAME
    for name, fitted in (("quantum", r["quantum_value"]), ("textbook", r["textbook_value"])):
        s = r["simulated"][name]
        assert s["win_rate"] == pytest.approx(
            fitted, abs=Z * math.sqrt(fitted * (1 - fitted) / 200_000) + _rotation_allowance(device(NAME)) / 2
        )
        assert s["vs_classical"]["ci95"][0] > 0
    assert r["quantum_value"] >= r["textbook_value"] - 1e-12


@pytest.mark.slow
def test_a_backtest_on_a_device_names_it_and_plays_every_quantum_player_there():
    from qcoord.backtest import run_backtest

    r = run_backtest("signals", rounds=20_000, seed=1, device=NAME, strategies=["classical", "quantum", "textbook"])
    assert r.game["device"]["name"] == NAME and r.game["device"]["qubits"] == list(choose_pair(NAME))
    for name in ("quantum", "textbook"):
        assert r.players[name]["resource"]["backend"] == "aer"
    assert r.metrics_dict["quantum"]["win_rate"] < math.cos(math.pi / 8) ** 2
    assert abs(r.metrics_dict["quantum"]["win_rate"] - r.metrics_dict["textbook"]["win_rate"]) < 0.02
    with pytest.raises(Exception, match="brings its own noise"):
        run_backtest("signals", rounds=2_000, device=NAME, visibility=0.9)
