"""Named random streams: every purpose that draws random numbers has its own stream of the run's seed.

A stream is ``SeedSequence(seed, spawn_key=(id(purpose), *index))`` with ``id`` the CRC-32 of the purpose's
name: two purposes never share draws, a strategy's draws do not depend on which others run, and adding a
purpose changes nobody else's numbers. The synthetic generator (``data.SyntheticPair``) seeds block k with
``spawn_key=(k,)``: one element, so it can never equal a named stream, whose keys have two or more.

``PURPOSES`` lists every purpose in use (``strategy:<name>`` is one per strategy); a test checks that they
are distinct from each other and from the synthetic blocks.
"""

from __future__ import annotations

import zlib

import numpy as np

PURPOSES = {
    "strategy:<name>": "a strategy's own randomness (coins, measurement outcomes), per chunk of rounds; for user "
    "rules also the checked play's secret draws (first party, order of plays, offsets)",
    "fills": "fill draws shared by every strategy (common random numbers), per chunk",
    "supply": "Bell-pair arrivals on the test window, per chunk",
    "supply:training": "Bell-pair arrivals on the training window (the typical pair age the angles are fitted for)",
    "indicator:A": "server A's indicator noise (noisy_signal, noisy_regime), as a seed for its row blocks",
    "indicator:B": "server B's indicator noise",
    "indicator:rows": "an indicator's uniforms per block of rows, under its own seed (any chunking, same numbers)",
    "causality": "cut points, rotations and the order of evaluation of the causality check of custom indicators, "
    "per server and evaluation",
    "nosignal": "the checked play of user rules on the training rounds at certification (partner's inputs moved)",
    "game:inputs": "qcoord game: the simulated indicator bits",
    "training:strategy:<name>": "a local classical strategy's randomness when replayed on the training window "
    "(its book variance chooses best_local), per chunk",
    "training:fills": "fill draws of that training replay, per chunk",
    "balance:arrivals": "qcoord balance: arrival gaps, both customers' service-time inputs and the routers' shared "
    "relabelling bit, per chunk (common random numbers: every router sees the same arrivals)",
    "balance:supply": "qcoord balance: Bell-pair arrivals of the link's memory, per router",
    "scan:<pair>": "qcoord scan: the seed of one pair's backtest (e.g. scan:JPM/BAC), so its result depends only on "
    "the scan's seed, the pair and the options",
}


def stream_id(purpose: str) -> int:
    return zlib.crc32(purpose.encode())


def sequence(seed: int, purpose: str, *index: int) -> np.random.SeedSequence:
    if purpose not in PURPOSES and not purpose.startswith(("strategy:", "training:strategy:", "scan:")):
        raise KeyError(f"random stream {purpose!r} is not registered in backtest.streams.PURPOSES")
    return np.random.SeedSequence(seed, spawn_key=(stream_id(purpose), *index))


def rng(seed: int, purpose: str, *index: int) -> np.random.Generator:
    """The generator of ``purpose`` (and chunk ``index``) for the run's ``seed``."""
    return np.random.default_rng(sequence(seed, purpose, *index))


def seed_of(seed: int, purpose: str) -> int:
    """A 32-bit seed drawn from a purpose's stream, for objects that take a plain integer seed."""
    return int(sequence(seed, purpose).generate_state(1)[0])
