"""Noise of a real IBM device, offline: ``qiskit_ibm_runtime.fake_provider`` backends run on Aer.

Needs the optional extra ``ibm`` (``pip install -e ".[ibm]"``). The device's calibrated noise model
(gate errors, T1/T2, readout) replaces ``Noise``; only photon loss is still ours.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import StrategyError


@lru_cache(maxsize=8)
def device_backend(name: str):
    """``AerSimulator.from_backend`` of a fake IBM device, e.g. "FakeSherbrooke", "FakeBrisbane", "FakeTorino"."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise StrategyError(f"device {name!r} needs the optional extra: pip install -e '.[ibm]'") from None
    from qiskit_aer import AerSimulator

    cls = getattr(fake_provider, name, None)
    if cls is None or not name.startswith("Fake"):
        known = sorted(n for n in dir(fake_provider) if n.startswith("Fake") and not n.endswith("V2") and n != "FakeProviderForBackendV2")
        raise StrategyError(f"unknown device {name!r}; e.g. {', '.join(known[:8])}, ...")
    return AerSimulator.from_backend(cls())
