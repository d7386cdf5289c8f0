"""``verify``: a fresh publish verifies; any edit to a row's values or provenance is reported by row."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from bench.cli.publish import publish_command, verify_command
from bench.publish import PublishError, publish
from bench.publish.verify import verify_leaderboard

runner = CliRunner()


def _cli(*args: str):
    app = typer.Typer()
    app.command("publish")(publish_command)
    app.command("verify")(verify_command)
    return runner.invoke(app, list(args))


@pytest.fixture
def published(bench):
    publish(bench.store, "synthetic", bench.out)
    return bench.out / "synthetic" / "leaderboard.json"


def _edit(path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _row(document, row_id):
    return next(r for r in document["rows"] if r["row_id"] == row_id)


def test_a_fresh_publish_verifies(bench, published):
    report = verify_leaderboard(published, bench.store)
    assert report.ok and len(report.rows) == 6 and report.notes == []
    result = _cli("verify", str(published), "--db", bench.db)
    assert result.exit_code == 0, result.output
    assert "ok    run1:oracle  intensity-zscore@oracle" in result.output


def test_an_edited_metric_fails_naming_the_row(bench, published):
    _edit(published, lambda d: _row(d, "run1:valid-f1")["metrics"].update(dice=0.99))
    report = verify_leaderboard(published, bench.store)
    assert [f.row_id for f in report.failures] == ["run1:valid-f1"]
    problems = report.failures[0].problems
    assert any(p.startswith("dice: per-case rows give") and "the file says 0.99" in p for p in problems)
    assert any(p.startswith("metrics.dice: file 0.99 != store") for p in problems)
    result = _cli("verify", str(published), "--db", bench.db)
    assert result.exit_code == 1 and "FAIL  run1:valid-f1" in result.output
    as_json = json.loads(_cli("verify", str(published), "--db", bench.db, "--json").output)
    assert not as_json["ok"] and [r["row_id"] for r in as_json["rows"] if not r["ok"]] == ["run1:valid-f1"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.update(manifest_hash="0" * 64), "manifest_hash: file '000"),
        (lambda r: r["config"].update(grid=64), "config_hash: the file's config hashes to"),
        (lambda r: r.update(config_hash="1" * 64), "config_hash: file '111"),
        (lambda r: r.update(threshold=0.1), "threshold: file 0.1 != store"),
        (lambda r: r.update(marks=[]), "marks: file [] != store ['oracle']"),
        (lambda r: r.update(upper_bound=False), "upper_bound: file False != store True"),
        (lambda r: r.update(weights="sam_vit_b.pth"), "weights: file 'sam_vit_b.pth' != store None"),
        (lambda r: r["metrics"].update(pixel_auroc=0.5), "metrics.pixel_auroc: file 0.5 != store"),
        (lambda r: r["metrics"].pop("aupro"), "metrics.aupro: missing from the file"),
        (lambda r: r.update(evaluation_id=999), "evaluation 999 is not in the store"),
        (lambda r: r.update(fitted_on="valid"), "fitted_on: file 'valid' != store 'test'"),
    ],
)
def test_each_kind_of_edit_is_reported(bench, published, change, expected):
    _edit(published, lambda d: change(_row(d, "run3:oracle")))
    report = verify_leaderboard(published, bench.store)
    assert [f.row_id for f in report.failures] == ["run3:oracle"]
    assert any(p.startswith(expected) for p in report.failures[0].problems), report.failures[0].problems


def test_a_tiny_rounding_difference_still_verifies(bench, published):
    _edit(
        published,
        lambda d: _row(d, "run1:oracle")["metrics"].update(
            dice=_row(d, "run1:oracle")["metrics"]["dice"] * (1 + 1e-12)
        ),
    )
    assert verify_leaderboard(published, bench.store).ok


def test_an_edited_per_case_value_fails_its_row(bench, published):
    cases = published.with_name("cases.csv")
    lines = cases.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("run3:valid-f1,"))
    fields = lines[index].split(",")
    fields[5] = "0.123"
    lines[index] = ",".join(fields)
    cases.write_text("\n".join(lines) + "\n")
    report = verify_leaderboard(published, bench.store)
    assert [f.row_id for f in report.failures] == ["run3:valid-f1"]
    assert "dice '0.123' != store" in report.failures[0].problems[0]


def test_a_store_whose_summary_disagrees_with_its_cases_is_reported(bench, published):
    from sqlalchemy import update

    from bench.store import Summary

    with bench.store.session() as s:
        s.execute(update(Summary).where(Summary.evaluation_id == 1, Summary.metric == "dice").values(value=0.5))
    report = verify_leaderboard(published, bench.store)
    assert "run1:" in report.failures[0].row_id
    assert any("the store's summary says 0.5" in p for p in report.failures[0].problems)


def test_rows_stored_since_the_publish_are_noted_not_failed(bench, published):
    _edit(published, lambda d: d.update(rows=[r for r in d["rows"] if r["row_id"] != "run3:valid-f1"]))
    published.with_name("cases.csv").unlink()
    report = verify_leaderboard(published, bench.store)
    assert report.ok and len(report.rows) == 5
    assert any("does not list: run3:valid-f1" in n for n in report.notes)
    assert any("no cases.csv" in n for n in report.notes)


def test_unknown_schemas_and_versions_are_refused(bench, published, tmp_path):
    _edit(published, lambda d: d.update(schema_version=2))
    with pytest.raises(PublishError, match="schema version 2 of 'mias-bench/leaderboard' is not known"):
        verify_leaderboard(published, bench.store)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something-else", "rows": []}))
    with pytest.raises(
        PublishError, match="expected a 'mias-bench/leaderboard' document, found schema 'something-else'"
    ):
        verify_leaderboard(other, bench.store)
    with pytest.raises(PublishError, match="not a readable JSON file"):
        (tmp_path / "bad.json").write_text("{")
        verify_leaderboard(tmp_path / "bad.json", bench.store)


def test_verify_refuses_a_store_that_does_not_exist(published, tmp_path):
    from bench.publish.verify import open_store

    with pytest.raises(PublishError, match="no store at"):
        open_store(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()


def test_publish_command_prints_the_files(bench):
    result = _cli("publish", "--dataset", "synthetic", "--out", str(bench.out), "--db", bench.db)
    assert result.exit_code == 0, result.output
    assert "published 6 rows in 2 group(s)" in result.output and "index.html" in result.output
    assert "gallery/  40 PNGs" in result.output
