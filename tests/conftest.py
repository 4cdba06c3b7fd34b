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


# Statistical checks use Wilson intervals at this level unless a test states the interval it is about
# (e.g. "within the 95% CI"); every random stream is seeded, so each check is deterministic.
CI_ALPHA = 0.001


def streams(seed: int, k: int):
    """k independent numpy Generators spawned from one seed (inputs and strategies never share draws)."""
    import numpy as np

    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]


# -- the quick suite and the whole suite -------------------------------------------------------------------------
# Plain `pytest` is the quick suite (under three minutes on two cores); `pytest --slow` also runs the tests marked
# slow (long runs and most command-line subprocess runs), as CI does through README's test command.
def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run the tests marked slow (CI does)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long runs or subprocess runs; skipped unless pytest --slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with pytest --slow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# -- the qcoord command line, for every test that runs it ------------------------------------------------------
class Ran:
    """What a command did: ``returncode``, ``stdout``, ``stderr`` (the fields of subprocess.CompletedProcess)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self) -> str:
        return f"Ran({self.returncode}, stdout={self.stdout[-300:]!r}, stderr={self.stderr[-300:]!r})"


def qcoord(*args: str, cwd=None, env: dict | None = None, timeout: float = 600) -> Ran:
    """``qcoord ARGS`` in this process (``main([...])``: no interpreter start, no imports repeated), in ``cwd``, with
    ``env`` as the whole environment when given; stdout is not a terminal, as in a subprocess. Exit code, stdout and
    stderr as a subprocess would give them; an exception that escapes ``main`` (a traceback) fails the test."""
    import contextlib
    import io
    import os
    import signal

    from qcoord.backtest.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)

    def overran(signum, frame):  # a check that came after the computation would run into it: fail, do not hang
        raise TimeoutError(f"qcoord {' '.join(args)} ran past {timeout} s")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.chdir(cwd or os.getcwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors, --help and --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.environ.clear()
        os.environ.update(saved)
    return Ran(int(code or 0), out.getvalue(), err.getvalue())


def qcoord_process(*args: str, cwd=None, env: dict | None = None, timeout: float = 600) -> Ran:
    """``qcoord ARGS`` as its own process (the console script): for the few tests about the program itself (its
    start-up, an interrupt, its exit as the shell sees it)."""
    import subprocess

    res = subprocess.run(["qcoord", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    return Ran(res.returncode, res.stdout, res.stderr)


def one_line_exit_2(res: Ran, message: str) -> None:
    """A bad input's answer: exit code 2 and one line on stderr that contains ``message``, no traceback."""
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


# -- runs several test modules read: computed once a session, never modified by a test --------------------------
@pytest.fixture(scope="session")
def default_run():
    """``qcoord backtest``'s run: the built-in synthetic pair with every default (README's first summary)."""
    from qcoord.backtest import run_backtest

    return run_backtest()


@pytest.fixture(scope="session")
def sample_run():
    """The shipped JPM/BAC sample with every default (README's second summary)."""
    from qcoord import data
    from qcoord.backtest import run_backtest

    return run_backtest(data.load_sample("jpm_bac"))


# -- workers ---------------------------------------------------------------------------------------------------
def pytest_xdist_auto_num_workers(config):
    """pytest-xdist's -n auto (pyproject.toml's addopts): one worker per core, at most 4. Each worker imports qiskit,
    cvxpy and numba's kernels (about 0.5 GB), and several tests start processes of their own (user-code sandboxes,
    figure painters, a Dask cluster), so more workers than that buy little and cost memory."""
    import os

    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
