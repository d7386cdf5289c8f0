"""``data check`` and the loaders on bad trees: every problem names the file and what was expected."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from bench.cli.app import run_cli
from bench.datasets.bmad import BMAD_BRAIN
from bench.datasets.check import check_dataset
from bench.errors import DatasetError


def _png(path, shape=(16, 16), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def mask_without_image(root):
    _png(root / "test/Ungood/label/zz9.png", value=255)


def image_without_mask(root):
    (root / "test/Ungood/label/te001.png").unlink()


def mask_of_another_size(root):
    _png(root / "test/Ungood/label/te003.png", shape=(16, 17), value=255)


def unreadable_image(root):
    (root / "valid/good/img/va000.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")


def truncated_mask(root):
    path = root / "test/Ungood/label/te005.png"
    path.write_bytes(path.read_bytes()[:40])


def unexpected_folder(root):
    _png(root / "test/Ungood/extra/a.png")


def png_outside_a_split(root):
    _png(root / "loose.png")


def valid_without_class(root):
    _png(root / "valid/img/noclass.png")


def split_inside_another_split(root):
    _png(root / "test/valid/good/a.png")


def two_images_with_one_stem(root):
    _png(root / "test/Ungood/images/te001.png")


def empty_mask(root):
    _png(root / "test/Ungood/label/te001.png", value=0)


def stray_file(root):
    (root / "train/good/notes.txt").write_text("hello")


def normal_with_lesion_mask(root):
    _png(root / "test/good/label/te000.png", value=7)


# (mutation, severity, file named, what was expected, fails at listing (else at load))
BAD = [
    (mask_without_image, "error", "test/Ungood/label/zz9.png", "expected `zz9.png` under `test/Ungood/img/`", True),
    (image_without_mask, "error", "test/Ungood/img/te001.png", "expected a mask .* under `test/Ungood/label/`", True),
    (mask_of_another_size, "error", "test/Ungood/label/te003.png", r"17x16 \(WxH\), expected 16x16", False),
    (unreadable_image, "error", "valid/good/img/va000.png", "unreadable image", False),
    (truncated_mask, "error", "test/Ungood/label/te005.png", "unreadable mask", False),
    (
        unexpected_folder,
        "error",
        "test/Ungood/extra/a.png",
        "unexpected folder `test/Ungood/extra/`: expected a split",
        True,
    ),
    (png_outside_a_split, "error", "loose.png", "not under a split folder: expected train/, valid/", True),
    (valid_without_class, "error", "valid/img/noclass.png", "expected `valid/img/good/` or `valid/img/Ungood/`", True),
    (split_inside_another_split, "error", "test/valid/good/a.png", "names split 'valid' inside split 'test'", True),
    (two_images_with_one_stem, "error", "test/Ungood/images/te001.png", "two images with stem 'te001'", True),
]
WARN = [
    (empty_mask, "test/Ungood/label/te001.png", "empty mask on an anomalous case"),
    (stray_file, "train/good/notes.txt", "not a PNG file; ignored"),
    (normal_with_lesion_mask, "test/good/label/te000.png", "normal cases are scored as all-zero"),
]


def _only_count_warnings(report):
    return [p for p in report.warnings if "expected" not in p.message or "BMAD (published)" not in p.message]


def test_a_clean_tree_has_no_errors_and_only_count_warnings(brats_tree):
    report = check_dataset(BMAD_BRAIN, brats_tree)
    assert report.ok and not report.errors
    assert _only_count_warnings(report) == []
    assert report.counts["test"] == {"normal": 3, "anomalous": 3, "total": 6}
    assert report.sizes == {"16x16": 14}
    assert report.expected["test"] == {"normal": 640, "anomalous": 3075, "total": 3715}


@pytest.mark.parametrize(
    ("mutate", "severity", "path", "expected", "at_listing"), BAD, ids=[b[0].__name__ for b in BAD]
)
def test_bad_trees_are_errors_naming_the_file_and_what_was_expected(
    brats_tree, mutate, severity, path, expected, at_listing
):
    mutate(brats_tree)
    report = check_dataset(BMAD_BRAIN, brats_tree)
    found = [p for p in report.errors if p.path == path or f"`{path}`" in p.message]
    assert found, f"no error for {path}: {report.problems}"
    assert re.search(expected, found[0].message), found[0].message
    dataset = BMAD_BRAIN.open(brats_tree)
    if at_listing:
        with pytest.raises(DatasetError, match=re.escape(path)):
            dataset.cases("test")
    else:
        refs = [r for s in ("train", "valid", "test") for r in dataset.cases(s)]
        with pytest.raises(DatasetError, match=re.escape(path.rsplit("/", 1)[-1])):
            for ref in refs:
                ref.load()


@pytest.mark.parametrize(("mutate", "path", "message"), WARN, ids=[w[0].__name__ for w in WARN])
def test_warnings_do_not_stop_loading(brats_tree, mutate, path, message):
    mutate(brats_tree)
    report = check_dataset(BMAD_BRAIN, brats_tree)
    assert report.ok
    assert any(p.path == path and message in p.message for p in report.warnings), report.problems
    for split in ("train", "valid", "test"):
        for ref in BMAD_BRAIN.open(brats_tree).cases(split):
            ref.load()


def test_check_command_exits_1_on_errors_and_0_on_warnings(brats_tree, capsys):
    assert run_cli(["data", "check", str(brats_tree), "--dataset", "bmad-brain"]) == 0
    assert "warning(s)" in capsys.readouterr().out
    mask_without_image(brats_tree)
    assert run_cli(["data", "check", str(brats_tree), "--dataset", "bmad-brain"]) == 1
    printed = capsys.readouterr()
    assert "test/Ungood/label/zz9.png" in printed.out and "Traceback" not in printed.out + printed.err


def test_check_json_lists_errors_and_counts(brats_tree, capsys):
    import json

    empty_mask(brats_tree)
    assert run_cli(["data", "check", str(brats_tree), "-d", "bmad-brain", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["errors"] == []
    assert data["counts"]["valid"] == {"normal": 2, "anomalous": 2, "total": 4}
    assert any(w["path"] == "test/Ungood/label/te001.png" for w in data["warnings"])


def test_a_missing_root_is_one_red_line_not_a_traceback(tmp_path, capsys):
    assert run_cli(["data", "check", str(tmp_path / "nowhere"), "--dataset", "bmad-brain"]) == 1
    printed = capsys.readouterr()
    assert "does not exist" in printed.err and "Traceback" not in printed.err
    assert printed.err.strip().count("\n") == 0
