"""``verify``: a publication verifies on its own; any edit, deletion, duplication or relabelling is caught.

Each edit below is made the way a careful forger would: one file changed and
``SHA256SUMS`` written again to match, so what catches it is the
recomputation from the per-case values or the re-rendering, never the digest
list alone (that one is tested separately).
"""

from __future__ import annotations

import json
import shutil

import pytest
import typer
from typer.testing import CliRunner

from bench.cli.publish import publish_command, verify_command
from bench.publish import PublishError, publish, verify_publication
from bench.publish.digests import write_digests

runner = CliRunner()


def _cli(*args: str):
    app = typer.Typer()
    app.command("publish")(publish_command)
    app.command("verify")(verify_command)
    return runner.invoke(app, list(args))


@pytest.fixture
def published(bench):
    publish(bench.store, "synthetic", bench.out)
    return bench.out / "synthetic"


def _edit_json(folder, change, *, resign=True) -> None:
    path = folder / "leaderboard.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    if resign:
        write_digests(folder)


def _row(document, row_id):
    return next(r for r in document["rows"] if r["row_id"] == row_id)


def _failed(report) -> dict[str, list[str]]:
    return {c.name: c.problems for c in report.failures}


def _names_row(report, row_id) -> bool:
    """Some failing check is the row itself, or a problem names it."""
    failed = _failed(report)
    return row_id in failed or any(row_id in p for problems in failed.values() for p in problems)


def test_a_fresh_publish_verifies_on_its_own_and_against_its_store(bench, published):
    report = verify_publication(published)
    assert report.ok, _failed(report)
    assert len(report.rows) == 7 and report.store is None
    assert verify_publication(published / "leaderboard.json", bench.store).ok
    result = _cli("verify", str(published))
    assert result.exit_code == 0, result.output
    assert "ok    row intensity-zscore@oracle: run1:oracle" in result.output
    assert "7 of 7 rows verified on its own (no store)" in result.output
    assert _cli("verify", str(published), "--db", bench.db).exit_code == 0


def test_the_digest_list_catches_any_changed_added_or_missing_file(published):
    (published / "index.html").write_text((published / "index.html").read_text()[:1000])
    (published / "notes.txt").write_text("added later")
    next((published / "gallery").rglob("*.png")).unlink()
    problems = _failed(verify_publication(published))["files"]
    assert any(p.startswith("index.html: changed since publish") for p in problems)
    assert any(p.startswith("notes.txt: not listed") for p in problems)
    assert any(p.endswith(".png: listed in SHA256SUMS but missing") for p in problems)
    (published / "SHA256SUMS").unlink()
    assert any("SHA256SUMS: missing" in p for p in _failed(verify_publication(published))["files"])


# Every field of a row; each edit must be caught and the row named.
ROW_EDITS = [
    ("metrics.dice", lambda r: r["metrics"].update(dice=0.99)),
    ("metrics.dice_pooled", lambda r: r["metrics"].update(dice_pooled=0.5)),
    ("metrics.image_auroc", lambda r: r["metrics"].update(image_auroc=0.123)),
    ("metrics.pixel_auroc", lambda r: r["metrics"].update(pixel_auroc=0.5)),
    ("metrics.aupro", lambda r: r["metrics"].pop("aupro")),
    ("method", lambda r: r.update(method="mias-sam@mask")),
    ("detector", lambda r: r.update(detector="mias-sam")),
    ("variant", lambda r: r.update(variant="k=3")),
    ("marks", lambda r: r.update(marks=[])),
    ("ranked", lambda r: r.update(ranked=not r["ranked"])),
    ("rank", lambda r: r.update(rank=(r["rank"] or 0) + 1)),
    ("letters", lambda r: r.update(letters="z")),
    ("upper_bound", lambda r: r.update(upper_bound=not r["upper_bound"])),
    ("threshold", lambda r: r.update(threshold=0.1234)),
    ("fitted_on", lambda r: r.update(fitted_on="valid")),
    ("protocol", lambda r: r.update(protocol="valid-f1")),
    ("config", lambda r: r["config"].update(grid=64)),
    ("config_hash", lambda r: r.update(config_hash="1" * 64)),
    ("manifest_hash", lambda r: r.update(manifest_hash="0" * 64)),
    ("weights", lambda r: r.update(weights="sam_vit_b")),
    ("random_init", lambda r: r.update(random_init=True)),
    ("transductive", lambda r: r.update(transductive=True)),
    ("provenance", lambda r: r.update(provenance="self-reported")),
    ("seed", lambda r: r.update(seed=7)),
    ("plugin_version", lambda r: r.update(plugin_version="9.9")),
    ("packages", lambda r: r["packages"].update(torch="0.1")),
    ("n_cases_by_label", lambda r: r["n_cases_by_label"].update(normal=1)),
    ("finished_at", lambda r: r.update(finished_at="2020-01-01T00:00:00+00:00")),
    ("run_id", lambda r: r.update(run_id=42)),
]


@pytest.mark.parametrize(("field", "change"), ROW_EDITS, ids=[f for f, _ in ROW_EDITS])
def test_every_field_of_a_row_edited_alone_is_caught_with_the_row_named(published, field, change):
    _edit_json(published, lambda d: change(_row(d, "run1:oracle")))
    report = verify_publication(published)
    assert not report.ok
    assert _names_row(report, "run1:oracle"), _failed(report)


def test_a_relabelled_method_is_named_with_the_label_the_values_give(published):
    _edit_json(published, lambda d: _row(d, "run1:valid-f1").update(method="mias-sam@mask"))
    problems = _failed(verify_publication(published))["run1:valid-f1"]
    assert "method: file 'mias-sam@mask', recomputed 'intensity-zscore@valid-f1'" in problems


def test_an_edited_summary_metric_says_what_the_cases_give(published):
    _edit_json(published, lambda d: _row(d, "run1:valid-f1")["metrics"].update(dice=0.99))
    problems = _failed(verify_publication(published))["run1:valid-f1"]
    assert any(p.startswith("metrics.dice: file 0.99, the per-case values give 0.") for p in problems)


def test_deleted_and_duplicated_rows_are_caught(published, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    _edit_json(published, lambda d: d.update(rows=[r for r in d["rows"] if r["row_id"] != "run2:fixed:0.5"]))
    report = verify_publication(published)
    assert not report.ok and _names_row(report, "run2:fixed:0.5")
    _edit_json(copy, lambda d: d["rows"].append(dict(_row(d, "run1:valid-f1"))))
    problems = _failed(verify_publication(copy))["document"]
    assert any("'run1:valid-f1'" in p and "more than once" in p for p in problems)


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("dataset", lambda d: d.update(dataset="bmad")),
        ("metrics", lambda d: d["metrics"]["dice"].update(higher_is_better=False)),
        ("marks", lambda d: d["marks"].pop("oracle")),
        ("statistics", lambda d: d["statistics"].update(n_boot=10)),
        ("comparison", lambda d: d["groups"][0]["comparison"]["pairs"][0].update(p_holm=0.5)),
        ("group rows", lambda d: d["groups"][0]["row_ids"].reverse()),
    ],
)
def test_document_level_edits_are_caught(published, where, change):
    _edit_json(published, change)
    assert not verify_publication(published).ok, where


def test_an_edited_case_line_is_caught_with_its_row_named(published):
    path = published / "cases.csv"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("run3:valid-f1,"))
    fields = lines[index].split(",")
    fields[4] = "0.123"  # dice
    lines[index] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    write_digests(published)
    problems = _failed(verify_publication(published))["run3:valid-f1"]
    assert any("dice 0.123, its pixel counts give" in p for p in problems)


def test_a_deleted_case_line_is_caught(published):
    path = published / "cases.csv"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("run4:oracle,"))
    path.write_text("\n".join(lines[:index] + lines[index + 1 :]) + "\n")
    write_digests(published)
    assert _names_row(verify_publication(published), "run4:oracle")


@pytest.mark.parametrize("name", ["index.html", "leaderboard.md", "leaderboard.csv"])
def test_an_edited_number_on_the_page_or_in_the_tables_is_caught_with_its_row(published, name):
    path = published / name
    text = path.read_text()
    row = json.loads((published / "leaderboard.json").read_text())["rows"][0]
    shown = f"{100 * row['metrics']['dice']:.2f}" if name != "leaderboard.csv" else repr(row["metrics"]["dice"])
    assert shown in text
    path.write_text(text.replace(shown, "99.99", 1))
    write_digests(published)
    problems = _failed(verify_publication(published))["rendering"]
    assert any(p.startswith(f"{name}: row {row['row_id']}") for p in problems), problems


def test_a_truncated_page_is_caught(published):
    path = published / "index.html"
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    write_digests(published)
    problems = _failed(verify_publication(published))["rendering"]
    assert any(p.startswith("index.html:") for p in problems)


def test_a_store_that_disagrees_with_the_file_is_reported_by_row(bench, published):
    from sqlalchemy import update

    from bench.store import Summary

    with bench.store.session() as s:
        s.execute(update(Summary).where(Summary.evaluation_id == 1, Summary.metric == "dice").values(value=0.5))
    report = verify_publication(published, bench.store)
    row = next(c for c in report.failures if c.name.startswith("run1:"))
    assert any("metrics.dice: file" in p and "store 0.5" in p for p in row.problems)
    assert verify_publication(published).ok  # on its own the folder is still consistent


def test_rows_stored_since_the_publish_are_noted_not_failed(bench, published):
    from bench.datasets.registry import open_dataset
    from bench.runner import RunRequest, execute

    liver = open_dataset("bmad-liver", bench.root / "data" / "liver")
    execute(RunRequest("intensity-zscore", liver, "fixed:2.5"), bench.store)
    report = verify_publication(published, bench.store)
    assert report.ok
    assert any("does not list: run1:fixed:2.5" in n for n in report.notes)


def test_unknown_schemas_and_versions_are_refused(published, tmp_path):
    _edit_json(published, lambda d: d.update(schema_version=1))
    with pytest.raises(PublishError, match="schema version 1 of 'mias-bench/leaderboard' is not known"):
        verify_publication(published)
    other = tmp_path / "other"
    other.mkdir()
    (other / "leaderboard.json").write_text(json.dumps({"schema": "something-else", "rows": []}))
    with pytest.raises(PublishError, match="expected a 'mias-bench/leaderboard' document, found schema"):
        verify_publication(other)
    (other / "leaderboard.json").write_text("{")
    with pytest.raises(PublishError, match="not a readable JSON file"):
        verify_publication(other)
    with pytest.raises(PublishError, match="no leaderboard.json in"):
        verify_publication(tmp_path)


def test_verify_refuses_a_store_that_does_not_exist(tmp_path):
    from bench.publish.verify import open_store

    with pytest.raises(PublishError, match="no store at"):
        open_store(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()


def test_the_cli_reports_failures_by_row_and_exits_1(published):
    _edit_json(published, lambda d: _row(d, "run1:valid-f1")["metrics"].update(dice=0.99))
    result = _cli("verify", str(published))
    assert result.exit_code == 1
    assert "FAIL  row intensity-zscore@valid-f1: run1:valid-f1" in result.output
    as_json = json.loads(_cli("verify", str(published), "--json").output)
    assert not as_json["ok"] and "run1:valid-f1" in {c["name"] for c in as_json["checks"] if not c["ok"]}


def test_publish_command_prints_the_files(bench):
    result = _cli("publish", "--dataset", "synthetic", "--out", str(bench.out), "--db", bench.db)
    assert result.exit_code == 0, result.output
    assert "published 7 rows in 2 group(s)" in result.output and "index.html" in result.output
    assert "SHA256SUMS" in result.output and "gallery/" in result.output


def test_rescoring_catches_a_store_edited_consistently_with_its_republished_file(bench, published):
    from sqlalchemy import select, update

    from bench.publish.board import case_rows
    from bench.publish.recompute import summary_from_cases
    from bench.store import CaseMetric, Summary

    assert verify_publication(published, bench.store, rescore=True).ok
    # Make one case perfect in the store, with every summary recomputed to match, and publish again.
    with bench.store.session() as s:
        case = s.scalars(select(CaseMetric).where(CaseMetric.evaluation_id == 1, CaseMetric.label == 1)).first()
        perfect = {"intersection": case.truth_pixels, "predicted": case.truth_pixels, "dice": 1.0}
        perfect["pred_fraction"] = case.truth_pixels / case.pixels
        s.execute(update(CaseMetric).where(CaseMetric.id == case.id).values(**perfect))
    for name, value in summary_from_cases(case_rows(bench.store, 1)).items():
        with bench.store.session() as s:
            s.execute(update(Summary).where(Summary.evaluation_id == 1, Summary.metric == name).values(value=value))
    publish(bench.store, "synthetic", bench.out)
    assert verify_publication(published, bench.store).ok  # file and store agree with each other ...
    report = verify_publication(published, bench.store, rescore=True)  # ... but not with the predictions
    problems = _failed(report)["run1:valid-f1"]
    assert any(p.startswith(f"rescore: case {case.case_id}") for p in problems), problems
    with pytest.raises(PublishError, match="needs the store"):
        verify_publication(published, rescore=True)
