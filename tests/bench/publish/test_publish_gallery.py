"""The gallery: masks rebuilt from the prediction cache, left out (never failing) when they cannot be."""

from __future__ import annotations

import shutil

import numpy as np
from PIL import Image
from planted import planted_dataset

from bench.prediction_cache import PredictionCache, run_folder
from bench.publish import publish
from bench.publish.board import collect_board
from bench.publish.gallery import choose_cases
from bench.runner import RunRequest, execute
from bench.thresholds import apply_threshold


def test_gallery_shows_image_truth_and_each_rows_mask_as_small_pngs(bench):
    result = publish(bench.store, "synthetic", bench.out)
    pngs = {k: v for k, v in result.files.items() if k.endswith(".png")}
    # 2 groups x 4 cases x (image + truth) + liver 5 rows x 4 cases + retina 2 rows x 4 cases
    assert len(pngs) == 2 * 4 * 2 + 5 * 4 + 2 * 4
    for name in pngs:
        image = Image.open(bench.out / "synthetic" / name)
        assert max(image.size) <= 128
        assert image.mode == ("L" if "-image-" in name else "P")
    mask = Image.open(next(bench.out.glob("synthetic/gallery/liver-*/0-run1_valid-f1.png")))
    assert mask.info.get("transparency") == 0 and len(mask.getpalette()) <= 2 * 3


def test_a_gallery_mask_is_the_thresholded_cached_map(bench):
    publish(bench.store, "synthetic", bench.out)
    board = collect_board(bench.store, "bmad-resc")
    group = board.groups[0]
    (case_id, _), *_ = choose_cases(group)
    valid = next(p for p in group.rows if p.row.protocol == "valid-f1")
    run = bench.store.get_run(valid.row.run_id)
    full = apply_threshold(PredictionCache(run.run_key).load(case_id).anomaly_map, valid.row.threshold)
    shown = np.asarray(Image.open(next(bench.out.glob("synthetic/gallery/retina-*/0-run4_valid-f1.png")))) == 1
    # a 256 px mask shown at 128 px: each shown pixel is the majority of a 2 x 2 block
    blocks = full.reshape(128, 2, 128, 2).sum(axis=(1, 3))
    assert np.array_equal(shown, blocks >= 2)


def test_choose_cases_spans_hard_to_easy_anomalous_cases_then_a_normal_one(bench):
    group = collect_board(bench.store, "bmad-liver").groups[0]
    picks = choose_cases(group, n_anomalous=3, n_normal=1)
    assert [label for _, label in picks] == [1, 1, 1, 0]
    mean_dice, labels = {}, {}
    for published in group.rows:
        for case in published.cases:
            mean_dice.setdefault(case.case_id, []).append(case.dice)
            labels[case.case_id] = case.label
    means = [np.mean(mean_dice[c]) for c, label in picks if label == 1]
    anomalous = [np.mean(v) for c, v in mean_dice.items() if labels[c] == 1]
    assert means[0] == min(anomalous) and means[-1] == max(anomalous)


def test_a_run_without_its_prediction_cache_is_left_out_of_the_gallery(bench):
    run = bench.store.get_run(1)
    shutil.rmtree(run_folder(run.run_key))
    result = publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    assert not list(folder.glob("gallery/*/*-run1_*.png")) and list(folder.glob("gallery/*/*-run2_*.png"))
    assert any("intensity-zscore@valid-f1 (run 1): no cached predictions" in n for n in result.notes)
    page = (folder / "index.html").read_text()
    assert "(run 1): no cached predictions on this machine; its masks are left out." in page
    assert len(result.files) > 5 and (folder / "leaderboard.json").is_file()


def test_a_dataset_that_cannot_be_reopened_gets_no_gallery_and_a_note(bench):
    execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f1,oracle"), bench.store)
    result = publish(bench.store, "planted", bench.out)
    folder = bench.out / "planted"
    assert not (folder / "gallery").exists() or not list((folder / "gallery").rglob("*.png"))
    assert any("No gallery: the test images of planted are not available here" in n for n in result.notes)
    assert "No gallery: the test images of planted" in (folder / "index.html").read_text()
