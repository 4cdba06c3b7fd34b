"""The HTML report in a real headless Chromium (Debian's package) at phone, laptop and desktop widths: the page never
scrolls sideways, and the metrics table fits without its own scroll bar from 800 px up."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from backtest import run_backtest
from backtest.runs import figures
import reports

PROBE = """<script>
const m = document.getElementById('table-metrics');
document.title = [document.documentElement.scrollWidth - window.innerWidth, m.scrollWidth - m.clientWidth].join(',');
</script></body>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    return path


@pytest.fixture(scope="module", params=["signals_queue", "regime_memory"])
def report_file(request, tmp_path_factory):
    # the regime run has the information section (memory rules, the K-level indicator, its comparison table)
    result = (run_backtest("signals", rounds=4000, seed=0, fill="queue") if request.param == "signals_queue"
              else run_backtest("regime", rounds=20_000, seed=0))
    page = reports.run_report(result.to_dict(), figures(result)).replace("</body>", PROBE)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 800, 1400, 1920])
def test_report_fits_the_window(report_file: Path, width: int):
    chromium = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={width},1200", "--dump-dom", report_file.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    page_overflow, table_overflow = (int(v) for v in title.split(","))
    assert page_overflow <= 0, f"the page scrolls sideways by {page_overflow} px at {width} px"
    if width >= 800:
        assert table_overflow <= 0, f"the metrics table overflows by {table_overflow} px at {width} px"
