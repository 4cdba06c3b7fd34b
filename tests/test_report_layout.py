"""The HTML report in a real headless Chromium (Debian's package) at phone, laptop and desktop widths: the page never
scrolls sideways, and the metrics table fits without its own scroll bar from 800 px up."""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from qcoord.backtest import run_backtest
from qcoord.backtest.output.runs import figures
from qcoord import reports

PROBE = """<script>
(function(){
  function broken(node){  // a word of this text node laid out on more than one line
    var re=/\\S+/g, m, text=node.textContent;
    while((m=re.exec(text))){var r=document.createRange();r.setStart(node,m.index);r.setEnd(node,m.index+m[0].length);
      var tops=new Set(Array.from(r.getClientRects()).map(function(x){return Math.round(x.top);}));
      if(tops.size>1){return m[0];}}
    return null;}
  var words=[], intervals=[], clipped=[];
  document.querySelectorAll('th, td').forEach(function(cell){
    var walker=document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), n;
    while((n=walker.nextNode())){var w=broken(n); if(w){words.push(w);}}
    var t=cell.textContent.trim();
    if(/^\\[.*\\]$|^-?[0-9.]+–-?[0-9.]+%$/.test(t)){var r=document.createRange();r.selectNodeContents(cell);
      var tops=new Set(Array.from(r.getClientRects()).map(function(x){return Math.round(x.top);}));
      if(tops.size>1){intervals.push(t);}}
    if(cell.scrollWidth>cell.clientWidth+1){clipped.push(t);}
  });
  var scrolls=Array.from(document.querySelectorAll('.scroll')).filter(function(d){return d.scrollWidth>d.clientWidth+1;}).length;
  var m=document.getElementById('table-metrics');
  var imgs=Array.from(document.querySelectorAll('figure img')).map(function(i){return i.clientWidth/i.naturalWidth;});
  document.title=JSON.stringify({page:document.documentElement.scrollWidth-window.innerWidth, scrolls:scrolls,
    comparison_cards:document.getElementById('table-comparison').classList.contains('cards'),
    metrics_cards:m.classList.contains('cards'),
    link_cards:document.getElementById('table-link')?document.getElementById('table-link').classList.contains('cards'):null, metrics_columns:m.querySelectorAll('thead th').length, words:words, intervals:intervals, clipped:clipped,
    figure_scale:Math.min.apply(null, imgs)});
})();
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


@pytest.fixture(scope="module", params=["signals_queue", "regime_memory", "signals_link"])
def report_file(request, tmp_path_factory):
    # the regime run has the information section (history rules, the K-level indicator, its comparison table); the
    # link run the physical link's chain and its frontier figure
    result = {"signals_queue": lambda: run_backtest("signals", rounds=4000, seed=0, fill="queue"),
              "regime_memory": lambda: run_backtest("regime", rounds=20_000, seed=0),
              "signals_link": lambda: run_backtest("signals", rounds=20_000, seed=0, link="nyse-nasdaq")}[request.param]()
    if request.param == "signals_link":
        assert result.link and "link_frontier" in figures(result)
    page = reports.run_report(result.to_dict(), figures(result)).replace("</body>", PROBE)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 800, 1400, 1920])
def test_report_fits_the_window(report_file: Path, width: int):
    """No sideways scrolling at any width (a table that does not fit becomes stacked cards), the metrics table a
    table from 800 px up with the default strategies (from 1400 px with every one), no word or interval broken over two lines, no clipped cell, and figures drawn at least
    0.55 of their natural size, so that their 10 pt text (100 dpi) is 7.6 px or more even on a phone."""
    import json

    dom = _dump_dom(report_file, width)
    probe = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    assert probe["page"] <= 0, f"the page scrolls sideways by {probe['page']} px at {width} px"
    assert probe["scrolls"] == 0, f"{probe['scrolls']} table(s) scroll sideways at {width} px"
    if width >= 1400 or (width >= 800 and probe["metrics_columns"] <= 8):  # the default strategies, 7 columns
        assert not probe["metrics_cards"], f"the metrics table does not fit as a table at {width} px"
    if width >= 800:
        assert not probe["comparison_cards"], f"the comparison table does not fit as a table at {width} px"
        assert not probe["link_cards"], f"the link's chain does not fit as a table at {width} px"
    assert probe["words"] == [], f"words broken across lines at {width} px: {probe['words'][:5]}"
    assert probe["intervals"] == [], f"intervals broken across lines at {width} px: {probe['intervals'][:5]}"
    assert probe["clipped"] == [], f"clipped cells at {width} px: {probe['clipped'][:5]}"
    assert probe["figure_scale"] >= 0.55, f"figures shrunk to {probe['figure_scale']:.2f} of their size at {width} px"


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
    from qcoord.backtest.output import sweeps

    u = data.sample_universe("pypfopt", ["JPM", "BAC", "GM", "T"]).between(pd.Timestamp("2018-01-01"), None)
    jobs = [(a, b, {}) for a, b in scan.select_pairs(u).pairs]
    out = tmp_path_factory.mktemp("scan")
    rows, _ = scan.execute(u, RunConfig(), jobs, out, cluster.LocalLoop(), 2)
    table = scan.fdr(pd.DataFrame([{k: v for k, v in r.items() if k != "equity"} for r in rows]))
    ranked = scan.ranking(table)
    doc = {"universe": {"tickers": u.tickers}, "pairs": len(jobs), "skipped": {}, "errors": {}, "grid": {},
           "fdr": {"level": 0.05, "tests": len(jobs), "survivors": 0}, "entanglement_used": 0, "config": {},
           "jobs": len(jobs), "computed": len(jobs), "reused": 0}
    doc["headline"] = sweeps.scan_headline(doc)  # as run_scan writes it into scan.json
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
