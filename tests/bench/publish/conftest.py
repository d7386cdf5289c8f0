"""A small store to publish: synthetic liver and retina trees, intensity-zscore under several protocols.

Built once per session (about two seconds); each test gets its own copy of
the database and the prediction cache, so a test may delete or edit them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakedist import GOOD, write_dist

from bench.datasets.registry import open_dataset
from bench.datasets.synth.writer import generate_synthetic
from bench.runner import RunRequest, execute
from bench.store import Store


@pytest.fixture(scope="session")
def bench_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("publish-bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIAS_BENCH_CACHE", str(root / "cache"))
        mp.setenv("MIAS_BENCH_WEIGHTS", str(root / "weights"))
        generate_synthetic(root / "data", ["liver", "retina"], size=64, n_train=6, n_valid=4, n_test=8)
        store = Store(str(root / "bench.db"))
        liver = open_dataset("bmad-liver", root / "data" / "liver")
        retina = open_dataset("bmad-resc", root / "data" / "retina")
        mp.syspath_prepend(str(root / "site"))
        write_dist(root / "site", "fake-plugins", GOOD)
        execute(RunRequest("intensity-zscore", liver, "valid-f1,normal-p99,oracle"), store)
        # Every mark appears: a detector whose finalize() sees the whole test set (transductive, run 2)
        # and one meant for pretrained weights that loads none (random-init, run 3).
        execute(RunRequest("transductive-zscore", liver, "fixed:0.5", overrides=["grid=32"]), store)
        execute(RunRequest("untrained-zscore", liver, "valid-f1", overrides=["grid=32"]), store)
        execute(RunRequest("intensity-zscore", retina, "valid-f1,oracle"), store)
        store.close()
    return root


@pytest.fixture
def bench(bench_template, tmp_path, monkeypatch) -> SimpleNamespace:
    """This test's copy: ``store``, ``db`` path, ``cache`` folder, ``out`` folder for leaderboards."""
    for path in bench_template.glob("bench.db*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(bench_template / "cache", tmp_path / "cache", dirs_exist_ok=True)
    monkeypatch.setenv("MIAS_BENCH_CACHE", str(tmp_path / "cache"))
    db = str(tmp_path / "bench.db")
    return SimpleNamespace(
        store=Store(db), db=db, cache=tmp_path / "cache", out=tmp_path / "leaderboards", root=bench_template
    )
