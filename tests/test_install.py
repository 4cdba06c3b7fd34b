"""One installed package, ``qcoord``: a user's own ``data.py``, ``backtest.py``, ``reports.py`` or ``strategies.py``
in the working directory breaks nothing, in Python or on the command line, in the editable install README uses and
in a wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

USER_FILES = ("data", "backtest", "reports", "strategies")
SCRIPT = """
import qcoord
from qcoord import data
from qcoord.backtest import run_backtest
r = run_backtest("signals", rounds=3000, seed=1, progress=False)
md = qcoord.load_sample("jpm_bac")
print(qcoord.__file__, data.__file__, r.n_rounds, len(md))
"""


def _user_folder(tmp_path: Path) -> Path:
    """A working directory with the module names a quant project often has, each failing loudly if imported."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in USER_FILES:
        (folder / f"{name}.py").write_text(f"raise RuntimeError('the user\\'s own {name}.py was imported')\n")
    return folder


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_a_users_own_modules_break_nothing_in_python_or_on_the_command_line(tmp_path):
    cwd = _user_folder(tmp_path)
    res = _run([sys.executable, "-c", SCRIPT], cwd)
    assert res.returncode == 0, res.stderr
    qcoord_file, data_file, rounds, rows = res.stdout.split()
    assert Path(qcoord_file).resolve() == (ROOT / "qcoord" / "__init__.py").resolve()  # the editable install
    assert Path(data_file).resolve() == (ROOT / "data" / "__init__.py").resolve()
    assert int(rounds) == 3000 and int(rows) > 8000
    res = _run(["qcoord", "backtest", "--rounds", "3000", "--out", "r"], cwd)
    assert res.returncode == 0, res.stderr
    assert (cwd / "r" / "metrics.json").is_file()
    res = _run([sys.executable, "-m", "qcoord", "data", "--sample", "jpm_bac"], cwd)
    assert res.returncode == 0 and "JPM / BAC" in res.stdout, res.stderr


@pytest.mark.slow
def test_a_wheel_installs_the_same_package(tmp_path):
    """Build the wheel, unpack it into a folder of its own and run the same script against it (dependencies from
    this environment): the package data (the shipped sample) is in it, and the user's files break nothing."""
    src = tmp_path / "src"  # a copy of the sources: building in the repository would reuse a stale build/ folder
    for part in ("qcoord", "backtest", "data", "strategies", "reports"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path / "wheel"
    res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)], tmp_path)
    assert res.returncode == 0, res.stderr
    (wheel,) = out.glob("qcoord-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "qcoord/data/samples/pypfopt_adjclose_panel_1990-2024.csv" in names
    assert {n.split("/")[0] for n in names} == {
        "qcoord",
        wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info",
    }  # nothing else at the top level
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    cwd = _user_folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = _run([sys.executable, "-c", SCRIPT], cwd, env)
    assert res.returncode == 0, res.stderr
    qcoord_file, data_file, _, _ = res.stdout.split()
    assert Path(qcoord_file).is_relative_to(site) and Path(data_file).is_relative_to(site)


def test_import_qcoord_is_the_public_api_and_loads_nothing_heavy():
    code = (
        "import sys, qcoord; heavy = [m for m in ('qiskit', 'matplotlib', 'dask', 'numba') if m in sys.modules];"
        "print(heavy, sorted(qcoord.__all__)[:3], callable(qcoord.run_backtest), qcoord.Noise.__module__)"
    )
    res = _run([sys.executable, "-c", code], ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("[] ") and "True qcoord.strategies" in res.stdout
