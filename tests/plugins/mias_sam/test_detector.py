"""The detector end to end with the tiny SAM: contract, one encode per image, normalisation modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from bench.contract import DetectorContext, validate_prediction
from bench.errors import ConfigError, WeightsError
from bench_mias_sam import MiasSam, MiasSamConfig
from bench_mias_sam.patches import patch_features

TINY = {"sam_variant": "tiny", "weights": "random-init"}


class Probe:
    """Counts images through SAM's encoder and records what the decoder was given."""

    def __init__(self, sam):
        self.encoded: list[torch.Tensor] = []  # one 256 x 64 x 64 output per image, in order
        self.decoder_inputs: list[torch.Tensor] = []
        self.ious: list[np.ndarray] = []
        sam.image_encoder.register_forward_hook(self._on_encode)
        sam.mask_decoder.register_forward_hook(self._on_decode, with_kwargs=True)

    def _on_encode(self, module, args, output):
        self.encoded.extend(output.detach().clone())

    def _on_decode(self, module, args, kwargs, output):
        self.decoder_inputs.append(kwargs["image_embeddings"].detach().clone()[0])
        self.ious.append(output[1][0].numpy().copy())


def _detector(tmp_path, seed=0, **config) -> tuple[MiasSam, Probe]:
    context = DetectorContext(device="cpu", seed=seed, work_dir=tmp_path / "work", batch_size=3)
    detector = MiasSam(MiasSamConfig(**{**TINY, **config}), context)
    return detector, Probe(detector.pipeline.sam)


def _run(detector: MiasSam, cases, test=None):
    test = cases["test"] if test is None else test
    detector.fit(cases["train"])
    detector.calibrate(cases["valid"])
    predictions = detector.predict(test)
    return [
        validate_prediction("mias-sam", c, p) for c, p in zip(test, detector.finalize(test, predictions), strict=True)
    ]


def _brute_force_scores(detector: MiasSam, embedding: torch.Tensor) -> np.ndarray:
    bank = detector.pipeline.bank.vectors().astype(np.float64)
    feats = patch_features(embedding[None]).numpy()[0].astype(np.float64)
    d2 = (feats**2).sum(1)[:, None] + (bank**2).sum(1)[None, :] - 2 * feats @ bank.T
    return d2.min(axis=1).reshape(32, 32)


def test_validation_mode_end_to_end(tmp_path, cases):
    detector, probe = _detector(tmp_path)
    predictions = _run(detector, cases)
    n_train, n_test = len(cases["train"]), len(cases["test"])
    n_valid_normal = sum(c.label == 0 for c in cases["valid"])
    assert len(probe.encoded) == n_train + n_valid_normal + n_test  # every image encoded once
    assert len(probe.decoder_inputs) == n_test  # one decode per test image ...
    test_embeddings = probe.encoded[-n_test:]
    for used, encoded in zip(probe.decoder_inputs, test_embeddings, strict=True):
        torch.testing.assert_close(used, encoded, rtol=0, atol=0)  # ... from that image's own embedding
    for pred, embedding in zip(predictions, test_embeddings, strict=True):
        assert pred.mask is not None and pred.mask.dtype == bool and pred.mask.shape == (256, 256)
        assert sorted(pred.extra_masks) == ["mask0", "mask1", "mask2"]
        np.testing.assert_array_equal(pred.mask, pred.extra_masks["mask0"])  # mask_index 0
        scores = _brute_force_scores(detector, embedding)
        assert pred.score == pytest.approx(scores.max(), rel=1e-3)
        upsampled = torch.nn.functional.interpolate(
            torch.from_numpy(scores)[None, None], size=256, mode="bilinear", align_corners=False
        )[0, 0].numpy()
        expected_map = ndimage.gaussian_filter(upsampled, 4.0)
        np.testing.assert_allclose(pred.anomaly_map, expected_map, rtol=1e-3, atol=1e-3 * scores.max())
    info = detector.run_info()
    assert info.weights == "random-init" and info.weights_sha256 is None and not info.transductive
    assert info.notes["faiss_device"] == "cpu" and info.notes["bank_patches"] == n_train * 1024
    assert info.notes["bank_bytes_per_train_image"] == 1024 * 1024 * 4
    assert info.notes["images_encoded"] == len(probe.encoded)
    assert not detector.needs_finalize()
    # the normalisation range is the range of the normal validation maps
    normal_valid = [c for c in cases["valid"] if c.label == 0]
    maps = np.stack([p.anomaly_map for p in detector.predict(normal_valid)])
    assert (info.notes["norm_min"], info.notes["norm_max"]) == pytest.approx((maps.min(), maps.max()), rel=1e-5)


def test_test_set_mode_finalizes_from_embeddings_kept_on_disk(tmp_path, cases):
    detector, probe = _detector(tmp_path, normalization="test-set")
    assert detector.needs_finalize()
    detector.fit(cases["train"])
    detector.calibrate(cases["valid"])  # reads nothing under test-set
    test = cases["test"]
    raw = detector.predict(test)
    assert all(p.mask is None for p in raw) and not probe.decoder_inputs
    assert len(list((tmp_path / "work" / "embeddings").glob("*.npy"))) == len(test)
    final = [validate_prediction("mias-sam", c, p) for c, p in zip(test, detector.finalize(test, raw), strict=True)]
    assert len(probe.encoded) == len(cases["train"]) + len(test)  # no second encode
    for used, encoded in zip(probe.decoder_inputs, probe.encoded[-len(test) :], strict=True):
        torch.testing.assert_close(used, encoded, rtol=0, atol=0)
    assert all(p.mask is not None and len(p.extra_masks) == 3 for p in final)
    for before, after in zip(raw, final, strict=True):
        np.testing.assert_array_equal(before.anomaly_map, after.anomaly_map)
        assert before.score == after.score
    assert not list((tmp_path / "work" / "embeddings").glob("*.npy"))
    info = detector.run_info()
    maps = np.stack([p.anomaly_map for p in raw])
    assert info.transductive and info.notes["norm_from"] == "4 test cases (test-set)"
    assert (info.notes["norm_min"], info.notes["norm_max"]) == pytest.approx((maps.min(), maps.max()), rel=1e-6)


def test_test_set_prompts_use_the_global_range(tmp_path, cases, monkeypatch):
    from bench_mias_sam import pipeline as pipeline_module

    seen = []
    real = pipeline_module.centre_of_gravity
    monkeypatch.setattr(pipeline_module, "centre_of_gravity", lambda m, g, w="": seen.append(m.copy()) or real(m, g, w))
    detector, _ = _detector(tmp_path, normalization="test-set")
    predictions = _run(detector, cases)
    maps = np.stack([p.anomaly_map for p in predictions])
    lo, hi = maps.min(), maps.max()
    for used, amap in zip(seen, maps, strict=True):
        np.testing.assert_allclose(used, (amap - lo) / (hi - lo), rtol=1e-5, atol=1e-6)
    assert min(m.min() for m in seen) == pytest.approx(0.0, abs=1e-6)
    assert max(m.max() for m in seen) == pytest.approx(1.0, rel=1e-6)


def test_per_image_mode_needs_no_validation_and_best_mask_follows_predicted_iou(tmp_path, cases):
    detector, probe = _detector(tmp_path, normalization="per-image", mask_index="best")
    detector.fit(cases["train"])
    predictions = detector.predict(cases["test"])  # no calibrate needed
    for pred, iou in zip(predictions, probe.ious, strict=True):
        np.testing.assert_array_equal(pred.mask, pred.extra_masks[f"mask{int(np.argmax(iou))}"])
    assert "norm_min" not in detector.run_info().notes


def test_mask_index_two_reports_the_third_mask(tmp_path, cases):
    detector, _ = _detector(tmp_path, normalization="per-image", mask_index=2)
    detector.fit(cases["train"])
    for pred in detector.predict(cases["test"][:2]):
        np.testing.assert_array_equal(pred.mask, pred.extra_masks["mask2"])


def test_same_seed_same_result(tmp_path, cases):
    def run():
        detector, _ = _detector(tmp_path, seed=3, normalization="per-image")
        detector.fit(cases["train"])
        return detector.predict(cases["test"][:2])

    for x, y in zip(run(), run(), strict=True):  # other seeds give other weights: see test_sam_models
        np.testing.assert_array_equal(x.anomaly_map, y.anomaly_map)
        np.testing.assert_array_equal(x.mask, y.mask)


def test_train_flip_is_seeded(tmp_path, cases):
    def bank(flip, seed=0):
        detector, _ = _detector(tmp_path, seed=seed, normalization="per-image", train_flip=flip)
        detector.fit(cases["train"])
        return detector.pipeline.bank.vectors()

    flipped = bank(True)
    np.testing.assert_array_equal(flipped, bank(True))
    assert not np.array_equal(flipped, bank(False))


def test_non_square_cases_get_maps_and_masks_at_their_own_size(tmp_path, cases, split_factory):
    wide = split_factory(7, "test", 1, 1, shape=(120, 200))
    detector, _ = _detector(tmp_path, normalization="per-image")
    detector.fit(cases["train"])
    for case, pred in zip(wide, detector.predict(wide), strict=True):
        pred = validate_prediction("mias-sam", case, pred)
        assert pred.anomaly_map.shape == pred.mask.shape == pred.extra_masks["mask1"].shape == (120, 200)


def test_calls_out_of_order_name_the_call_to_make(tmp_path, cases):
    detector, _ = _detector(tmp_path)
    with pytest.raises(ConfigError, match=r"call fit\(normal_cases\) before predict"):
        detector.predict(cases["test"])
    detector.fit(cases["train"])
    with pytest.raises(ConfigError, match=r"calibrate\(valid_cases\) before predict"):
        detector.predict(cases["test"])
    with pytest.raises(ConfigError, match="none is normal"):
        detector.calibrate([c for c in cases["valid"] if c.label == 1])
    with pytest.raises(ConfigError, match="no normal training cases"):
        detector.fit([])


def test_finalize_refuses_cases_it_never_predicted(tmp_path, cases):
    detector, _ = _detector(tmp_path, normalization="test-set")
    detector.fit(cases["train"])
    predictions = detector.predict(cases["test"][:1])
    with pytest.raises(ConfigError, match="never predicted"):
        detector.finalize(cases["test"][:2], predictions + predictions)


def test_a_missing_checkpoint_fails_before_anything_is_built(cases):
    detector = MiasSam(MiasSamConfig(), DetectorContext())
    with pytest.raises(WeightsError) as info:
        detector.fit(cases["train"])
    message = str(info.value)
    assert "sam_vit_b_01ec64.pth" in message
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in message
    assert "mias-bench weights fetch sam_vit_b" in message
    assert detector._pipeline is None


def test_validation_images_calibrate_encoded_are_not_encoded_again(tmp_path, cases, monkeypatch):
    import bench_mias_sam.detector as detector_module

    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")  # the in-process memo alone
    valid = cases["valid"]
    n_normal = sum(c.label == 0 for c in valid)
    assert 0 < n_normal < len(valid)

    def predict_valid(detector):
        detector.fit(cases["train"])
        detector.calibrate(valid)
        return [validate_prediction("mias-sam", c, p) for c, p in zip(valid, detector.predict(valid), strict=True)]

    cached, probe = _detector(tmp_path / "a")
    with_cache = predict_valid(cached)
    assert len(probe.encoded) == len(cases["train"]) + len(valid)  # each validation image once
    assert cached.run_info().notes["images_encoded"] == len(probe.encoded)
    # each decode used the embedding calibrate() computed for that image
    by_image = probe.encoded[len(cases["train"]) :]  # normal ones (calibrate), then the anomalous ones
    order = [i for i, c in enumerate(valid) if c.label == 0] + [i for i, c in enumerate(valid) if c.label == 1]
    for position, i in enumerate(order):
        torch.testing.assert_close(probe.decoder_inputs[i], by_image[position], rtol=0, atol=0)

    monkeypatch.setattr(detector_module, "CALIBRATION_MEMO_BYTES", 0)
    uncached, probe = _detector(tmp_path / "b")
    without = predict_valid(uncached)
    assert len(probe.encoded) == len(cases["train"]) + n_normal + len(valid)  # the normal ones twice
    # The same predictions up to float rounding (the encoder saw the images in other batches).
    for a, b in zip(with_cache, without, strict=True):
        np.testing.assert_allclose(a.anomaly_map, b.anomaly_map, rtol=2e-4)
        assert a.score == pytest.approx(b.score, rel=2e-4)
        assert np.mean(a.mask != b.mask) < 1e-3


def test_the_calibration_memo_is_dropped_when_testing_starts(tmp_path, cases, monkeypatch):
    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    detector, probe = _detector(tmp_path)
    detector.fit(cases["train"])
    detector.calibrate(cases["valid"])
    assert len(detector.pipeline.memo)
    detector.predict(cases["test"])
    assert not len(detector.pipeline.memo)
    before = len(probe.encoded)
    normal_valid = [c for c in cases["valid"] if c.label == 0]
    detector.predict(normal_valid)  # after testing: encoded again, not taken from a stale cache
    assert len(probe.encoded) == before + len(normal_valid)


def test_a_cached_embedding_is_only_used_for_the_same_pixels(tmp_path, cases, monkeypatch):
    import dataclasses

    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    detector, probe = _detector(tmp_path)
    detector.fit(cases["train"])
    normal = [c for c in cases["valid"] if c.label == 0][:1]
    detector.calibrate(normal)
    changed = dataclasses.replace(normal[0], image=np.ascontiguousarray(normal[0].image[::-1]))
    before = len(probe.encoded)
    detector.predict([changed])  # same id, other pixels: encoded
    assert len(probe.encoded) == before + 1
    detector.predict(normal)  # the cached one: not encoded
    assert len(probe.encoded) == before + 1


@pytest.mark.parametrize(
    ("options", "bytes_per_image"),
    [
        ({"bank_dtype": "float16"}, 1024 * 1024 * 2),
        ({"bank_coreset": "greedy", "bank_coreset_ratio": 0.1}, 102 * 1024 * 4),
        ({"bank_coreset": "random", "bank_coreset_ratio": 0.1, "bank_dtype": "float16"}, 102 * 1024 * 2),
        ({"bank_index": "ivf-pq", "ivf_lists": 8, "ivf_probe": 8, "pq_subquantizers": 16, "pq_bits": 4}, None),
    ],
)
def test_every_bank_option_runs_end_to_end_and_reports_its_bytes(tmp_path, cases, options, bytes_per_image):
    detector, probe = _detector(tmp_path, normalization="per-image", **options)
    predictions = _run(detector, cases)
    assert all(p.mask is not None for p in predictions)
    notes = detector.run_info().notes
    n_train = len(cases["train"])
    if bytes_per_image is None:  # ivf-pq: 16 x 4-bit codes + an 8-byte id per patch, centroids and codebooks
        bytes_per_image = 1024 * (8 + 8) + (8 * 1024 * 4 + 16 * 1024 * 4) // n_train
    assert notes["bank_bytes_per_train_image"] == bytes_per_image
    assert notes["bank"]["index"] == options.get("bank_index", "flat")
    assert len(probe.encoded) == n_train + len(cases["test"])
