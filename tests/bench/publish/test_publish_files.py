"""``publish``: the files, their schema, their determinism and the marks, checked against the store."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from bench.leaderboard import LeaderboardRow
from bench.provenance import provenance_fields
from bench.publish import SCHEMA, SCHEMA_VERSION, PublishError, publish

FILES = {"leaderboard.md", "leaderboard.csv", "leaderboard.json", "cases.csv", "index.html", "SHA256SUMS"}


def _at(day: int):
    return lambda: datetime(2026, 1, day, 12, 0, tzinfo=UTC)


def _rows(folder) -> list[dict]:
    return json.loads((folder / "leaderboard.json").read_text())["rows"]


def test_a_collection_publishes_every_file_with_one_group_per_dataset(bench):
    result = publish(bench.store, "synthetic", bench.out, now=_at(1))
    folder = bench.out / "synthetic"
    assert result.folder == folder and {p.name for p in folder.iterdir()} == FILES | {"gallery"}
    assert set(result.files) >= FILES and all(result.files[f] == (folder / f).stat().st_size for f in FILES)
    assert result.rows == 7 and result.groups == 2 and result.notes == []
    document = json.loads((folder / "leaderboard.json").read_text())
    assert document["schema"] == SCHEMA and document["schema_version"] == SCHEMA_VERSION == 2
    assert document["dataset"] == "synthetic" and document["published_at"] == "2026-01-01T12:00:00+00:00"
    assert [(g["modality"], g["dataset"], len(g["row_ids"])) for g in document["groups"]] == [
        ("liver", "bmad-liver", 5),
        ("retina", "bmad-resc", 2),
    ]
    listed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert listed == set(result.files) - {"SHA256SUMS"}
    assert sum(result.files.values()) < 400_000  # small enough to commit


def test_a_dataset_name_publishes_only_that_dataset(bench):
    result = publish(bench.store, "bmad-resc", bench.out)
    rows = _rows(result.folder)
    assert result.folder.name == "bmad-resc" and {r["dataset"] for r in rows} == {"bmad-resc"} and len(rows) == 2


def test_an_unknown_name_is_refused_with_what_is_stored(bench):
    with pytest.raises(PublishError, match=r"nothing to publish for 'bmad'.*bmad-liver, bmad-resc.*synthetic"):
        publish(bench.store, "bmad", bench.out)
    with pytest.raises(PublishError, match="not a path"):
        publish(bench.store, "../elsewhere", bench.out)


def test_every_row_carries_its_provenance_and_the_stores_numbers(bench):
    publish(bench.store, "synthetic", bench.out)
    rows = _rows(bench.out / "synthetic")
    wanted = {f.name for f in fields(LeaderboardRow)} - {"provenance"}
    wanted |= {name for name, _ in provenance_fields()}
    wanted |= {"marks", "row_id", "method", "rank", "letters", "ranked", "n_cases_by_label"}
    for row in rows:
        assert wanted <= set(row), wanted - set(row)
        assert row["row_id"] == f"run{row['run_id']}:{row['protocol']}"
        run = bench.store.get_run(row["run_id"])
        assert (row["manifest_hash"], row["config_hash"], row["weights"]) == (
            run.manifest_hash,
            run.config_hash,
            run.weights,
        )
        assert row["config"] == json.loads(run.config_json) and row["packages"]["mias-bench"]
        stored = bench.store.summary(row["evaluation_id"])
        assert row["metrics"] == {k: (None if math.isnan(v) else v) for k, v in stored.items()}
        assert row["n_cases_by_label"] == {"normal": 4, "anomalous": 4, "total": 8}
        if row["ranked"]:
            assert isinstance(row["rank"], int) and row["rank"] >= 1 and row["letters"]
        else:
            assert row["rank"] is None and row["letters"] == ""


def test_oracle_transductive_and_random_init_rows_are_marked_in_every_file(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    marks = {r["row_id"]: r["marks"] for r in _rows(folder)}
    assert marks == {
        "run1:oracle": ["oracle"],
        "run1:valid-f1": [],
        "run1:normal-p99": [],
        "run2:fixed:0.5": ["transductive"],
        "run3:valid-f1": ["random-init"],
        "run4:oracle": ["oracle"],
        "run4:valid-f1": [],
    }
    table = {r["row_id"]: r["marks"] for r in csv.DictReader(io.StringIO((folder / "leaderboard.csv").read_text()))}
    assert table == {k: ";".join(v) for k, v in marks.items()}
    lines = (folder / "leaderboard.md").read_text().splitlines()
    markdown = {line.split("|")[-2].strip(): line for line in lines if line.startswith("| ") and "| run" in line}
    assert "**oracle (upper bound)**" in markdown["run1:oracle"]
    assert "**transductive**" in markdown["run2:fixed:0.5"]
    assert "**random-init**" in markdown["run3:valid-f1"]
    assert "**" not in markdown["run1:valid-f1"]
    page = (folder / "index.html").read_text()
    assert '<tr class="mark-oracle" data-row-id="run1:oracle">' in page
    assert '<tr class="mark-transductive" data-row-id="run2:fixed:0.5">' in page
    assert page.count('class="mark mark-random-init"') >= 2  # legend and the row


def test_cases_csv_recomputes_each_rows_dice(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    cases: dict[str, list[dict]] = {}
    for line in csv.DictReader(io.StringIO((folder / "cases.csv").read_text())):
        cases.setdefault(line["row_id"], []).append(line)
    for row in _rows(folder):
        lines = cases[row["row_id"]]
        assert len(lines) == 8
        anomalous = [float(c["dice"]) for c in lines if c["label"] == "1"]
        normal = [float(c["pred_fraction"]) for c in lines if c["label"] == "0"]
        assert statistics.fmean(anomalous) == pytest.approx(row["metrics"]["dice"], rel=1e-12)
        assert statistics.fmean(normal) == pytest.approx(row["metrics"]["fp_area_normal"], rel=1e-12)


def test_leaderboard_csv_holds_full_precision_metrics(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    by_id = {r["row_id"]: r for r in _rows(folder)}
    lines = list(csv.DictReader(io.StringIO((folder / "leaderboard.csv").read_text())))
    assert [line["row_id"] for line in lines] == list(by_id)
    for line in lines:
        row = by_id[line["row_id"]]
        for metric, value in row["metrics"].items():
            assert float(line[metric]) == value
        assert json.loads(line["config"]) == row["config"] and line["manifest_hash"] == row["manifest_hash"]


def test_markdown_has_a_table_per_dataset_with_percent_values(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    text = (folder / "leaderboard.md").read_text()
    assert "## liver · bmad-liver (synthetic)" in text and "## retina · bmad-resc (synthetic)" in text
    oracle = next(r for r in _rows(folder) if r["row_id"] == "run4:oracle")
    assert f"| {100 * oracle['metrics']['dice']:.2f} |" in text
    assert "Statistical groups" in text


def test_publishing_again_changes_nothing_but_the_publish_time(bench):
    publish(bench.store, "synthetic", bench.out, now=_at(1))
    folder = bench.out / "synthetic"
    first = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    publish(bench.store, "synthetic", bench.out, now=_at(2))
    second = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    assert set(first) == set(second)
    changed = [p for p in first if first[p] != second[p]]
    assert changed == ["SHA256SUMS", "leaderboard.json"]
    old = first["leaderboard.json"].decode().splitlines()
    new = second["leaderboard.json"].decode().splitlines()
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        ('  "published_at": "2026-01-01T12:00:00+00:00",', '  "published_at": "2026-01-02T12:00:00+00:00",')
    ]


def test_only_honest_rows_are_ranked_and_ranks_follow_the_means(bench):
    publish(bench.store, "synthetic", bench.out)
    document = json.loads((bench.out / "synthetic" / "leaderboard.json").read_text())
    rows = {r["row_id"]: r for r in document["rows"]}
    for group in document["groups"]:
        members = [rows[r] for r in group["row_ids"]]
        ranked = [r for r in members if r["ranked"]]
        assert all(not ({"oracle", "random-init"} & set(r["marks"])) for r in ranked)
        assert all(r["rank"] is None for r in members if not r["ranked"])
        # Ranked rows come first, and no ranked row sits above one with a higher mean.
        assert [r["ranked"] for r in members] == sorted((r["ranked"] for r in members), reverse=True)
        means = [r["metrics"]["dice"] for r in ranked]
        assert means == sorted(means, reverse=True)
        for better, worse in zip(ranked, ranked[1:], strict=False):
            assert better["rank"] <= worse["rank"]
            if better["metrics"]["dice"] > worse["metrics"]["dice"]:
                assert better["rank"] < worse["rank"]
        comparison = group["comparison"]
        if len(ranked) < 2:
            assert comparison is None
            continue
        # The Holm family holds the ranked rows' pairs only.
        assert {m["evaluation_id"] for m in comparison["methods"]} == {r["evaluation_id"] for r in ranked}
        assert len(comparison["pairs"]) == len(ranked) * (len(ranked) - 1) // 2
        assert {int(k): v for k, v in comparison["ranks"].items()} == {r["evaluation_id"]: r["rank"] for r in ranked}
