"""`DIR/index.html`: one static page showing every row of a batch, openable from disk.

Self-contained: the styles and the few lines of script are inline and nothing is fetched from a
network; thumbnails and links are relative paths into the batch directory (`thumbs/`, `images/`,
`runs/`), so the folder can be moved or zipped whole.  Each card shows the thumbnail (a
placeholder picture for rows without an image), the status and finding counts; hovering shows the
findings, clicking opens them with links to the image, the run dir and its `run.json`.  Buttons
filter by status; the page works without script too (everything shown).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote

from cocogen.batching.model import RowResult
from cocogen.batching.store import Layout, replace_file
from cocogen.record import atomic_write

STATUSES = ("ok", "check_failed", "render_failed", "error")
_COLOURS = {
    "ok": "#1a7f37",
    "check_failed": "#9a6700",
    "render_failed": "#cf222e",
    "error": "#8250df",
}

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #d0d7de;
  position:sticky;top:0;z-index:1}
h1{font-size:18px;margin:0 0 6px}
.bar{display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.bar button{border:1px solid #d0d7de;background:#f6f8fa;border-radius:6px;padding:3px 10px;
  cursor:pointer}
.bar button.on{background:#0969da;color:#fff;border-color:#0969da}
.bar input{padding:3px 8px;border:1px solid #d0d7de;border-radius:6px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:14px;
  padding:16px 20px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:0;overflow:hidden}
.card .pic{display:flex;align-items:center;justify-content:center;height:180px;background:#fff}
.card img{max-width:100%;max-height:180px;object-fit:contain}
figcaption{padding:8px 10px;border-top:1px solid #eaeef2}
.name{font-weight:600;word-break:break-all}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;font-size:12px}
.counts{color:#59636e;font-size:12px;margin-left:6px}
details{margin-top:6px}
details ul{margin:4px 0;padding-left:18px}
.sev-error{color:#cf222e}.sev-warning{color:#9a6700}
.err{color:#cf222e;word-break:break-word}
.hidden{display:none}
"""

_SCRIPT = """
(function(){
  var current='all', query='';
  var cards=[].slice.call(document.querySelectorAll('.card'));
  function apply(){
    cards.forEach(function(c){
      var show=(current==='all'||c.dataset.status===current)&&c.dataset.name.indexOf(query)>=0;
      c.classList.toggle('hidden',!show);
    });
  }
  document.querySelectorAll('.bar button').forEach(function(b){
    b.addEventListener('click',function(){
      document.querySelectorAll('.bar button').forEach(function(x){x.classList.remove('on');});
      b.classList.add('on'); current=b.dataset.filter; apply();
    });
  });
  var search=document.getElementById('search');
  search.addEventListener('input',function(){query=search.value.toLowerCase(); apply();});
  cards.forEach(function(c){
    c.querySelector('.pic').addEventListener('click',function(e){
      if(e.metaKey||e.ctrlKey)return;
      var d=c.querySelector('details'); if(d){e.preventDefault(); d.open=!d.open;}
    });
  });
})();
"""


def _placeholder(status: str) -> str:
    """A data-URI picture for a row without an image (always loads, no file needed)."""
    colour = _COLOURS.get(status, "#59636e")
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='320' height='180'>"
        "<rect width='320' height='180' fill='#f6f8fa'/>"
        f"<text x='160' y='96' font-family='sans-serif' font-size='18' fill='{colour}' "
        f"text-anchor='middle'>{status.replace('_', ' ')}</text></svg>"
    )
    return "data:image/svg+xml," + quote(svg, safe="")


def _href(path: str) -> str:
    return html.escape(quote(path), quote=True)


def _card(row: RowResult) -> str:
    e = html.escape
    counts = row.findings
    count_text = ", ".join(
        f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}"
        for s in ("error", "warning")
        if counts.get(s)
    )
    hover = [f"{f.severity}: {f.code}: {f.message}" for f in row.top_findings]
    if row.error:
        hover.insert(0, row.error)
    title = "\n".join(hover) or row.status
    src = _href(row.thumb) if row.thumb else _placeholder(row.status)
    target = _href(row.image) if row.image else (_href(row.run_dir + "/") if row.run_dir else "#")
    items = "".join(
        f'<li class="sev-{e(f.severity)}">{e(f.severity)}: <b>{e(f.code)}</b> {e(f.message)}</li>'
        for f in row.top_findings
    )
    links = []
    if row.image:
        links.append(f'<a href="{_href(row.image)}">image</a>')
    if row.run_dir:
        links.append(f'<a href="{_href(row.run_dir + "/")}">run dir</a>')
        links.append(f'<a href="{_href(row.run_dir + "/run.json")}">run.json</a>')
    error = f'<div class="err">{e(row.error)}</div>' if row.error else ""
    timing = row.timings.get("total_s") or row.timings.get("row_s")
    timing_text = f" · {timing:.2f} s" if timing else ""
    return (
        f'<figure class="card" id="row-{e(row.name)}" data-status="{e(row.status)}" '
        f'data-name="{e(row.name.lower())}" title="{e(title)}">'
        f'<a class="pic" href="{target}"><img src="{src}" alt="{e(row.name)}" loading="lazy" '
        f'decoding="async"></a>'
        f'<figcaption><div class="name">{e(row.name)}</div>'
        f'<span class="badge" style="background:{_COLOURS.get(row.status, "#59636e")}">'
        f"{e(row.status)}</span>"
        f'<span class="counts">{e(count_text)}{e(timing_text)} · line {row.line}</span>'
        f"<details><summary>findings and files</summary>{error}"
        f"<ul>{items or '<li>no error or warning findings</li>'}</ul>{' · '.join(links)}"
        f"</details></figcaption></figure>"
    )


def _with_thumbnail(layout: Layout, row: RowResult) -> RowResult:
    """Thumbnails are written without fsync: make one again if a crash lost it."""
    if row.image is None or layout.thumb(row.name).exists():
        return row
    from cocogen.batching.execute import make_thumbnail

    try:
        png = (layout.root / row.image).read_bytes()
        replace_file(layout.thumb(row.name), make_thumbnail(png))
    except OSError:
        return row.model_copy(update={"thumb": None})
    return row.model_copy(update={"thumb": layout.relative(layout.thumb(row.name))})


def write_gallery(layout: Layout, rows: Iterable[RowResult], title: str) -> int:
    """Write `index.html` for `rows` (in the order given); returns how many rows it shows."""
    cards: list[str] = []
    totals = dict.fromkeys(STATUSES, 0)
    for row in rows:
        totals[row.status] = totals.get(row.status, 0) + 1
        cards.append(_card(_with_thumbnail(layout, row)))
    buttons = [f'<button class="on" data-filter="all">all ({len(cards)})</button>']
    buttons += [
        f'<button data-filter="{s}">{s.replace("_", " ")} ({totals[s]})</button>'
        for s in STATUSES
        if totals[s]
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>{html.escape(title)}</h1><div class="bar">{"".join(buttons)}'
        '<input id="search" type="search" placeholder="filter by name" aria-label="filter">'
        f"</div></header><main>\n{chr(10).join(cards)}\n</main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
    atomic_write(layout.gallery, page)
    return len(cards)
