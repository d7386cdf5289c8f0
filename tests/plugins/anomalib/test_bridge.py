"""The bridge on generated cases: preprocessing, training length, progress, seeding, and maps in each case's frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from planted import planted_cases

from bench.contract import Case, DetectorContext, validate_prediction
from bench.errors import ConfigError
from bench_anomalib import AnomalibDetector, CfaDetector, Rd4ad
from bench_anomalib.config import IMAGENET_MEAN, IMAGENET_STD
from bench_anomalib.preprocess import normalise, resize_cases, to_case_frame
from bench_anomalib.training import TrainingPlan

SIZE = 64


@pytest.fixture(scope="module")
def cases() -> tuple[list, list]:
    all_cases = planted_cases(n_train=4, n_valid=0, n_test=4, size=SIZE, seed=2)
    return [c for c in all_cases if c.split == "train"], [c for c in all_cases if c.split == "test"]


def _pil_resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """PIL's bilinear resize in float mode (antialiased when shrinking), an independent reference."""
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(shape[::-1], Image.BILINEAR))


def _cfa(seed: int = 0, **overrides) -> CfaDetector:
    settings = {"backbone": "resnet18", "epochs": 2, "input_size": 32, "train_batch_size": 2, "pretrained": False}
    return CfaDetector(CfaDetector.Config(**{**settings, **overrides}), DetectorContext(seed=seed, batch_size=4))


def test_cases_are_resized_like_pil_and_normalised_per_channel():
    rng = np.random.default_rng(0)
    image = rng.random((100, 80)).astype(np.float32)
    gray = resize_cases([image], 48)
    assert gray.shape == (1, 1, 48, 48) and gray.dtype == torch.float32
    np.testing.assert_allclose(gray[0, 0].numpy(), _pil_resize(image, (48, 48)), rtol=1e-5, atol=1e-5)
    x = normalise(gray, IMAGENET_MEAN, IMAGENET_STD).numpy()
    assert x.shape == (1, 3, 48, 48)
    for channel in range(3):
        expected = (gray[0, 0].numpy() - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel]
        np.testing.assert_allclose(x[0, channel], expected, rtol=1e-6, atol=1e-6)
    same = rng.random((48, 48)).astype(np.float32)
    assert np.array_equal(resize_cases([same], 48)[0, 0].numpy(), same)  # already at size: untouched


def test_the_models_own_resize_leaves_the_prepared_input_unchanged():
    from torchvision.transforms.v2 import Resize

    # The bridge gives anomalib a pre-processor that only resizes to input_size, to tell the model its size;
    # cases arrive already at that size, so it must be an exact no-op.
    x = normalise(resize_cases([np.random.default_rng(3).random((70, 50)).astype(np.float32)], 32), (0,) * 3, (1,) * 3)
    assert torch.equal(Resize((32, 32), antialias=True)(x), x)


def test_maps_go_back_to_each_case_frame_bilinearly():
    rng = np.random.default_rng(1)
    maps = torch.tensor(rng.random((2, 1, 32, 32)), dtype=torch.float32)
    wide, square = to_case_frame(maps, [(96, 128), (32, 32)])
    assert wide.dtype == np.float32 and wide.shape == (96, 128) and square.shape == (32, 32)
    np.testing.assert_allclose(wide, _pil_resize(maps[0, 0].numpy(), (96, 128)), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(square, maps[1, 0].numpy())
    flat = to_case_frame(maps[:, 0], [(32, 32), (32, 32)])  # B x H x W maps are accepted too
    np.testing.assert_array_equal(flat[0], maps[0, 0].numpy())


def test_training_length_by_epochs_or_steps():
    assert TrainingPlan(epochs=5, max_steps=None, one_pass=False, batch_size=4).total_epochs(10) == 5
    assert TrainingPlan(epochs=None, max_steps=7, one_pass=False, batch_size=4).total_epochs(10) == 3  # 3 steps/epoch
    assert TrainingPlan(epochs=2, max_steps=100, one_pass=False, batch_size=4).total_epochs(10) == 2


@pytest.mark.slow
def test_fit_reports_every_epoch_and_predicts_in_each_case_frame(cases):
    train, test = cases
    progress: list[tuple] = []
    detector = _cfa()
    detector.context.on_progress = lambda *event: progress.append(event)
    detector.fit(train)
    assert progress == [("epoch", 1, 2), ("epoch", 2, 2)]
    wide = Case("test/wide.png", _pil_resize(test[1].image, (80, 112)), "brain", "test")
    preds = detector.predict([wide, *test])
    assert [p.anomaly_map.shape for p in preds] == [(80, 112)] + [(SIZE, SIZE)] * len(test)
    for case, pred in zip([wide, *test], preds, strict=True):
        validate_prediction(detector.name, case, pred)
        assert pred.mask is None and pred.anomaly_map.dtype == np.float32
    for pred in preds:  # CFA's score is its map's peak; bilinear upsampling keeps the peak value within the grid
        assert pred.score >= float(pred.anomaly_map.max()) - 1e-6
    info = detector.run_info()
    assert info.weights == "random-init" and info.weights_sha256 is None
    assert info.notes["epochs_run"] == 2 and info.notes["steps_run"] == 4


@pytest.mark.slow
def test_the_same_seed_gives_identical_maps_and_fit_leaves_global_rngs_alone(cases):
    train, test = cases
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    first, second, other = _cfa(seed=3, epochs=1), _cfa(seed=3, epochs=1), _cfa(seed=4, epochs=1)
    first.fit(train)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    second.fit(train)
    other.fit(train)
    a, b, c = (d.predict(test) for d in (first, second, other))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.anomaly_map, y.anomaly_map)
        assert x.score == y.score
    assert not all(np.array_equal(x.anomaly_map, z.anomaly_map) for x, z in zip(a, c, strict=True))


def test_predict_before_fit_names_the_call_to_make(cases):
    with pytest.raises(ConfigError, match=r"call fit\(normal_cases\) before predict"):
        _cfa().predict(cases[1])


def test_fit_without_cases_is_refused():
    with pytest.raises(ConfigError, match="at least one normal training case"):
        _cfa().fit([])


def test_an_unknown_timm_backbone_is_a_config_error_with_close_matches(cases):
    detector = Rd4ad(Rd4ad.Config(backbone="resnet181", pretrained=False))
    with pytest.raises(ConfigError, match=r"backbone 'resnet181' is not a timm model; did you mean 'resnet18'"):
        detector.fit(cases[0])


@pytest.mark.slow
def test_a_model_without_pretrained_weights_is_not_random_init_and_one_without_maps_is_refused(cases):
    train, test = cases
    config = AnomalibDetector.Config(
        model="Ganomaly", model_args={"batch_size": 2}, epochs=1, input_size=32, train_batch_size=2, pretrained=False
    )
    detector = AnomalibDetector(config)
    assert detector.uses_pretrained_weights()  # before fit: the capability's default
    detector.fit(train)
    assert not detector.uses_pretrained_weights() and detector.run_info().weights is None  # GANomaly has none
    with pytest.raises(ConfigError, match=r"Ganomaly returned no anomaly map \(it scores whole images only\)"):
        detector.predict(test)


@pytest.mark.slow
def test_training_length_rules_are_checked_against_the_model(cases):
    train, _ = cases
    one_pass = AnomalibDetector(
        AnomalibDetector.Config(model="Padim", model_args={"backbone": "resnet18"}, epochs=3, pretrained=False)
    )
    with pytest.raises(ConfigError, match=r"Padim builds its memory bank in one pass .* got epochs=3"):
        one_pass.fit(train)
    no_epochs = AnomalibDetector(
        AnomalibDetector.Config(model="Stfpm", model_args={"backbone": "resnet18"}, pretrained=False)
    )
    with pytest.raises(ConfigError, match=r"Stfpm learns by gradient descent and declares no epoch count; set epochs"):
        no_epochs.fit(train)
