"""Symlink loops, dangling symlinks and decompression bombs: one clear error naming the file, in
``data check`` and in ``run``, never a traceback or an endless walk."""

from __future__ import annotations

import json
import os

from PIL import Image

from bench.cli.app import run_cli
from bench.datasets import scan_tree


def _check(root, capsys) -> tuple[int, dict]:
    code = run_cli(["data", "check", str(root), "--dataset", "bmad-brain", "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out) if captured.out.strip() else {}


def _run(root, capsys) -> tuple[int, str]:
    code = run_cli(["run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(root), "-t", "valid-f1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_a_folder_symlink_back_to_an_ancestor_is_reported_once(brats_tree, capsys):
    os.symlink("..", brats_tree / "train" / "good" / "again")  # train/good/again -> train/
    scan = scan_tree(brats_tree)
    loops = [p for p in scan.errors if "symlink loop" in p.message]
    assert [p.path for p in loops] == ["train/good/again"]
    assert "leads back to `train/`" in loops[0].message
    # every real image is listed once: the loop was not followed
    assert len({f.relpath for f in scan.files}) == len(scan.files)
    code, report = _check(brats_tree, capsys)
    assert code == 1 and any(e["path"] == "train/good/again" for e in report["errors"])
    code, err = _run(brats_tree, capsys)
    assert code == 1 and "train/good/again" in err and "symlink loop" in err


def test_a_symlink_that_points_at_itself_is_an_error_naming_it(brats_tree, capsys):
    os.symlink("self.png", brats_tree / "train" / "good" / "self.png")
    scan = scan_tree(brats_tree)
    [problem] = [p for p in scan.errors if p.path == "train/good/self.png"]
    assert "symlink" in problem.message
    code, err = _run(brats_tree, capsys)
    assert code == 1 and "train/good/self.png" in err


def test_a_dangling_symlink_is_an_error_naming_it_and_its_target(brats_tree, tmp_path, capsys):
    os.symlink(tmp_path / "gone.png", brats_tree / "train" / "good" / "gone.png")
    scan = scan_tree(brats_tree)
    [problem] = [p for p in scan.errors if p.path == "train/good/gone.png"]
    assert "broken symlink" in problem.message and str(tmp_path / "gone.png") in problem.message
    code, report = _check(brats_tree, capsys)
    assert code == 1 and any(e["path"] == "train/good/gone.png" for e in report["errors"])
    code, err = _run(brats_tree, capsys)
    assert code == 1 and "train/good/gone.png" in err and "broken symlink" in err


def test_an_image_over_the_decompression_bomb_limit_is_an_error_naming_it(brats_tree, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64)  # the toy images are 16 x 16 = 256 pixels
    code, report = _check(brats_tree, capsys)
    assert code == 1
    messages = [e["message"] for e in report["errors"] if e["path"].endswith(".png")]
    assert messages and all("decompression-bomb limit" in m for m in messages)
    assert "256 pixels" in messages[0]
    code, err = _run(brats_tree, capsys)
    assert code == 1 and "decompression-bomb limit" in err and ".png" in err
