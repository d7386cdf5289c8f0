"""The page's inline style sheet and script: no fonts, images or scripts from anywhere else.

The script only sorts tables: clicking a header (or Enter on it) sorts by
that column, ascending first, then descending; cells sort by their
``data-sort`` value when they have one, numbers numerically, missing values
last either way.
"""

from __future__ import annotations

from bench.marks import MARKS


def _lighter(colour: str, keep: float = 0.45) -> str:
    """``#rrggbb`` mixed with white, keeping ``keep`` of the colour (row backgrounds)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - keep * (255 - c)):02x}" for c in rgb)


def mark_style() -> str:
    """CSS of every mark of the registry: its badge, and the background of a row that carries it first."""
    return "".join(
        f".mark-{name} {{ background: {m.colour}; }}\ntr.mark-{name} td {{ background: {_lighter(m.colour)}; }}\n"
        for name, m in MARKS.items()
    )


STYLE = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #59636e; --line: #d0d7de; --head: #f6f8fa;
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 1.5rem; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; } h2 { font-size: 1.3rem; margin: 2.5rem 0 .3rem;
  border-bottom: 1px solid var(--line); padding-bottom: .3rem; } h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.meta, .note, caption { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .3rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; vertical-align: top; }
thead th { background: var(--head); position: sticky; top: 0; }
table.sortable thead th { cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable thead th::after { content: " \\2195"; color: #aab; }
table.sortable thead th[aria-sort="ascending"]::after { content: " \\2191"; color: var(--ink); }
table.sortable thead th[aria-sort="descending"]::after { content: " \\2193"; color: var(--ink); }
table.board, table.provenance, table.pairs { font-size: 13px; }
table.board td, table.provenance td { white-space: nowrap; }
.dice { margin-top: .2rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.mark { display: inline-block; border-radius: 3px; padding: 0 .35rem; margin: 0 .15rem .1rem 0;
  font-size: 12px; border: 1px solid #999; white-space: nowrap; }
dl.legend { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .5rem 0 1rem; }
dl.legend dd { margin: 0; }
.boxplot { max-width: 100%; height: auto; font-size: 12px; }
.bp-grid { stroke: #e4e7eb; } .bp-whisker, .bp-median { stroke: #333; stroke-width: 1.3; }
.bp-median { stroke-width: 2.2; } .bp-box { stroke: #333; } .bp-outlier { fill: none; stroke: #333; }
.bp-mean { fill: #111; } .bp-label, .bp-tick, .bp-axis, .bp-none { fill: var(--ink); }
table.gallery td { text-align: center; font-size: 12px; }
.ov { position: relative; display: inline-block; line-height: 0; }
.ov img { display: block; image-rendering: pixelated; }
.ov img.mask { position: absolute; left: 0; top: 0; opacity: .65; }
details summary { cursor: pointer; color: var(--muted); }
pre { white-space: pre-wrap; margin: .2rem 0; }
""" + mark_style()

SCRIPT = """
(function () {
  "use strict";
  var NUMBER = /^[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?$/;
  function value(cell) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (raw === "" || raw === "\\u2013") { return { missing: true }; }
    if (NUMBER.test(raw)) { return { number: parseFloat(raw) }; }
    return { text: raw.toLowerCase() };
  }
  function compare(a, b) {
    if (a.missing || b.missing) { return 0; }
    if (a.number !== undefined && b.number !== undefined) { return a.number - b.number; }
    if (a.number !== undefined) { return -1; }
    if (b.number !== undefined) { return 1; }
    return a.text < b.text ? -1 : (a.text > b.text ? 1 : 0);
  }
  function sortBy(table, header, column) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      return { row: row, index: index, key: value(row.cells[column]) };
    });
    rows.sort(function (a, b) {
      if (a.key.missing !== b.key.missing) { return a.key.missing ? 1 : -1; }
      var order = compare(a.key, b.key);
      if (!ascending) { order = -order; }
      return order !== 0 ? order : a.index - b.index;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(header.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.addEventListener("click", function () { sortBy(table, header, column); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, header, column); }
      });
    });
  });
})();
"""
