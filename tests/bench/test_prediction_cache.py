"""The prediction cache on a local folder, a file:// URL and an S3-compatible server, through one API."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from bench.contract import Prediction
from bench.prediction_cache import CacheUnavailable, CorruptPrediction, PredictionCache, run_folder


@pytest.fixture(params=["folder", "file-url", "s3"])
def root(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "preds")
    if request.param == "file-url":
        return f"file://{tmp_path / 'preds'}"
    return request.getfixturevalue("s3_url")


def _stored_bytes(cache: PredictionCache, case_id: str) -> bytes:
    """The file's bytes as the backend's own client reads them (not through the cache)."""
    where = str(cache.path(case_id))
    if where.startswith("s3://"):
        import boto3

        bucket, key = where.removeprefix("s3://").split("/", 1)
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return open(where, "rb").read()


def _prediction(seed: int, with_mask: bool = True) -> Prediction:
    rng = np.random.default_rng(seed)
    amap = rng.random((13, 17), dtype=np.float32)
    return Prediction(
        anomaly_map=amap,
        score=float(amap.max()),
        mask=amap > 0.5 if with_mask else None,
        extra_masks={"m1": amap > 0.9},
    )


def test_a_prediction_comes_back_exactly_and_save_returns_the_files_sha256(root):
    cache = PredictionCache("run-a", root)
    assert not cache.exists() and not cache.has("test-1")
    original = _prediction(0)
    digest = cache.save("test-1", original)
    assert digest == hashlib.sha256(_stored_bytes(cache, "test-1")).hexdigest()
    assert cache.exists() and cache.has("test-1") and not cache.has("test-2")
    back = cache.load("test-1", digest)
    assert np.array_equal(back.anomaly_map, original.anomaly_map) and back.anomaly_map.dtype == np.float32
    assert np.array_equal(back.mask, original.mask) and np.array_equal(
        back.extra_masks["m1"], original.extra_masks["m1"]
    )
    assert back.score == original.score
    assert cache.load("test-1").mask is not None
    unmasked = cache.save("test-2", _prediction(1, with_mask=False))
    assert cache.load("test-2", unmasked).mask is None


def test_a_replaced_or_missing_file_is_named_and_refused(root):
    cache = PredictionCache("run-b", root)
    digest = cache.save("test-1", _prediction(0))
    other = cache.save("test-1", _prediction(5))  # the same case written again: the digest changes
    assert other != digest
    with pytest.raises(CorruptPrediction, match=r"case `test-1` \(.*\.npz\) is not the file the store recorded"):
        cache.load("test-1", digest)
    cache.discard("test-1")
    cache.discard("test-1")  # discarding what is gone is fine
    assert not cache.has("test-1")
    with pytest.raises(CorruptPrediction, match=r"case `test-1` .* does not exist"):
        cache.load("test-1")


def test_nothing_but_final_files_is_left_and_clear_removes_the_run(root):
    cache = PredictionCache("run-c", root)
    for i in range(3):
        cache.save(f"test-{i}", _prediction(i))
    names = [p.rsplit("/", 1)[-1] for p in cache.fs.ls(cache.folder, detail=False)]
    assert len(names) == 3 and all(n.endswith(".npz") for n in names)  # no temporary names left behind
    cache.clear()
    assert not cache.exists() and not cache.has("test-0")
    cache.save("test-0", _prediction(0))  # usable again after clear
    assert cache.has("test-0")


def test_an_unreadable_file_is_corrupt_not_a_crash(tmp_path):
    cache = PredictionCache("run-d", str(tmp_path))
    cache.save("test-1", _prediction(0))
    path = cache.path("test-1")
    buffer = io.BytesIO()
    np.savez(buffer, nothing=np.zeros(2))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CorruptPrediction, match="is unreadable"):
        cache.load("test-1")


def test_the_configured_root_is_used_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MIAS_BENCH_PREDICTIONS", str(tmp_path / "shared"))
    cache = PredictionCache("run-e")
    cache.save("test-1", _prediction(0))
    assert cache.path("test-1").parent == tmp_path / "shared" / "run-e" / "predictions"
    assert run_folder("run-e") == tmp_path / "shared" / "run-e"
    monkeypatch.delenv("MIAS_BENCH_PREDICTIONS")
    assert PredictionCache("run-e").folder == str(tmp_path / "cache" / "runs" / "run-e" / "predictions")


def test_a_root_that_cannot_be_used_is_a_clear_error(tmp_path):
    with pytest.raises(CacheUnavailable, match="nosuchproto://x"):
        PredictionCache("run", "nosuchproto://x")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = PredictionCache("run", str(blocker))
    with pytest.raises(CacheUnavailable, match=r"cannot write the prediction of case `test-1` to .*a-file/run"):
        cache.save("test-1", _prediction(0))
