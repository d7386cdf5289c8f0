"""The on-disk array cache: round trips, least-recently-used eviction, damage and concurrent processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from bench.errors import ConfigError
from bench_mias_sam import disk_cache
from bench_mias_sam.disk_cache import DiskCache, cache_from_environment

KIB = 1024


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _array(key: str, n: int = 16 * KIB) -> np.ndarray:
    """An array determined by its key (so any reader can check what it got)."""
    return np.random.default_rng(int(key[:8], 16)).random(n // 8)


def _age(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def test_an_array_comes_back_exactly_and_no_temporary_file_is_left(tmp_path):
    cache = DiskCache(tmp_path / "c", 10 * 2**20)
    key, array = _key(1), np.random.default_rng(0).random((4, 5)).astype(np.float32)
    assert cache.get("encoder", key) is None
    cache.put("encoder", key, array)
    got = cache.get("encoder", key, (4, 5), np.dtype(np.float32))
    np.testing.assert_array_equal(got, array)
    assert cache.path("encoder", key) == tmp_path / "c" / "encoder" / key[:2] / f"{key}.npy"
    assert [p.name for p in (tmp_path / "c").rglob("*")] == ["encoder", key[:2], f"{key}.npy"]
    assert (cache.stats.hits, cache.stats.misses, cache.stats.writes) == (1, 1, 1)


def test_an_entry_of_the_wrong_shape_or_a_damaged_file_is_a_miss_and_removed(tmp_path, caplog):
    cache = DiskCache(tmp_path, 10 * 2**20)
    cache.put("encoder", _key(1), np.zeros((2, 3), np.float32))
    assert cache.get("encoder", _key(1), (3, 2), np.dtype(np.float32)) is None
    assert not cache.path("encoder", _key(1)).exists()
    cache.put("encoder", _key(2), np.zeros(100, np.float32))
    path = cache.path("encoder", _key(2))
    path.write_bytes(path.read_bytes()[:60])  # truncated, as by a full disk
    with caplog.at_level("WARNING", logger="bench_mias_sam"):
        assert cache.get("encoder", _key(2)) is None
    assert not path.exists() and "unreadable" in caplog.text


def test_eviction_removes_the_least_recently_used_entries_first(tmp_path):
    probe = DiskCache(tmp_path / "probe", 2**30)
    probe.put("knn", _key(0), _array(_key(0)))
    entry = probe.path("knn", _key(0)).stat().st_size
    cache = DiskCache(tmp_path / "c", int(4.5 * entry))  # room for four entries, and 90 % of it for four
    for i in range(4):
        cache.put("knn", _key(i), _array(_key(i)))
        _age(cache.path("knn", _key(i)), 100 - i)  # entry 0 oldest
    assert cache.stats.evicted_bytes == 0
    assert cache.get("knn", _key(0)) is not None  # ... but used just now
    cache.put("knn", _key(4), _array(_key(4)))  # over the limit: evict down to 90 %
    present = [i for i in range(5) if cache.path("knn", _key(i)).exists()]
    assert present == [0, 2, 3, 4]  # entry 1 was the least recently used
    assert cache.stats.evicted_bytes == entry
    assert cache.total_bytes() <= cache.limit_bytes * disk_cache.LOW_WATER


def test_eviction_tolerates_entries_vanishing_under_it(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path, 10 * 2**20)
    for i in range(3):
        cache.put("knn", _key(i), _array(_key(i)))
        _age(cache.path("knn", _key(i)), 100 - i)
    scanned = cache._scan()
    cache.path("knn", _key(0)).unlink()  # another process evicts the oldest between our scan and our unlink
    monkeypatch.setattr(cache, "_scan", lambda: scanned)
    cache.limit_bytes = 1  # everything must go
    cache.evict()
    assert not any(cache.path("knn", _key(i)).exists() for i in range(3))


def test_stale_temporary_files_are_removed_and_fresh_ones_kept(tmp_path):
    cache = DiskCache(tmp_path, 10 * 2**20)
    folder = tmp_path / "encoder" / "ab"
    folder.mkdir(parents=True)
    stale, fresh = folder / "ab12.tmp-1-x.npy", folder / "ab34.tmp-2-y.npy"
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 10)
    _age(stale, 2 * disk_cache.STALE_TMP_SECONDS)
    assert cache.total_bytes() == 10
    assert not stale.exists() and fresh.exists()


def _worker(args: tuple[str, int, int]) -> int:
    root, worker, limit = args
    cache = DiskCache(Path(root), limit)
    checked = 0
    for round_ in range(40):
        key = _key((worker * 7 + round_) % 25)  # workers share keys: same-key writes race on purpose
        found = cache.get("knn", key)
        if found is not None:
            np.testing.assert_array_equal(found, _array(key))
            checked += 1
        else:
            cache.put("knn", key, _array(key))
    return checked


def test_concurrent_processes_never_see_a_partial_or_wrong_entry(tmp_path):
    limit = 10 * 16 * KIB  # far less than 25 entries: evicting all the time
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        checked = pool.map(_worker, [(str(tmp_path), w, limit) for w in range(4)])
    assert sum(checked) > 0  # hits happened, each checked against the key's content
    cache = DiskCache(tmp_path, limit)
    for path in tmp_path.rglob("*.npy"):
        assert ".tmp-" not in path.name
        np.testing.assert_array_equal(np.load(path), _array(path.stem))
    entry = max(path.stat().st_size for path in tmp_path.rglob("*.npy"))
    # each of the 4 writers may be one entry past its last look at the folder
    assert cache.total_bytes() <= limit + 4 * entry


def test_the_environment_chooses_the_folder_the_limit_or_no_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(disk_cache.CACHE_ENV, raising=False)
    monkeypatch.delenv(disk_cache.LIMIT_ENV, raising=False)
    default = cache_from_environment()
    assert default.root == tmp_path / "cache" / "embeddings"  # bench.sdk.cache_dir() in the tests' conftest
    assert default.limit_bytes == 20 * 2**30
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.setenv(disk_cache.LIMIT_ENV, "0.5")
    chosen = cache_from_environment()
    assert chosen.root == tmp_path / "elsewhere" and chosen.limit_bytes == 2**29
    monkeypatch.setenv(disk_cache.CACHE_ENV, "off")
    assert cache_from_environment() is None
    monkeypatch.setenv(disk_cache.CACHE_ENV, "")
    for bad in ("-1", "lots", "nan"):
        monkeypatch.setenv(disk_cache.LIMIT_ENV, bad)
        with pytest.raises(ConfigError, match=f"MIAS_SAM_EMBEDDING_CACHE_GIB={bad!r}"):
            cache_from_environment()
