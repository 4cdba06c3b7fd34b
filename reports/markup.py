"""HTML markup every report shares: the style sheet, tables that never scroll sideways, embedded figures.

A leaf of ``qcoord.reports``: it imports none of the report modules, so the run report (``html``), the link section
(``link``) and the scan and sweep reports (``scan``) all build on it without importing each other.
"""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

UNDEFINED = "—"  # the one spelling of an undefined value in every table

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
     color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.verdict{background:#f4f6fb;border-left:4px solid #d62728;padding:.8em 1em;font-size:1.05em}
.verdict details{font-size:.9em;margin-top:.5em} .verdict summary{cursor:pointer;color:#555}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0} td,th{border:1px solid #ddd;padding:.25em .5em;
     text-align:right} th{background:#f6f6f6;overflow-wrap:normal;word-break:normal;hyphens:none}
td{white-space:nowrap} td.prose{white-space:normal;min-width:12em;text-align:left} \
td:first-child,th:first-child{text-align:left}
td:first-child{white-space:normal;min-width:7em} .nw{white-space:nowrap}
figure{margin:1em 0} img{max-width:100%;height:auto;border:1px solid #eee} figcaption{font-size:.85em;color:#555}
pre{background:#f8f8f8;padding:.8em;overflow-x:auto;font-size:.8em} .meta{color:#555;font-size:.9em}
.scroll{max-width:100%} .take{background:#fff8e6;border-left:4px solid #ff7f0e;padding:.6em 1em}
.cards table,.cards tbody,.cards tr,.cards td{display:block;width:auto} .cards thead{display:none}
.cards tr{border:1px solid #ddd;border-radius:4px;margin:.6em 0;padding:.3em .6em}
.cards td{border:none;display:flex;justify-content:space-between;gap:1em;padding:.1em 0;white-space:normal}
.cards td::before{content:attr(data-label);text-align:left;color:#555}
.cards td:first-child{font-weight:600} .cards td:first-child::before{content:none}
#table-metrics table{font-size:.82em} #table-metrics td,#table-metrics th{padding:.2em .35em}
#table-metrics td:first-child{white-space:normal;min-width:8em}
@media (max-width:1000px){#table-metrics table{font-size:.74em} #table-metrics td,#table-metrics th{padding:.2em .3em}}
#table-metrics.cards table{font-size:.9em}
@media (min-width:1200px){#table-metrics{--w:min(1500px,calc(100vw - 3em));width:var(--w);max-width:none;
     margin-left:calc(50% - var(--w) / 2)}}
@media (max-width:600px){body{padding:0 .6em;margin:1em auto} figure{margin:1em -.3em}}
"""

# Tables that do not fit their column become stacked cards (one card per row, each value labelled), so that no
# table scrolls sideways on a phone or a narrow laptop window; checked again when the window is resized.
FIT_TABLES = """<script>
function qcoordFit(){document.querySelectorAll('.scroll').forEach(function(d){d.classList.remove('cards');
  if(d.scrollWidth>d.clientWidth+1){d.classList.add('cards');}});}
qcoordFit();window.addEventListener('resize',qcoordFit);
</script>"""


def fmt_value(v) -> str:
    """One value in running text."""
    if v is None:
        return UNDEFINED
    if isinstance(v, float):
        return column_format([v])(v)
    return html.escape(str(v))


def column_format(values):
    """One number format for a whole column, chosen from its magnitudes: fixed decimals with thousands separators,
    or (only when every value is tiny, e.g. p-values) three significant digits."""
    nums = [abs(v) for v in values if isinstance(v, float) and v == v and v not in (float("inf"), float("-inf"))]
    big = max(nums, default=0.0)
    if 0 < big < 1e-3:
        return lambda v: f"{v:.3g}"
    digits = 1 if big >= 1e3 else (2 if big >= 10 else 4)
    return lambda v: f"{v:,.{digits}f}"


def _cell(v, fmt) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return UNDEFINED
    if isinstance(v, float):
        return fmt(v)
    text = html.escape(str(v))
    # in a sentence that wraps, a browser may break at a hyphen: never inside 9.6e-21, [-24.9, -19.6] or re-aimed
    return re.sub(r"\S*-\S*", lambda m: f"<span class='nw'>{m.group(0)}</span>", text) if _prose(v) else text


def html_table(frame: pd.DataFrame, name: str | None = None) -> str:
    """A table that never scrolls sideways: values on one line, headers broken only between words or after an
    underscore, and (FIT_TABLES) stacked cards where it does not fit. An empty frame is no table at all."""
    if frame.empty:
        return ""
    # a long strategy name breaks after its underscores (classical_<wbr>levels), not mid-word
    head = "".join(
        f"<th>{html.escape(str(c)).replace('_', '_<wbr>')}</th>" for c in [frame.index.name or "", *frame.columns]
    )
    formats = [column_format(frame[c].tolist()) for c in frame.columns]
    labels = [html.escape(str(c), quote=True) for c in frame.columns]
    body = "".join(
        "<tr>"
        + f"<td>{html.escape(str(i))}</td>"
        + "".join(f"<td data-label='{lab}'{_prose(v)}>{_cell(v, f)}</td>" for v, f, lab in zip(row, formats, labels))
        + "</tr>"
        for i, row in zip(frame.index, frame.itertuples(index=False))
    )
    ident = f" id='table-{html.escape(name)}'" if name else ""
    return f"<div class='scroll'{ident}><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _prose(v) -> str:
    """Numbers and intervals stay on one line; a sentence in a cell (a test's description) wraps."""
    return " class='prose'" if isinstance(v, str) and len(v) > 24 and not v.startswith("[") else ""


def figure(name: str, png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(caption)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )
