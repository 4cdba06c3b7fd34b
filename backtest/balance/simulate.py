"""Every router on the same arrivals (common random numbers), chunk by chunk: memory does not grow with pairs beyond
one number per block of ``block_pairs`` for the paired tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import streams
from .servers import (
    BUNCHED,
    CUSTOMERS,
    HIST_BINS,
    HIST_SPAN,
    LATE,
    OUTPUT,
    TIME,
    WAIT,
    WAIT2,
    new_state,
    quantile,
    serve,
)
from .routers import Chunk, Router

CHUNK_PAIRS = 1 << 18


@dataclass
class Tally:
    """One router's running results: the simulator's state and sums (``queue`` slots), the waiting-time histogram,
    per-block waits and outputs, and pairs whose bunch-or-split matched the oracle's (the game's win)."""

    n_blocks: int
    state: np.ndarray = field(init=False)
    sums: np.ndarray = field(init=False)
    hist: np.ndarray = field(init=False)
    block_wait: np.ndarray = field(init=False)
    block_output: np.ndarray = field(init=False)
    wins: int = 0
    recorded: int = 0

    def __post_init__(self) -> None:
        self.state, self.sums, self.hist = new_state()
        self.block_wait, self.block_output = np.zeros(self.n_blocks), np.zeros(self.n_blocks)


@dataclass
class Played:
    """Tallies by label, and what every router shared: block durations (s) and customers per block."""

    tallies: dict[str, Tally]
    block_time: np.ndarray
    block_customers: np.ndarray
    bin_width: float
    pairs: int


def play(
    routers: dict[str, Router],
    pairs: int,
    *,
    lam: float,
    mu: float,
    qos: float,
    background,
    warmup: int,
    block_pairs: int,
    seed: int,
    stream: int = 0,
    progress=None,
) -> Played:
    """Simulate ``pairs`` recorded pairs (after ``warmup``) for every router in ``routers`` on the same arrivals.
    ``stream`` separates independent runs of one seed (the run at t* and the frontier's)."""
    kind, gamma, tau = background.params(mu)
    bin_width = HIST_SPAN / mu / (HIST_BINS - 1)
    n_blocks = math.ceil(pairs / block_pairs)
    tallies = {name: Tally(n_blocks) for name in routers}
    block_time = np.zeros(n_blocks)
    block_customers = np.zeros(n_blocks)
    total, done, chunk_index, clock = warmup + pairs, 0, 0, 0.0
    while done < total:
        n = min(CHUNK_PAIRS, total - done)
        rng = streams.rng(seed, "balance:arrivals", stream, chunk_index)
        gaps = rng.exponential(1.0 / lam, n)
        a, b = rng.random(n), rng.random(n)
        relabel = rng.integers(0, 2, n, dtype=np.uint8)  # the routers' shared fair bit (module routers)
        order = rng.integers(0, 2, n, dtype=np.uint8)  # which customer of a bunched pair its server takes first
        x1, x2 = -np.log1p(-a) / mu, -np.log1p(-b) / mu
        times = clock + np.cumsum(gaps)
        clock = float(times[-1])
        skip = max(0, min(n, warmup - done))
        first = max(0, done - warmup)
        rec = slice(skip, n)
        blocks = (first + np.arange(n - skip)) // block_pairs
        np.add.at(block_time, blocks, gaps[rec])
        np.add.at(block_customers, blocks, 2.0)
        bunch_right = (x1 + x2)[rec]
        chunk = Chunk(a=a, b=b, x1=x1, x2=x2, times=times)
        for name, router in routers.items():
            r_rng = streams.rng(seed, f"strategy:balance:{name}", stream, chunk_index)
            oa, ob = router.play(chunk, r_rng)
            t = tallies[name]
            s1, s2 = np.bitwise_xor(oa, relabel), np.bitwise_xor(ob, relabel)
            serve(
                gaps,
                x1,
                x2,
                s1,
                s2,
                order,
                skip,
                qos,
                kind,
                gamma,
                tau,
                bin_width,
                block_pairs,
                first,
                t.state,
                t.sums,
                t.hist,
                t.block_wait,
                t.block_output,
            )
            same = (oa == ob)[rec]
            t.wins += int(np.count_nonzero(same == (bunch_right <= router.t_star)))
            t.recorded += n - skip
        done += n
        chunk_index += 1
        if progress is not None:
            progress.update(n)
    return Played(tallies, block_time, block_customers, bin_width, pairs)


def summarise(played: Played, name: str, qos: float) -> dict:
    """A router's metrics: waiting time (mean with its paired-block interval, p95, p99), the share of customers
    waiting longer than ``qos``, background throughput per server with its interval, bunch rate, game win rate."""
    from .blocks import block_mean_test

    t = played.tallies[name]
    s = t.sums
    n = s[CUSTOMERS]
    mean = s[WAIT] / n
    throughput = s[OUTPUT] / s[TIME] / 2.0
    wait_series = t.block_wait / played.block_customers
    out_series = t.block_output / played.block_time / 2.0
    # the estimates are ratios of the sums; their intervals come from the per-block series (HAC)
    w_half, o_half = (_half(block_mean_test(x)) for x in (wait_series, out_series))
    return {
        "mean_wait": mean,
        "mean_wait_ci95": [mean - w_half, mean + w_half],
        "sd_wait": math.sqrt(max(s[WAIT2] / n - mean * mean, 0.0)),
        "p95_wait": quantile(t.hist, played.bin_width, 0.95),
        "p99_wait": quantile(t.hist, played.bin_width, 0.99),
        "qos_violation": s[LATE] / n,
        "throughput": throughput,
        "throughput_ci95": [throughput - o_half, throughput + o_half],
        "bunch_rate": s[BUNCHED] / t.recorded,
        "win_rate": t.wins / t.recorded,
        "pairs": t.recorded,
    }


def _half(test: dict) -> float:
    lo, hi = test["ci95"]
    return (hi - lo) / 2.0


def block_series(played: Played, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean wait, throughput per server) per block of a router."""
    t = played.tallies[name]
    return t.block_wait / played.block_customers, t.block_output / played.block_time / 2.0
