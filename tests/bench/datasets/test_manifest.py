"""Manifests: independent digests, one hash per content, a cache keyed by path, size and mtime."""

from __future__ import annotations

import hashlib
import os
import shutil

import bench.datasets.manifest as manifest_mod
from bench.datasets.bmad import BMAD_BRAIN
from bench.datasets.manifest import cache_file


def _count_hashing(monkeypatch) -> list[str]:
    hashed: list[str] = []
    original = manifest_mod.sha256_file

    def counting(path):
        hashed.append(path)
        return original(path)

    monkeypatch.setattr(manifest_mod, "sha256_file", counting)
    return hashed


def test_entries_match_an_independent_walk(brats_tree):
    manifest = BMAD_BRAIN.open(brats_tree).manifest()
    pngs = sorted(p for p in brats_tree.rglob("*.png"))
    assert len(manifest) == len(pngs)
    by_path = {e.relpath: e for e in manifest.entries}
    for path in pngs:
        entry = by_path[path.relative_to(brats_tree).as_posix()]
        assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry.size == path.stat().st_size
    assert list(manifest.entries) == sorted(manifest.entries, key=lambda e: (e.split, e.label, e.relpath))
    assert {e.split for e in manifest.entries} == {"train", "valid", "test"}
    assert manifest.as_dict()["hash"] == manifest.hash


def test_the_hash_follows_the_bytes_not_the_location(tmp_path, brats_tree):
    copy = shutil.copytree(brats_tree, tmp_path / "elsewhere" / "BraTS2021_slice")
    first = BMAD_BRAIN.open(brats_tree).manifest_hash()
    assert BMAD_BRAIN.open(copy).manifest_hash() == first
    victim = copy / "test" / "Ungood" / "label" / "te001.png"
    data = bytearray(victim.read_bytes())
    data[-20] ^= 1
    victim.write_bytes(bytes(data))
    assert BMAD_BRAIN.open(copy).manifest_hash() != first


def test_the_cache_is_reused_and_a_touched_file_is_rehashed(brats_tree, monkeypatch):
    hashed = _count_hashing(monkeypatch)
    first = BMAD_BRAIN.open(brats_tree).manifest_hash()
    n_files = len(hashed)
    assert n_files == len(list(brats_tree.rglob("*.png")))
    assert cache_file(brats_tree).is_file()
    assert BMAD_BRAIN.open(brats_tree).manifest_hash() == first
    assert len(hashed) == n_files  # nothing rehashed
    victim = brats_tree / "train" / "good" / "tr000.png"
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert BMAD_BRAIN.open(brats_tree).manifest_hash() == first  # same bytes, same hash
    assert hashed[n_files:] == [str(victim)]


def test_the_cache_lives_under_mias_bench_cache(brats_tree, tmp_path):
    BMAD_BRAIN.open(brats_tree).manifest_hash()
    assert cache_file(brats_tree).is_relative_to(tmp_path / "cache")  # set by tests/conftest.py


def test_a_corrupt_cache_is_ignored(brats_tree):
    first = BMAD_BRAIN.open(brats_tree).manifest_hash()
    cache_file(brats_tree).write_text("{not json")
    assert BMAD_BRAIN.open(brats_tree).manifest_hash() == first
