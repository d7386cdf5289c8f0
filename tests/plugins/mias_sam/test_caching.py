"""Runs with the embedding and search cache: the same results, fewer encodes and searches.

Equality is bit-exact wherever the encoder and the bank see the same images
in the same batches (a cold cache, a warm cache, eviction on every write).
Where the cache changes which images share a batch (a partly warm cache) the
results agree to the rounding of the search itself: faiss computes squared
distances as |x|^2 + |y|^2 - 2 x.y in float32, whose rounding depends on how
queries are batched, about 1e-4 of a map's range here (the tolerance the
calibration tests already use for two batchings of the same images).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bench.contract import DetectorContext, validate_prediction
from bench_mias_sam import MiasSam, MiasSamConfig
from bench_mias_sam.disk_cache import CACHE_ENV, LIMIT_ENV

TINY = {"sam_variant": "tiny", "weights": "random-init"}


def _run(monkeypatch, tmp_path, cases, cache, test=None, **config):
    """fit, calibrate, predict, finalize with the cache folder ``cache`` (``None``: no cache)."""
    monkeypatch.setenv(CACHE_ENV, str(cache) if cache is not None else "off")
    context = DetectorContext(device="cpu", seed=0, work_dir=tmp_path / "work", batch_size=4)
    detector = MiasSam(MiasSamConfig(**{**TINY, **config}), context)
    test = cases["test"] if test is None else test
    detector.fit(cases["train"])
    detector.calibrate(cases["valid"])
    predictions = detector.finalize(test, detector.predict(test))
    checked = [validate_prediction("mias-sam", c, p) for c, p in zip(test, predictions, strict=True)]
    return checked, detector.run_info().notes


def _assert_identical(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.anomaly_map, y.anomaly_map)
        assert x.score == y.score
        np.testing.assert_array_equal(x.mask, y.mask)
        for name in y.extra_masks:
            np.testing.assert_array_equal(x.extra_masks[name], y.extra_masks[name])


@pytest.mark.parametrize("normalization", ["validation", "test-set"])
def test_cold_and_warm_cache_runs_equal_a_run_without_cache_bit_for_bit(monkeypatch, tmp_path, cases, normalization):
    n_train, n_test = len(cases["train"]), len(cases["test"])
    n_valid = sum(c.label == 0 for c in cases["valid"]) if normalization == "validation" else 0
    plain, plain_notes = _run(monkeypatch, tmp_path, cases, None, normalization=normalization)
    cold, cold_notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache", normalization=normalization)
    warm, warm_notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache", normalization=normalization)
    _assert_identical(cold, plain)
    _assert_identical(warm, plain)
    assert plain_notes["embedding_cache"] == "off"
    assert cold_notes["images_encoded"] == plain_notes["images_encoded"] == n_train + n_valid + n_test
    assert (warm_notes["images_encoded"], warm_notes["images_searched"]) == (0, 0)
    assert warm_notes["embeddings_reused"] == n_train + n_test  # validation maps need no embedding, only searches
    assert warm_notes["searches_reused"] == n_valid + n_test


def test_a_sweep_after_the_encoder_reuses_every_encode_and_every_search(monkeypatch, tmp_path, cases):
    _run(monkeypatch, tmp_path, cases, tmp_path / "cache")  # k=1, gamma 5, sigma 4, validation, mask 0
    sweep = {"k": 3, "gamma": 2.5, "sigma": 1.5, "normalization": "per-image", "mask_index": "best"}
    reused, notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache", **sweep)
    fresh, _ = _run(monkeypatch, tmp_path, cases, None, **sweep)
    assert (notes["images_encoded"], notes["images_searched"]) == (0, 0)
    assert notes["search_k"] == 16  # every search keeps 16 neighbours, so k=1 and k=3 share it
    _assert_identical(reused, fresh)


def test_other_bank_options_reuse_the_encodes_and_search_again(monkeypatch, tmp_path, cases):
    _run(monkeypatch, tmp_path, cases, tmp_path / "cache")
    _, notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache", bank_dtype="float16")
    n_valid = sum(c.label == 0 for c in cases["valid"])
    assert notes["images_encoded"] == 0
    assert notes["images_searched"] == n_valid + len(cases["test"])


def test_a_partly_warm_cache_changes_results_only_within_float_rounding(monkeypatch, tmp_path, cases):
    _run(monkeypatch, tmp_path, cases, tmp_path / "cache", test=cases["test"][1:3])
    partly, notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache")
    plain, _ = _run(monkeypatch, tmp_path, cases, None)
    assert notes["images_encoded"] == 2  # test images 0 and 3, in a batch of their own
    for x, y in zip(partly, plain, strict=True):
        scale = float(y.anomaly_map.max() - y.anomaly_map.min())
        assert np.abs(x.anomaly_map - y.anomaly_map).max() <= 2e-4 * scale
        assert x.score == pytest.approx(y.score, rel=2e-4)
        assert np.mean(x.mask != y.mask) < 1e-3  # the tiny random decoder has logits at 1e-8 from 0


def test_eviction_on_every_write_changes_no_result(monkeypatch, tmp_path, cases):
    monkeypatch.setenv(LIMIT_ENV, str(1 / 1024**2))  # 1 KiB: smaller than any entry
    evicting, notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache")
    plain, _ = _run(monkeypatch, tmp_path, cases, None)
    _assert_identical(evicting, plain)
    assert sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*.npy")) < 5 * 2**20  # at most the last entry


CHILD = """
import json, sys
from bench.contract import DetectorContext
from bench_mias_sam import MiasSam, MiasSamConfig
sys.path.insert(0, sys.argv[1])
from conftest import make_split
detector = MiasSam(MiasSamConfig(sam_variant="tiny", weights="random-init", normalization="per-image"),
                   DetectorContext(device="cpu", seed=0, batch_size=4))
detector.fit(make_split(1, "train", 3, 0))
detector.predict(make_split(3, "test", 2, 2))
print(json.dumps(detector.run_info().notes["images_encoded"]))
"""


def test_another_process_reuses_the_encodes(monkeypatch, tmp_path, cases):
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    support = os.path.dirname(__file__)
    child = subprocess.run([sys.executable, "-c", CHILD, support], env=env, capture_output=True, text=True, check=True)
    assert json.loads(child.stdout.strip().splitlines()[-1]) == len(cases["train"]) + len(cases["test"])
    _, notes = _run(monkeypatch, tmp_path, cases, tmp_path / "cache", normalization="per-image")
    assert notes["images_encoded"] == 0 and notes["images_searched"] == 0
