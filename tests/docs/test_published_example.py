"""The leaderboard committed under ``leaderboards/synthetic/`` verifies on its own, as any reader would check it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.cli.app import run_cli
from bench.publish.verify import verify_publication

PUBLISHED = Path(__file__).resolve().parents[2] / "leaderboards" / "synthetic"


def test_the_committed_leaderboard_verifies_stand_alone():
    report = verify_publication(PUBLISHED)
    assert report.ok, [(c.name, c.problems) for c in report.failures]
    rows = json.loads((PUBLISHED / "leaderboard.json").read_text())["rows"]
    assert len(report.rows) == len(rows) > 0


def test_an_edited_copy_of_it_fails(tmp_path, capsys):
    copy = tmp_path / "synthetic"
    shutil.copytree(PUBLISHED, copy)
    document = json.loads((copy / "leaderboard.json").read_text())
    document["rows"][0]["method"] = document["rows"][0]["method"] + "@mask"
    (copy / "leaderboard.json").write_text(json.dumps(document, indent=2))
    assert run_cli(["verify", str(copy)]) == 1
    assert run_cli(["verify", str(PUBLISHED)]) == 0
