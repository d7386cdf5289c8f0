"""Marks the platform decides: from what ran and what was loaded, never from what a plugin says."""

from __future__ import annotations

import json

from planted import planted_dataset

from bench.leaderboard import leaderboard_rows
from bench.runner import RunRequest, execute
from bench.weights.cache import sha256_file


def _marks(store, run_id):
    return {r.protocol: r.marks for r in leaderboard_rows(store) if r.run_id == run_id}


def test_finalize_makes_a_run_transductive_whatever_the_plugin_declares(store, fake_site):
    result = execute(RunRequest("transductive-zscore", planted_dataset(), "valid-f1,oracle"), store)
    run = store.get_run(result.run_id)
    assert run.transductive and run.provenance == "platform"
    assert _marks(store, result.run_id) == {"valid-f1": ["transductive"], "oracle": ["oracle", "transductive"]}
    declared = json.loads(run.run_info_json)["declared"]
    assert declared["transductive"] is False  # what the plugin said is kept, and not believed


def test_a_detector_meant_for_weights_that_loads_none_is_random_init_whatever_it_declares(store, fake_site):
    result = execute(RunRequest("untrained-zscore", planted_dataset(), "valid-f1"), store)
    run = store.get_run(result.run_id)
    assert (run.weights, run.weights_sha256, run.random_init) == ("random-init", None, True)
    assert _marks(store, result.run_id) == {"valid-f1": ["random-init"]}
    (row,) = [r for r in leaderboard_rows(store) if r.run_id == result.run_id]
    assert not row.ranked


def test_weights_a_detector_reports_are_hashed_by_the_platform(store, fake_site, tmp_path, monkeypatch):
    weights = tmp_path / "backbone.safetensors"
    weights.write_bytes(b"not really weights, but bytes with a digest")
    monkeypatch.setenv("LOADS_WEIGHTS_FILE", str(weights))
    result = execute(RunRequest("loads-weights", planted_dataset(), "valid-f1"), store)
    run = store.get_run(result.run_id)
    assert (run.weights, run.weights_sha256, run.random_init) == ("toy-backbone", sha256_file(weights), False)
    assert _marks(store, result.run_id) == {"valid-f1": []}


def test_marks_survive_a_failed_first_request_and_a_later_protocol(store, fake_site):
    # The validation split has no anomalous case: valid-f1 cannot be fitted, after every prediction is stored.
    data = planted_dataset(n_valid=1)
    first = execute(RunRequest("untrained-zscore", data, "valid-f1"), store)
    assert first.failed_evaluations == {"valid-f1": first.failed_evaluations["valid-f1"]}
    assert "needs anomalous pixels" in first.failed_evaluations["valid-f1"]
    assert store.get_run(first.run_id).status == "complete"
    later = execute(RunRequest("untrained-zscore", data, "oracle"), store)
    assert later.run_id == first.run_id and later.predicted_cases == 0
    run = store.get_run(first.run_id)
    assert (run.weights, run.random_init) == ("random-init", True)
    assert _marks(store, first.run_id) == {"oracle": ["oracle", "random-init"]}


def test_a_resumed_transductive_run_keeps_its_marks(store, fake_site, monkeypatch):
    from fake_plugins import TransductiveZScore

    data = planted_dataset()
    finalize = TransductiveZScore.finalize

    def dies(self, cases, predictions):
        raise RuntimeError("power cut")

    monkeypatch.setattr(TransductiveZScore, "finalize", dies)
    try:
        execute(RunRequest("transductive-zscore", data, "valid-f1", batch_size=4), store)
    except Exception as exc:
        assert "power cut" in str(exc)
    monkeypatch.setattr(TransductiveZScore, "finalize", finalize)
    result = execute(RunRequest("transductive-zscore", data, "valid-f1", batch_size=4), store)
    run = store.get_run(result.run_id)
    assert run.status == "complete" and run.transductive and result.predicted_cases == 10
    assert _marks(store, result.run_id) == {"valid-f1": ["transductive"]}


def test_runs_stored_before_the_platform_decided_marks_are_marked_self_reported(tmp_path):
    from tests_store_legacy import legacy_store_with_one_run

    store = legacy_store_with_one_run(tmp_path / "old.db")
    (row,) = leaderboard_rows(store)
    assert row.provenance.provenance == "self-reported" and row.marks == ["self-reported"] and not row.ranked
