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
from qcoord.backtest.output.runs import figure_jobs, figures
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
  var scrolls=Array.from(document.querySelectorAll('.scroll'))
    .filter(function(d){return d.scrollWidth>d.clientWidth+1;}).length;
  var m=document.getElementById('table-metrics');
  var imgs=Array.from(document.querySelectorAll('figure img')).map(function(i){return i.clientWidth/i.naturalWidth;});
  var comparison=document.getElementById('table-comparison');
  var link=document.getElementById('table-link');
  window.top.document.title=JSON.stringify({page:document.documentElement.scrollWidth-window.innerWidth,
    scrolls:scrolls,
    comparison_cards:comparison?comparison.classList.contains('cards'):null,
    metrics_cards:m.classList.contains('cards'),
    link_cards:link?link.classList.contains('cards'):null,
    metrics_columns:m.querySelectorAll('thead th').length, words:words, intervals:intervals, clipped:clipped,
    figure_scale:Math.min.apply(null, imgs)});
})();
</script></body>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    return path


MIN_WINDOW = 500  # px: headless Chromium never makes its window narrower (a 390 px window is 500 px wide)


def _framed(page: Path, width: int, height: int = 1200) -> Path:
    """A page showing ``page`` in an iframe exactly ``width`` px wide: its viewport, media queries and layout are
    those of a ``width`` px window. The iframe's document is its srcdoc, of the host's origin, so a probe in it
    writes the result into the host's title (``window.top.document.title``), which --dump-dom shows."""
    host = page.with_name(f"{page.stem}.{width}px.html")
    host.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><style>body{margin:0}iframe{border:0;"
        f"display:block}}</style></head><body><iframe width='{width}' height='{height}' srcdoc='"
        + html.escape(page.read_text(), quote=True)
        + "'></iframe></body></html>"
    )
    return host


def _chromium_run(page: Path, window: tuple[int, int], *extra: str) -> subprocess.CompletedProcess:
    chromium = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                *extra,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )


def _dump_dom(page: Path, width: int) -> str:
    """The page's DOM after its scripts ran, in headless Chromium at ``width`` px (in an iframe of that width when
    the window cannot be that narrow)."""
    if width < MIN_WINDOW:
        page = _framed(page, width)
    return _chromium_run(page, (max(width, MIN_WINDOW), 1200), "--dump-dom").stdout


@pytest.fixture(scope="module", params=["signals_queue", "regime_memory", "signals_link"])
def report_file(request, tmp_path_factory):
    # the regime run has the information section (history rules, the K-level indicator, its comparison table); the
    # link run the physical link's chain and its frontier figure
    result = {
        "signals_queue": lambda: run_backtest("signals", rounds=4000, seed=0, fill="queue"),
        "regime_memory": lambda: run_backtest("regime", rounds=20_000, seed=0),
        "signals_link": lambda: run_backtest("signals", rounds=20_000, seed=0, link="nyse-nasdaq"),
    }[request.param]()
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
    table from 800 px up with the default strategies (from 1400 px with every one), no word or interval broken over
    two lines, no clipped cell, and figures drawn at least 0.55 of their natural size, so that their 10 pt text
    (100 dpi) is 7.6 px or more even on a phone."""
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
window.top.document.title = String(document.documentElement.scrollWidth - window.innerWidth);
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
    doc = {
        "universe": {"tickers": u.tickers},
        "pairs": len(jobs),
        "skipped": {},
        "errors": {},
        "grid": {},
        "fdr": {"level": 0.05, "tests": len(jobs), "survivors": 0},
        "entanglement_used": 0,
        "config": {},
        "jobs": len(jobs),
        "computed": len(jobs),
        "reused": 0,
    }
    doc["headline"] = sweeps.scan_headline(doc)  # as run_scan writes it into scan.json
    figs = {
        "scan_heatmap": (reports.to_png(reports.scan_heatmap(table, u.tickers)), "heat map"),
        "scan_distribution": (reports.to_png(reports.scan_distribution(table)), "distribution"),
        "scan_top_pairs": (
            reports.to_png(reports.scan_curves({f"{r['a']}/{r['b']}": r["equity"] for r in rows[:2]})),
            "curves",
        ),
    }
    path = out / "report.html"
    path.write_text(reports.scan_report(doc, ranked, figs).replace("</body>", SCAN_PROBE))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1400])
def test_scan_report_fits_the_window(scan_report_file: Path, width: int):
    dom = _dump_dom(scan_report_file, width)
    overflow = int(dom.split("<title>", 1)[1].split("</title>", 1)[0])
    assert overflow <= 0, f"the scan report scrolls sideways by {overflow} px at {width} px"
    dom = html.unescape(dom)  # the report is the srcdoc of a frame 390 px wide
    assert "Ranking" in dom and dom.count("<img") == 3


# -- every figure of the backtest, scan, sweep and link reports: no text over text, nothing clipped (issue 44) ----
def drawn_texts(fig) -> list[tuple[str, object]]:
    """(text, bounding box in pixels) of every piece of text matplotlib draws in ``fig``: tick labels, axis labels,
    titles, legends, annotations (recorded from the renderer, so only what is drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    seen = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip():
            seen.append((s, mtext.get_window_extent(renderer)))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        renderer.draw_text = draw_text
    return seen


def text_problems(fig) -> list[str]:
    """Texts that overlap another by more than a pixel each way, and texts reaching outside the figure."""
    import itertools

    texts, box = drawn_texts(fig), fig.bbox
    out = [
        f"clipped: {s!r}"
        for s, b in texts
        if b.x0 < box.x0 - 1 or b.y0 < box.y0 - 1 or b.x1 > box.x1 + 1 or b.y1 > box.y1 + 1
    ]
    for (s1, b1), (s2, b2) in itertools.combinations(texts, 2):
        w, h = min(b1.x1, b2.x1) - max(b1.x0, b2.x0), min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if w > 1 and h > 1:
            out.append(f"overlap: {s1!r} and {s2!r} ({w:.0f} x {h:.0f} px)")
    return out


def test_the_checker_sees_overlapping_and_clipped_text():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.set_xticks([0, 0.01], ["10000", "20000"])
    ax.set_title("a title far too long for a figure three inches wide, so it runs off both sides")
    problems = text_problems(fig)
    plt.close(fig)
    assert any(p.startswith("overlap: '10000' and '20000'") for p in problems)
    assert any(p.startswith("clipped: 'a title") for p in problems)


@pytest.fixture(scope="module")
def every_figure():
    """{report: {figure name: function drawing it}}: a backtest of each kind (synthetic, the regime pair with the
    information section, the queue fill, a physical link, the JPM/BAC sample where quantum is the classical rule), a
    scan with and without entanglement, and sweeps along visibility, along distance with a link, and along a
    decision rate in the tens of thousands."""
    from qcoord import data
    from qcoord.backtest import run_scan, run_sweep

    out = {"backtest": {}, "link": {}, "scan": {}, "sweep": {}}
    runs = {
        "signals": ("signals", {"rounds": 20_000}),
        "regime": ("regime", {"rounds": 20_000}),
        "queue": ("signals", {"rounds": 4000, "fill": "queue"}),
        "jpm_bac": (data.load_sample("jpm_bac"), {}),
        "link": ("signals", {"rounds": 20_000, "link": "nyse-nasdaq"}),
    }
    for name, (source, kw) in runs.items():
        result = run_backtest(source, seed=0, **kw)
        for fig, make in figure_jobs(result).items():
            out["link" if name == "link" else "backtest"][f"{name}/{fig}"] = make
    import dataclasses

    from qcoord.backtest.batch.scan import ranking

    scanned = run_scan(data.sample_universe("pypfopt", ["JPM", "BAC", "GM", "T"]), workers=0)
    figs, _ = scanned.figures()  # no pair uses entanglement: how far each is from paying
    out["scan"] |= {f"distance/{fig}": make for fig, (make, _) in figs.items()}
    # the figures of pairs that use entanglement (variance ratios, the top pairs' curves), drawn from the same rows
    # with three pairs marked as using it: only the drawing is under test here
    table = scanned.table.copy()
    table.loc[table.index[:3], "uses_entanglement"] = True
    figs, _ = dataclasses.replace(scanned, table=table, ranking=ranking(table)).figures()
    assert {"scan_heatmap", "scan_distribution", "scan_top_pairs"} <= set(figs)
    out["scan"] |= {f"ratios/{fig}": make for fig, (make, _) in figs.items()}
    sweeps = {
        "visibility": ({"visibility": [1, 0.9, 0.8]}, {}),
        "distance": ({"distance_km": [5, 10, 20, 40, 80]}, {"link": "nyse-nasdaq"}),
        "decisions": ({"link_decision_rate": [1000, 10_000, 20_000, 40_000]}, {"link": "nyse-nasdaq"}),
    }
    for name, (grid, kw) in sweeps.items():
        figs = run_sweep(grid=grid, rounds=5000, workers=0, **kw).figures()
        out["link" if "link" in kw else "sweep"] |= {f"{name}/{fig}": make for fig, (make, _) in figs.items()}
    return out


def _screenshot(page: Path, png: Path, width: int, height: int) -> None:
    """A screenshot of ``page`` laid out ``width`` px wide, ``height`` px of it (cropped to the page's own width)."""
    from PIL import Image

    framed = _framed(page, width, height) if width < MIN_WINDOW else page
    _chromium_run(framed, (max(width, MIN_WINDOW), height), f"--screenshot={png}")
    with Image.open(png) as shot:
        shot.crop((0, 0, width, height)).save(png)


@pytest.mark.slow
@pytest.mark.parametrize("report", ["backtest", "link", "scan", "sweep"])
def test_every_figure_reads_at_390_px(every_figure, report, tmp_path):
    """Every figure of the report, drawn as the report draws it: no text over another (tick labels, titles, labels,
    legends: their bounding boxes from matplotlib) and none reaching outside the figure; then all of them in a page
    as the report shows them, screenshotted at 390 px (QCOORD_SCREENSHOTS=DIR keeps the screenshots), each image at
    least 0.55 of its natural size so that its 10 pt text is 7.6 px or more."""
    import json
    import os

    import matplotlib.pyplot as plt

    from qcoord.reports.figures import to_png
    from qcoord.reports.markup import CSS, figure

    found, pngs = {}, {}
    for name, make in every_figure[report].items():
        fig = make()
        problems = text_problems(fig)
        if problems:
            found[name] = problems[:4]
        pngs[name] = to_png(fig)
        plt.close("all")
    assert not found, found
    probe = (
        "<script>window.top.document.title=JSON.stringify([document.documentElement.scrollHeight, Array.from("
        "document.querySelectorAll('figure img')).map(function(i){return [i.clientWidth, i.clientWidth/"
        "i.naturalWidth];})]);</script>"
    )
    page = tmp_path / f"{report}.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-"
        f"width, initial-scale=1'><style>{CSS}</style></head><body>"
        + "".join(figure(n.replace("/", "-"), png, n) for n, png in pngs.items())
        + probe
        + "</body></html>"
    )
    height, sizes = json.loads(html.unescape(_dump_dom(page, 390).split("<title>", 1)[1].split("</title>", 1)[0]))
    assert len(sizes) == len(pngs) and all(w <= 390 and scale >= 0.55 for w, scale in sizes), sizes
    keep = Path(os.environ.get("QCOORD_SCREENSHOTS") or tmp_path)
    keep.mkdir(parents=True, exist_ok=True)
    shot = keep / f"{report}-390px.png"
    _screenshot(page, shot, 390, height)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(shot.read_bytes()[16:20], "big") == 390
