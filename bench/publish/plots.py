"""Box plots of per-case DICE as inline SVG, drawn in Python (no plotting library, no script).

One horizontal box per row of a group, over the row's anomalous test cases:
the box spans the quartiles (linear interpolation), the bar inside is the
median, whiskers reach the furthest case within 1.5 IQR of the box (Tukey),
cases beyond are dots, and a diamond marks the mean (the leaderboard's DICE).
Coordinates are written with one decimal, so the same values give the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

from bench.marks import MARKS
from bench.publish.board import Group, PublishedRow

WIDTH = 760
LABEL_WIDTH = 300
PLOT_RIGHT = 20
ROW_HEIGHT = 28
TOP = 12
AXIS_HEIGHT = 34

#: Box fill of a row without marks; a marked row takes its first mark's colour.
PLAIN_FILL = "#9ecae1"


@dataclass(frozen=True)
class BoxStats:
    """Five-number summary (Tukey whiskers) of values in [0, 1]."""

    n: int
    mean: float
    q1: float
    median: float
    q3: float
    low: float  # lower whisker end
    high: float  # upper whisker end
    outliers: tuple[float, ...]


def box_stats(values: list[float]) -> BoxStats | None:
    """Quartiles, Tukey whiskers and outliers of ``values``; ``None`` when there are none."""
    if not values:
        return None
    data = np.sort(np.asarray(values, dtype=np.float64))
    q1, median, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
    reach = 1.5 * (q3 - q1)
    inside = data[(data >= q1 - reach) & (data <= q3 + reach)]
    outliers = tuple(float(v) for v in data if v < q1 - reach or v > q3 + reach)
    return BoxStats(
        n=int(data.size),
        mean=float(data.mean()),
        q1=q1,
        median=median,
        q3=q3,
        low=float(inside.min()),
        high=float(inside.max()),
        outliers=outliers,
    )


def _x(value: float) -> float:
    return LABEL_WIDTH + value * (WIDTH - LABEL_WIDTH - PLOT_RIGHT)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _label(published: PublishedRow) -> str:
    marks = published.row.marks
    return published.row.method + (f" [{', '.join(marks)}]" if marks else "")


def _box(published: PublishedRow, y: float) -> list[str]:
    label = escape(_label(published))
    stats = box_stats(published.anomalous_dice())
    out = [f'<text x="{_f(LABEL_WIDTH - 8)}" y="{_f(y + 4)}" text-anchor="end" class="bp-label">{label}</text>']
    if stats is None:
        out.append(f'<text x="{_f(_x(0) + 4)}" y="{_f(y + 4)}" class="bp-none">no anomalous cases</text>')
        return out
    fill = MARKS[published.row.marks[0]].colour if published.row.marks else PLAIN_FILL
    half = ROW_HEIGHT * 0.3
    tip = (
        f"{_label(published)}: n={stats.n}, mean {100 * stats.mean:.2f}, median {100 * stats.median:.2f}, "
        f"quartiles {100 * stats.q1:.2f}–{100 * stats.q3:.2f}"
    )
    out.append(f'<g class="bp-row"><title>{escape(tip)}</title>')
    out.append(
        f'<line x1="{_f(_x(stats.low))}" x2="{_f(_x(stats.high))}" y1="{_f(y)}" y2="{_f(y)}" class="bp-whisker"/>'
    )
    for end in (stats.low, stats.high):
        out.append(
            f'<line x1="{_f(_x(end))}" x2="{_f(_x(end))}" y1="{_f(y - half / 2)}" y2="{_f(y + half / 2)}" '
            'class="bp-whisker"/>'
        )
    out.append(
        f'<rect x="{_f(_x(stats.q1))}" y="{_f(y - half)}" width="{_f(_x(stats.q3) - _x(stats.q1))}" '
        f'height="{_f(2 * half)}" fill="{fill}" class="bp-box"/>'
    )
    out.append(
        f'<line x1="{_f(_x(stats.median))}" x2="{_f(_x(stats.median))}" y1="{_f(y - half)}" y2="{_f(y + half)}" '
        'class="bp-median"/>'
    )
    for value in stats.outliers:
        out.append(f'<circle cx="{_f(_x(value))}" cy="{_f(y)}" r="2.5" class="bp-outlier"/>')
    mx, d = _x(stats.mean), 4.5
    out.append(
        f'<path d="M{_f(mx)} {_f(y - d)}L{_f(mx + d)} {_f(y)}L{_f(mx)} {_f(y + d)}L{_f(mx - d)} {_f(y)}Z" '
        'class="bp-mean"/>'
    )
    out.append("</g>")
    return out


def box_plot_svg(group: Group) -> str:
    """An SVG element: per-case DICE (percent) of each row of ``group`` over its anomalous cases."""
    height = TOP + ROW_HEIGHT * len(group.rows) + AXIS_HEIGHT
    axis_y = TOP + ROW_HEIGHT * len(group.rows)
    title = f"Per-case DICE over anomalous test cases, {group.title}"
    out = [
        f'<svg class="boxplot" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(0, 101, 10):
        x = _f(_x(tick / 100))
        out.append(f'<line x1="{x}" x2="{x}" y1="{TOP - 6}" y2="{axis_y}" class="bp-grid"/>')
        out.append(f'<text x="{x}" y="{axis_y + 14}" text-anchor="middle" class="bp-tick">{tick}</text>')
    out.append(
        f'<text x="{_f(_x(0.5))}" y="{axis_y + 30}" text-anchor="middle" class="bp-axis">'
        "DICE per anomalous case (%); diamond = mean</text>"
    )
    for index, published in enumerate(group.rows):
        out += _box(published, TOP + ROW_HEIGHT * index + ROW_HEIGHT / 2)
    out.append("</svg>")
    return "\n".join(out)
