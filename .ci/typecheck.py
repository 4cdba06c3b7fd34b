#!/usr/bin/env python3
"""Type-check qcoord under its installed names.

The repository keeps the folders its users asked for (backtest/, data/, strategies/, reports/), which install as
qcoord.backtest, qcoord.data, ... (pyproject.toml's package-dir). A type checker that reads the folders cannot follow
the relative imports between them, so this builds the installed layout as a tree of links in a temporary folder and
runs mypy on the package there, with the settings of pyproject.toml's [tool.mypy]. Exit code: mypy's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("backtest", "data", "strategies", "reports")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="qcoord-typecheck-") as tmp:
        package = Path(tmp) / "qcoord"
        package.mkdir()
        for path in (ROOT / "qcoord").glob("*.py"):
            (package / path.name).symlink_to(path)
        for part in PARTS:
            (package / part).symlink_to(ROOT / part, target_is_directory=True)
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "qcoord"]
        return subprocess.run(cmd, cwd=tmp).returncode


if __name__ == "__main__":
    sys.exit(main())
