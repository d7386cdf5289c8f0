"""Stores and the fake plugin distribution for the runner's tests."""

from __future__ import annotations

import pytest
from fakedist import GOOD, write_dist

from bench.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "runs.db"))


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """The misbehaving detectors of ``tests/support/fake_plugins.py``, installed as a distribution."""
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", GOOD)
    monkeypatch.syspath_prepend(str(site))
    return site
