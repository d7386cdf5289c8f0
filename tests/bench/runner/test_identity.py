"""A run's identity covers the code: another detector or plugin version never reuses or resumes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from planted import planted_dataset

import bench
from bench.runner import CodeChanged, RunFailed, RunRequest, execute


def test_a_new_detector_version_is_refused_naming_both_versions_until_a_new_run_is_asked_for(store, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    old = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    monkeypatch.setattr(IntensityZScore, "version", "1.1")
    with pytest.raises(CodeChanged, match=r"made by intensity-zscore 1\.0 .*installed one is intensity-zscore 1\.1"):
        execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    assert len(store.list_runs()) == 1
    new = execute(RunRequest("intensity-zscore", data, "valid-f1", allow_new_code=True), store)
    assert new.run_id != old.run_id and new.predicted_cases == 10
    versions = sorted(r.detector_version for r in store.list_runs())
    assert versions == ["1.0", "1.1"]
    # The new version's run is now the one this request finds.
    assert execute(RunRequest("intensity-zscore", data, "valid-f1"), store).reused


def test_a_run_begun_by_the_old_version_is_not_resumed_by_the_new_one(store, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    predict = IntensityZScore.predict

    def dies(self, cases):
        if cases and cases[0].split == "test" and getattr(self, "_batches", 0) >= 1:
            raise RuntimeError("stopped")
        self._batches = getattr(self, "_batches", 0) + (cases[0].split == "test" if cases else 0)
        return predict(self, cases)

    monkeypatch.setattr(IntensityZScore, "predict", dies)
    with pytest.raises(RunFailed):
        execute(RunRequest("intensity-zscore", data, "valid-f1", batch_size=4), store)
    monkeypatch.setattr(IntensityZScore, "predict", predict)
    monkeypatch.setattr(IntensityZScore, "version", "2.0")
    with pytest.raises(CodeChanged, match="not reused or resumed by other code"):
        execute(RunRequest("intensity-zscore", data, "valid-f1", batch_size=4), store)
    fresh = execute(RunRequest("intensity-zscore", data, "valid-f1", batch_size=4, allow_new_code=True), store)
    assert fresh.resumed_cases == 0 and fresh.predicted_cases == 10


def test_the_commit_recorded_is_the_installed_mias_benchs_not_the_working_directorys(store, tmp_path, monkeypatch):
    elsewhere = tmp_path / "someone-elses-repo"
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(elsewhere)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(elsewhere),
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=a",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    monkeypatch.chdir(elsewhere)
    result = execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f1"), store)
    run = store.get_run(result.run_id)
    theirs = subprocess.run(["git", "-C", str(elsewhere), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    package = Path(bench.__file__).resolve().parent
    ours = subprocess.run(["git", "-C", str(package), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert theirs.strip() not in (run.git_commit or "")
    if ours.strip():  # a git checkout of mias-bench (as in CI); an installed wheel records none
        assert run.git_commit.split("+")[0] == ours.strip()
    assert run.mias_bench_version == bench.__version__
