"""kNN patch scores against brute-force numpy; device choice; bounds."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import ConfigError
from bench_mias_sam import memory_bank
from bench_mias_sam.memory_bank import MemoryBank, resolve_faiss_device


def _brute_force(bank: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    d2 = ((queries[:, None, :].astype(np.float64) - bank[None, :, :].astype(np.float64)) ** 2).sum(-1)
    return np.sort(d2, axis=1)[:, :k]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 64)).astype(np.float32), rng.normal(size=(50, 64)).astype(np.float32)


@pytest.mark.parametrize("k", [1, 3])
def test_scores_are_the_mean_of_the_k_smallest_squared_distances(data, k):
    features, queries = data
    bank = MemoryBank(64, "cpu")
    bank.add(features)
    expected = _brute_force(features, queries, k)
    np.testing.assert_allclose(bank.search(queries, k), expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bank.patch_scores(queries, k), expected.mean(axis=1), rtol=1e-4, atol=1e-3)


def test_adding_and_searching_in_chunks_changes_nothing(data, monkeypatch):
    features, queries = data
    whole = MemoryBank(64, "cpu")
    whole.add(features)
    chunked = MemoryBank(64, "cpu")
    for start in range(0, len(features), 64):
        chunked.add(features[start : start + 64])
    monkeypatch.setattr(memory_bank, "SEARCH_CHUNK", 7)
    np.testing.assert_array_equal(chunked.search(queries, 2), whole.search(queries, 2))
    assert chunked.size == 300 and chunked.nbytes == 300 * 64 * 4


def test_k_larger_than_the_bank_is_refused(data):
    bank = MemoryBank(64, "cpu")
    bank.add(data[0][:2])
    with pytest.raises(ConfigError, match="k=3 .* holds 2 patches"):
        bank.search(data[1], 3)


def test_device_choice_is_automatic_and_a_missing_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(memory_bank, "faiss_has_gpu", lambda: False)
    assert resolve_faiss_device("auto", "cuda") == "cpu"
    assert resolve_faiss_device("cpu", "cuda") == "cpu"
    with pytest.raises(ConfigError, match="faiss-gpu"):
        resolve_faiss_device("gpu", "cuda")
    monkeypatch.setattr(memory_bank, "faiss_has_gpu", lambda: True)
    assert resolve_faiss_device("auto", "cuda") == "gpu"
    assert resolve_faiss_device("auto", "cpu") == "cpu"


def test_bank_size_is_logged(data, caplog):
    bank = MemoryBank(64, "cpu")
    bank.add(data[0])
    with caplog.at_level("INFO", logger="bench_mias_sam"):
        bank.log_size(3)
    assert "300 patches x 64 values from 3 images" in caplog.text
