"""A fill model is one file plus its tests: defining it registers it, its options reach the command line and
config.toml, its describe() writes the money line, and nothing else names it (issue 45)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from qcoord.backtest import BiasFill, run_backtest
from qcoord.backtest.fills import FILL_MODELS, FillModel, Fills
from qcoord.backtest.fills.base import outputs
from qcoord.backtest.options import option
from tests.conftest import ROOT

# The whole third model: what a contributor writes in backtest/fills/<name>.py (CONTRIBUTING.md).
THIRD_MODEL = '''"""A third fill model: a position of +-stake over each round, no spread income, no costs."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option
from .base import FillModel, Fills, outputs


@dataclass(frozen=True)
class StakeFill(FillModel):
    """+-``stake`` (currency) over each round by the quoting order; nothing else."""

    stake: float = option(500.0, help="stake fill: position a quoting order holds", unit="currency", lo=0,
                          open_lo=True, finite=True)
    name = "stake"

    def describe(self) -> str:
        return f"stake fill: +-{self.stake:g} held over each round, no income, no costs"

    def book_size(self, prices):
        return 2.0 * self.stake

    def game_exposure(self, prices, minutes):
        return self.stake

    def pnl(self, bid_first, market, uniforms, state, out=None):
        pnl, costs = outputs(out, bid_first.size, "pnl", "costs")
        pnl[:] = (2.0 * bid_first - 1.0) * self.stake * market.returns
        costs[:] = 0.0
        return Fills(pnl, None, state, 0.0, costs)
'''


def test_a_model_defined_anywhere_plays_and_describes_itself():
    """In process: a model defined here (the registry forgets it afterwards) plays a run; the money line is its own
    describe(), and the P&L is exactly its rule."""

    @dataclass(frozen=True)
    class Doubling(FillModel):
        size: float = option(100.0, help="doubling fill: size", lo=0, open_lo=True)
        name = "doubling_test"

        def describe(self) -> str:
            return f"doubling fill of {self.size:g}"

        def book_size(self, prices):
            return 2.0 * self.size

        def game_exposure(self, prices, minutes):
            return self.size

        def pnl(self, bid_first, market, uniforms, state, out=None):
            pnl, costs = outputs(out, bid_first.size, "pnl", "costs")
            pnl[:] = (2.0 * bid_first - 1.0) * 2.0 * self.size * market.returns
            costs[:] = 0.0
            return Fills(pnl, None, state, 0.0, costs)

    try:
        assert FILL_MODELS["doubling_test"] is Doubling
        r = run_backtest("signals", rounds=4_000, seed=1, fill=Doubling(size=50.0), strategies=["classical", "quantum"])
        assert r.to_dict()["text"]["money_model"].startswith("doubling fill of 50")
        assert r.config["resolved"]["fill"] == {"name": "doubling_test", "size": 50.0}
        # the same rule as a bias fill at twice the size with no income and no costs: the same book, round by round
        same = run_backtest(
            "signals",
            rounds=4_000,
            seed=1,
            strategies=["classical", "quantum"],
            fill=BiasFill(exposure=100.0, turnover=0.0, requeue_loss=0.0),
        )
        for name in ("classical", "quantum", "uncoordinated"):
            assert np.array_equal(r.series[name]["pnl"], same.series[name]["pnl"])
        assert r.metrics_dict["quantum"]["pnl_costs"] == 0.0
    finally:
        FILL_MODELS.pop("doubling_test", None)


@pytest.mark.slow
def test_a_third_model_is_one_new_file(tmp_path):
    """A copy of the package with one file added, backtest/fills/stake.py, and nothing else changed: the command
    line offers --fill stake and --stake, the run plays it, config.toml keeps its option, and the summary's money
    line is the model's own."""
    tree = tmp_path / "tree" / "qcoord"
    shutil.copytree(ROOT / "qcoord", tree, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "backtest", tree / "backtest", ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("data", "strategies", "reports"):
        (tree / part).symlink_to(ROOT / part, target_is_directory=True)
    (tree / "backtest" / "fills" / "stake.py").write_text(THIRD_MODEL)
    added = sorted(
        str(p.relative_to(tree / "backtest"))
        for p in (tree / "backtest").rglob("*.py")
        if not (ROOT / "backtest" / p.relative_to(tree / "backtest")).exists()
    )
    assert added == ["fills/stake.py"]
    changed = [
        str(p)
        for p in (tree / "backtest").rglob("*.py")
        if str(p.relative_to(tree / "backtest")) not in added
        and p.read_bytes() != (ROOT / "backtest" / p.relative_to(tree / "backtest")).read_bytes()
    ]
    assert changed == []
    env = {"PYTHONPATH": str(tree.parent), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(tmp_path)}
    help_text = subprocess.run(
        [sys.executable, "-m", "qcoord", "backtest", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert "stake" in help_text and "--stake" in help_text
    out = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "qcoord",
            "backtest",
            "--fill",
            "stake",
            "--stake",
            "250",
            "--rounds",
            "3000",
            "--strategies",
            "classical,quantum",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    summary = " ".join(res.stdout.split())
    assert "money model: stake fill: +-250 held over each round, no income, no costs" in summary
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["config"]["fill"]["name"] == "stake" and doc["config"]["fill"]["stake"] == 250.0
    assert doc["strategies"]["quantum"]["pnl_spread_income"] == 0.0
    assert 'name = "stake"' in (out / "config.toml").read_text()
