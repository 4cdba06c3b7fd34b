"""Shared test helpers: where ../shared/data lives, and a skip with a clear reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """Path of a real-data file in ../shared/data; skips the test when the folder or file is missing."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real-data file {path} is absent (../shared/data is provided on the development machines only)")
    return path


def z_tolerance(p: float, n: int, z: float = 4.0) -> float:
    """Half-width of a z-sigma normal interval for a proportion p estimated from n draws."""
    return z * (p * (1.0 - p) / n) ** 0.5


def assert_same_frame(a, b) -> None:
    """Exact equality of two DataFrames: columns, index instants and tz, and values bit for bit.

    (pandas' assert_frame_equal takes seconds on large tz-aware indexes; this is the same check, exact.)
    """
    import numpy as np

    assert list(a.columns) == list(b.columns)
    assert str(a.index.tz) == str(b.index.tz)
    assert np.array_equal(a.index.asi8, b.index.asi8)
    assert np.array_equal(a.to_numpy(), b.to_numpy())
