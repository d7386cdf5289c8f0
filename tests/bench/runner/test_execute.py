"""The runner end to end on generated cases with a planted bright lesion."""

from __future__ import annotations

import numpy as np
import pytest
from planted import planted_dataset

from bench.errors import ConfigError, ThresholdError
from bench.leaderboard import leaderboard_rows
from bench.runner import RunFailed, RunRequest, execute
from bench.store import Store


def test_intensity_zscore_finds_the_planted_lesion(store):
    data = planted_dataset()
    result = execute(RunRequest("intensity-zscore", data, "valid-f1,oracle,normal-p99,fixed:3"), store)
    summaries = result.evaluations
    assert set(summaries) == {"valid-f1", "oracle", "normal-p99", "fixed:3"}
    # chance: a mask covering everything scores 2|T|/(|T|+N) ~ 0.06 on these lesions
    assert summaries["valid-f1"]["dice"] > 0.6
    assert summaries["valid-f1"]["pixel_auroc"] > 0.9
    for honest in ("valid-f1", "normal-p99", "fixed:3"):
        assert summaries["oracle"]["dice"] >= summaries[honest]["dice"] - 1e-12
    rows = leaderboard_rows(store)
    # Honest rows first (by DICE), the oracle after them, marked and outside the ranking.
    assert rows[-1].protocol == "oracle" and rows[-1].marks == ["oracle"] and not rows[-1].ranked
    assert [r.marks for r in rows[:-1]] == [[], [], []]
    assert {r.detector for r in rows} == {"intensity-zscore"}
    assert rows[0].dataset == "planted" and rows[0].plugin_dist == "mias-bench"


def test_stored_case_rows_recompute_to_the_summary(store):
    data = planted_dataset()
    result = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    (ev,) = store.evaluations(result.run_id)
    rows = store.case_metrics(ev.id)
    assert len(rows) == len(data.cases("test"))
    anomalous = [r.dice for r in rows if r.label == 1]
    assert store.summary(ev.id)["dice"] == pytest.approx(np.mean(anomalous))


def test_the_same_request_is_recognised_and_new_protocols_reuse_predictions(store):
    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    again = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    assert again.reused and again.run_id == first.run_id
    more = execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store)
    assert more.run_id == first.run_id and more.predicted_cases == 0 and set(more.evaluations) == {"valid-f1", "oracle"}
    assert len(store.list_runs()) == 1
    other = execute(RunRequest("intensity-zscore", data, "valid-f1", overrides=["grid=32"]), store)
    assert other.run_id != first.run_id


def test_a_plugin_raising_mid_run_is_stored_as_failed_and_others_continue(store, fake_site):
    data = planted_dataset()
    with pytest.raises(RunFailed, match="GPU fell off the bus"):
        execute(RunRequest("exploding", data, "fixed:0.5", batch_size=2), store)
    ok = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    runs = {r.detector: r for r in store.list_runs()}
    assert runs["exploding"].status == "failed" and "GPU fell off the bus" in runs["exploding"].error
    assert runs["intensity-zscore"].status == "complete" and ok.evaluations["valid-f1"]["dice"] > 0.5


@pytest.mark.parametrize(
    ("detector", "message"),
    [("nan-maps", "NaN or infinite"), ("wrong-shape", r"anomaly_map shape \(7, 7\), expected \(256, 256\)")],
)
def test_contract_violations_fail_the_run_with_a_clear_error(store, fake_site, detector, message):
    with pytest.raises(RunFailed, match=message):
        execute(RunRequest(detector, planted_dataset(), "fixed:0.5"), store)
    (run,) = store.list_runs()
    assert run.status == "failed" and f"detector `{detector}` on case" in run.error
    assert store.evaluations(run.id) == []


def test_mask_protocol_on_a_map_only_detector_is_refused_before_anything_runs(store):
    with pytest.raises(ThresholdError, match="outputs no mask"):
        execute(RunRequest("intensity-zscore", planted_dataset(), "mask"), store)
    assert store.list_runs() == []


def test_bad_requests_fail_before_anything_is_stored(store):
    with pytest.raises(ConfigError):
        execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f1", overrides=["grid=x"]), store)
    with pytest.raises(ThresholdError):
        execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f2"), store)
    with pytest.raises(ConfigError, match="unknown evaluation frame"):
        execute(RunRequest("intensity-zscore", planted_dataset(), "valid-f1", frame="512"), store)
    assert store.list_runs() == []


def test_a_cleared_prediction_cache_is_recomputed(store, tmp_path):
    from bench.prediction_cache import PredictionCache

    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    PredictionCache(first.run_key).clear()
    again = execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store)
    assert again.predicted_cases == len(data.cases("test"))
    assert len(store.predicted_cases(first.run_id)) == len(data.cases("test"))


def test_a_resumed_run_scores_exactly_like_an_uninterrupted_one(tmp_path, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    request = RunRequest("intensity-zscore", data, "valid-f1,oracle", batch_size=4)
    clean = execute(request, Store(str(tmp_path / "a.db")))

    predict, calls = IntensityZScore.predict, []

    def dies_on_the_second_test_batch(self, cases):
        calls.extend(c.split for c in cases[:1])
        if calls.count("test") == 2:
            raise RuntimeError("stopped here")
        return predict(self, cases)

    interrupted = Store(str(tmp_path / "b.db"))
    monkeypatch.setattr(IntensityZScore, "predict", dies_on_the_second_test_batch)
    with pytest.raises(RunFailed, match="4 of 10 test predictions are kept"):
        execute(request, interrupted)
    monkeypatch.setattr(IntensityZScore, "predict", predict)
    resumed = execute(request, interrupted)
    # One test batch was stored before the stop; the rest is predicted now.
    assert resumed.resumed_cases == 4 and resumed.predicted_cases == len(data.cases("test")) - 4
    assert resumed.evaluations == clean.evaluations
