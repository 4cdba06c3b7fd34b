"""The card's layout: package boundaries, the console script and ``python -m qcoord``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from qcoord.backtest.cli.main import COMMANDS
from tests.conftest import ROOT

PACKAGES = ("backtest", "strategies", "data", "reports")
INDEPENDENT = ("strategies", "data", "reports")


def _imported_parts(package: str) -> dict[str, set[str]]:
    """Per module of ``package``: every qcoord part (backtest, data, ...) and bare top-level name it imports, with
    relative imports resolved (``from ..reports import x`` in qcoord.data is qcoord.reports)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        here = ["qcoord", *path.relative_to(ROOT).with_suffix("").parts]  # qcoord.data.files
        names = set()
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name.split(".") for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level] if node.level else []
                mod = base + (node.module.split(".") if node.module else [])
                targets = [mod + [a.name] for a in node.names] if node.module is None else [mod]
            for t in targets:
                names.add(t[1] if t[0] == "qcoord" and len(t) > 1 else t[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", INDEPENDENT)
def test_data_strategies_reports_import_none_of_each_other(package):
    others = set(PACKAGES) - {package}
    for path, names in _imported_parts(package).items():
        assert not names & others, f"{path} imports {sorted(names & others)}"


def test_the_boundary_check_sees_relative_imports():
    """The check above would pass vacuously if it missed relative imports, which is how the parts import each other."""
    parts = _imported_parts("backtest")
    assert "data" in parts["backtest/engine.py"] and "strategies" in parts["backtest/engine.py"]
    assert "reports" in parts["backtest/output/runs.py"]


def test_console_script_lists_subcommands():
    out = subprocess.run(["qcoord", "--help"], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert name in out


@pytest.mark.slow
def test_python_dash_m_qcoord_is_the_same_cli():
    a = subprocess.run([sys.executable, "-m", "qcoord", "--help"], capture_output=True, text=True, check=True).stdout
    b = subprocess.run(["qcoord", "--help"], capture_output=True, text=True, check=True).stdout
    assert a == b


@pytest.mark.slow
def test_data_command_on_shipped_sample_and_synthetic(tmp_path):
    out = subprocess.run(["qcoord", "data", "--sample", "jpm_bac"], capture_output=True, text=True, check=True).stdout
    assert "JPM / BAC" in out and "periods per year 252" in out
    target = tmp_path / "pair.csv"
    subprocess.run(["qcoord", "data", "--rounds", "500", "--seed", "3", "--out", str(target), "--json"],
                   capture_output=True, text=True, check=True)
    from qcoord import data

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


def _imports_of(path):
    """(module level, module name, imported names) of every from-import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(n.level, n.module, [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]


def test_no_command_imports_another_command():
    """Helpers several commands share live in backtest/cli/arguments.py."""
    commands = {p.stem for p in (ROOT / "backtest" / "cli" / "commands").glob("*.py")} - {"__init__"}
    for path in (ROOT / "backtest" / "cli" / "commands").glob("*.py"):
        for level, module, names in _imports_of(path):
            assert not (level == 1 and (module in commands or (module is None and set(names) & commands))), (
                f"{path.name} imports command {module or names}")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_a_private_name_from_another(package):
    for path in (ROOT / package).rglob("*.py"):
        for level, module, names in _imports_of(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{path.relative_to(ROOT)} imports {private} from {'.' * level}{module or ''}"


STAGES = ("feed", "players", "fills", "book", "analysis", "output", "batch", "cli")


def test_backtest_is_grouped_by_pipeline_stage():
    """At most about eight modules at backtest/'s top level; every stage is a subpackage whose docstring says
    what the stage does."""
    top = sorted(p.name for p in (ROOT / "backtest").glob("*.py") if not p.name.startswith("__"))
    assert len(top) <= 8, top
    for stage in STAGES:
        init = ROOT / "backtest" / stage / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 15, f"backtest/{stage}/__init__.py needs a docstring that says what it does"


def test_one_module_per_file_name():
    """No two modules of the engine share a name (there were two kernels.py): a traceback or an import says which
    one. Commands are named for the command they implement, beside the library module of the same job."""
    engine = [p for p in (ROOT / "backtest").rglob("*.py") if "commands" not in p.parts and not p.name.startswith("__")]
    names = [p.stem for p in engine]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    kernels = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("kernels.py")]
    assert len(kernels) <= 1, kernels


# Sentences (or their distinctive parts) the summary, the report and the scan all show: each is written in one
# module of backtest/output/ (verdict, notes, summary, sweeps), and the others read it from there.
SENTENCES = ("lag-1 autocorrelation A", "readings do not persist", "One Bell pair is worth", "tickers scanned",
             "survives the false-discovery control", "would beat the best classical rule", "x = y in",
             "Lowest test book variance", "not significantly different")


@pytest.mark.parametrize("sentence", SENTENCES)
def test_each_sentence_is_written_in_one_module(sentence):
    found = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
             if sentence in p.read_text()]
    assert len(found) == 1 and found[0].startswith("backtest/output/"), f"{sentence!r} is written in {found}"
