"""Sealed test truth: a detector that tries to read the test truth from what it is handed gets nothing."""

from __future__ import annotations

import numpy as np
import pytest
from planted import planted_dataset

from bench.contract import Case, LabelledCase
from bench.frame import get_frame
from bench.runner import RunRequest, execute


@pytest.mark.parametrize("how", ["case", "id", "order", "objects"])
def test_a_cheating_plugin_scores_at_chance(store, fake_site, how):
    # 40 test cases, 20 with a lesion: guessing "the first 20 handed over" is right by chance only.
    data = planted_dataset(n_test=40)
    result = execute(RunRequest("cheating", data, "valid-f1,oracle", overrides=[f"how={how}", "first=20"]), store)
    summary = result.evaluations["oracle"]
    # What a constant map gets: every pixel or none; a mask of everything scores 2|T|/(|T|+N), about 0.06.
    assert summary["dice"] < 0.2, summary
    assert summary["pixel_auroc"] < 0.8 and summary["image_auroc"] < 0.8, summary


def test_what_a_detector_is_handed_has_no_truth_and_no_way_back_to_it(store, fake_site, monkeypatch):
    from fake_plugins import Cheating

    seen: dict[str, list] = {"test": [], "valid": []}
    original = Cheating.predict

    def record(self, cases):
        for case in cases:
            seen[case.split].append(case)
        return original(self, cases)

    monkeypatch.setattr(Cheating, "predict", record)
    execute(RunRequest("cheating", planted_dataset(n_test=10), "valid-f1"), store)
    assert len(seen["test"]) == 10 and len(seen["valid"]) == 6
    for case in seen["test"] + seen["valid"]:
        assert type(case) is Case and not isinstance(case, LabelledCase)
        assert not hasattr(case, "__dict__") and not hasattr(case, "mask") and not hasattr(case, "label")
        assert case.image.base is None  # a copy: not a view into the dataset's arrays
        assert "good" not in case.id.lower() and case.id.startswith(case.split + "-")
    ids = [c.id for c in seen["test"]]
    assert len(set(ids)) == 10


def test_the_order_of_the_test_split_does_not_follow_its_labels(store, fake_site, monkeypatch):
    from fake_plugins import Cheating

    order: list[bytes] = []
    original = Cheating.predict

    def record(self, cases):
        order.extend(c.image.tobytes() for c in cases if c.split == "test")
        return original(self, cases)

    monkeypatch.setattr(Cheating, "predict", record)
    data = planted_dataset(n_test=40)
    execute(RunRequest("cheating", data, "oracle"), store)
    # The dataset lists its anomalous cases first (test/Ungood before test/good); the sealed order does not.
    frame = get_frame("paper-256")
    cases = [frame.apply(r.load()) for r in data.cases("test")]
    listed = [c.label for c in cases]
    assert listed == sorted(listed, reverse=True)
    label_of = {c.image.tobytes(): c.label for c in cases}
    handed = [label_of[image] for image in order]
    assert len(handed) == 40 and sum(handed) == 20
    assert handed != sorted(handed, reverse=True) and handed != sorted(handed)


def test_calibrate_sees_labels_of_the_validation_split_only(store, fake_site, monkeypatch):
    from bench.contract import Capabilities
    from bench_intensity_zscore import IntensityZScore

    got: list = []

    class Calibrating(IntensityZScore):
        capabilities = Capabilities(outputs_mask=False, uses_validation=True)

        def calibrate(self, valid_cases):
            got.extend(valid_cases)

    monkeypatch.setattr(IntensityZScore, "capabilities", Calibrating.capabilities)
    monkeypatch.setattr(IntensityZScore, "calibrate", Calibrating.calibrate)
    execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f1"), store)
    assert got and all(type(c) is LabelledCase and c.split == "valid" for c in got)
    assert sorted(c.label for c in got) == [0, 0, 0, 1, 1, 1]
    assert all(c.mask is not None and c.mask.any() for c in got if c.label == 1)
    assert all("good" not in c.id.lower() for c in got)  # the same opaque ids predict() sees
    assert np.all([c.image.dtype == np.float32 for c in got])
