"""PatchCore plugins on generated cases: maps, scores, memory bank, preprocessing, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from planted import planted_cases
from scipy.ndimage import binary_dilation

from bench.contract import Case, DetectorContext, validate_prediction
from bench.errors import ConfigError
from bench_patchcore import PatchcoreR18, PatchcoreWrn50
from bench_patchcore.config import IMAGENET_MEAN, IMAGENET_STD
from bench_patchcore.preprocess import to_backbone_input

N_TRAIN = 8
SIZE = 64


@pytest.fixture(scope="module")
def cases():
    all_cases = planted_cases(n_train=N_TRAIN, n_valid=0, n_test=10, size=SIZE, seed=3)
    return [c for c in all_cases if c.split == "train"], [c for c in all_cases if c.split == "test"]


@pytest.fixture(scope="module")
def fitted_r18(cases):
    """resnet18, random init, input 64 (no resampling of the 64 x 64 cases)."""
    detector = _r18()
    detector.fit(cases[0])
    return detector


def _pil_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Independent bilinear resize: PIL (antialiased when shrinking); size is (rows, cols)."""
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size[::-1], Image.BILINEAR))


def _r18(**config) -> PatchcoreR18:
    return PatchcoreR18(PatchcoreR18.Config(pretrained=False, input_size=SIZE, **config), DetectorContext(batch_size=4))


def test_maps_follow_the_contract_and_no_mask_is_returned(fitted_r18, cases):
    _, test = cases
    preds = fitted_r18.predict(test)
    assert len(preds) == len(test)
    for case, pred in zip(test, preds, strict=True):
        checked = validate_prediction("patchcore-r18", case, pred)
        assert pred.anomaly_map.dtype == np.float32 and pred.anomaly_map.shape == case.shape
        assert checked.mask is None and pred.mask is None


def test_the_map_is_higher_inside_the_planted_lesion_and_anomalous_scores_are_higher(fitted_r18, cases):
    # A random-init resnet18 still separates a bright disc from the smooth background.
    _, test = cases
    preds = fitted_r18.predict(test)
    anomalous = [(c, p) for c, p in zip(test, preds, strict=True) if c.mask is not None]
    assert len(anomalous) == 5
    for case, pred in anomalous:
        assert pred.anomaly_map[case.mask].mean() > 2 * pred.anomaly_map[~case.mask].mean(), case.id
        peak = np.unravel_index(np.argmax(pred.anomaly_map), case.shape)
        near = binary_dilation(case.mask, iterations=4)  # half a layer-2 patch (stride 8)
        assert near[peak], f"{case.id}: the map's maximum lies more than 4 px outside the lesion"
    normal_scores = [p.score for c, p in zip(test, preds, strict=True) if c.mask is None]
    assert min(p.score for _, p in anomalous) > max(normal_scores)


def test_memory_bank_size_is_the_coreset_ratio_of_all_training_patches(fitted_r18):
    notes = fitted_r18.run_info().notes
    patches = N_TRAIN * (SIZE // 8) ** 2  # layer2 of a ResNet has stride 8
    assert notes["patches_collected"] == patches
    assert notes["coreset_size"] == int(patches * 0.1)
    assert notes["embedding_dim"] == 128 + 256  # resnet18 layer2 + layer3 channels
    assert notes["bank_bytes"] == notes["coreset_size"] * notes["embedding_dim"] * 4


def test_run_info_records_random_init_without_a_digest(fitted_r18):
    info = fitted_r18.run_info()
    assert info.weights == "random-init" and info.weights_sha256 is None
    assert info.device == "cpu" and not info.transductive


def test_batch_size_does_not_change_predictions(fitted_r18, cases):
    _, test = cases
    together = fitted_r18.predict(test)
    fitted_r18.context.batch_size = 1
    try:
        alone = fitted_r18.predict(test)
    finally:
        fitted_r18.context.batch_size = 4
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a.anomaly_map, b.anomaly_map, rtol=1e-4, atol=1e-5)
        assert a.score == pytest.approx(b.score, rel=1e-4)


def test_maps_come_back_at_each_case_resolution_bilinearly(fitted_r18, cases):
    _, test = cases
    big = test[1]
    image = _pil_resize(big.image, (128, 96))
    case = Case("test/wide.png", image, "brain", "test")
    pred_big, pred_small = fitted_r18.predict([case, test[0]])  # one batch, two sizes
    assert pred_big.anomaly_map.shape == (128, 96) and pred_small.anomaly_map.shape == (SIZE, SIZE)
    x = to_backbone_input([case.image], fitted_r18.cfg, torch.device("cpu"))
    with torch.no_grad():
        raw = fitted_r18._model(x).anomaly_map[0, 0].numpy()  # anomalib's map at the 64 x 64 input
    np.testing.assert_allclose(pred_big.anomaly_map, _pil_resize(raw, (128, 96)), rtol=1e-4, atol=1e-5)


def test_preprocessing_matches_an_independent_resize_and_imagenet_normalisation():
    rng = np.random.default_rng(0)
    image = rng.random((100, 80)).astype(np.float32)
    config = PatchcoreR18.Config(input_size=48)
    x = to_backbone_input([image], config, torch.device("cpu")).numpy()
    assert x.shape == (1, 3, 48, 48) and x.dtype == np.float32
    resized = _pil_resize(image, (48, 48))
    for channel in range(3):
        expected = (resized - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel]
        np.testing.assert_allclose(x[0, channel], expected, rtol=1e-5, atol=1e-5)


def test_the_same_seed_gives_the_same_maps_and_fit_leaves_global_rngs_alone(cases):
    train, test = cases
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    first, second = _r18(), _r18()
    first.fit(train)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    second.fit(train)
    for a, b in zip(first.predict(test[:3]), second.predict(test[:3]), strict=True):
        np.testing.assert_array_equal(a.anomaly_map, b.anomaly_map)


def test_wide_resnet_fits_and_predicts_at_the_cases_resolution():
    all_cases = planted_cases(n_train=2, n_valid=0, n_test=2, size=48, seed=1)
    train = [c for c in all_cases if c.split == "train"]
    test = [c for c in all_cases if c.split == "test"]
    detector = PatchcoreWrn50(PatchcoreWrn50.Config(pretrained=False, input_size=32), DetectorContext())
    detector.fit(train)
    preds = detector.predict(test)
    assert [p.anomaly_map.shape for p in preds] == [(48, 48), (48, 48)]
    notes = detector.run_info().notes
    assert notes["backbone"] == "wide_resnet50_2"
    assert notes["embedding_dim"] == 512 + 1024  # wide_resnet50_2 layer2 + layer3 channels
    assert notes["coreset_size"] == int(2 * (32 // 8) ** 2 * 0.1)


def test_predict_before_fit_names_the_call_to_make(cases):
    with pytest.raises(ConfigError, match=r"call fit\(normal_cases\) before predict"):
        _r18().predict(cases[1])


def test_fit_without_cases_and_a_ratio_that_keeps_nothing_are_refused(cases):
    with pytest.raises(ConfigError, match="at least one normal training case"):
        _r18().fit([])
    with pytest.raises(ConfigError, match="keeps none"):
        _r18(coreset_sampling_ratio=0.001).fit(cases[0][:1])


def test_an_unknown_layer_or_backbone_is_a_config_error_naming_what_exists(cases):
    with pytest.raises(ConfigError, match=r"no feature layer 'layer9'; expected some of \[.*'layer2'"):
        _r18(layers=("layer2", "layer9")).fit(cases[0])
    with pytest.raises(ConfigError, match="'resnet181' is not a timm model; did you mean 'resnet18'"):
        _r18(backbone="resnet181").fit(cases[0])
