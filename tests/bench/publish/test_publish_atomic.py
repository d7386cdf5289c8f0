"""A publish that fails halfway leaves the previous publication as it was, and verifying."""

from __future__ import annotations

import pytest

import bench.publish.writer as writer
from bench.publish import publish, verify_publication


def test_a_failed_publish_leaves_the_previous_publication_intact(bench, monkeypatch):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def disk_full(board):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "render_page", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish(bench.store, "synthetic", bench.out)
    monkeypatch.undo()
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    assert verify_publication(folder).ok
    assert sorted(p.name for p in bench.out.iterdir()) == ["synthetic"]  # no half-written folder left behind


def test_a_publish_replaces_the_whole_folder(bench):
    publish(bench.store, "synthetic", bench.out)
    folder = bench.out / "synthetic"
    (folder / "stale.txt").write_text("left from an older publish")
    publish(bench.store, "synthetic", bench.out)
    assert not (folder / "stale.txt").exists() and verify_publication(folder).ok
