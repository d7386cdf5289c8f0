"""``index.html``: one self-contained page per published leaderboard.

Inline style and script only (see :mod:`bench.publish.assets`), a content
security policy that forbids loading anything from elsewhere, and gallery
PNGs referenced by relative path. Per group: the sortable leaderboard table
with its marks, the statistical groups, a box plot of per-case DICE (inline
SVG), the gallery and the provenance of every row. All text is escaped.
"""

from __future__ import annotations

import json
from html import escape

from bench.leaderboard import MARKS
from bench.metrics import METRICS
from bench.publish.assets import SCRIPT, STYLE
from bench.publish.board import Board, Group, PublishedRow
from bench.publish.cells import (
    MARK_TITLES,
    SHOWN_METRICS,
    number,
    packages_text,
    percent,
    plugin_text,
    rank_text,
    weights_text,
)
from bench.publish.gallery import GalleryImage, GroupGallery
from bench.publish.plots import box_plot_svg

# 'self' covers the gallery PNGs beside the page; nothing else may load.
CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(value) -> str:
    return escape(str(value), quote=True)


def _sort_value(value: float | None) -> str:
    return "" if value is None or value != value else repr(float(value))


def _marks_html(published: PublishedRow) -> str:
    return "".join(
        f'<span class="mark mark-{_e(m)}" title="{_e(MARKS.get(m, m))}">{_e(MARK_TITLES.get(m, m))}</span>'
        for m in published.row.marks
    )


def _row_class(published: PublishedRow) -> str:
    marks = published.row.marks
    return f' class="mark-{_e(marks[0])}"' if marks else ""


def _protocol_cell(published: PublishedRow) -> str:
    row = published.row
    fitted = f'<br><span class="note">fitted on {_e(row.fitted_on)}</span>' if row.fitted_on else ""
    return f'<td data-sort="{_e(row.protocol)}">{_e(row.protocol)}{fitted}</td>'


def _legend() -> str:
    items = "".join(
        f'<dt><span class="mark mark-{_e(k)}">{_e(MARK_TITLES[k])}</span></dt><dd>{_e(v)}</dd>'
        for k, v in MARKS.items()
    )
    items += "<dt>weights <code>none</code></dt><dd>the detector uses no pretrained weights</dd>"
    return f'<dl class="legend">{items}</dl>'


def _board_table(group: Group) -> str:
    head = ["#", "rank", "detector", "protocol", "threshold", "weights"]
    head_html = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    head_html += "".join(
        f'<th scope="col" title="{_e(METRICS[m].description)}'
        f'{"" if METRICS[m].higher_is_better else " (lower is better)"}">{_e(METRICS[m].title)}</th>'
        for m in SHOWN_METRICS
    )
    head_html += '<th scope="col">marks</th><th scope="col">row</th>'
    body = []
    for position, published in enumerate(group.rows, 1):
        row = published.row
        cells = [
            f'<td class="num">{position}</td>',
            f'<td class="num" data-sort="{_e(published.rank if published.rank is not None else "")}">'
            f"{_e(rank_text(published))}</td>",
            f"<td>{_e(row.detector)}</td>",
            _protocol_cell(published),
            f'<td class="num" data-sort="{_sort_value(row.threshold)}">{_e(number(row.threshold))}</td>',
            f'<td title="{_e(row.weights_sha256 or "")}">{_e(weights_text(published))}</td>',
        ]
        cells += [
            f'<td class="num" data-sort="{_sort_value(row.metrics.get(m))}">{_e(percent(row.metrics.get(m)))}</td>'
            for m in SHOWN_METRICS
        ]
        cells.append(f"<td>{_marks_html(published)}</td>")
        cells.append(f'<td class="mono"><a href="#prov-{_e(published.row_id)}">{_e(published.row_id)}</a></td>')
        body.append(f'<tr{_row_class(published)} data-row-id="{_e(published.row_id)}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="board sortable" id="table-{_e(group.group_id)}">'
        f"<caption>metrics in %; click a header to sort</caption>"
        f"<thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _statistics(group: Group) -> str:
    out = ["<h3>Statistical groups</h3>"]
    comparison = group.comparison
    if comparison is None:
        out.append(f'<p class="note">{_e(group.note or "not compared")}</p>')
        return "".join(out)
    by_rank: dict[int, list[str]] = {}
    for published in group.rows:
        if published.rank is not None:
            by_rank.setdefault(published.rank, []).append(published.row.method)
    out.append(
        f'<p class="note">Paired comparison of per-case {_e(comparison.get("metric", "dice"))} on the same test '
        f"cases (Wilcoxon signed-rank, Holm-corrected, {_e(comparison.get('n_boot', ''))} bootstrap resamples, "
        f'alpha {_e(comparison.get("alpha", ""))}). Rows sharing a rank are not separable.</p><ol class="ranks">'
    )
    out += [f'<li value="{rank}">{_e(", ".join(names))}</li>' for rank, names in sorted(by_rank.items())]
    out.append("</ol>")
    pairs = comparison.get("pairs") or []
    if pairs:
        rows = "".join(
            "<tr>"
            f"<td>{_e(p.get('a'))}</td><td>{_e(p.get('b'))}</td>"
            f'<td class="num">{_e(percent(p.get("mean_diff")))}</td>'
            f'<td class="num">{_e(percent(p.get("ci_low")))} … {_e(percent(p.get("ci_high")))}</td>'
            f'<td class="num">{_e(_p(p.get("p_holm")))}</td><td>{_e(p.get("verdict", ""))}</td>'
            "</tr>"
            for p in pairs
        )
        out.append(
            "<details><summary>pairwise differences</summary>"
            '<div class="scroll"><table class="pairs sortable"><thead><tr><th>A</th><th>B</th>'
            "<th>mean A − B (%)</th><th>CI (%)</th><th>p (Holm)</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></details>"
        )
    return "".join(out)


def _p(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def _img(image: GalleryImage, alt: str, cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return f'<img src="{_e(image.path)}" width="{image.width}" height="{image.height}" alt="{_e(alt)}"{extra}>'


def _gallery(group: Group, gallery: GroupGallery) -> str:
    out = ["<h3>Gallery</h3>"]
    if gallery.cases:
        drawn = [p for p in group.rows if p.row_id in gallery.frames]
        head = "<th>case</th><th>image</th><th>truth</th>" + "".join(
            f"<th>{_e(p.row.method)}<br>{_marks_html(p)}</th>" for p in drawn
        )
        rows = []
        for shown in gallery.cases:
            frame = next(iter(shown.images))
            image, truth = shown.images[frame], shown.truths[frame]
            cells = [
                f'<td class="mono">{_e(shown.case_id)}<br>{"anomalous" if shown.label else "normal"}</td>',
                f'<td><div class="ov">{_img(image, "image " + shown.case_id)}</div></td>',
                f'<td><div class="ov">{_img(image, "image")}{_img(truth, "truth", "mask")}</div></td>',
            ]
            for published in drawn:
                mask = shown.masks.get(published.row_id)
                base = shown.images.get(gallery.frames[published.row_id])
                if mask is None or base is None:
                    cells.append('<td class="note">not available</td>')
                    continue
                dice = shown.dice.get(published.row_id)
                cells.append(
                    f'<td><div class="ov">{_img(base, "image")}'
                    f"{_img(mask, 'mask of ' + published.row.method, 'mask')}</div>"
                    f'<div class="dice">DICE {_e(percent(dice))}</div></td>'
                )
            rows.append(f"<tr>{''.join(cells)}</tr>")
        out.append(
            '<p class="note">Truth in green, each row\'s mask in red over the image, in the frame the metrics '
            "were computed in; DICE of that case under that row.</p>"
            f'<div class="scroll"><table class="gallery"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    out += [f'<p class="note">{_e(n)}</p>' for n in gallery.notes]
    return "".join(out)


def _provenance(group: Group) -> str:
    head = [
        "row",
        "detector",
        "plugin",
        "detector version",
        "protocol",
        "threshold",
        "config",
        "weights",
        "weights SHA-256",
        "frame",
        "seed",
        "device",
        "cases (normal / anomalous)",
        "git commit",
        "finished",
        "packages",
    ]
    rows = []
    for published in group.rows:
        row = published.row
        config = json.dumps(row.config, indent=1, sort_keys=True)
        cells = [
            f'<td class="mono" id="prov-{_e(published.row_id)}">{_e(published.row_id)}</td>',
            f"<td>{_e(row.detector)}{'<br>preset ' + _e(row.preset) if row.preset else ''}</td>",
            f"<td>{_e(plugin_text(published))}</td>",
            f"<td>{_e(row.detector_version)}</td>",
            _protocol_cell(published),
            f'<td class="num mono">{_e("–" if row.threshold is None else repr(row.threshold))}</td>',
            f'<td><details><summary class="mono">{_e(row.config_hash[:16])}…</summary>'
            f'<div class="mono">sha256 {_e(row.config_hash)}</div><pre class="mono">{_e(config)}</pre></details></td>',
            f"<td>{_e(row.weights or 'none')}</td>",
            f'<td class="mono">{_e(row.weights_sha256 or "–")}</td>',
            f"<td>{_e(row.frame)}</td>",
            f'<td class="num">{row.seed}</td>',
            f"<td>{_e(row.device)}</td>",
            f'<td class="num">{published.n_cases["normal"]} / {published.n_cases["anomalous"]}</td>',
            f'<td class="mono">{_e((row.git_commit or "–")[:12])}</td>',
            f"<td>{_e(row.finished_at or '–')}</td>",
            f"<td><details><summary>{len(row.packages)} packages</summary>{_e(packages_text(published))}"
            "</details></td>",
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head_html = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        "<h3>Provenance</h3>"
        f'<div class="scroll"><table class="provenance sortable"><thead><tr>{head_html}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _group_section(group: Group, gallery: GroupGallery) -> str:
    return (
        f'<section id="{_e(group.group_id)}"><h2>{_e(group.title)}</h2>'
        f'<p class="meta">dataset manifest <code>{_e(group.manifest_hash)}</code> · {len(group.rows)} rows</p>'
        f"{_board_table(group)}{_statistics(group)}"
        f"<h3>Per-case DICE</h3>{box_plot_svg(group)}"
        f"{_gallery(group, gallery)}{_provenance(group)}</section>"
    )


def render_page(board: Board, galleries: dict[str, GroupGallery]) -> str:
    """The whole ``index.html`` (galleries keyed by group id)."""
    title = f"mias-bench leaderboard: {board.name}"
    contents = "".join(f'<li><a href="#{_e(g.group_id)}">{_e(g.title)}</a></li>' for g in board.groups)
    sections = "".join(_group_section(g, galleries.get(g.group_id, GroupGallery())) for g in board.groups)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>"
        f"<header><h1>{_e(title)}</h1>"
        '<p class="meta">DICE is the mean per-image DICE over anomalous test cases (the paper\'s); every row is a '
        "(detector, config, threshold protocol) triple with the split its threshold was fitted on. Rows of one "
        "table were scored on the same files (same manifest). Files beside this page: "
        "<code>leaderboard.json</code> (provenance, schema <code>mias-bench/leaderboard</code> v1), "
        "<code>leaderboard.csv</code>, <code>cases.csv</code> (per-case values), <code>leaderboard.md</code>; "
        "<code>mias-bench verify leaderboard.json --db STORE</code> checks them against a store.</p>"
        f"{_legend()}<nav><ul>{contents}</ul></nav></header>\n<main>{sections}</main>\n"
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )
