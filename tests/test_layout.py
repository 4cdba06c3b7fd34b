"""The card's layout: package boundaries, the console script and ``python -m qcoord``."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from qcoord.backtest.cli.main import COMMANDS
from tests.conftest import ROOT, qcoord, qcoord_process

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
    out = qcoord_process("data", "--sample", "jpm_bac").stdout  # the program itself, once
    assert "JPM / BAC" in out and "periods per year 252" in out
    target = tmp_path / "pair.csv"
    assert qcoord("data", "--rounds", "500", "--seed", "3", "--out", str(target), "--json").returncode == 0
    from qcoord import data

    md = data.load_csv(target, tickers=["X", "Y"])
    assert len(md) == 501


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
    res = qcoord(*argv, cwd=tmp_path)
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
                f"{path.name} imports command {module or names}"
            )


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
SENTENCES = (
    "lag-1 autocorrelation A",
    "readings do not persist",
    "One Bell pair is worth",
    "tickers scanned",
    "survives the false-discovery control",
    "would beat the best classical rule",
    "x = y in",
    "Lowest test book variance",
    "not significantly different",
)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_each_sentence_is_written_in_one_module(sentence):
    found = [
        str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if sentence in p.read_text()
    ]
    assert len(found) == 1 and found[0].startswith("backtest/output/"), f"{sentence!r} is written in {found}"


# -- the import graph: no cycles, stages import only stages before them -------------------------------------------
def _module_name(path, root) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    parts = parts[1:] if parts[0] == "qcoord" else parts  # qcoord/_lazy.py is qcoord._lazy
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["qcoord", *parts])


def import_graph(root, packages=(*PACKAGES, "qcoord")) -> dict[str, set[str]]:
    """Module -> the qcoord modules it imports when it runs: module-level and function-level imports, relative ones
    resolved against the installed names (qcoord.backtest is backtest/), ``from pkg import submodule`` as that
    submodule; imports under ``if TYPE_CHECKING:`` are left out (they never run)."""
    files = {_module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                mod = ".".join(base + (node.module.split(".") if node.module else []))
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), i.e. the import cycles."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules():
    assert cycles(import_graph(ROOT)) == []


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    """The check above must be able to fail: two modules importing each other, one of them inside a function and
    relatively, as html and link once did."""
    pkg = tmp_path / "reports"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import g\n")
    graph = import_graph(tmp_path, packages=("reports",))
    assert cycles(graph) == [["qcoord.reports.a", "qcoord.reports.b"]]
    assert graph["qcoord.reports.c"] == set()


# backtest's stages in pipeline order (docs/architecture.md): a module may import its own stage and earlier ones,
# the statistics toolkit below them all and the base modules, never a later stage. The run's assembly (config,
# overrides, plan, engine) sits above the output stage and below the batch runner and the command line.
LAYERS = {
    "errors": 0,
    "options": 0,
    "streams": 0,
    "stats": 1,
    "feed": 2,
    "players": 3,
    "fills": 4,
    "book": 5,
    "analysis": 6,
    "output": 7,
    "config": 8,
    "overrides": 8,
    "plan": 8,
    "engine": 8,
    "balance": 8,
    "batch": 9,
    "cli": 10,
    "__main__": 10,
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[2]) if parts[:2] == ["qcoord", "backtest"] and len(parts) > 2 else None


def test_each_stage_imports_only_earlier_stages():
    graph = import_graph(ROOT, packages=("backtest",))
    assert all(_layer(m) is not None for m in graph if m != "qcoord.backtest"), "a backtest module without a layer"
    upward = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        for d in deps
        if _layer(m) is not None and _layer(d) is not None and _layer(d) > _layer(m)
    ]
    assert upward == []


def test_no_module_of_the_engine_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "backtest").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert long == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_a_folder_imported_by_its_name_says_what_to_import(package):
    """From a checkout, ``import backtest`` would fail deep in a relative import; it says what to import instead."""
    res = subprocess.run([sys.executable, "-c", f"import {package}"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        f"ImportError: {package}/ installs as qcoord.{package}: `import qcoord.{package}` (or `import qcoord`) after "
        "`pip install -e .` (README)"
    )


def test_the_version_is_written_once():
    """pyproject.toml's version, as installed, is the one every part reports."""
    import tomllib
    from importlib.metadata import version

    import qcoord
    from qcoord import backtest

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert qcoord.__version__ == backtest.__version__ == version("qcoord") == declared
    written = [
        str(p.relative_to(ROOT))
        for pkg in (*PACKAGES, "qcoord")
        for p in (ROOT / pkg).rglob("*.py")
        if f'"{declared}"' in p.read_text()
    ]
    assert written == []
