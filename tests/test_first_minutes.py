"""A new user's first ten minutes (issue 28): a start that imports nothing heavy, a summary that fits the terminal,
options that do not apply refused, tables written as one set, and the rough edges met walking through README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.cli.main import main as _main


def main(argv: list[str]) -> int:
    """The command line's exit code, whether it returns it or argparse exits with it."""
    try:
        return _main(argv)
    except SystemExit as exc:
        return exc.code


HEAVY = ("qiskit", "qiskit_aer", "scipy", "pandas", "statsmodels", "matplotlib", "numba", "distributed")


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["game", "--help"],
        ["data", "--help"],
        ["backtest", "--help"],
        ["sweep", "--help"],
        ["scan", "--help"],
    ],
)
def test_version_and_help_import_none_of_the_heavy_libraries(argv):
    """What makes ``qcoord --version`` and a subcommand's ``--help`` instant: no numerical library but numpy is
    imported before a command runs (the import itself is the cost; counted by module, not timed, so it holds on
    any machine). A subcommand's help builds its options from the configuration tree, whose modules import pandas
    and scipy where they use them and compile their kernels on first use (``qcoord._jit``)."""
    code = (
        "import sys\nfrom qcoord.backtest.cli.main import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
        "print([m for m in %r if m in sys.modules])"
    ) % (argv, HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out.strip().splitlines()[-1])
    assert loaded == [], f"qcoord {' '.join(argv)} imported {loaded}"


@pytest.fixture(scope="module")
def small_run():
    return run_backtest(rounds=6000, seed=3)


@pytest.mark.parametrize("width", [80, 120])
def test_summary_fits_the_width_and_leads_with_a_short_verdict(small_run, width):
    text = small_run.summary(width)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width, [line for line in lines if len(line) > width][:3]
    assert lines[0].startswith("verdict: ")
    head = small_run.headline()
    assert head and len(re.split(r"(?<=\.)\s+(?=[A-Z])", head)) <= 3
    assert " ".join(line.strip() for line in lines[:6]).startswith("verdict: " + head[:60])
    assert "verdict in full: " in text  # the reasons follow below
    doc = small_run.to_dict()
    assert doc["headline"] == head and doc["verdict"] == small_run.verdict()


def test_the_command_prints_at_80_columns_when_not_a_terminal(tmp_path, capsys):
    assert main(["backtest", "--rounds", "4000", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines() if not line.startswith("written: ")) <= 80


def test_game_output_fits_80_columns(capsys):
    assert main(["game", "--visibility", "0.95", "--rounds", "20000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80 and lines[0].startswith("game ")
    assert any(line.startswith(" " * 16) for line in lines)  # a long line continues under the value column


def test_sweep_and_compare_output_fit_80_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative folders: a long temporary path is one word no terminal can wrap
    runs = ["a", "b"]
    assert main(["backtest", "--rounds", "3000", "--out", runs[0]]) == 0
    assert main(["backtest", "--rounds", "3000", "--visibility", "0.8", "--out", runs[1]]) == 0
    capsys.readouterr()
    assert main(["compare", *runs, "--figure", "c.png"]) == 0
    text = capsys.readouterr().out
    assert max(map(len, text.splitlines())) <= 80 and "\n1: " in text  # each run's verdict in short
    assert main(["sweep", "visibility=0.8,1", "--rounds", "3000", "--workers", "0", "--out", "sweep"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]


def test_help_wraps_between_words_never_inside_one(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["backtest", "--help"]) == 0
    text = capsys.readouterr().out
    assert max(map(len, text.splitlines())) <= 80
    words = set(re.findall(r"[a-z_]+", text))
    assert {"classical_levels", "quantum_levels", "follow_indicator", "delayed_comm"} <= words
    assert "classic" not in words and "al_levels" not in words


def test_scan_help_offers_no_synthetic_options(capsys):
    assert main(["scan", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--synthetic" not in text and "--rounds" not in text and "--rho-pos" not in text
    assert main(["scan", "--rounds", "100"]) == 2


@pytest.mark.parametrize(
    "args, named",
    [
        (["--start", "2020-01-01"], "--start"),
        (["--sample", "jpm_bac", "--interval", "1h"], "--interval"),
        (["--cache-dir", "cache"], "--cache-dir"),
        (["--sample", "jpm_bac", "--rho-pos", "0.3"], "--rho-pos"),
        (["--sample", "jpm_bac", "--session", "regular"], "--session"),
        (["--name", "a", "--out", "b"], "--name"),
        (
            ["--sample", "jpm_bac", "--indicator", "return_shock", "--threshold", "0.1", "--target", "0.3"],
            "--threshold",
        ),
        (["--sample", "jpm_bac", "--start", "2020-01-01", "--end", "2019-01-01"], "--end"),
        (["--keep-rounds", "10"], "keep"),
    ],
)
def test_options_that_do_not_apply_are_errors_before_any_work(args, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "--out" not in args:
        args = [*args, "--out", "run"]
    assert main(["backtest", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err
    assert list(tmp_path.iterdir()) == []


def test_threshold_with_target_is_refused_from_python_too():
    from qcoord.backtest import BacktestError

    with pytest.raises(BacktestError, match="--threshold"):
        run_backtest(rounds=2000, indicators="volatility_burst", indicator_params={"threshold": 0.1, "target": 0.3})


def test_a_string_of_strategies_is_one_name_not_letters():
    r = run_backtest(rounds=2000, seed=1, strategies="quantum")
    assert set(r.metrics_dict) == {"uncoordinated", "quantum", "oracle"}


def test_a_repeated_csv_column_is_an_error_naming_file_and_column(tmp_path):
    from qcoord import data

    path = tmp_path / "dup.csv"
    path.write_text("Date,AAA,AAA\n2020-01-01,1,2\n2020-01-02,1.1,2.1\n")
    with pytest.raises(data.DataError, match=r"dup\.csv.*'AAA'.*more than once"):
        data.load_csv(path)


def _gap_csv(path):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "Date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
            "AAA": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
            "BBB": 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
        }
    )
    frame.loc[100, "AAA"] = np.nan
    frame.to_csv(path, index=False)


def test_an_interior_gap_is_one_warning_line_and_stored_in_metrics(tmp_path, capsys):
    _gap_csv(tmp_path / "gap.csv")
    assert main(["backtest", "--csv", str(tmp_path / "gap.csv"), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    gap = [line for line in err.splitlines() if "interior rows" in line]
    assert gap == [
        "qcoord: warning: aligning ['AAA', 'BBB']: dropped 1 interior rows where not every ticker had a price"
    ], err
    assert "warnings.warn" not in err and ".py:" not in err  # no source line
    doc = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert any("dropped 1 interior rows" in w for w in doc["warnings"])


def test_game_matrix_file_errors_and_the_negative_value_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["game", "--p-xy", "missing.csv"]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["game", "--p-xy", "-0.1,0.5,0.3,0.3"]) == 2
    assert "--p-xy=-0.1" in capsys.readouterr().err


def test_an_existing_output_file_error_names_force(tmp_path, capsys):
    out = tmp_path / "prices.csv"
    out.write_text("x\n")
    assert main(["data", "--sample", "jpm_bac", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_ctrl_c_while_the_libraries_load_is_one_line(monkeypatch, capsys):
    import importlib

    cli = importlib.import_module("qcoord.backtest.cli.main")

    def interrupted(command=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["backtest"]) == 130
    err = capsys.readouterr().err
    assert err == "qcoord backtest: interrupted\n"


def test_sweep_tables_are_written_all_or_none(tmp_path, monkeypatch):
    """An interrupt while the sweep writes its tables leaves neither sweep.csv nor any figure without sweep.json."""
    from qcoord.backtest import run_sweep
    from qcoord.backtest.batch import sweep as sweep_module

    result = run_sweep(grid={"visibility": [0.9, 1.0]}, rounds=2000, seed=1, workers=0, out=tmp_path / "sweep")
    out = tmp_path / "written"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "dumps", interrupt)  # sweep.json, written last
    with pytest.raises(KeyboardInterrupt):
        result.write(out)
    assert not any(p.name.startswith("sweep") or p.name == "report.html" for p in out.iterdir()), list(out.iterdir())
    assert not list(out.glob(".*.tmp"))
    monkeypatch.undo()
    result.write(out)
    assert {"sweep.csv", "sweep.json", "report.html"} <= {p.name for p in out.iterdir()}


def test_the_progress_bar_ends_at_its_total(monkeypatch):
    """Every round the bar counts (fit, training replay, test) is in its total: it never passes 100%."""
    from qcoord.backtest import engine

    seen = {}

    class Recording(engine.Progress):
        def __init__(self, total, enabled, **kw):
            super().__init__(total, False, **kw)
            seen.update(total=total, done=0)

        def grow(self, n):
            seen["total"] += n

        def update(self, n):
            seen["done"] += n
            assert seen["done"] <= seen["total"]

    monkeypatch.setattr(engine, "Progress", Recording)
    run_backtest(rounds=6000, seed=2)
    assert seen["done"] == seen["total"]


def test_numbers_in_a_sentence_are_told_apart():
    from qcoord.backtest.output.notes import _distinct

    a, b = _distinct(-0.5931, -0.5928)
    assert a != b
    assert _distinct(-0.16, 0.60) == ("-0.16", "+0.60")


def test_the_verdict_does_not_call_a_constant_hedge_optimal_against_its_table():
    from qcoord.backtest.output.verdict import _constant_hedge_caveat

    worse = SimpleNamespace(metrics_dict={"always_hedge": {"variance_share": 1.475}})
    assert "147.5%" in _constant_hedge_caveat(worse)
    better = SimpleNamespace(metrics_dict={"always_hedge": {"variance_share": 0.6}})
    assert _constant_hedge_caveat(better) == ""


def test_identical_curves_are_drawn_so_that_none_hides_another():
    from qcoord.reports.style import identical_styles

    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [3.0, 4.0], "d": [1.0, 2.0]})
    styles = identical_styles(frame)
    assert styles["c"] == {"ls": "-", "label": "c"}
    dashes = [styles[n]["ls"] for n in "abd"]
    # three curves: 5-point dashes with 10-point gaps at offsets 0, 5 and 10 interleave without overlapping
    assert [d[1] for d in dashes] == [(5.0, 10.0)] * 3 and sorted(d[0] for d in dashes) == [0.0, 5.0, 10.0]
    assert styles["b"]["label"] == "b (= a)" and styles["d"]["label"] == "d (= a)"


def _scan_rows(uses: bool) -> pd.DataFrame:
    rows = [
        {
            "a": f"T{i}",
            "b": "Z",
            "best_local": "classical",
            "variance_ratio": 1.0,
            "variance_ratio_lo": 1.0,
            "variance_ratio_hi": 1.0,
            "q_value": 1.0,
            "uses_entanglement": uses and i < 3,
            "significant": False,
            "move_needed": 0.1 * (i + 1),
            "rounds": 500,
            "saved_classical": 0.2,
            "saved_quantum": 0.2,
            "history_rule": None,
        }
        for i in range(40)
    ]
    return pd.DataFrame(rows)


def test_a_scan_with_nothing_to_rank_says_so_and_counts_honestly():
    from qcoord.backtest.cli.commands.scan import render
    from qcoord.reports.scan import ranking_table

    doc = {"headline": "40 pairs scanned.", "grid": {}}
    text = render(doc, _scan_rows(False), 80)
    assert "top 15 of 40 pairs" in text and "no pair uses entanglement" in text and "move_needed" in text
    assert "variance_ratio" not in text and max(map(len, text.splitlines())) <= 80
    table = ranking_table(_scan_rows(False), [])
    assert len(table) == 30 and "variance ratio" not in table and "move needed" in table
    with_quantum = render(doc, _scan_rows(True), 80)
    assert "variance_ratio" in with_quantum and "top 15 of 40" in with_quantum


def test_a_scan_report_leaves_out_figures_without_data(tmp_path):
    from qcoord.backtest.batch.scan import ScanResult

    table = _scan_rows(False).assign(move_needed=np.nan, error=None)
    doc = {
        "universe": {"tickers": sorted(set(table["a"]) | {"Z"})},
        "grid": {},
        "headline": "h",
        "skipped": {},
        "errors": {},
        "config": {},
    }
    ScanResult(table, table, [], doc, doc["universe"]["tickers"]).write(tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "<img" not in page and "No heat map or distribution" in page
    assert "All 40 ranked pairs" not in page and "Top 30 of 40 ranked pairs" in page


@pytest.mark.slow
def test_the_first_run_says_it_compiles_and_the_second_does_not(tmp_path):
    """numba compiles the kernels on first use (about 30 s for a backtest on two cores): a fresh cache gets one line
    on stderr before the wait, a warm one none (``qcoord._jit``)."""
    import os

    from qcoord.backtest.cli.main import COMPILING

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    runs = [
        subprocess.run([sys.executable, "-m", "qcoord", "game"], capture_output=True, text=True, env=env, timeout=300)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stderr.splitlines() == [f"qcoord: {COMPILING}"]
    assert COMPILING not in runs[1].stderr and "game" in runs[1].stdout


def test_a_kernel_compiles_on_first_use_with_the_kernels_it_calls():
    """The deferred ``njit``: importing a module of kernels imports no numba; a kernel that calls another compiles
    both on its first call and gives numba's answer."""
    code = (
        "import sys\nfrom qcoord._jit import njit\n@njit(cache=False, inline='always')\ndef inner(x):\n"
        "    return x * 2\n@njit(nogil=True)\ndef outer(x):\n    return inner(x) + 1\n"
        "before = 'numba' in sys.modules\nprint(before, outer(20), type(inner).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "41", "CPUDispatcher"]
