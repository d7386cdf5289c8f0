"""Every first-party detector through `mias-bench run` on the synthetic benchmark, offline.

A small synthetic brain set keeps this to well under a minute on a 2-core
CPU: PatchCore with random-init backbones under all four threshold
protocols, MIAS-SAM with the tiny random-init SAM under its own mask.
"""

from __future__ import annotations

import json

import pytest

from bench.cli.app import run_cli

SMALL = ["--n-train", "6", "--n-valid", "4", "--n-test", "6", "--size", "64"]


@pytest.fixture(scope="module")
def synth_brain(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    assert run_cli(["data", "synth", "--out", str(out), "--modality", "brain", "--seed", "3", *SMALL]) == 0
    return out / "brain"


@pytest.mark.slow
def test_patchcore_plugins_under_all_four_protocols_with_oracle_marked(synth_brain, capsys):
    protocols = "fixed:1,valid-f1,normal-p99,oracle"
    code = run_cli(
        [
            "run",
            "patchcore-r18",
            "patchcore-wrn50",
            "-d",
            "bmad-brain",
            "--data-root",
            str(synth_brain),
            "-t",
            protocols,
            "--set",
            "pretrained=false",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert run_cli(["leaderboard", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for detector in ("patchcore-r18", "patchcore-wrn50"):
        mine = {r["protocol"]: r for r in rows if r["detector"] == detector}
        assert set(mine) == set(protocols.split(","))
        assert all(r["weights"] == "random-init" and "random-init" in r["marks"] for r in mine.values())
        assert mine["oracle"]["marks"][0] == "oracle" and mine["oracle"]["fitted_on"] == "test"
        assert mine["valid-f1"]["fitted_on"] == "valid" and mine["normal-p99"]["fitted_on"] == "valid-normal"
        for honest in ("fixed:1", "valid-f1", "normal-p99"):
            assert mine["oracle"]["metrics"]["dice"] >= mine[honest]["metrics"]["dice"]
        assert len({r["run_id"] for r in mine.values()}) == 1  # predicted once, scored four times
    assert run_cli(["leaderboard"]) == 0
    table = capsys.readouterr().out
    assert "patchcore-wrn50" in table and "random-init" in table
    assert any("patchcore-wrn50@oracle" in line and " test " in line for line in table.splitlines())


@pytest.mark.slow
def test_mias_sam_tiny_random_init_through_the_cli_is_marked(synth_brain, capsys):
    code = run_cli(
        [
            "run",
            "mias-sam",
            "-d",
            "bmad-brain",
            "--data-root",
            str(synth_brain),
            "--set",
            "sam_variant=tiny",
            "--set",
            "weights=random-init",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert run_cli(["leaderboard", "--json", "--dataset", "bmad-brain"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["detector"] == "mias-sam" and row["protocol"] == "mask" and row["threshold"] is None
    assert row["marks"] == ["random-init"] and row["config"]["sam_variant"] == "tiny"
    assert {"dice_mask0", "dice_mask1", "dice_mask2"} <= set(row["metrics"])


@pytest.mark.slow
def test_mias_sam_paper_preset_is_stored_as_transductive(synth_brain, capsys):
    code = run_cli(
        [
            "run",
            "mias-sam",
            "-d",
            "bmad-brain",
            "--data-root",
            str(synth_brain),
            "--preset",
            "paper",
            "--set",
            "sam_variant=tiny",
            "--set",
            "weights=random-init",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert run_cli(["leaderboard", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["transductive"] and row["marks"] == ["random-init", "transductive"]
    assert row["config"]["normalization"] == "test-set" and row["preset"] == "paper"


def test_mias_sam_paper_preset_without_a_checkpoint_names_the_fix(synth_brain, capsys):
    code = run_cli(["run", "mias-sam", "-d", "bmad-brain", "--data-root", str(synth_brain), "--preset", "paper"])
    err = capsys.readouterr().err
    assert code == 1 and "sam_vit_b" in err and "mias-bench weights fetch" in err and "Traceback" not in err
