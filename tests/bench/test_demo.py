"""`mias-bench demo`: synthetic data, offline detectors, leaderboard, publish; a rerun redoes nothing."""

from __future__ import annotations

import json

from bench.cli.app import run_cli
from bench.demo import plan_detectors
from bench.store import Store


def test_offline_plan_uses_random_init_where_no_weights_are_installed():
    plan = plan_detectors()
    assert plan.detectors["intensity-zscore"] == {}
    assert plan.detectors["mias-sam"] == {"sam_variant": "tiny", "weights": "random-init"}
    from bench_patchcore.weights import locate_weights

    for name, backbone in (("patchcore-r18", "resnet18"), ("patchcore-wrn50", "wide_resnet50_2")):
        cached = locate_weights(backbone).cached_file is not None  # a developer may have timm's weights cached
        assert plan.detectors[name] == ({} if cached else {"pretrained": False})


def test_demo_runs_publishes_and_is_resumable(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_cli(["demo", "--out", str(out), "--detector", "intensity-zscore"]) == 0
    printed = capsys.readouterr()
    for title in ("brain · bmad-brain (synthetic)", "liver · bmad-liver (synthetic)", "retina · bmad-resc (synthetic)"):
        assert title in printed.out
    assert "published 9 rows" in printed.err
    folder = out / "leaderboards" / "synthetic"
    assert (folder / "index.html").is_file()
    board = json.loads((folder / "leaderboard.json").read_text())
    assert {r["protocol"] for r in board["rows"]} == {"valid-f1", "normal-p99", "oracle"}
    assert run_cli(["verify", str(folder / "leaderboard.json"), "--db", str(out / "mias-bench.db")]) == 0
    runs_before = [r.id for r in Store(str(out / "mias-bench.db")).list_runs()]
    assert run_cli(["demo", "--out", str(out), "--detector", "intensity-zscore"]) == 0
    assert "already stored" in capsys.readouterr().err
    assert [r.id for r in Store(str(out / "mias-bench.db")).list_runs()] == runs_before
