"""``run_balance``: the load-balancing scenario end to end -- the game's values, the routers fitted at t*, every router
on the same arrivals, the Pareto frontier over t*, paired tests, the link's feasibility chain and the verdict."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...strategies import Noise
from ...strategies import balance as game
from ...strategies.fixed_split import split_values
from .. import streams
from ..errors import BacktestError
from ..output.progress import Progress
from .servers import batch_closed_form, mm1_wait_tail
from .outcome import BalanceResult
from .routers import DESCRIPTIONS, PairSchedule, Router
from .settings import BalanceConfig
from .simulate import block_series, play, summarise
from ..stats.paired import fixed_b_p
from .blocks import block_mean_test

FRONTIER_BUNCH = (0.03, 0.95)  # bunch probabilities P(X1 + X2 <= t*) the frontier's thresholds span
MIN_AGE = 1e-300  # seconds: the memory's max age must be positive


def run_balance(
    config: BalanceConfig | None = None, *, user_routers: dict | None = None, progress: bool | None = None, **overrides
) -> BalanceResult:
    """Route paired customers to two servers with each strategy, on the same arrivals, and say whether
    entanglement pays. Options by name as on the command line (``arrival_rate=400``, ``c_t=0.33``,
    ``background="linear"``, ``visibility=0.9``, ``link="li2026"``, ...) over ``config`` (default: every default).
    ``routers``: the built-in routers to play (names); ``user_routers``: a user's routers, {name:
    strategies.Strategy} whose rules read the input's level (K = ``strategies.balance.PLAYED_LEVELS`` unless the
    rules say otherwise), certified for no-signalling and checked on every chunk as a user's market-making rule is.
    Times in seconds, rates a second."""
    cfg = (config or BalanceConfig()).with_values(overrides)
    s, bg = cfg.balance, cfg.background
    noise, link = _noise_and_link(cfg)
    c_t, mu, lam = s.threshold, s.service_rate, s.arrival_rate
    t_star = game.t_star_of(c_t, mu)
    values = game.game_values(c_t, s.levels)
    talk = _talk(link)
    vis = _visibility_threshold(c_t, noise)
    user = _user_routers(user_routers or {}, c_t, mu)
    built = _routers(s.routers, c_t, t_star, noise, talk, link, s.seed)
    solution = built["quantum"].solution if "quantum" in built else game.fit(c_t, noise)
    built.update(user)
    total = s.warmup + s.pairs + (s.frontier_points + 1) * (s.warmup + s.frontier_pairs)
    with Progress(total, progress, unit="pairs", desc="balance", unit_scale=True) as bar:
        played = play(
            built,
            s.pairs,
            lam=lam,
            mu=mu,
            qos=s.qos,
            background=bg,
            warmup=s.warmup,
            block_pairs=s.block_pairs,
            seed=s.seed,
            stream=0,
            progress=bar,
        )
        frontier = _frontier(cfg, noise, link, talk, bar)
    metrics = {name: {**summarise(played, name, s.qos), **_about(r)} for name, r in built.items()}
    comparison = _compare(played, built)
    frontier_cmp = _frontier_comparison(frontier, s.qos, bg.strictly_convex)
    chain = _feasibility(link, c_t, noise, solution, lam, s.pairs, built.get("quantum"), cfg.shared.link.preset)
    return BalanceResult(
        config=cfg.to_dict(),
        toml=cfg.to_toml(),
        settings={"c_t": c_t, "t_star": t_star, "rho": s.rho, "qos_wait": s.qos, "background": bg.describe(mu)},
        game=_game_doc(values, c_t, s),
        fitted=_fitted(solution, values, built.get("quantum_weighted"), c_t, noise),
        visibility_threshold=vis,
        metrics=metrics,
        comparison=comparison,
        frontier=frontier["curves"],
        frontier_comparison=frontier_cmp,
        talk=talk,
        feasibility=chain,
        closed_forms=_closed_forms(lam, mu, s.qos, bg),
        strictly_convex=bg.strictly_convex,
        noise=noise.to_dict(),
        link=None if link is None else link.to_dict(),
    )


# -- pieces ----------------------------------------------------------------------------------------------------
def _noise_and_link(cfg: BalanceConfig):
    """The pair's noise: the noise options, or a link's (its decision rate is the request rate)."""
    from ..overrides import Given, check_link

    link = cfg.link
    if link is None:
        return cfg.noise, None
    check_link(cfg.shared, Given(), cfg.shared.run)
    link = replace(link, link_decision_rate=cfg.balance.arrival_rate)
    return link.noise(), link


def _talk(link) -> dict:
    """Whether the routers could talk: a message crosses the fibre in L n / c; it must arrive within the decision
    latency. Without a link, the default link's geometry (``strategies.Link()``)."""
    from ...strategies.link import Link

    ln = link or Link()
    message = ln.fibre_time
    return {
        "message_s": message,
        "decision_latency_s": ln.decision_latency,
        "distance_km": ln.distance_km,
        "in_time": message <= ln.decision_latency,
        "from": "the link"
        if link is not None
        else "the default link's geometry (56 km of fibre, NYSE-NASDAQ, a 1 us decision)",
    }


def _visibility_threshold(c_t: float, noise: Noise) -> float | None:
    """The least Werner visibility at which the fitted qubit strategy beats the classical rule on the K x K game,
    the other imperfections as configured (``analysis.feasibility.visibility_threshold``)."""
    from ..analysis.feasibility import visibility_threshold

    k = game.PLAYED_LEVELS
    return visibility_threshold(
        game.threshold_game(k, c_t), game.uniform_levels(k), replace(noise, visibility=1.0), tol=1e-6
    )


def _routers(names, c_t: float, t_star: float, noise, talk: dict, link, seed: int) -> dict:
    """The built-in routers ``names`` at threshold C_t: the classical rules optimised on the continuum, the quantum
    ones fitted on the K x K games with ``noise``."""
    rules = {"threshold": game.best_threshold(c_t)}
    if "weighted" in names or "quantum_weighted" in names:
        rules["weighted"] = game.best_weighted_threshold(c_t)
    out = {}
    for name in names:
        fitted = {"quantum": (game.fit, "threshold"), "quantum_weighted": (game.fit_weighted, "weighted")}.get(name)
        kind = "threshold" if name == "weighted" else "quantum" if fitted else name
        rule = rules["weighted" if name in ("weighted", "quantum_weighted") else "threshold"]
        r = Router(name, kind, t_star, rule=rule, in_time=talk["in_time"] if name == "talk" else None)
        if fitted:
            solution = fitted[0](c_t, noise)
            r.solution, r.levels = solution, game.PLAYED_LEVELS
            r.strategy = solution.quantum_strategy() if solution.uses_entanglement else None
            if not solution.uses_entanglement:  # nothing to measure: the quantum router plays the classical rule
                r.kind = "threshold"
            elif link is not None:
                r.supply = _schedule(link, solution, seed)
        out[name] = r
    return out


def _schedule(link, solution, seed: int) -> PairSchedule:
    """The link's Bell pairs into its memory; pairs older than the cutoff (the link's, or with 'auto' the age at
    which the fitted pair stops beating the classical rule) are not played."""
    from ...strategies.lifetime import useful_lifetime

    if link.memory_cutoff == "auto":
        k = game.PLAYED_LEVELS
        cutoff = useful_lifetime(
            solution.quantum_strategy(),
            solution.game,
            game.uniform_levels(k),
            solution.classical_value,
            youngest=link.herald_delay,
        )
    else:
        cutoff = float(link.memory_cutoff)
    max_age = max(cutoff - link.herald_delay, MIN_AGE) if math.isfinite(cutoff) else math.inf
    return PairSchedule(
        link.delivered_pair_rate,
        link.link_memory_slots,
        link.herald_delay,
        max_age,
        streams.rng(seed, "balance:supply"),
    )


def _user_routers(given: dict, c_t: float, mu: float) -> dict:
    """A user's routers, certified (no-signalling, quantum bound, local or not) on sampled levels."""
    from ...strategies import Strategy, StrategyError
    from ...strategies.nosignal import certify, is_local

    out = {}
    for name, strategy in given.items():
        if not isinstance(strategy, Strategy):
            raise BacktestError(
                f"router {name!r} must be a qcoord.Strategy (rules on the input's level), got {type(strategy).__name__}"
            )
        if name in DESCRIPTIONS:
            raise BacktestError(f"router {name!r}: the name is a built-in router's; choose another")
        ka, kb = strategy.levels
        if ka != kb:
            raise StrategyError(f"router {name!r}: both rules must read the same number of levels, got {ka} and {kb}")
        rng = np.random.default_rng(streams.seed_of(0, "nosignal"))
        x, y = rng.integers(0, ka, 20_000).astype(np.uint8), rng.integers(0, kb, 20_000).astype(np.uint8)
        played = certify(name, strategy, game.threshold_game(ka, c_t), game.uniform_levels(ka), x, y, rng)
        r = Router(name, "user", game.t_star_of(c_t, mu), strategy=played, levels=ka, user=True)
        r.counts["local"] = bool(is_local(played))
        out[name] = r
    return out


def _about(r: Router) -> dict:
    out = {
        "communicates": r.communicates,
        "entangled": r.entangled,
        "description": DESCRIPTIONS.get(r.name, "a user's router (rules on the input's level)"),
    }
    if r.kind == "quantum" and r.counts["pairs"]:
        out["pair_share"] = r.counts["with_pair"] / r.counts["pairs"]
    if r.user:
        out["local"] = r.counts.get("local")
    return out


def _compare(played, built: dict) -> dict:
    """Quantum against the best local rule (threshold), and the oracle against it, on the same arrivals: per-block
    paired differences of mean wait and throughput (HAC)."""
    out = {}
    for other, base in (
        ("quantum", "threshold"),
        ("quantum_weighted", "weighted"),
        ("oracle", "threshold"),
        ("talk", "threshold"),
    ):
        if other not in built or base not in built:
            continue
        wq, tq = block_series(played, other)
        wc, tc = block_series(played, base)
        out[f"{other}_vs_{base}"] = {
            "wait_difference": block_mean_test(wq - wc),
            "throughput_difference": block_mean_test(tq - tc),
        }
    return out


def _frontier_thresholds(points: int, c_t: float) -> list[float]:
    """C_t values whose bunch probabilities spread evenly over ``FRONTIER_BUNCH``, and the run's own."""
    from scipy.optimize import brentq

    qs = np.linspace(*FRONTIER_BUNCH, points) if points > 1 else np.array([0.5] * points)
    cs = [brentq(lambda c, q=q: game.bunch_probability(c) - q, 1e-12, 1 - 1e-12, xtol=1e-14) for q in qs]
    return sorted({*cs, c_t}, reverse=True)  # increasing t*


CLASSICAL_FAMILIES = ("threshold", "weighted", "one_sided", "random")
QUANTUM_FAMILIES = ("quantum", "quantum_weighted")


def _frontier(cfg: BalanceConfig, noise, link, talk: dict, bar) -> dict:
    """Each router family's (mean wait, throughput) over the thresholds, every point on the same arrivals. Local
    families: the best threshold rule on the game at each t*, one router's own threshold (B sends its customer to
    A's server when b < q: bunches with probability q whatever A sees), a shared coin bunching with probability q
    (q the oracle's bunch probability at that t*), and always split / always bunch (every family's limits as t* -> 0
    and t* -> infinity)."""
    s, bg = cfg.balance, cfg.background
    mu = s.service_rate
    cs = _frontier_thresholds(s.frontier_points, s.threshold)
    routers, index = {}, []
    for j, c in enumerate(cs):
        t_star = game.t_star_of(c, mu)
        q = game.bunch_probability(c)
        fam = _routers(
            ["threshold", "weighted"] + [n for n in ("quantum", "quantum_weighted", "oracle") if n in s.routers],
            c,
            t_star,
            noise,
            talk,
            link,
            s.seed,
        )
        for name, r in fam.items():
            routers[f"{name}@{j}"] = r
        one = game.ThresholdRule(alpha=1.0, beta=q, value=float(game.threshold_value(1.0, q, c)), c_t=c)
        routers[f"one_sided@{j}"] = Router(f"one_sided@{j}", "threshold", t_star, rule=one)
        routers[f"random@{j}"] = Router(f"random@{j}", "coin", t_star, bunch=q)
        index.append((j, c, t_star))
    t0 = index[0][2]
    routers["split@0"], routers["bunch@0"] = Router("split@0", "split", t0), Router("bunch@0", "bunch", t0)
    played = play(
        routers,
        s.frontier_pairs,
        lam=s.arrival_rate,
        mu=mu,
        qos=s.qos,
        background=bg,
        warmup=s.warmup,
        block_pairs=s.block_pairs,
        seed=s.seed,
        stream=1,
        progress=bar,
    )
    curves: dict[str, dict] = {}
    points: dict[str, tuple] = {}
    for label in routers:
        family, at = label.split("@")
        m = summarise(played, label, s.qos)
        _, c, t_star = index[int(at)]
        if family in ("split", "bunch"):
            c, t_star = math.nan, math.nan  # no threshold: one point
        cur = curves.setdefault(
            family,
            {
                k: []
                for k in (
                    "c_t",
                    "t_star",
                    "bunch_probability",
                    "mean_wait",
                    "mean_wait_ci95",
                    "throughput",
                    "throughput_ci95",
                    "win_rate",
                    "p99_wait",
                    "qos_violation",
                )
            },
        )
        for k, v in (
            ("c_t", c),
            ("t_star", t_star),
            ("bunch_probability", m["bunch_rate"] if math.isnan(c) else game.bunch_probability(c)),
            *(
                (k, m[k])
                for k in (
                    "mean_wait",
                    "mean_wait_ci95",
                    "throughput",
                    "throughput_ci95",
                    "win_rate",
                    "p99_wait",
                    "qos_violation",
                )
            ),
        ):
            cur[k].append(v)
        points[label] = block_series(played, label)
    return {"curves": curves, "points": points}


def _curve(points: dict, family: str, choose: slice) -> list[str]:
    """A family's points in order of mean wait (on the blocks ``choose``): its curve, read only between its own
    points (a long chord to always split or always bunch would understate a curve that bends)."""
    return sorted((k for k in points if k.split("@")[0] == family), key=lambda k: points[k][0][choose].mean())


def _best_at(points: dict, families, target: float, choose: slice, measure: slice):
    """The family whose curve (linear between its points) gives the most throughput at mean wait ``target``, chosen
    on the blocks ``choose``, and its reading on the blocks ``measure``: (family, (value, influence series))."""
    from .blocks import at_wait

    best = None
    for fam in families:
        labels = _curve(points, fam, choose)
        if len(labels) < 2:
            continue
        r = at_wait([points[k][0][choose] for k in labels], [points[k][1][choose] for k in labels], target)
        if r is not None and (best is None or r[0] > best[1]):
            best = (fam, r[0], labels)
    if best is None:
        return None
    fam, _, labels = best
    return fam, at_wait([points[k][0][measure] for k in labels], [points[k][1][measure] for k in labels], target)


def _frontier_comparison(frontier: dict, qos: float, convex: bool) -> dict:
    """The frontier with entanglement against the frontier without, read at common mean waits (the QoS bound and the
    waits of the local families' points). A frontier at a wait is the best family's curve there (each family's
    points joined in order of wait, read only between its own points; a family is one kind of stationary rule, its
    threshold moving along it); the quantum routers' frontier also has every local family (they may play a local
    rule). Which family is best is chosen on the even blocks and read on the odd ones (split samples: the best of
    several noisy curves, read on the blocks that chose it, would be biased up). Dominates when some difference is
    significantly positive and none significantly negative. Rules are compared as they are, without time-sharing
    between two of them (which a QoS bound on each hour's mean wait would not allow)."""

    points = frontier["points"]
    quantum = [f for f in QUANTUM_FAMILIES if any(k.split("@")[0] == f for k in points)]
    if not quantum:
        return {"available": False, "why": "no quantum router among --routers"}
    even, odd = slice(0, None, 2), slice(1, None, 2)
    waits = sorted({float(points[k][0].mean()) for k in points if k.split("@")[0] in CLASSICAL_FAMILIES})
    checks = []
    for target in [*waits, qos]:
        c = _best_at(points, CLASSICAL_FAMILIES, target, even, odd)
        q = _best_at(points, (*CLASSICAL_FAMILIES, *quantum), target, even, odd)
        if c is None or q is None or c[1] is None or q[1] is None:
            continue
        (cf, (cv, ci)), (qf, (qv, qi)) = c, q
        test = block_mean_test(qi - ci)  # influence series: mean 0, spread that of the difference
        se, cv95 = test["se"], _critical(test)
        diff = qv - cv
        p = (
            (fixed_b_p(diff / se, test["b"]) if se > 0 else (1.0 if diff == 0 else math.nan))
            if math.isfinite(se)
            else math.nan
        )
        checks.append(
            {
                "wait": target,
                "quantum": qv,
                "classical": cv,
                "quantum_family": qf,
                "classical_family": cf,
                "difference": diff,
                "difference_ci95": [diff - cv95 * se, diff + cv95 * se],
                "relative": diff / cv if cv else math.nan,
                "p_value": p,
            }
        )
    at_qos = next((r for r in checks if r["wait"] == qos), None)
    better = [r for r in checks if r["difference_ci95"][0] > 0]
    worse = [r for r in checks if r["difference_ci95"][1] < 0]
    return {
        "available": True,
        "at_qos": at_qos,
        "points": checks,
        "dominates": bool(better) and not worse,
        "significantly_better": len(better),
        "significantly_worse": len(worse),
        "strictly_convex": convex,
        "rule": "a frontier at a mean wait is its best family's curve there (a family's points over t* joined in "
        "order of wait), chosen on half the blocks and read on the other half; the frontier with "
        "entanglement includes every local family; quantum dominates when "
        "its throughput at a common mean wait is significantly higher somewhere (95% paired interval above "
        "0) and significantly lower nowhere",
    }


def _critical(test: dict) -> float:
    from ..stats.paired import fixed_b_critical

    return fixed_b_critical(test["b"]) if math.isfinite(test["b"]) else math.nan


def _feasibility(link, c_t: float, noise, solution, lam: float, pairs: int, quantum, preset=None) -> dict | None:
    """The link's feasibility chain for this game, with request rates in place of decision rates."""
    if link is None:
        return None
    from types import SimpleNamespace

    from ..analysis.feasibility import StationaryWindow, feasibility

    k = game.PLAYED_LEVELS
    fit = SimpleNamespace(game=solution.game, p_xy=game.uniform_levels(k), solution=solution)
    share = (
        (quantum.counts["with_pair"] / quantum.counts["pairs"])
        if quantum is not None and quantum.counts["pairs"]
        else 1.0
    )
    if link.stationary_window is not None:
        window = StationaryWindow(link.stationary_window, "the link's stationary window")
    else:  # the simulated requests, on their own clock: pairs at lam a second
        window = StationaryWindow.of_rounds(pairs, 1.0 / lam, "the simulated requests")
    # a router decides within its decision latency of its customer's arrival: the deadline light must beat
    chain = feasibility(
        link,
        fit,
        noise,
        window,
        share,
        None,
        game_unit="win probability",
        decision_rate=lam,
        deadline=link.decision_latency,
    )
    first = chain["first_failing"]
    stage = next((x for x in chain["stages"] if x["stage"] == first), None)
    chain["sentence"] = (
        f"The chain fails first at {first}: {stage['text']}." if stage else "Every stage of the chain passes."
    )
    chain["preset"] = preset
    return chain


def _game_doc(values, c_t: float, s) -> dict:
    """The game's values, and with --split-probability the same at that splitting probability (``at_split``)."""
    doc = values.to_dict()
    if s.split_probability is not None:
        doc["at_split"] = split_values(c_t, s.split_probability, s.levels).to_dict()
    return doc


def _fitted(solution, values, weighted, c_t: float, noise) -> dict:
    """The qubit strategies played: on the threshold game, and (when played) on the weighted game, with the
    visibility below which the latter stops beating its classical rule."""
    keep = (
        "classical_value",
        "quantum_value",
        "advantage",
        "uses_entanglement",
        "angles",
        "azimuths",
        "fallback",
        "classical_rule",
        "correlators",
        "measurement_search",
        "noise",
    )
    d = solution.to_dict()
    out = {
        "levels": game.PLAYED_LEVELS,
        **{k: d[k] for k in keep if k in d},
        "continuum_threshold_rule": values.classical_limit.to_dict(),
    }
    if weighted is not None:
        from ..analysis.feasibility import visibility_threshold

        w = weighted.solution.to_dict()
        k = game.PLAYED_LEVELS
        out["weighted"] = {
            **{key: w[key] for key in keep if key in w},
            "unit": "mean service times a pair",
            "continuum_threshold_rule": weighted.rule.to_dict(),
            "visibility_threshold": visibility_threshold(
                game.weighted_game(k, c_t), game.uniform_levels(k), replace(noise, visibility=1.0), tol=1e-6
            ),
        }
    return out


def _closed_forms(lam: float, mu: float, qos: float, bg) -> dict:
    """The exact values the simulator must reproduce (module ``queue``)."""
    out = {}
    for name, q in (("split", 0.0), ("bunch", 1.0), ("random", 0.5)):
        cf = batch_closed_form(lam, mu, q, bg)
        out[name] = {"mean_wait": cf["mean_wait"], "throughput": cf["throughput"]}
    out["split"]["qos_violation"] = float(mm1_wait_tail(lam, mu, qos))
    return out
