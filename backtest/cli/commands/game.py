"""``qcoord game``: the coordination game for given input statistics and noise: optimum, and optionally a simulation."""

from __future__ import annotations

import argparse

from ..arguments import add_options, bounded, given, matrix, probability, terminal_width
from ...output.jsondoc import dumps
from ...errors import BacktestError

# numpy, strategies (qiskit, numba) and statsmodels are imported where used, so that `qcoord --help` is quick.

MAX_GAME_ROUNDS = 10**8  # the simulation holds its rounds in memory: about 1 GB at this size
GAME_OPTIONS = ("game.beta", "game.rule", "noise", "run.backend", "run.device", "run.qubits", "run.seed")


def settings(args: argparse.Namespace):
    """(GameSettings with kind paper, Noise, RunSettings) from the options given, over the defaults."""
    from ...config import RunConfig

    cfg = RunConfig().with_values({"game.kind": "paper", **given(args)})
    return cfg.game, cfg.noise.build(), cfg.run


HELP = "optimal classical and quantum play for given indicator statistics and noise"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "game",
        help=HELP,
        description="Solve the hedging game for an input distribution p(x,y) and a noisy quantum "
        "link; with --rounds, also play it on simulated rounds.",
    )
    src = p.add_argument_group("input distribution (default: independent, P(x=1) = P(y=1) = 0.5)")
    src.add_argument("--p-x", type=probability, help="P(x = 1), independent inputs")
    src.add_argument("--p-y", type=probability, help="P(y = 1), independent inputs")
    src.add_argument(
        "--p-xy",
        type=matrix,
        metavar="MATRIX",
        help="any joint distribution p(x,y): P00,P01,P10,P11, or K_A x K_B rows separated by ';' "
        '("0.2,0.1,0;0.1,0.2,0.1;0,0.1,0.2" for 3-level inputs), a JSON list of rows, or a CSV '
        "file",
    )
    src.add_argument(
        "--chained",
        type=bounded(int, 2, 8, "a number of inputs from 2 to 8"),
        metavar="K",
        help="the chained Bell game with K inputs a side and its input distribution (classical "
        "1 - 1/(2K), quantum cos^2(pi/(4K)))",
    )
    add_options(p, sections=("game", "noise", "run"), only=GAME_OPTIONS)
    p.add_argument(
        "--weights",
        type=matrix,
        metavar="MATRIX",
        help="play this XOR game instead of the paper's (write --weights=-1,... when the first is "
        "negative; K_A x K_B as for --p-xy): a round is worth +W[x,y] when the outputs agree "
        "and -W[x,y] when they differ (e.g. the hedge game's -2 e^2 E[r_X r_Y | x,y])",
    )
    s = p.add_argument_group("simulation")
    s.add_argument(
        "--rounds",
        type=bounded(
            int,
            0,
            MAX_GAME_ROUNDS,
            f"a whole number of rounds in 1..{MAX_GAME_ROUNDS:.0e} (simulated in memory)",
            open_lo=True,
        ),
        help="also play this many rounds",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...overrides import check_device

    from ....strategies import solve

    game_settings, noise, run_settings = settings(args)
    backend, seed = run_settings.backend, run_settings.seed
    check_device(run_settings, noise, None)
    device = None
    if run_settings.device:
        from ....strategies.devices import device as device_named

        qubits = tuple(run_settings.qubits) if run_settings.qubits else None
        device = device_named(run_settings.device, qubits)
    game, p = _game_and_inputs(args, game_settings)
    solution = solve(game, p, noise, device=device)
    report = solution.to_dict()
    report["tsirelson_bound"] = _tsirelson(game, p)
    if args.rounds:
        from ...analysis.simulation import simulate

        report["simulated"] = simulate(solution, args.rounds, backend, seed)
    if args.json:
        print(dumps(report, None))
        return 0
    print(render(report, terminal_width()))
    return 0


def _game_and_inputs(args, game_settings):
    """The game and p(x,y) the options describe (levels from the matrices' shapes)."""
    import numpy as np

    from ....strategies import Game, StrategyError, check_p_xy, independent
    from ....strategies.game import chained_p_xy

    if args.p_xy is not None and (args.p_x is not None or args.p_y is not None):
        raise BacktestError("give either --p-xy or --p-x/--p-y, not both")
    if args.chained is not None:
        if args.p_xy is not None or args.p_x is not None or args.p_y is not None or args.weights is not None:
            raise BacktestError(
                "--chained gives the game and its input distribution: --p-xy, --p-x, --p-y and --weights do not apply"
            )
        return Game.chained(args.chained), chained_p_xy(args.chained)
    if args.weights is not None:
        if game_settings.beta != 0.0 or game_settings.rule != "hedge":
            raise BacktestError("--weights gives the whole game: --beta and --rule do not apply")
        game = Game.from_weights(np.asarray(args.weights, dtype=float))
    else:
        game = Game(beta=game_settings.beta, rule=game_settings.rule)
    if args.p_xy is not None:
        p = check_p_xy(args.p_xy, None)
        if p.shape != game.levels:
            what = "--weights" if args.weights is not None else "the paper's game (binary inputs)"
            raise StrategyError(f"--p-xy is {p.shape[0]}x{p.shape[1]} but {what} is {game.levels[0]}x{game.levels[1]}")
    elif game.levels != (2, 2):
        p = np.full(game.levels, 1.0 / (game.levels[0] * game.levels[1]))  # uniform over the K_A x K_B inputs
    else:
        p = independent(0.5 if args.p_x is None else args.p_x, 0.5 if args.p_y is None else args.p_y)
    return game, p


def _tsirelson(game, p) -> dict:
    """The best value any entangled state (any dimension, no noise) reaches: closed form for 2x2, else the SDP."""
    from ....strategies import StrategyError
    from ....strategies.solver import tsirelson_sdp, tsirelson_value

    if game.levels == (2, 2):
        return {"value": tsirelson_value(game, p), "method": "Tsirelson's vector program (closed form, 2x2)"}
    try:
        return {"value": tsirelson_sdp(game, p), "method": "Tsirelson's semidefinite program (cvxpy)"}
    except StrategyError as exc:
        return {"value": None, "method": str(exc)}


def _angles(values, azimuths=None) -> str:
    azimuths = azimuths or [0.0] * len(values)
    return ", ".join(
        "—" if v is None else f"{v:.4f}" + (f" (φ {p:.4f})" if p else "") for v, p in zip(values, azimuths)
    )


def _matrix(rows, fmt: str) -> str:
    return "; ".join(",".join(format(v, fmt) for v in row) for row in rows)


def render(r: dict, width: int = 80) -> str:
    p = r["p_xy"]
    kind = r.get("kind", "paper")
    if kind == "paper":
        head = (
            f"game            rule={r['rule']}  beta={r['beta']:g}  (win: a XOR b = "
            f"{'NOT(x AND y)' if r['rule'] == 'hedge' else 'x AND y'} at beta=0)"
        )
    elif kind == "chained":
        k = len(r["table"])
        head = (
            f"game            chained Bell game, {k} inputs a side (win: outputs agree on (x, x) and (x, x+1), "
            f"differ on ({k - 1}, 0))"
        )
    else:
        w = [[t[0] for t in row] for row in r["table"]]
        if len(w) == 2 and len(w[0]) == 2:
            head = (
                f"game            weights w00={w[0][0]:g} w01={w[0][1]:g} w10={w[1][0]:g} w11={w[1][1]:g} "
                "(+w same, -w different)"
            )
        else:
            head = f"game            weights {_matrix(w, 'g')} (rows x; +w same, -w different)"
    if len(p) == 2 and len(p[0]) == 2:
        pline = f"p(x,y)          p00={p[0][0]:.4f} p01={p[0][1]:.4f} p10={p[1][0]:.4f} p11={p[1][1]:.4f}"
    else:
        pline = f"p(x,y)          {_matrix(p, '.4f')}  ({len(p)}x{len(p[0])} levels, rows x)"
    tb = r.get("tsirelson_bound") or {}
    tb_line = (
        f"Tsirelson bound {tb['value']:.6f}  (any entangled state, no noise; {tb['method']})"
        if tb.get("value") is not None
        else f"Tsirelson bound unavailable: {tb.get('method', '')}"
    )
    rows = [
        head,
        pline,
        f"classical       {r['classical_value']:.6f}  (A: {r['classical_rule']['A_name']}, "
        f"B: {r['classical_rule']['B_name']})",
        f"quantum optimum {r['quantum_value']:.6f}  (one Bell pair, this noise)",
        tb_line if tb else None,
        f"textbook angles {r['textbook_value']:.6f}"
        if r["textbook_value"] == r["textbook_value"] and kind != "chained"
        else None,
        f"advantage       {r['advantage']:.6f}",
    ]
    lines = [line for line in rows if line is not None]
    if r["uses_entanglement"]:
        az = r.get("azimuths") or {}
        lines.append(
            f"angles (rad)    A: {_angles(r['angles']['A'], az.get('A'))}   "
            f"B: {_angles(r['angles']['B'], az.get('B'))}   [θ; φ = azimuth out of the X-Z plane; "
            f"searched: {r.get('measurement_search', 'X-Z plane')}]"
        )
        lines.append(f"fallback bits   A: {r['fallback']['A']}   B: {r['fallback']['B']}  (no click, or qubit ignored)")
        flipped = r.get("flipped") or {}
        if any(any(v) for v in flipped.values()):
            lines.append(
                f"flipped report  A: {flipped['A']}   B: {flipped['B']}  (the opposite of the outcome: pays "
                "with asymmetric readout errors)"
            )
    else:
        lines.append(
            "verdict         no quantum advantage for these statistics and this noise: "
            "the best strategy is the classical rule"
        )
    if r.get("device"):
        d = r["device"]
        lines.append(
            f"device          {d['name']}, A on qubit {d['qubits'][0]}, B on {d['qubits'][1]} ({d['pair']}; "
            f"two-qubit error {d['two_qubit_gate_error']:.2%}, readout "
            + ", ".join(f"{(e0 + e1) / 2:.2%}" for e0, e1 in d["readout_error"])
            + f", Bell fidelity {d['bell_fidelity']:.4f}): directions fitted to this pair"
        )
    sim = r.get("simulated")
    if sim:
        lines.append(
            f"simulated       {sim['rounds']} rounds, backend {sim['backend']}"
            + (f", every quantum strategy on {sim['device']['name']}" if sim.get("device") else "")
        )
        for name in [n for n in ("classical", "quantum", "textbook") if n in sim]:
            s = sim[name]
            text = f"  {name:10s}    utility {s['utility']:.5f}"
            if s["utility_se"] is not None:
                text += f" ± {_z95() * s['utility_se']:.5f}"
            if "vs_classical" in s:
                v = s["vs_classical"]
                text += f"  vs classical {v['diff']:+.5f}"
                if v["ci95"] is not None:
                    text += f" [{v['ci95'][0]:+.5f}, {v['ci95'][1]:+.5f}]"
            if "win_rate" in s:
                text += f"  win rate {s['win_rate']:.5f} [{s['ci95'][0]:.5f}, {s['ci95'][1]:.5f}]"
            lines.append(text)
        if not sim.get("has_wins"):
            lines.append("  (no round has a sure win in this game: compared in utility, same inputs round by round)")
    import textwrap

    # lines longer than the terminal continue under the value column, never inside a word
    return "\n".join(
        part
        for line in lines
        for part in textwrap.wrap(
            line, width, subsequent_indent=" " * 16, break_long_words=False, break_on_hyphens=False
        )
        or [""]
    )


def _z95() -> float:
    from ...stats.intervals import Z95  # statsmodels: only when a table with errors is printed

    return Z95
