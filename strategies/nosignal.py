"""Certify, before a strategy plays, that it cannot signal and that its resource stays within quantum correlations;
then play what was certified, and keep checking user rules on the rounds they play.

``Strategy.play`` is one flow that cannot be overridden (``strategies.strategy``); engine-owned code
(``strategies.trust``) plays as it is. For user code ``certify`` returns the strategy that will play:

1. **The declared resource** is read once: ``P(o_A, o_B | s_A, s_B)`` must be a probability table whose marginals
   do not depend on the partner's setting (no-signalling, to 1e-9). That table is frozen (a read-only copy in a
   ``FrozenTable``, which the engine samples); the resource's own code never runs again.
2. **Beyond quantum.** A no-signalling table can still be stronger than any shared quantum state (a PR box
   wins the CHSH game with certainty). The Tsirelson-Landau-Masanes inequalities |sum_xy asin E_xy - 2 asin
   E_x'y'| <= pi, checked for every pair of settings per side and every +-1 reading of the outcomes, are the fast
   pre-check (exact for two settings, not for three); then a table without a local model must pass Tsirelson's
   semidefinite program on all its reading correlators (exact for XOR games with any number of settings) and the
   NPA hierarchy's level 1+AB on the whole behaviour (``strategies.quantum_set``); and, for table rules, the
   strategy's value in the game played must not exceed that game's Tsirelson bound.
3. **Classified by physics.** The frozen table is *local* when a local hidden-variable model reproduces it (a
   linear program over the deterministic strategies: exact for any number of settings and outcomes; for two
   settings and two outcomes a side this is CHSH <= 2 on every block), else *nonlocal*: a quantum (or
   no-signalling) opponent, never counted as local classical.
4. **User rules** run in worker processes, one per server (``strategies.sandbox``, ``strategies.isolation``): a
   rule reaches its own server's inputs and outcomes only, and keeps its state in its worker across chunks. Every
   chunk's real play is one of three plays of it; each party's real settings and outputs are compared with a replay
   in which only the partner's inputs moved (``play_checked``; ``certify`` checks the training rounds the same way
   without advancing the rules' state).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .errors import StrategyError
from .game import Game, check_p_xy
from .isolation import RemoteRule, SignallingError, checked_play, read_table
from .quantum_set import SDP_TOL, QuantumSetError, quantum_gaps
from .solver import tsirelson_sdp, tsirelson_value
from .strategy import LocalRule, Resource, Strategy, as_bits, sample_table
from .trust import OWN_SAMPLER, engine_owned, is_engine_owned

NS_TOL = 1e-9
QUANTUM_TOL = 1e-9
# asin has an infinite slope at +-1, so round-off of 1e-16 in a correlator near +-1 moves its angle by ~1e-8 rad
TLM_TOL = 1e-6
CHECK_ROUNDS = 20_000
LHV_TOL = 1e-7  # largest table deviation the local model may leave (linear-programming round-off)


def check_table(name: str, table: np.ndarray) -> np.ndarray:
    """The declared ``P(o_A, o_B | s_A, s_B)`` as a float array, after checking it is a no-signalling table."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 4 or min(t.shape) < 1:
        raise SignallingError(
            f"strategy {name!r}: its resource's joint() must have shape (settings A, settings B, "
            f"outcomes A, outcomes B), got {t.shape}"
        )
    if not np.isfinite(t).all() or t.min() < -NS_TOL:
        raise SignallingError(f"strategy {name!r}: its resource's joint() holds negative or non-finite probabilities")
    sums = t.sum(axis=(2, 3))
    if np.abs(sums - 1).max() > NS_TOL:
        i, j = np.unravel_index(int(np.abs(sums - 1).argmax()), sums.shape)
        raise SignallingError(
            f"strategy {name!r}: its resource's outcome probabilities for settings ({i}, {j}) sum "
            f"to {sums[i, j]:.12g}, not 1"
        )
    for side, marg in (("A", t.sum(axis=3)), ("B", t.sum(axis=2).transpose(1, 0, 2))):
        spread = np.ptp(marg, axis=1).max(axis=-1)  # per own setting: how far the partner's setting moves it
        if spread.max() > NS_TOL:
            s = int(spread.argmax())
            raise SignallingError(
                f"strategy {name!r} signals: {side}'s outcome distribution at its setting {s} changes with the "
                f"partner's setting (by up to {spread[s]:.3g} in probability), so {side} would learn the partner's "
                "input; a resource without communication has marginals that ignore the partner's setting"
            )
    return t


def tlm_excess(table: np.ndarray) -> tuple[float, tuple | None]:
    """Largest violation of the Tsirelson-Landau-Masanes inequalities over settings and +-1 readings of outcomes.

    Returns (excess over pi in radians, where) with excess <= 0 for correlations a shared quantum state can give
    (where is None when there are no settings).
    """
    corr = np.arcsin(np.clip(_correlators(table), -1.0, 1.0))  # [s_A, s_B, g_A, g_B]
    worst, where = -math.inf, None
    for block, value in _chsh_blocks(corr, distinct=False):
        excess = value - math.pi
        if excess > worst:
            worst, where = excess, block
    return worst, where


@engine_owned
class FrozenTable(Resource):
    """A user resource's joint table as certified: read once, checked, frozen (read-only), sampled by the engine.

    ``local``: whether a local hidden-variable model reproduces it; ``chsh``: the largest CHSH value over 2 x 2
    blocks of settings and +-1 readings of the outcomes (2 at most for a local table, 2 sqrt 2 for quantum);
    ``declared_kind``: what the user's class called itself."""

    _own_sampler = OWN_SAMPLER

    def __init__(self, table: np.ndarray, declared_kind: str, local: bool, chsh: float) -> None:
        frozen = np.array(table, dtype=float, copy=True)
        frozen.flags.writeable = False
        self.table, self.declared_kind, self.local, self.chsh = frozen, str(declared_kind), bool(local), float(chsh)
        self.n_outcomes = int(max(frozen.shape[2], frozen.shape[3]))
        self.kind = "local_box" if self.local else "nonlocal_box"

    def joint(self, n_settings_a: int, n_settings_b: int) -> np.ndarray:
        if n_settings_a > self.table.shape[0] or n_settings_b > self.table.shape[1]:
            raise SignallingError(
                f"a rule chose setting ({n_settings_a - 1}, {n_settings_b - 1}), beyond the "
                f"{self.table.shape[0]} x {self.table.shape[1]} settings its resource's table was certified for"
            )
        return self.table[:n_settings_a, :n_settings_b]

    def sample(self, setting_a, setting_b, rng, ages=None):
        n_a, n_b = int(setting_a.max(initial=0)) + 1, int(setting_b.max(initial=0)) + 1
        return sample_table(self.joint(n_a, n_b), setting_a, setting_b, rng)

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "declared_kind": self.declared_kind,
            "local": self.local,
            "chsh": self.chsh,
            "table_shape": list(self.table.shape),
        }


def _correlators(table: np.ndarray) -> np.ndarray:
    """E[s_A, s_B, g_A, g_B]: the correlator of every setting pair under every +-1 reading g of each side's outcomes."""
    _, _, k_a, k_b = table.shape
    ga = np.array(list(itertools.product((1.0, -1.0), repeat=k_a)))
    gb = np.array(list(itertools.product((1.0, -1.0), repeat=k_b)))
    return np.einsum("ik,stkl,jl->stij", ga, table, gb)


def _chsh_blocks(corr: np.ndarray, distinct: bool):
    """(((a0, a1), (b0, b1)), the largest |c00 + c01 + c10 + c11 - 2 c_neg|) over the 2 x 2 blocks of settings
    (``distinct``: two different settings a side; else any pair, repeats included) and every reading and minus sign
    of ``corr`` (correlators or their arcsines)."""
    n_a, n_b = corr.shape[:2]
    pairs = itertools.combinations if distinct else itertools.combinations_with_replacement
    for a0, a1 in pairs(range(n_a), 2):
        for b0, b1 in pairs(range(n_b), 2):
            # axes: reading of a0, of a1, of b0, of b1
            e00 = corr[a0, b0][:, None, :, None]
            e01 = corr[a0, b1][:, None, None, :]
            e10 = corr[a1, b0][None, :, :, None]
            e11 = corr[a1, b1][None, :, None, :]
            total = e00 + e01 + e10 + e11
            yield ((a0, a1), (b0, b1)), max(float(np.abs(total - 2 * neg).max()) for neg in (e00, e01, e10, e11))


def chsh_value(table: np.ndarray) -> float:
    """The largest |E00 + E01 + E10 - E11| (the minus at any of the four places) over 2 x 2 blocks of settings and
    +-1 readings of the outcomes; 0 with one setting on a side."""
    return max((v for _, v in _chsh_blocks(_correlators(table), distinct=True)), default=0.0)


def local_model_exists(table: np.ndarray) -> bool:
    """Whether a local hidden-variable model gives ``table``: a mixture of deterministic strategies (each side's
    outcome a function of its own setting) with these joint probabilities, found by a linear program that
    minimises the largest deviation (local when it is below ``LHV_TOL``)."""
    from scipy.optimize import linprog

    n_a, n_b, k_a, k_b = table.shape
    fa = np.array(list(itertools.product(range(k_a), repeat=n_a)))  # A's outcome for each of its settings
    fb = np.array(list(itertools.product(range(k_b), repeat=n_b)))
    if fa.shape[0] * fb.shape[0] > 200_000:
        raise SignallingError(
            f"a resource with {n_a} x {n_b} settings and {k_a} x {k_b} outcomes is too large to "
            "classify (more than 200,000 deterministic strategies)"
        )
    # column lam = (i, j): 1 at cells (s, t, fa[i, s], fb[j, t])
    cols = []
    for i in range(fa.shape[0]):
        for j in range(fb.shape[0]):
            d = np.zeros((n_a, n_b, k_a, k_b))
            for s_ in range(n_a):
                d[s_, np.arange(n_b), fa[i, s_], fb[j]] = 1.0
            cols.append(d.ravel())
    m = np.array(cols).T  # cells x strategies
    p = table.ravel()
    n_lam = m.shape[1]
    # variables: weights (n_lam) and the deviation bound e; minimise e s.t. -e <= m w - p <= e, sum w = 1, w >= 0
    c = np.zeros(n_lam + 1)
    c[-1] = 1.0
    ones = np.ones((m.shape[0], 1))
    a_ub = np.vstack([np.hstack([m, -ones]), np.hstack([-m, -ones])])
    b_ub = np.concatenate([p, -p])
    a_eq = np.concatenate([np.ones(n_lam), [0.0]])[None, :]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=[(0, None)] * (n_lam + 1), method="highs")
    return bool(res.status == 0 and res.fun <= LHV_TOL)


def plays_user_code(strategy: Strategy) -> bool:
    """Whether either rule is user code (the engine then checks every chunk it plays: ``play_checked``)."""
    return not all(is_engine_owned(r) for r in (strategy.rule_a, strategy.rule_b))


def is_certified(strategy: Strategy) -> bool:
    """Whether ``strategy`` is what ``certify`` returns: every rule engine-owned or a worker's proxy, and an
    engine-owned resource (a user's is a ``FrozenTable``)."""
    return all(
        is_engine_owned(r) or isinstance(r, RemoteRule) for r in (strategy.rule_a, strategy.rule_b)
    ) and is_engine_owned(strategy.resource)


def play_checked(name: str, strategy: Strategy, x, y, rng: np.random.Generator, chunk: str = "a chunk"):
    """Play one chunk of a certified strategy with user rules: its real play is one of three plays of the chunk, each
    party's real outputs compared with a replay in which only the partner's inputs moved
    (``strategies.isolation.checked_play``). Outputs (a, b) as uint8."""
    if not is_certified(strategy):
        raise StrategyError(f"strategy {name!r} has not been certified: certify() it, and play what it returns")
    x, y = as_bits(x, "x", strategy.rule_a.levels), as_bits(y, "y", strategy.rule_b.levels)
    if x.shape != y.shape:
        raise StrategyError(f"x and y must have the same number of rounds, got {x.size} and {y.size}")
    return checked_play(name, strategy, x, y, rng, chunk)


def _game_bound(game: Game, p) -> float | None:
    """The game's Tsirelson bound: closed form for 2x2, the SDP for K x K (None without cvxpy)."""
    if game.levels == (2, 2):
        return tsirelson_value(game, p)
    try:
        return tsirelson_sdp(game, p)
    except StrategyError:  # cvxpy is an optional extra; the resource's TLM check still ran
        return None


def _resource_settings(strategy: Strategy, x, y) -> tuple[int, int]:
    """How many settings per side the resource's table is read for: every setting the rules declare, and every one
    they choose on the training inputs (on copies in their workers: the rules' own state does not advance)."""
    n = []
    for rule, inputs, var in ((strategy.rule_a, x, "x"), (strategy.rule_b, y, "y")):
        k = max(rule.settings or (0,)) + 1
        if inputs is not None:
            bits = as_bits(inputs, var, rule.levels)
            k = max(
                k, (rule.probe(bits) if isinstance(rule, RemoteRule) else int(rule.setting(bits).max(initial=0))) + 1
            )
        n.append(k)
    return n[0], n[1]


def freeze(name: str, resource: Resource, n_a: int, n_b: int, timeout: float | None = None) -> FrozenTable:
    """A user resource's table, read once in a worker, checked (probabilities, no-signalling; quantum: the
    Tsirelson-Landau-Masanes pre-check, then Tsirelson's and the NPA programs, ``strategies.quantum_set``),
    classified (local or not) and frozen."""
    raw, kind = read_table(name, resource, n_a, n_b, timeout)
    table = check_table(name, raw)
    excess, where = tlm_excess(table)
    if excess > TLM_TOL:
        assert where is not None  # a finite excess comes with its block of settings
        raise SignallingError(
            f"strategy {name!r}: its resource's correlations at settings A {where[0]}, B {where[1]} exceed what any "
            f"shared quantum state allows (Tsirelson-Landau-Masanes bound broken by {excess:.3g} rad); a "
            "no-signalling box beyond quantum mechanics (such as a PR box) is not a resource two servers can hold"
        )
    local = local_model_exists(table)
    if not local:
        check_quantum(name, table)
    return FrozenTable(table, kind, local, chsh_value(table))


def check_quantum(name: str, table: np.ndarray) -> None:
    """Refuse a table outside the quantum set (``strategies.quantum_set``: exact for XOR games with any number of
    settings, NPA level 1+AB for the whole behaviour). Never passes a table it could not check."""
    try:
        gaps = quantum_gaps(table)
    except QuantumSetError as exc:
        raise SignallingError(
            f"strategy {name!r}: its resource's table could not be checked against the quantum "
            f"set, so it is refused: {exc}"
        ) from None
    if gaps["tsirelson"] < -SDP_TOL:
        raise SignallingError(
            f"strategy {name!r}: its resource's correlators are not inner products of unit vectors (Tsirelson's "
            f"semidefinite program: least eigenvalue {gaps['tsirelson']:.3g} < 0), so some XOR game with "
            f"{table.shape[0]} x {table.shape[1]} settings is won beyond what any shared quantum state allows; "
            "such a box is not a resource two servers can hold"
        )
    if gaps["npa"] < -SDP_TOL:
        raise SignallingError(
            f"strategy {name!r}: no shared quantum state gives its resource's table (the NPA hierarchy's level "
            f"1+AB: least eigenvalue {gaps['npa']:.3g} < 0); such a box is not a resource two servers can hold"
        )


def is_local(strategy: Strategy) -> bool:
    """Local classical by physics: an engine-owned resource that is not an entangled pair, or a frozen table with a
    local hidden-variable model. A certified strategy's answer; an uncertified user resource is not local."""
    r = strategy.resource
    if isinstance(r, FrozenTable):
        return r.local
    return is_engine_owned(r) and r.kind != "entangled_pair"


def certify(
    name: str,
    strategy: Strategy,
    game: Game | None = None,
    p_xy=None,
    x=None,
    y=None,
    rng: np.random.Generator | None = None,
    timeout: float | None = None,
) -> Strategy:
    """Refuse (``SignallingError``) a strategy that could signal or exceeds quantum correlations (see the module), and
    return the strategy that will play: the same object when all of it is engine-owned, else one whose user resource
    is a ``FrozenTable`` and whose user rules each run in their own server's worker (``RemoteRule``). ``timeout``:
    seconds a user rule may take on one request (``strategies.sandbox.TIMEOUT`` by default)."""
    if not isinstance(strategy, Strategy):
        raise StrategyError(f"strategy {name!r} must be a qcoord.Strategy, got {type(strategy).__name__}")
    if type(strategy).play is not Strategy.play:
        raise SignallingError(f"strategy {name!r} replaces Strategy.play; strategies play through the engine's flow")
    if is_certified(strategy) and any(isinstance(r, RemoteRule) for r in (strategy.rule_a, strategy.rule_b)):
        return strategy  # certified already (a refit reuses it): its rules' state lives on in their workers
    tables = [is_engine_owned(r) for r in (strategy.rule_a, strategy.rule_b)]
    owned_resource = is_engine_owned(strategy.resource)
    if owned_resource and all(tables):
        sa, sb = strategy.rule_a.settings, strategy.rule_b.settings
        assert sa is not None and sb is not None  # LocalRule.__post_init__ fills unset settings
        n_a, n_b = max(sa) + 1, max(sb) + 1
        check_table(name, strategy.resource.joint(n_a, n_b))
        # this package's resources are quantum (or classical) by construction; table rules hold no state
        return strategy
    if not owned_resource and any(
        "sample" in k.__dict__ and k is not Resource and not is_engine_owned(k) for k in type(strategy.resource).__mro__
    ):
        raise SignallingError(
            f"strategy {name!r}: its resource brings its own sampler; a user resource declares "
            "joint() only and the engine samples the certified table"
        )
    for side, rule in (("A", strategy.rule_a), ("B", strategy.rule_b)):
        if not isinstance(rule, LocalRule):
            raise StrategyError(
                f"strategy {name!r}: server {side}'s rule must be a qcoord.LocalRule (or a subclass), "
                f"got {type(rule).__name__}"
            )
    rules = [
        rule if owned else RemoteRule(name, side, rule, timeout)
        for rule, owned, side in zip((strategy.rule_a, strategy.rule_b), tables, "AB")
    ]
    # the base class: no user __init__ runs; a RemoteRule stands in for its user's LocalRule (the same interface,
    # played in the server's worker)
    certified = Strategy(name, rules[0], rules[1], strategy.resource)  # type: ignore[arg-type]
    try:
        n_a, n_b = _resource_settings(certified, x, y)
        resource = strategy.resource if owned_resource else freeze(name, strategy.resource, n_a, n_b, timeout)
        certified = Strategy(name, rules[0], rules[1], resource)  # type: ignore[arg-type]
        if game is not None and p_xy is not None and all(tables) and game.levels == certified.levels:
            p = check_p_xy(p_xy, game.levels)
            bound = _game_bound(game, p)
            value = certified.value(game, p)
            if bound is not None and value > bound + QUANTUM_TOL * max(1.0, float(np.abs(game.table).max())):
                raise SignallingError(
                    f"strategy {name!r} reaches {value:.6g} in the game played, above its quantum "
                    f"(Tsirelson) bound {bound:.6g}"
                )
        if x is not None and y is not None and not all(tables):
            xs = as_bits(x, "x", certified.rule_a.levels)[:CHECK_ROUNDS]
            ys = as_bits(y, "y", certified.rule_b.levels)[:CHECK_ROUNDS]
            checked_play(
                name,
                certified,
                xs,
                ys,
                rng if rng is not None else np.random.default_rng(0),
                "the training rounds",
                keep=False,
            )
    except BaseException:
        for r in rules:
            if isinstance(r, RemoteRule):
                r.close()
        raise
    return certified
