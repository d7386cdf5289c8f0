"""Session-wide test settings: no network, no writes outside temporary folders."""

from __future__ import annotations

import os

import pytest

import bench.registry

# Session servers started on 127.0.0.1 by the tests that need them: PostgreSQL and an S3-compatible store.
pytest_plugins = ("postgres_server", "s3_server")

# Nothing in the suite may wait on a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch):
    """Point the database, caches and weights at the test's own folder."""
    monkeypatch.setenv("MIAS_BENCH_DB", str(tmp_path / "mias-bench.db"))
    monkeypatch.setenv("MIAS_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("MIAS_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MIAS_BENCH_PLUGINS", raising=False)
    monkeypatch.delenv("MIAS_BENCH_BLOCK", raising=False)
    monkeypatch.delenv("MIAS_BENCH_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    # Plugins are found once per process; a test that puts a fake distribution on sys.path needs a fresh scan.
    bench.registry.reset()
    yield
    bench.registry.reset()
