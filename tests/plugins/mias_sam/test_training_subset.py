"""Both eras of the authors' code: 11 training images drawn with a recorded seed, or every training image."""

from __future__ import annotations

import numpy as np
import pytest

from bench.contract import DetectorContext, LabelledCase
from bench.errors import ConfigError
from bench.plugins import resolve_config
from bench_mias_sam import MiasSam
from bench_mias_sam.training_subset import draw_training_subset

# SAM's pixel normalisation of the red channel (Sam.pixel_mean / pixel_std)
RED_MEAN, RED_STD = 123.675, 58.395


def test_a_draw_is_sorted_distinct_and_a_pure_function_of_its_arguments():
    drawn = draw_training_subset(20, 11, seed=0)
    assert len(drawn) == len(set(drawn)) == 11 and drawn == sorted(drawn) and min(drawn) >= 0 and max(drawn) < 20
    assert draw_training_subset(20, 11, seed=0) == drawn
    assert draw_training_subset(20, 11, seed=1) != drawn
    assert draw_training_subset(20, None, seed=0) == list(range(20))
    assert draw_training_subset(7, 11, seed=0) == list(range(7))  # fewer than asked: all of them
    with pytest.raises(ConfigError, match="no normal training cases"):
        draw_training_subset(0, 11, seed=0)


def test_draws_cover_the_training_set_evenly():
    counts = np.zeros(20)
    for seed in range(400):
        counts[draw_training_subset(20, 11, seed)] += 1
    expected = 400 * 11 / 20
    assert np.abs(counts - expected).max() < 0.2 * expected


def _flat_cases(n: int) -> list:
    """Training cases whose grey level is their index: the encoder's input tells which case it was."""
    grey = [np.full((64, 64), (20 + 3 * i) / 255, np.float32) for i in range(n)]
    return [LabelledCase(f"train/good/{i:03d}", grey[i], None, "brain", "train", 0) for i in range(n)]


def _fit(n_train: int, seed: int = 0, preset: str = "paper") -> tuple[MiasSam, list[int]]:
    """Fit the tiny SAM under ``preset``; return the detector and the case indices its encoder saw."""
    config = resolve_config(MiasSam, preset, ["sam_variant=tiny", "weights=random-init", f"train_subset_seed={seed}"])
    detector = MiasSam(config, DetectorContext(device="cpu", seed=0, batch_size=4))
    seen: list[int] = []

    def record(module, args):
        red = args[0][:, 0, 0, 0].numpy() * RED_STD + RED_MEAN  # the top-left pixel's red value, 0..255
        seen.extend(int(round((v - 20) / 3)) for v in red)

    detector.pipeline.sam.image_encoder.register_forward_pre_hook(record)
    detector.fit(_flat_cases(n_train))
    return detector, seen


@pytest.mark.parametrize("n_train", [13, 30])
def test_the_paper_preset_embeds_exactly_11_training_images(monkeypatch, n_train):
    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    detector, seen = _fit(n_train)
    expected = draw_training_subset(n_train, 11, seed=0)
    assert seen == expected  # exactly these 11, in the training cases' order
    notes = detector.run_info().notes
    assert (notes["train_images"], notes["train_images_available"], notes["train_subset_seed"]) == (11, n_train, 0)
    assert notes["train_subset_ids"] == [f"train/good/{i:03d}" for i in expected]
    assert notes["bank_patches"] == 11 * 1024


def test_the_same_seed_gives_the_same_bank_and_another_seed_another_draw(monkeypatch):
    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    first, seen = _fit(20, seed=5)
    again, seen_again = _fit(20, seed=5)
    other, seen_other = _fit(20, seed=6)
    assert seen == seen_again and seen != seen_other
    np.testing.assert_array_equal(first.pipeline.bank.vectors(), again.pipeline.bank.vectors())
    probe = [LabelledCase("test/x", np.full((64, 64), 0.5, np.float32), None, "brain", "test", 0)]
    same = [d.pipeline.scores(*_keyed(d, probe)) for d in (first, again)]
    np.testing.assert_array_equal(same[0], same[1])


def _keyed(detector: MiasSam, cases: list):
    images, _ = detector._images(cases)
    return images, [detector.pipeline.key(image) for image in images]


def test_the_authors_2026_preset_embeds_every_training_image(monkeypatch):
    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    detector, seen = _fit(13, preset="authors-2026")
    assert seen == list(range(13))
    notes = detector.run_info().notes
    assert notes["train_images"] == notes["train_images_available"] == 13 and "train_subset_ids" not in notes
    assert notes["bank_patches"] == 13 * 1024
