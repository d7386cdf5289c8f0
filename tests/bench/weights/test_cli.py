"""``mias-bench weights list|fetch|add|verify`` over the library."""

from __future__ import annotations

import json

import pytest

from bench.cli.app import run_cli
from bench.paths import weights_dir
from bench.weights import declared_checkpoints


def test_list_json_shows_declared_checkpoints_and_what_is_installed(capsys, tmp_path):
    (tmp_path / "a.pth").write_bytes(b"abc")
    assert run_cli(["weights", "add", str(tmp_path / "a.pth"), "--name", "mine"]) == 0
    capsys.readouterr()
    assert run_cli(["weights", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(declared_checkpoints()) <= set(rows)
    assert rows["sam_vit_b"]["installed"] is False and rows["sam_vit_b"]["size"] == 375_042_383
    assert rows["sam_vit_b"]["declared_by"] == ["mias-sam"] and rows["sam_vit_b"]["licence"] == "Apache-2.0"
    assert rows["mine"]["installed"] is True and rows["mine"]["origin"] == "added"


def test_list_table_goes_to_stdout(capsys):
    assert run_cli(["weights", "list"]) == 0
    assert "sam_vit_b_01ec64.pth" in capsys.readouterr().out


def test_fetch_draws_progress_on_stderr_and_installs(server, served_checkpoint, declare, capsys):
    declare(served_checkpoint)
    assert run_cli(["weights", "fetch", "served"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "installed served" in captured.err
    assert (weights_dir() / "served_ckpt.bin").read_bytes() == server[0].payload


def test_a_failed_fetch_is_one_red_line_and_exit_1(served_checkpoint, declare, capsys):
    import dataclasses

    declare(dataclasses.replace(served_checkpoint, sha256="f" * 64))
    assert run_cli(["weights", "fetch", "served"]) == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("damage", [False, True])
def test_verify_exits_1_on_a_corrupt_file(tmp_path, capsys, damage):
    (tmp_path / "a.pth").write_bytes(b"abc")
    run_cli(["weights", "add", str(tmp_path / "a.pth"), "--name", "mine"])
    if damage:
        (weights_dir() / "mine.pth").write_bytes(b"abd")
    capsys.readouterr()
    assert run_cli(["weights", "verify", "--json"]) == (1 if damage else 0)
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mine"]["status"] == ("corrupt" if damage else "ok")
    assert rows["sam_vit_h"]["status"] == "missing"


def test_verify_of_a_named_missing_checkpoint_exits_1(capsys):
    assert run_cli(["weights", "verify", "sam_vit_l"]) == 1
