"""``index.html`` and its box plots: self-contained, escaped, one section per group."""

from __future__ import annotations

import re
import statistics
from html.parser import HTMLParser

import numpy as np
import pytest

from bench.leaderboard import LeaderboardRow
from bench.provenance import Provenance
from bench.publish import Board, CaseRow, Group, PublishedRow, publish
from bench.publish.page import render_page
from bench.publish.plots import LABEL_WIDTH, PLOT_RIGHT, WIDTH, box_plot_svg, box_stats


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _row(detector: str = "det", protocol: str = "valid-f1", **changes) -> LeaderboardRow:
    provenance = dict(
        detector=detector,
        dataset="ds",
        collection="custom",
        modality="brain",
        manifest_hash="f" * 64,
        config_hash="c" * 64,
        config={"k": 1},
        plugin_dist="dist",
        plugin_version="1.0",
        detector_version="1",
        n_cases=2,
        packages={"numpy": "2"},
    )
    row = dict(
        run_id=1,
        evaluation_id=1,
        protocol=protocol,
        threshold=0.5,
        fitted_on="valid",
        upper_bound=False,
        finished_at=None,
    )
    for key, value in changes.items():
        (row if key in row else provenance)[key] = value
    return LeaderboardRow(**row, provenance=Provenance(**provenance), metrics={"dice": 0.5})


def _case(case_id: str, label: int, dice: float) -> CaseRow:
    return CaseRow(case_id, label, 0.5, dice, 0.0, None, None, None, None, {})


def test_the_page_loads_nothing_from_elsewhere_and_every_image_exists(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    page = (folder / "index.html").read_text()
    assert not re.search(r"(?i)https?:|//[a-z0-9]|@import|url\(", page)
    parsed = _parse(page)
    assert not [t for t, a in parsed.tags if t in {"link", "script"} and ("src" in a or a.get("rel") == "stylesheet")]
    assert [a["href"] for t, a in parsed.tags if t == "link"] == ["data:,"]  # no favicon request
    images = [a["src"] for t, a in parsed.tags if t == "img"]
    assert images and all((folder / src).is_file() and not src.startswith("/") for src in images)
    csp = next(a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp


def test_the_page_has_a_sortable_table_a_box_plot_and_a_gallery_per_group(bench):
    publish(bench.store, "synthetic", bench.out)
    parsed = _parse((bench.out / "synthetic" / "index.html").read_text())
    tables = [a for t, a in parsed.tags if t == "table"]
    boards = [a["id"] for a in tables if "board" in a["class"]]
    assert len(boards) == 2 and boards[0].startswith("table-liver-bmad-liver-") and "retina" in boards[1]
    assert all("sortable" in a["class"] for a in tables if "board" in a["class"])
    assert len([a for t, a in parsed.tags if t == "svg"]) == 2
    assert len([a for a in tables if a["class"] == "gallery"]) == 2
    text = " ".join(parsed.text)
    for needed in ("Statistical groups", "Provenance", "fitted on valid", "random-init", "upper bound"):
        assert needed in text


def test_every_text_is_escaped():
    evil = "<script>alert(1)</script>"
    row = _row(detector=evil, protocol='fixed:"1"', config={"x": evil}, packages={evil: "1"}, weights=evil)
    cases = [_case("a<b>.png", 1, 0.5), _case("n.png", 0, 1.0)]
    group = Group("brain", "d<s>", "c&c", "f" * 64, [PublishedRow(row, cases)], note=evil)
    page = render_page(Board(name=evil, groups=[group]))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own sorting script only
    assert "d&lt;s&gt;" in page and "c&amp;c" in page


def test_box_stats_match_an_independent_computation():
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 17, 40):
        values = list(rng.beta(0.6, 1.2, n)) + ([0.999, 0.998] if n > 20 else [])
        stats = box_stats(values)
        data = sorted(values)
        if len(data) > 1:
            q1, median, q3 = statistics.quantiles(data, n=4, method="inclusive")
        else:
            q1 = median = q3 = data[0]
        assert (stats.q1, stats.median, stats.q3) == pytest.approx((q1, median, q3))
        fence = 1.5 * (q3 - q1)
        inside = [v for v in data if q1 - fence <= v <= q3 + fence]
        assert (stats.low, stats.high) == pytest.approx((min(inside), max(inside)))
        assert sorted(stats.outliers) == pytest.approx([v for v in data if v not in inside])
        assert stats.mean == pytest.approx(sum(data) / len(data)) and stats.n == len(data)
    assert box_stats([]) is None


def test_the_box_plot_draws_one_box_per_row_with_its_mean():
    cases = [_case(f"{i}.png", 1, d) for i, d in enumerate((0.0, 0.25, 0.5, 1.0))]
    rows = [PublishedRow(_row(protocol=p, evaluation_id=i), cases) for i, p in enumerate(("a", "b"))]
    rows.append(PublishedRow(_row(protocol="none", evaluation_id=9), [_case("n.png", 0, 1.0)]))
    svg = box_plot_svg(Group("brain", "ds", "custom", "f" * 64, rows))
    assert svg.count('class="bp-row"') == 2 and "no anomalous cases" in svg
    # the mean 0.4375 sits at 43.75% of the plotting width from the left edge
    x = LABEL_WIDTH + 0.4375 * (WIDTH - LABEL_WIDTH - PLOT_RIGHT)
    assert f'<path d="M{x:.1f} ' in svg
