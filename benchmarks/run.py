"""qcoord benchmarks: rounds per second of every path, side by side with the naive Qiskit loop, in one process.

    python benchmarks/run.py            # full sizes (about two minutes on 2 cores)
    python benchmarks/run.py --quick    # every size / 10 (under a minute)
    python benchmarks/run.py --json     # one JSON object

Paths: ``naive`` builds and runs one Qiskit circuit per round on AerSimulator (1,000 rounds); ``aer`` is the
batched Aer path and ``exact`` the exact path of the optimal quantum strategy (10^7 rounds each);
``backtest`` a full backtest (synthetic signals feed, indicators, all baselines, bias fill, metrics) and
``backtest_queue`` the same with the queue fill model (10^7 rounds each); ``scan`` (only with --only) the pairs per
second of ``qcoord scan`` on the shipped 11-stock panel (its 55 pairs four times) in a plain loop, on one Dask worker
and on every core; ``isolation`` (only with --only) the cost of the trust boundary: a backtest with one user-defined
rule (a ``LocalRule`` subclass, so user code: each server's rule in its own worker process, every chunk played four
times with the real play among them, the partner's inputs moved in the replays) against the same strategy as
engine-owned table rules played in the engine's process (10^7 rounds; target: at most ``ISOLATION_TARGET`` times
its time, the workers' start included); ``startup`` (only with --only)
the wall time a user waits, each command in a fresh process: ``qcoord --version``, ``qcoord --help`` and the default
``qcoord backtest`` (200,000 synthetic rounds, report written), and of that run the report writing alone;
``events`` (only with --only) the event-time market: Hawkes events a second of the default ``data.EventPair`` on
one core (10^7 events), its decision rows a second at dt = 10 us (10^7 rows), and the peak resident memory of a fresh
process streaming 10^8 events;
``balance``
(only with --only) customer pairs a second through the load-balancing simulator on one core (arrivals drawn, routed,
queued; the threshold rule, the quantum routers on Bell pairs, and all nine built-in routers on the same arrivals),
side by side with a plain Python event loop over the same pairs.
Each is timed after a warm-up
(kernels compiled, memory allocated), as the median of ``--reps`` repetitions. Peak memory is the
resident set of a 10^8-round backtest in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES = {
    "naive": 1_000,
    "aer": 10_000_000,
    "exact": 10_000_000,
    "backtest": 10_000_000,
    "backtest_queue": 10_000_000,
    "rss": 100_000_000,
    "scan": 220,
    "isolation": 10_000_000,
    "events": 10_000_000,
    "event_rows": 10_000_000,
    "events_rss": 100_000_000,
    "balance": 10_000_000,
}
# The scan's 55 pairs four times: a pair now takes about 30 ms, so 55 pairs finish in under 2 s, in which a cluster's
# fixed costs (starting the map, scattering the panel, the last batch's idle worker) weighed 5-30% from run to run;
# 220 measure the rate a universe scan settles at.
SCAN_SPEEDUP_TARGET, SCAN_OVERHEAD_TARGET = 1.7, 0.10  # on two cores: all workers vs one; one worker vs a loop
SCAN_RATE_TARGET = 20.0  # daily pairs a second on one core, default or local indicator (issue 26)
TARGETS = {"exact": 30e6, "aer": 1e6, "backtest": 5e6, "backtest_queue": 2e6}
RSS_TARGET_MB = 2048
BALANCE_TARGET = 1e6  # customer pairs a second through the load-balancing simulator, one core (issue 46)
STARTUP_TARGETS = {
    "version_s": 0.5,
    "help_s": 0.5,
    "subcommand_help_s": 0.5,
    "default_backtest_s": 4.0,
}  # seconds, this 2-core machine
SPEEDUP_TARGET = 500
EVENTS_RSS_TARGET_MB = 2048  # 10^8 events (issue 40)
EVENTS_ENGINE_TARGET = 0.5  # the event-time backtest's decisions a second over the bar engine's rounds (issue 40)
ISOLATION_TARGET = 1.5  # a user rule's 10^7-round run against the same rules as in-process tables (issue 41)


def _inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random(n) < 0.5).astype(np.uint8), (rng.random(n) < 0.5).astype(np.uint8)


def _median_time(fn, reps: int, warmup) -> float:
    warmup()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def naive(n: int) -> None:
    """The naive approach: a fresh circuit and an Aer job for every round."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    from qcoord.strategies import textbook_angles

    angles = textbook_angles("hedge")
    sim = AerSimulator()
    x, y = _inputs(n, 1)
    for i in range(n):
        qc = QuantumCircuit(2, 2)
        qc.h(0)
        qc.cx(0, 1)
        qc.ry(-2 * angles["A"][x[i]], 0)
        qc.ry(-2 * angles["B"][y[i]], 1)
        qc.measure([0, 1], [0, 1])
        bits = next(iter(sim.run(qc, shots=1, seed_simulator=i).result().get_counts()))
        _ = int(bits[1]), int(bits[0])


def quantum_path(backend: str, n: int):
    """Sampling only: the strategy is solved and the n inputs drawn before any clock starts."""
    from qcoord.strategies import Game, independent, solve

    strategy = solve(Game(), independent(0.5, 0.5)).quantum_strategy(backend=backend)
    x, y = _inputs(n, 2)
    return lambda m: strategy.play(x[:m], y[:m], np.random.default_rng(3))


def backtest(n: int, fill: str) -> None:
    from qcoord.backtest import run_backtest

    run_backtest("signals", rounds=n, seed=1, fill=fill, progress=False)


def isolation_rates(n: int, reps: int) -> dict:
    """Rounds per second of a backtest whose extra strategy is user code (its rules in their own worker processes,
    the checked play) against the same strategy as table rules in the engine's process (both with the default
    baselines), alternating the two; the ratio of their median times."""
    from qcoord.backtest import run_backtest
    from qcoord.strategies import LocalRule, NoResource, Strategy

    class UserRule(LocalRule):  # the same table, but user code: it goes through the trust boundary
        def output(self, x, outcome):
            return super().output(x, outcome)

    table = Strategy("mine", LocalRule(outputs=((0,), (1,))), LocalRule(outputs=((1,), (1,))), NoResource())
    user = Strategy("mine", UserRule(outputs=((0,), (1,))), UserRule(outputs=((1,), (1,))), NoResource())

    def run(s):
        return lambda m: run_backtest("signals", rounds=m, seed=1, strategies=["classical", s], progress=False)

    run(table)(max(n // 10, 100))  # warm: kernels compiled, the zygote that workers fork from started
    run(user)(max(n // 10, 100))
    times: dict = {"table": [], "user": []}
    for _ in range(reps):  # alternating, so that a slow spell of a shared machine falls on both
        for name, s in (("table", table), ("user", user)):
            t = time.perf_counter()
            run(s)(n)
            times[name].append(time.perf_counter() - t)
    t_table, t_user = statistics.median(times["table"]), statistics.median(times["user"])
    return {
        "rounds": n,
        "table_rules_rounds_per_s": n / t_table,
        "user_rule_rounds_per_s": n / t_user,
        "overhead": t_user / t_table - 1.0,
        "ratio": t_user / t_table,
        "table_s": times["table"],
        "user_s": times["user"],
    }


def balance_rates(n: int, reps: int) -> dict:
    """Customer pairs a second of the load-balancing simulator (``backtest.balance.simulate.play``: arrivals and
    service times drawn, each router's decisions, both queues and the background task, compiled and chunked) for
    one router, the threshold rule and the quantum routers (Bell pairs sampled), and all nine built-in routers on
    the same arrivals (pairs x routers a second); and a plain Python event loop doing the same for one router."""
    import math as m

    from qcoord.backtest.balance.servers import Background
    from qcoord.backtest.balance.routers import ROUTERS, Router
    from qcoord.backtest.balance.simulate import play
    from qcoord.strategies import balance as game

    lam, mu, c = 400.0, 1000.0, game.REFERENCE_C_T
    t_star, rule = game.t_star_of(c, mu), game.best_threshold(c)
    sol = game.fit(c)

    def router(name: str) -> Router:
        r = Router(
            name,
            "threshold" if name == "weighted" else "quantum" if name.startswith("quantum") else name,
            t_star,
            rule=rule,
            in_time=False,
        )
        if r.kind == "quantum":
            r.solution, r.levels, r.strategy = sol, game.PLAYED_LEVELS, sol.quantum_strategy()
        return r

    def run(names):
        routers = {name: router(name) for name in names}
        return lambda k: play(
            routers, k, lam=lam, mu=mu, qos=1 / mu, background=Background(), warmup=0, block_pairs=1000, seed=1
        )

    out = {"pairs": n}
    for label, names in (("threshold", ["threshold"]), ("quantum", ["quantum"]), ("all_routers", list(ROUTERS))):
        t = _median_time(lambda: run(names)(n), reps, lambda: run(names)(max(n // 10, 1000)))
        out[f"{label}_pairs_per_s"] = n / t
    out["all_routers_router_pairs_per_s"] = out["all_routers_pairs_per_s"] * len(ROUTERS)

    def naive(k: int) -> None:  # one Python step per pair: the approach the compiled loop replaces
        import random

        rnd = random.Random(1)
        free, now, out_bg, waits = [0.0, 0.0], 0.0, 0.0, 0.0
        for _ in range(k):
            now += rnd.expovariate(lam)
            a, b = rnd.random(), rnd.random()
            xa, xb = -m.log1p(-a) / mu, -m.log1p(-b) / mu
            r = rnd.getrandbits(1)
            for s, x in (((a >= rule.alpha) ^ r, xa), ((b >= rule.beta) ^ r, xb)):
                if free[s] < now:
                    out_bg += (now - free[s]) ** 2 * mu
                    free[s] = now + x
                else:
                    waits += free[s] - now
                    free[s] += x

    k = max(n // 100, 1000)
    out["naive_python_pairs_per_s"] = k / _median_time(lambda: naive(k), reps, lambda: naive(1000))
    out["speedup_vs_naive"] = out["threshold_pairs_per_s"] / out["naive_python_pairs_per_s"]
    return out


def scan_rates(n_pairs: int) -> dict:
    """Pairs per second of a daily universe scan (the shipped 11-stock panel, volatility_burst indicator, every
    default strategy): a plain loop in this process, a LocalCluster of one worker (its overhead against the loop)
    and of every core (its speed-up against one worker); the loop again with the default indicator (return_shock),
    and the seconds of one backtest of the JPM/BAC sample (median of 5). Each executor is warmed first (imports and
    compiled kernels on every worker), then timed on the same pairs with batches of 4."""
    import itertools
    import tempfile

    from pathlib import Path

    from qcoord import data
    from qcoord.backtest import run_backtest
    from qcoord.backtest.batch import cluster
    from qcoord.backtest.batch import scan
    from qcoord.backtest.config import RunConfig

    u = data.sample_universe("pypfopt")
    pairs = list(itertools.combinations(u.tickers, 2))
    jobs = [(a, b, {}) for a, b in (pairs * (1 + n_pairs // len(pairs)))[:n_pairs]]
    cfg = RunConfig().with_values({"indicator": "volatility_burst"})
    cores = os.cpu_count() or 1

    def timed(ex, config=cfg) -> float:
        with tempfile.TemporaryDirectory() as warm:  # one pair per worker, so each has compiled before the clock
            scan.execute(u, config, jobs[: max(1, ex.workers)], Path(warm), ex, 1)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            scan.execute(u, config, jobs, Path(out), ex, 4)
            return time.perf_counter() - t

    t_loop = timed(cluster.LocalLoop())
    t_default = timed(cluster.LocalLoop(), RunConfig())  # the default indicator, return_shock: each server's own stock
    md = data.load_sample("jpm_bac")

    def one_pair() -> None:
        run_backtest(md, progress=False)

    run_pair_s = _median_time(one_pair, 5, one_pair)
    times = {}
    for w in sorted({1, cores}):
        ex = cluster.executor(None, w)
        try:
            times[w] = timed(ex)
        finally:
            ex.close()
    return {
        "pairs": n_pairs,
        "workers": cores,
        "loop_pairs_per_s": n_pairs / t_loop,
        "default_loop_pairs_per_s": n_pairs / t_default,
        "jpm_bac_pair_s": run_pair_s,
        "one_worker_pairs_per_s": n_pairs / times[1],
        "all_workers_pairs_per_s": n_pairs / times[cores],
        "speedup_all_vs_one": times[1] / times[cores],
        "dask_overhead_vs_loop": times[1] / t_loop - 1.0,
    }


def startup_times(reps: int) -> dict:
    """Seconds a user waits (median of ``reps`` fresh processes, after one warm-up that fills the OS and numba
    caches): ``qcoord --version``, ``qcoord --help``, the default ``qcoord backtest``; and, in this process, the
    report writing of the default run (figures, HTML, tables) on its own."""
    import shutil
    import tempfile
    from pathlib import Path

    said = {}

    def wall(args: list[str], env: dict | None = None) -> float:
        out = Path(tempfile.mkdtemp())
        try:
            cmd = [sys.executable, "-m", "qcoord", *args]
            if args == ["backtest"]:
                cmd += ["--out", str(out / "run")]
            t = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, check=True, text=True, env=env)
            said["stderr"] = res.stderr
            return time.perf_counter() - t
        finally:
            shutil.rmtree(out)

    times = {}
    commands = {
        "version_s": ["--version"],
        "help_s": ["--help"],
        "backtest_help_s": ["backtest", "--help"],
        "sweep_help_s": ["sweep", "--help"],
        "scan_help_s": ["scan", "--help"],
        "default_backtest_s": ["backtest"],
    }
    for name, args in commands.items():
        wall(args)
        times[name] = statistics.median(wall(args) for _ in range(reps))
    times["subcommand_help_s"] = max(times.pop(k) for k in ("backtest_help_s", "sweep_help_s", "scan_help_s"))
    with tempfile.TemporaryDirectory() as cache:  # the first run on a fresh install: numba's cache empty
        times["first_backtest_s"] = wall(["backtest"], {**os.environ, "NUMBA_CACHE_DIR": cache})
        times["first_run_says_compiling"] = "compiling kernels" in said["stderr"]
    from qcoord.backtest import RunConfig, run_backtest
    from qcoord.backtest.output.runs import write_run

    result = run_backtest(progress=False)

    def write() -> None:
        with tempfile.TemporaryDirectory() as out:
            write_run(result, RunConfig(), Path(out) / "run")

    times["report_write_s"] = _median_time(write, reps, write)
    return times


def event_rates(n_events: int, n_rows: int, n_rss: int, reps: int) -> dict:
    """The event-time market (data.EventPair, defaults): Hawkes events a second drawn by one stream on one core,
    decision rows a second of its arrays at dt = 10 us (events drawn and sampled on the grid), and the peak resident
    memory of a fresh process that streams n_rss events in chunks (the events are dropped as they come)."""
    from qcoord.data import EventPair

    pair = EventPair()

    def draw(n: int) -> None:
        stream = pair.hawkes.stream()
        left = n
        while left > 0:
            left -= stream.take(min(left, 1 << 20))[0].size

    def rows(n: int) -> None:
        for _ in pair.arrays(n, 1 << 20):
            pass

    def engine(source: str) -> None:  # the whole backtest on n_rows decisions: the bar engine against event time
        run_backtest(source, rounds=n_rows, seed=1, progress=False)

    from qcoord.backtest import run_backtest

    t_events = _median_time(lambda: draw(n_events), reps, lambda: draw(1_000))
    t_rows = _median_time(lambda: rows(n_rows), reps, lambda: rows(1_000))
    # the two engines alternate in one run, so the machine's mood weighs on both alike
    t_engine = {"events": [], "signals": []}
    engine("events"), engine("signals")  # warm-up: kernels compiled
    for _ in range(max(1, reps)):
        for source in ("events", "signals"):
            t0 = time.perf_counter()
            engine(source)
            t_engine[source].append(time.perf_counter() - t0)
    e, b = (float(np.median(t_engine[k])) for k in ("events", "signals"))
    code = (
        "import resource\nfrom qcoord.data import EventPair\n"
        f"s, left = EventPair().hawkes.stream(), {n_rss}\n"
        "while left > 0:\n    left -= s.take(min(left, 1 << 20))[0].size\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {
        "events": n_events,
        "events_per_s": n_events / t_events,
        "rows": n_rows,
        "rows_per_s": n_rows / t_rows,
        "dt_s": pair.dt_s,
        "rss_events": n_rss,
        "peak_rss_mb": int(out.stdout.strip().splitlines()[-1]) / 1024.0,
        "engine_decisions_per_s": n_rows / e,
        "bar_engine_rounds_per_s": n_rows / b,
        "engine_ratio": b / e,
    }


def peak_rss_mb(n: int) -> float:
    """Peak resident memory (MB) of a fresh process running an n-round backtest."""
    code = (
        "import resource, sys\nfrom qcoord.backtest import run_backtest\n"
        f"run_backtest('signals', rounds={n}, seed=1, progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0  # Linux reports KB


def machine() -> dict:
    import numpy
    import qiskit
    import qiskit_aer

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "platform": platform.platform(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="every size / 10 (under a minute)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every size (tests use a tiny scale)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per path; the median is reported (3)")
    p.add_argument("--skip-rss", action="store_true", help="do not run the 10^8-round memory measurement")
    p.add_argument(
        "--only",
        help="comma-separated paths to run: aer, exact, backtest, backtest_queue, rss, scan, "
        "isolation, startup, events, balance "
        "(naive always runs: it is the reference)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    only = None if args.only is None else {s.strip() for s in args.only.split(",")} | {"naive"}
    scale = args.scale * (0.1 if args.quick else 1.0)
    size = {k: max(int(v * scale), 100 if k != "naive" else 10) for k, v in SIZES.items()}
    size["naive"] = max(int(SIZES["naive"] * scale), 10)
    size["scan"] = max(int(SIZES["scan"] * scale), 4)  # pairs, not rounds

    def bench(name, fn, warm_fraction=1.0):
        n = size[name]
        t = _median_time(lambda: fn(n), args.reps, lambda: fn(max(int(n * warm_fraction), 100)))
        return n / t

    paths = {
        "naive": (lambda: naive, 0.1),
        "aer": (lambda: quantum_path("aer", size["aer"]), 0.1),
        "exact": (lambda: quantum_path("exact", size["exact"]), 1.0),
        "backtest": (lambda: lambda n: backtest(n, "bias"), 1.0),
        "backtest_queue": (lambda: lambda n: backtest(n, "queue"), 1.0),
    }
    rates = {name: bench(name, make(), warm) for name, (make, warm) in paths.items() if only is None or name in only}
    rss = None if args.skip_rss or (only is not None and "rss" not in only) else peak_rss_mb(size["rss"])
    scan = scan_rates(size["scan"]) if only is not None and "scan" in only else None
    isolation = isolation_rates(size["isolation"], args.reps) if only is not None and "isolation" in only else None
    startup = startup_times(args.reps) if only is not None and "startup" in only else None
    events = (
        event_rates(size["events"], size["event_rows"], size["events_rss"], args.reps)
        if only is not None and "events" in only
        else None
    )
    balance = balance_rates(size["balance"], args.reps) if only is not None and "balance" in only else None
    report = {
        "rounds_per_s": rates,
        "speedup_vs_naive": {k: v / rates["naive"] for k, v in rates.items() if k != "naive"},
        f"peak_rss_mb_1e{round(np.log10(size['rss']))}" if size["rss"] != SIZES["rss"] else "peak_rss_mb_1e8": rss,
        "scan": scan,
        "isolation": isolation,
        "startup": startup,
        "events": events,
        "balance": balance,
        "sizes": size,
        "reps": args.reps,
        "machine": machine(),
    }
    report["targets_met"] = {
        **{k: rates[k] >= v for k, v in TARGETS.items() if k in rates},
        "speedup_vs_naive": all(v >= SPEEDUP_TARGET for v in report["speedup_vs_naive"].values()),
        **({} if rss is None else {"peak_rss": rss < RSS_TARGET_MB}),
        **(
            {}
            if scan is None
            else {
                "scan_overhead": scan["dask_overhead_vs_loop"] < SCAN_OVERHEAD_TARGET,
                "scan_pairs_per_core": min(scan["loop_pairs_per_s"], scan["default_loop_pairs_per_s"])
                >= SCAN_RATE_TARGET,
                **({"scan_speedup": scan["speedup_all_vs_one"] >= SCAN_SPEEDUP_TARGET} if scan["workers"] >= 2 else {}),
            }
        ),
        **({} if startup is None else {k: startup[k] < v for k, v in STARTUP_TARGETS.items()}),
        **(
            {}
            if events is None
            else {
                "events_peak_rss": events["peak_rss_mb"] < EVENTS_RSS_TARGET_MB,
                "events_engine": events["engine_ratio"] >= EVENTS_ENGINE_TARGET,
            }
        ),
        **({} if isolation is None else {"isolation": isolation["ratio"] <= ISOLATION_TARGET}),
        **(
            {}
            if balance is None
            else {
                "balance_pairs_per_s": min(balance["threshold_pairs_per_s"], balance["quantum_pairs_per_s"])
                >= BALANCE_TARGET
            }
        ),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'path':16s} {'rounds':>12s} {'rounds/s':>14s} {'x naive':>10s} {'target':>12s}")
    for k, v in rates.items():
        target = TARGETS.get(k)
        speed = "" if k == "naive" else f"{v / rates['naive']:,.0f}"
        print(f"{k:16s} {size[k]:>12,d} {v:>14,.0f} {speed:>10s} {'' if target is None else f'>= {target:,.0f}':>12s}")
    if rss is not None:
        print(f"peak RSS of a {size['rss']:,d}-round backtest: {rss:,.0f} MB (target < {RSS_TARGET_MB} MB)")
    if scan is not None:
        print(
            f"scan of {scan['pairs']} daily pairs: loop {scan['loop_pairs_per_s']:.2f} pairs/s, one Dask worker "
            f"{scan['one_worker_pairs_per_s']:.2f} (overhead {scan['dask_overhead_vs_loop']:+.1%}, target < "
            f"{SCAN_OVERHEAD_TARGET:.0%}), {scan['workers']} workers {scan['all_workers_pairs_per_s']:.2f} "
            f"(x{scan['speedup_all_vs_one']:.2f}, target >= {SCAN_SPEEDUP_TARGET} on 2 cores); default indicator "
            f"{scan['default_loop_pairs_per_s']:.2f} pairs/s in the loop (target >= {SCAN_RATE_TARGET} a core); "
            f"the JPM/BAC sample alone {scan['jpm_bac_pair_s']:.3f} s"
        )
    if isolation is not None:
        print(
            f"trust boundary: a user-defined rule in its own processes {isolation['user_rule_rounds_per_s']:,.0f} "
            f"rounds/s against {isolation['table_rules_rounds_per_s']:,.0f} as table rules in the engine's process "
            f"(x{isolation['ratio']:.2f} the time, target <= {ISOLATION_TARGET}; built-in strategies skip it)"
        )
    if startup is not None:
        shown = ", ".join(
            f"{k.removesuffix('_s')} {v:.2f} s" if not isinstance(v, bool) else f"{k} {v}" for k, v in startup.items()
        )
        targets = ", ".join(f"{k.removesuffix('_s')} < {v:g} s" for k, v in STARTUP_TARGETS.items())
        print(f"startup, fresh process: {shown} (targets: {targets})")
    if events is not None:
        print(
            f"event-time market (EventPair defaults): {events['events_per_s']:,.0f} Hawkes events/s on one core, "
            f"{events['rows_per_s']:,.0f} decision rows/s at dt {events['dt_s'] * 1e6:g} us; peak RSS of "
            f"{events['rss_events']:,d} streamed events {events['peak_rss_mb']:,.0f} MB (target < "
            f"{EVENTS_RSS_TARGET_MB} MB)"
        )
    if balance is not None:
        print(
            f"balance simulator, one core, {balance['pairs']:,d} pairs: threshold rule "
            f"{balance['threshold_pairs_per_s']:,.0f} pairs/s, quantum routers "
            f"{balance['quantum_pairs_per_s']:,.0f}, "
            f"all nine routers on the same arrivals {balance['all_routers_pairs_per_s']:,.0f} "
            f"({balance['all_routers_router_pairs_per_s']:,.0f} router-pairs/s); a Python event loop "
            f"{balance['naive_python_pairs_per_s']:,.0f} (x{balance['speedup_vs_naive']:,.0f}); target >= "
            f"{BALANCE_TARGET:,.0f}"
        )
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, "
        f"qiskit {m['qiskit']}, qiskit-aer {m['qiskit_aer']}"
    )
    print("targets met: " + ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in report["targets_met"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
