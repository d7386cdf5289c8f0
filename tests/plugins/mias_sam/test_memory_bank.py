"""kNN patch scores against brute-force numpy; device choice; bounds."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import ConfigError
from bench_mias_sam import memory_bank
from bench_mias_sam.memory_bank import BankOptions, MemoryBank, resolve_faiss_device


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


def _bank(features: np.ndarray, per_image: int = 100, **options) -> MemoryBank:
    """A bank fed ``per_image`` rows at a time (one "image" per add), finished."""
    bank = MemoryBank(features.shape[1], "cpu", BankOptions(**options))
    for start in range(0, len(features), per_image):
        bank.add(features[start : start + per_image])
    bank.finish()
    return bank


def test_float16_storage_searches_the_rounded_values_exactly(data, monkeypatch):
    features, queries = data
    rounded = features.astype(np.float16).astype(np.float32)
    monkeypatch.setattr(memory_bank, "FLOAT16_BLOCK_ROWS", 7)  # many blocks, merged across
    bank = _bank(features, dtype="float16")
    np.testing.assert_allclose(bank.search(queries, 3), _brute_force(rounded, queries, 3), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(bank.vectors(), rounded)
    assert bank.nbytes == 300 * 64 * 2


def test_an_ivf_bank_probing_every_list_is_exact(data):
    features, queries = data
    for dtype, stored in (("float32", features), ("float16", features.astype(np.float16).astype(np.float32))):
        bank = _bank(features, index="ivf", dtype=dtype, ivf_lists=8, ivf_probe=8)
        np.testing.assert_allclose(bank.search(queries, 2), _brute_force(stored, queries, 2), rtol=1e-4, atol=1e-3)
        assert bank.size == 300


def _clustered(seed: int, n: int, dim: int = 64, centres: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 4, (centres, dim))
    return (means[rng.integers(centres, size=n)] + rng.normal(0, 1, (n, dim))).astype(np.float32)


def test_an_ivf_pq_bank_approximates_the_exact_distances():
    features, queries = _clustered(0, 4000), _clustered(1, 200)
    bank = _bank(features, per_image=500, index="ivf-pq", ivf_lists=16, ivf_probe=4, pq_subquantizers=16, pq_bits=6)
    exact = _brute_force(features, queries, 1)[:, 0]
    approx = bank.search(queries, 1)[:, 0]
    assert np.corrcoef(exact, approx)[0, 1] > 0.9
    assert np.median(np.abs(approx - exact) / exact) < 0.25


def test_an_ivf_bank_holds_back_a_training_sample_and_then_streams(data, monkeypatch):
    features, queries = data
    monkeypatch.setattr(memory_bank, "TRAIN_CAP", 150)  # trains after the second image of 100
    bank = MemoryBank(64, "cpu", BankOptions(index="ivf", ivf_lists=4, ivf_probe=4))
    bank.add(features[:100])
    assert bank.size == 100 and bank.index.ntotal == 0  # held back
    bank.add(features[100:200])
    assert bank.index.ntotal == 200 and bank.index.is_trained  # trained on 200, all added
    bank.add(features[200:])
    bank.finish()
    assert bank.index.ntotal == 300
    np.testing.assert_allclose(bank.search(queries, 1), _brute_force(features, queries, 1), rtol=1e-4, atol=1e-3)


def test_too_few_patches_for_the_ivf_lists_is_an_error_naming_the_key(data):
    bank = MemoryBank(64, "cpu", BankOptions(index="ivf", ivf_lists=64, ivf_probe=8))
    bank.add(data[0][:50])
    with pytest.raises(ConfigError, match="ivf_lists=64 needs at least 64 training patches .* the memory bank has 50"):
        bank.finish()


def test_too_few_probes_to_find_k_neighbours_is_an_error_naming_the_key():
    rng = np.random.default_rng(0)
    two_clusters = np.concatenate([np.full((100, 8), -100.0), np.full((100, 8), 100.0)])
    two_clusters = (two_clusters + rng.normal(0, 0.01, two_clusters.shape)).astype(np.float32)
    bank = _bank(two_clusters, per_image=200, index="ivf", ivf_lists=2, ivf_probe=1)
    assert bank.search(np.full((1, 8), 100.0, np.float32), 100).shape == (1, 100)
    with pytest.raises(ConfigError, match="fewer than k=150 neighbours .* ivf_probe=1"):
        bank.search(np.full((1, 8), 100.0, np.float32), 150)  # one list of 100 probed


def test_bytes_follow_faiss_serialised_sizes():
    import faiss

    features = _clustered(2, 3000)
    for options in (
        {},
        {"index": "ivf", "ivf_lists": 16, "ivf_probe": 4},
        {"index": "ivf", "dtype": "float16", "ivf_lists": 16, "ivf_probe": 4},
        {"index": "ivf-pq", "ivf_lists": 16, "ivf_probe": 4, "pq_subquantizers": 8, "pq_bits": 8},
    ):
        bank = _bank(features, per_image=500, **options)
        serialised = len(faiss.serialize_index(bank.index))
        assert 0 <= serialised - bank.nbytes < 1024, options  # faiss adds headers, nothing per vector


@pytest.mark.parametrize("kind", ["random", "greedy"])
def test_a_coreset_keeps_the_ratio_of_each_image_and_only_its_rows(data, kind):
    features, _ = data
    bank = _bank(features, per_image=100, coreset=kind, coreset_ratio=0.25, projection_dim=16)
    assert bank.size == 3 * 25 and bank.offered == 300
    kept = bank.vectors()
    nearest = _brute_force(features, kept, 1)[:, 0]
    np.testing.assert_allclose(nearest, 0, atol=1e-3)  # every kept row is a training row
    assert len({row.tobytes() for row in kept}) == len(kept)  # none twice
    again = _bank(features, per_image=100, coreset=kind, coreset_ratio=0.25, projection_dim=16)
    np.testing.assert_array_equal(again.vectors(), kept)  # seeded
    other = _bank(features, per_image=100, coreset=kind, coreset_ratio=0.25, projection_dim=16, seed=1)
    assert not np.array_equal(other.vectors(), kept)
    assert bank.describe(3)["bank"] == {
        "index": "flat",
        "dtype": "float32",
        "coreset": kind,
        "coreset_ratio": 0.25,
        "seed": 0,
        **({"projection_dim": 16} if kind == "greedy" else {}),
    }
