"""The HTML report in a real headless Chromium (Debian's package) at phone, laptop and desktop widths: the page never
scrolls sideways, and the metrics table fits without its own scroll bar from 800 px up."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.output.runs import figures
from qcoord import reports

PROBE = """<script>
const m = document.getElementById('table-metrics');
document.title = [document.documentElement.scrollWidth - window.innerWidth, m.scrollWidth - m.clientWidth].join(',');
</script></body>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    return path


def _dump_dom(page: Path, width: int) -> str:
    """The page's DOM after its scripts ran, in headless Chromium at ``width`` px."""
    chromium = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={width},1200", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120).stdout


@pytest.fixture(scope="module", params=["signals_queue", "regime_memory"])
def report_file(request, tmp_path_factory):
    # the regime run has the information section (history rules, the K-level indicator, its comparison table)
    result = (run_backtest("signals", rounds=4000, seed=0, fill="queue") if request.param == "signals_queue"
              else run_backtest("regime", rounds=20_000, seed=0))
    page = reports.run_report(result.to_dict(), figures(result)).replace("</body>", PROBE)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 800, 1400, 1920])
def test_report_fits_the_window(report_file: Path, width: int):
    dom = _dump_dom(report_file, width)
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    page_overflow, table_overflow = (int(v) for v in title.split(","))
    assert page_overflow <= 0, f"the page scrolls sideways by {page_overflow} px at {width} px"
    if width >= 800:
        assert table_overflow <= 0, f"the metrics table overflows by {table_overflow} px at {width} px"


SCAN_PROBE = """<script>
document.title = String(document.documentElement.scrollWidth - window.innerWidth);
</script></body>"""


@pytest.fixture(scope="module")
def scan_report_file(tmp_path_factory):
    import pandas as pd

    from qcoord import data
    from qcoord.backtest.batch import cluster
    from qcoord.backtest.batch import scan
    from qcoord.backtest.config import RunConfig
    from qcoord.backtest.output import verdict

    u = data.sample_universe("pypfopt", ["JPM", "BAC", "GM", "T"]).between(pd.Timestamp("2018-01-01"), None)
    jobs = [(a, b, {}) for a, b in scan.select_pairs(u).pairs]
    out = tmp_path_factory.mktemp("scan")
    rows, _ = scan.execute(u, RunConfig(), jobs, out, cluster.LocalLoop(), 2)
    table = scan.fdr(pd.DataFrame([{k: v for k, v in r.items() if k != "equity"} for r in rows]))
    ranked = scan.ranking(table)
    doc = {"universe": {"tickers": u.tickers}, "pairs": len(jobs), "skipped": {}, "errors": {}, "grid": {},
           "fdr": {"level": 0.05, "tests": len(jobs), "survivors": 0}, "entanglement_used": 0, "config": {},
           "jobs": len(jobs), "computed": len(jobs), "reused": 0}
    doc["headline"] = verdict.scan_headline(doc)  # as run_scan writes it into scan.json
    figs = {"scan_heatmap": (reports.to_png(reports.scan_heatmap(table, u.tickers)), "heat map"),
            "scan_distribution": (reports.to_png(reports.scan_distribution(table)), "distribution"),
            "scan_top_pairs": (reports.to_png(reports.scan_curves({f"{r['a']}/{r['b']}": r["equity"]
                                                                   for r in rows[:2]})), "curves")}
    path = out / "report.html"
    path.write_text(reports.scan_report(doc, ranked, figs).replace("</body>", SCAN_PROBE))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1400])
def test_scan_report_fits_the_window(scan_report_file: Path, width: int):
    dom = _dump_dom(scan_report_file, width)
    overflow = int(dom.split("<title>", 1)[1].split("</title>", 1)[0])
    assert overflow <= 0, f"the scan report scrolls sideways by {overflow} px at {width} px"
    assert "Ranking" in dom and dom.count("<img") == 3
