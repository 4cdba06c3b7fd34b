"""A property: whatever values a user types for the options, `qcoord backtest` and `qcoord game` end with exit code
0 or 2 and never a traceback (run in-process, so that any uncaught exception fails the test with its traceback)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcoord.backtest import config
from qcoord.backtest.cli.main import main

NUMBERS = st.one_of(
    st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "0.5",
            "1.5",
            "2",
            "inf",
            "-inf",
            "nan",
            "1e9",
            "1e-9",
            "2e3",
            "abc",
            "",
            "3,4",
            "0.99",
            "-0.7",
            "1e24",
            "1e9",
            "60",
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).map(repr),
)
# every numeric option of the configuration tree (and its aliases), but the run's length and walk-forward step, whose
# valid large values only make the run long
_NUMERIC = [s for s in config.all_specs() if float in (s.kind, s.item) or int in (s.kind, s.item)]
_ALIASES = {"--" + s.alias.replace("_", "-") for s in _NUMERIC if s.alias_help and s.alias_flag != ""}
BACKTEST_OPTIONS = sorted(({s.flag for s in _NUMERIC if s.flag} | _ALIASES) - {"--rounds", "--refit-every", "--seed"})
GAME_OPTIONS = [
    "--p-x",
    "--p-y",
    "--p-xy",
    "--beta",
    "--visibility",
    "--readout-error",
    "--storage-time",
    "--t1",
    "--t2",
    "--loss",
    "--weights",
    "--rounds",
]
counter = itertools.count()


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    options=st.lists(
        st.tuples(st.sampled_from(BACKTEST_OPTIONS), NUMBERS), min_size=1, max_size=3, unique_by=lambda t: t[0]
    ),
    game=st.sampled_from([[], ["--game", "paper"]]),
)
def test_backtest_options_end_in_0_or_2(tmp_path, capsys, options, game):
    argv = ["backtest", "--rounds", "300", "--no-progress", "--out", str(tmp_path / f"r{next(counter)}"), *game]
    if any(opt in ("--pair-rate", "--decision-rate", "--memory-slots") for opt, _ in options):
        argv += ["--pair-rate=2000", "--decision-rate=5000"]  # a supply option acts only with both rates given
    for opt, value in options:
        argv = [a for a in argv if not a.startswith(opt + "=")] + [f"{opt}={value}"]  # '=' keeps '-1' a value
    assert _exit_code(argv) in (0, 2), argv
    capsys.readouterr()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    options=st.lists(
        st.tuples(st.sampled_from(GAME_OPTIONS), NUMBERS), min_size=1, max_size=3, unique_by=lambda t: t[0]
    )
)
def test_game_options_end_in_0_or_2(options):
    argv = ["game", "--json"] + [f"{opt}={value}" for opt, value in options]
    if any(opt == "--rounds" for opt, _ in options):
        argv += ["--seed", "1"]
    assert _exit_code(argv) in (0, 2), argv
