"""Regression tests for bad input found by trying the CLI as a new user: every one is a one-line error with exit
code 2 before any work (nothing written), or now does the documented thing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcoord.backtest.output.runs import new_run_dir
from tests.conftest import one_line_exit_2, qcoord

SAMPLE_CSV = Path(__file__).resolve().parents[1] / "data" / "samples" / "pypfopt_adjclose_panel_1990-2024.csv"


@pytest.mark.parametrize(
    "args, message",
    [
        (["backtest", "--sample", "jpm_bac", "--start", "notadate"], "'notadate' is not a date"),
        (["backtest", "--sample", "jpm_bac", "--end", "2015-13-45"], "'2015-13-45' is not a date"),
        (["data", "--sample", "jpm_bac", "--start", "notadate"], "'notadate' is not a date"),
        (["data", "--csv", str(SAMPLE_CSV), "--tickers", "GOOG", "META", "--end", "2015-13-45"], "is not a date"),
        (["backtest", "--rounds", "2000", "--keep-rounds", "0"], "--keep-rounds: 0 is out of range [30, inf)"),
        (["backtest", "--rounds", "1e24"], "cannot finish: at most 1e+11"),
        (["backtest", "--rounds", "2000", "--latency", "1000000000"], "latency (1000000000 bars)"),
        (["backtest", "--sample", "jpm_bac", "--latency", "100000"], "too long for the data"),
        (
            ["backtest", "--sample", "jpm_bac", "--rounds", "5000"],
            "rounds (--rounds) sets the length of a synthetic run",
        ),
        (["backtest", "--sample", "jpm_bac", "--strategies", "quantum,regime_oracle"], "needs a synthetic source"),
        (["game", "--device", "FakeSherbrooke", "--visibility", "0.9"], "brings its own noise"),
        (["game", "--qubits", "1,2"], "give device too (--device NAME)"),
        (
            [
                "backtest",
                "--rounds",
                "2000",
                "--device",
                "FakeSherbrooke",
                "--pair-rate",
                "100",
                "--decision-rate",
                "1000",
            ],
            "not modelled on a device",
        ),
        (
            ["backtest", "--rounds", "2000", "--pair-rate", "100", "--decision-rate", "1000", "--memory-slots", "1e12"],
            "--memory-slots: 1000000000000 is out of range [1, 1e+06]",
        ),
    ],
)
def test_tracebacks_and_silent_options_are_now_one_line_errors(tmp_path, args, message):
    one_line_exit_2(qcoord(*args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_whole_numbers_in_scientific_notation(tmp_path):
    res = qcoord("backtest", "--rounds", "2e3", "--keep-rounds", "1e3", "--json", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["config"]["run"]["rounds"] == 2000 and doc["config"]["run"]["keep_rounds"] == 1000
    one_line_exit_2(qcoord("backtest", "--rounds", "2000.5", cwd=tmp_path), "'2000.5' is not a whole number")


@pytest.mark.parametrize("where", ["out_under_file", "runs_dir_file", "proc"])
def test_output_locations_are_checked_before_any_work(tmp_path, where):
    """A 10^10-round run would take hours: the error must come first."""
    (tmp_path / "file.txt").write_text("x")
    opts = {
        "out_under_file": ["--out", "file.txt/sub"],
        "runs_dir_file": ["--runs-dir", "file.txt"],
        "proc": ["--out", "/proc/qcoord-run"],
    }[where]
    res = qcoord("backtest", "--rounds", "1e10", *opts, cwd=tmp_path, timeout=60)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert ("is a file, not a folder" in res.stderr) or ("cannot write in" in res.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.slow
def test_other_commands_check_their_outputs_first(tmp_path):
    one_line_exit_2(qcoord("data", "--sample", "jpm_bac", "--out", "/proc/x.csv", cwd=tmp_path), "cannot write in")
    first = qcoord("data", "--sample", "jpm_bac", "--out", "p.csv", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    one_line_exit_2(qcoord("data", "--sample", "jpm_bac", "--out", "p.csv", cwd=tmp_path), "p.csv already exists")
    assert qcoord("data", "--sample", "jpm_bac", "--out", "p.csv", "--force", cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_compare_writes_its_own_folder_never_the_runs_and_refuses_unknown_strategies(tmp_path):
    for name in ("a", "b"):
        assert qcoord("backtest", "--rounds", "2000", "--name", name, cwd=tmp_path).returncode == 0
    res = qcoord("compare", "runs/a", "runs/b", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    written = list((tmp_path / "runs").glob("compare-*/compare.png"))
    assert len(written) == 1 and (written[0].parent / "compare.csv").exists()
    assert not list((tmp_path / "runs").glob("[ab]/compare.*")) and not (tmp_path / "compare.png").exists()
    one_line_exit_2(qcoord("compare", "runs/a", "runs/a", cwd=tmp_path), "runs/a is given twice")
    one_line_exit_2(qcoord("compare", "runs/a", "--strategies", "foo", cwd=tmp_path), "['foo'] ran in none")
    one_line_exit_2(qcoord("compare", "runs/a", "--figure", "/proc/x.png", cwd=tmp_path), "cannot write in")


@pytest.mark.slow
def test_a_failing_custom_indicator_is_named_in_one_line(tmp_path):
    (tmp_path / "badind.py").write_text("def boom(view):\n    raise ZeroDivisionError('my bug')\nboom.lookback = 0\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    res = qcoord("backtest", "--rounds", "2000", "--indicator", "badind:boom", "--out", "r", cwd=tmp_path, env=env)
    one_line_exit_2(res, "indicator boom (server A, X) failed in __call__(): ZeroDivisionError: my bug")
    assert not (tmp_path / "r").exists()


def test_default_run_names_skip_taken_folders_and_never_replace_one(tmp_path, monkeypatch):
    """Two runs started in the same second: the suffix differs, a taken name is skipped, and a folder that appears
    while a run is written is never replaced (the run fails, nothing is lost)."""
    import qcoord.backtest.output.runs as runs
    from qcoord.backtest import BacktestError
    from qcoord.backtest.output.atomic import atomic_dir

    draws = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    monkeypatch.setattr(runs.secrets, "token_hex", lambda n: next(draws))
    first = new_run_dir(tmp_path, None)
    first.mkdir()
    second = new_run_dir(tmp_path, None)
    assert first.name.endswith("aaaaaa") and second.name.endswith("bbbbbb")
    (first / "keep.txt").write_text("result of run 1")
    with pytest.raises(BacktestError, match="appeared while this run was being written"):
        with atomic_dir(first) as tmp:
            (tmp / "metrics.json").write_text("{}")
    assert (first / "keep.txt").read_text() == "result of run 1" and not (first / "metrics.json").exists()


@pytest.mark.slow
def test_unset_t2_means_limited_by_t1(tmp_path):
    game = qcoord("game", "--t1", "1e-4", "--storage-time", "1e-5", "--json", cwd=tmp_path)
    assert game.returncode == 0, game.stderr
    assert json.loads(game.stdout)["noise"]["t2"] == pytest.approx(2e-4)
    sweep = qcoord(
        "sweep",
        "t2=1e-5,5e-5",
        "--t1",
        "1e-4",
        "--storage-time",
        "1e-5",
        "--rounds",
        "2000",
        "--out",
        "sw",
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr
    from qcoord.strategies import Noise

    assert Noise(t1=1e-4).t2 == pytest.approx(2e-4) and Noise().t2 == float("inf")


@pytest.mark.slow
def test_a_degenerate_run_says_what_is_degenerate(tmp_path):
    res = qcoord("backtest", "--rounds", "2000", "--sigma", "0", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    verdict = json.loads((tmp_path / "r" / "metrics.json").read_text())["verdict"]
    assert verdict.startswith("Degenerate run") and "nan" not in verdict.lower() and "None" not in verdict
    assert "Warning" not in res.stderr


@pytest.mark.slow
def test_toml_strategies_as_one_string_is_a_list_not_letters(tmp_path):
    (tmp_path / "c.toml").write_text('[run]\nstrategies = "quantum,classical"\nrounds = 2000\n')
    res = qcoord("backtest", "--config", "c.toml", "--json", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["config"]["run"]["strategies"] == ["uncoordinated", "quantum", "classical", "oracle"]
    (tmp_path / "d.toml").write_text("[run]\nstrategies = 3\n")
    one_line_exit_2(qcoord("backtest", "--config", "d.toml", cwd=tmp_path), "run.strategies: 3 is not text")


def test_one_ticker_file_is_described(tmp_path):
    csv = tmp_path / "ONE.csv"
    csv.write_text("Date,Close\n" + "".join(f"2020-01-{d:02d},{100 + d}\n" for d in range(1, 31)))
    res = qcoord("data", "--csv", str(csv), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "n/a (one ticker)" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["backtest", "--sample", "pypfopt", "--tickers", "GOOG", "ZZZ"], "available: ['AMZN', 'BABA', 'BAC'"),
        (["backtest", "--sample", "pypfopt"], "pick two (--tickers A B on the command line"),
        (
            ["backtest", "--rounds", "2000", "--window", "10"],
            "indicator noisy_signal takes --flip; --window do(es) not apply",
        ),
        (
            ["backtest", "--rounds", "2000", "--indicator", "rolling_correlation", "--window", "1000000000"],
            "need 1000000001 bars of history",
        ),
    ],
)
def test_messages_name_the_real_problem(tmp_path, args, message):
    one_line_exit_2(qcoord(*args, cwd=tmp_path, timeout=60), message)


def test_an_empty_column_is_named(tmp_path):
    (tmp_path / "p.csv").write_text("Date,A,B\n" + "".join(f"2020-01-{d:02d},,{d}\n" for d in range(1, 29)))
    one_line_exit_2(qcoord("data", "--csv", "p.csv", cwd=tmp_path), "ticker(s) ['A'] have no prices at all")


@pytest.mark.slow
def test_outputs_follow_the_umask(tmp_path):
    """The program as the shell starts it (the umask is the process's): the one subprocess run of this file."""
    import os
    import stat
    import subprocess

    res = subprocess.run(
        [
            "bash",
            "-c",
            "umask 022 && qcoord backtest --rounds 2000 --out r && qcoord data --sample jpm_bac --out p.csv",
        ],
        cwd=tmp_path,
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "r").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "r" / "metrics.json").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "p.csv").st_mode) == 0o644


@pytest.mark.slow
def test_a_sweep_with_other_options_does_not_replace_a_sweep(tmp_path):
    assert qcoord("sweep", "visibility=1,0.9", "--rounds", "2000", "--out", "s", cwd=tmp_path).returncode == 0
    before = (tmp_path / "s" / "sweep.csv").read_text()
    assert qcoord("sweep", "visibility=1,0.9", "--rounds", "2000", "--out", "s", cwd=tmp_path).returncode == 0  # resume
    one_line_exit_2(
        qcoord("sweep", "visibility=1,0.8", "--rounds", "2000", "--out", "s", cwd=tmp_path),
        "holds a sweep with other options",
    )
    assert (tmp_path / "s" / "sweep.csv").read_text() == before
    assert (
        qcoord("sweep", "visibility=1,0.8", "--rounds", "2000", "--out", "s", "--force", cwd=tmp_path).returncode == 0
    )


def test_p_values_and_dates_read_as_people_write_them():
    from qcoord import data
    from qcoord.backtest import run_backtest
    from qcoord.backtest.stats.intervals import format_p
    from qcoord.reports.tables import pvalue

    assert format_p(0.0) == "p < 1e-300" and format_p(0.0342) == "p = 0.034" and pvalue(1e-320) == "< 1e-300"
    doc = run_backtest(data.load_sample("jpm_bac"), indicators="volatility_burst").to_dict()
    assert doc["source"]["start"] == "1990-03-29" and "00:00:00" not in doc["source"]["end"]


@pytest.mark.slow
def test_progress_covers_fitting_playing_and_the_report(tmp_path):
    res = qcoord("backtest", "--rounds", "20000", "--progress", "--out", "r", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    stages = [line.split(":")[0] for line in res.stderr.replace("\r", "\n").splitlines() if ":" in line]
    assert {"fit", "play", "report"} <= set(stages)
    assert stages.index("fit") < stages.index("play") < stages.index("report")


def test_game_rounds_are_bounded(tmp_path):
    one_line_exit_2(qcoord("game", "--rounds", "1e9", cwd=tmp_path), "a whole number of rounds in 1..1e+08")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rounds": 10**24}, "cannot finish"),
        ({"rounds": 20_000, "latency": 10**9}, "latency (1000000000 bars)"),
        ({"rounds": 20_000, "keep_rounds": 0}, "keep_rounds: 0 is out of range [30, inf)"),
        (
            {"rounds": 20_000, "indicators": "rolling_correlation", "indicator_params": {"window": 10**9}},
            "bars of history",
        ),
        ({"rounds": 20_000, "indicator_params": {"window": 10}}, "takes --flip"),
        ({"rounds": 20_000, "game": "nonsense"}, "game: 'nonsense' is not one of hedge, paper"),
        ({"rounds": 20_000, "game": 3}, "game must be 'hedge', 'paper' or a qcoord.Game"),
        ({"rounds": 20_000, "risk_aversion": -1.0}, "risk_aversion: -1.0 is out of range (0, inf)"),
    ],
)
def test_the_python_api_refuses_the_same_inputs(kwargs, message):
    """The same checks guard run_backtest itself, before anything is allocated."""
    from qcoord.backtest import BacktestError, run_backtest

    with pytest.raises(BacktestError, match=__import__("re").escape(message)):
        run_backtest("signals", **kwargs)


def test_the_python_api_refuses_a_huge_memory():
    from qcoord.backtest import BacktestError, BellPairSupply

    with pytest.raises(BacktestError, match="memory_slots must be a whole number in 1..1e"):
        BellPairSupply(100.0, 1000.0, 10**12)


def test_report_columns_keep_one_number_format():
    import pandas as pd

    from qcoord.reports.markup import html_table

    page = html_table(pd.DataFrame({"variance": [22_400.0, 0.5, None], "p": [3e-5, 2e-7, 1e-4]}, index=list("abc")))
    assert "22,400.0" in page and "0.5" in page and "e+04" not in page  # one fixed format, thousands separated
    # tiny values keep their digits; undefined is one dash
    assert "3e-05" in page and "<td data-label='variance'>—</td>" in page


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rounds": 5000}, "rounds (--rounds) sets the length of a synthetic run"),
        ({"strategies": ["quantum", "regime_oracle"]}, "strategy regime_oracle needs a synthetic source"),
    ],
)
def test_real_data_options_the_cli_refuses_are_refused_in_python_with_the_same_message(kwargs, message, tmp_path):
    """One check, in the engine: run_backtest on real data used to ignore rounds and drop regime_oracle silently."""
    from qcoord import data
    from qcoord.backtest import BacktestError, run_backtest

    with pytest.raises(BacktestError, match=__import__("re").escape(message)):
        run_backtest(data.load_sample("jpm_bac"), **kwargs)


def test_strategies_as_one_string_is_names_not_letters():
    from qcoord.backtest import run_backtest

    r = run_backtest("signals", rounds=3000, strategies="classical,quantum", progress=False)
    assert r.strategies == ["uncoordinated", "classical", "quantum", "oracle"]


def test_one_atomic_writer_and_it_follows_the_umask(tmp_path):
    """The Yahoo cache wrote its files 0600 through a second copy of the writer; there is one writer now."""
    import os
    import stat

    import pandas as pd

    import qcoord.backtest.output.atomic
    import qcoord.data.atomic
    from qcoord.data import yahoo

    assert qcoord.backtest.output.atomic.atomic_file is qcoord.data.atomic.atomic_file
    old = os.umask(0o022)
    try:
        yahoo._write_atomic(pd.DataFrame({"a": [1]}), tmp_path / "c.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "c.csv").st_mode) == 0o644


def test_the_schema_number_is_the_same_in_code_and_readme():
    import re

    from qcoord.backtest.output.result import SCHEMA

    readme = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()  # the schema's page
    said = set(re.findall(r"`metrics.json` \(schema (\d+)", readme)) | set(re.findall(r'\{"schema": (\d+)', readme))
    assert said == {str(SCHEMA)}, said


def test_no_p_value_is_zero_in_metrics_json():
    """A p-value that underflows is stored as the smallest normal double, not 0 (the default run had McNemar and
    Sharpe p-values of exactly 0.0)."""
    from qcoord.backtest import run_backtest

    doc = run_backtest("signals", rounds=200_000, seed=0, progress=False).to_dict()
    found = []

    def walk(v, key=""):
        if isinstance(v, dict):
            for k, w in v.items():
                walk(w, k)
        elif isinstance(v, list):
            for w in v:
                walk(w, key)
        elif key.endswith("p_value") and isinstance(v, float):
            found.append(v)

    walk(doc)
    assert found and min(found) > 0.0
