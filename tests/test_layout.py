"""The card's layout: package boundaries, the console script and ``python -m backtest``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from backtest.cli import COMMANDS
from tests.conftest import ROOT

PACKAGES = ("backtest", "strategies", "data", "reports")
INDEPENDENT = ("strategies", "data", "reports")


def _imported_top_levels(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", INDEPENDENT)
def test_data_strategies_reports_import_none_of_each_other(package):
    others = set(PACKAGES) - {package}
    for path, names in _imported_top_levels(package).items():
        assert not names & others, f"{path} imports {sorted(names & others)}"


def test_console_script_lists_subcommands():
    out = subprocess.run(["qcoord", "--help"], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert name in out


@pytest.mark.slow
def test_python_dash_m_backtest_is_the_same_cli():
    a = subprocess.run([sys.executable, "-m", "backtest", "--help"], capture_output=True, text=True, check=True).stdout
    b = subprocess.run(["qcoord", "--help"], capture_output=True, text=True, check=True).stdout
    assert a == b


@pytest.mark.slow
def test_data_command_on_shipped_sample_and_synthetic(tmp_path):
    out = subprocess.run(["qcoord", "data", "--sample", "jpm_bac"], capture_output=True, text=True, check=True).stdout
    assert "JPM / BAC" in out and "periods per year 252" in out
    target = tmp_path / "pair.csv"
    subprocess.run(["qcoord", "data", "--rounds", "500", "--seed", "3", "--out", str(target), "--json"],
                   capture_output=True, text=True, check=True)
    import data

    md = data.load_csv(target, tickers=["X", "Y"])
    assert len(md) == 501


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "--csv", "missing.csv"], "missing.csv: file not found"),
        (["data", "--p-a", "1.5"], "--p-a: 1.5 is out of range [0, 1]"),
        (["data", "--sample", "jpm_bac", "--tickers", "JPM", "XXX"], "XXX"),
        (["nosuch"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path):
    res = subprocess.run(["qcoord", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
