"""A complete run stays complete: later requests, failures, interrupts and corrupt files leave it as it was."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from planted import planted_dataset

from bench.errors import ThresholdError
from bench.leaderboard import leaderboard_rows
from bench.prediction_cache import PredictionCache
from bench.runner import RunBusy, RunFailed, RunInterrupted, RunRequest, execute
from bench.store import Owner


def _protocols_on_board(store):
    return sorted(r.protocol for r in leaderboard_rows(store))


def test_a_mask_request_on_a_map_only_run_is_refused_and_the_run_stays(store):
    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "oracle"), store)
    with pytest.raises(ThresholdError, match="outputs no mask"):
        execute(RunRequest("intensity-zscore", data, "mask"), store)
    assert store.get_run(first.run_id).status == "complete" and _protocols_on_board(store) == ["oracle"]


def test_a_plugin_error_while_adding_a_protocol_fails_only_that_evaluation(store, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "oracle"), store)
    predict = IntensityZScore.predict

    def fails_on_validation(self, cases):
        if cases and cases[0].split == "valid":
            raise RuntimeError("out of memory")
        return predict(self, cases)

    monkeypatch.setattr(IntensityZScore, "predict", fails_on_validation)
    with pytest.raises(RunFailed, match="the run stays complete, only valid-f1 failed"):
        execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store)
    run = store.get_run(first.run_id)
    assert run.status == "complete" and run.error is None
    states = {e.protocol: (e.status, e.error) for e in store.evaluations(run.id)}
    assert states["oracle"] == ("complete", None)
    assert states["valid-f1"][0] == "failed" and "out of memory" in states["valid-f1"][1]
    assert _protocols_on_board(store) == ["oracle"]
    monkeypatch.setattr(IntensityZScore, "predict", predict)
    again = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    assert again.run_id == run.id and again.predicted_cases == 0
    assert _protocols_on_board(store) == ["oracle", "valid-f1"]


def test_ctrl_c_while_adding_a_protocol_leaves_the_run_complete(store, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "oracle"), store)
    predict = IntensityZScore.predict

    def user_presses_ctrl_c(self, cases):
        if cases and cases[0].split == "valid":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the signal arrives here, as the user's would
        return predict(self, cases)

    monkeypatch.setattr(IntensityZScore, "predict", user_presses_ctrl_c)
    with pytest.raises(RunInterrupted, match="keeps 10 of 10 test predictions"):
        execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    run = store.get_run(first.run_id)
    assert run.status == "complete" and run.owner is None and _protocols_on_board(store) == ["oracle"]


def test_ctrl_c_while_predicting_keeps_what_was_stored_and_the_same_request_resumes(store, monkeypatch):
    from bench_intensity_zscore import IntensityZScore

    data = planted_dataset()
    predict, calls = IntensityZScore.predict, []

    def ctrl_c_on_the_second_test_batch(self, cases):
        if cases and cases[0].split == "test":
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        return predict(self, cases)

    monkeypatch.setattr(IntensityZScore, "predict", ctrl_c_on_the_second_test_batch)
    with pytest.raises(RunInterrupted, match=r"keeps 4 of 10 test predictions; run the same command again"):
        execute(RunRequest("intensity-zscore", data, "valid-f1", batch_size=4), store)
    (run,) = store.list_runs()
    assert run.status == "interrupted" and run.owner is None
    monkeypatch.setattr(IntensityZScore, "predict", predict)
    resumed = execute(RunRequest("intensity-zscore", data, "valid-f1", batch_size=4), store)
    assert resumed.resumed_cases == 4 and resumed.predicted_cases == 6
    assert store.get_run(run.id).status == "complete"


def test_sys_exit_or_a_self_raised_keyboardinterrupt_in_a_hook_fails_only_that_run(store, fake_site):
    data = planted_dataset()
    with pytest.raises(RunFailed, match=r"predict\(\) called sys.exit\(3\)"):
        execute(RunRequest("exits-in-predict", data, "valid-f1"), store)
    with pytest.raises(RunFailed, match=r"predict\(\) raised KeyboardInterrupt \(not the user's Ctrl-C\)"):
        execute(RunRequest("interrupts-itself", data, "valid-f1"), store)
    ok = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    states = {r.detector: r.status for r in store.list_runs()}
    assert states == {"exits-in-predict": "failed", "interrupts-itself": "failed", "intensity-zscore": "complete"}
    assert ok.evaluations["valid-f1"]["dice"] > 0.5


def test_a_corrupt_cached_prediction_is_named_discarded_and_predicted_again(store):
    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    cache = PredictionCache(first.run_key)
    victim = data.cases("test")[3].id
    path = cache.path(victim)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    logged: list[str] = []

    class Log:
        def phase(self, *a):
            pass

        def advance(self, *a):
            pass

        def step(self, *a):
            pass

        def log(self, message):
            logged.append(message)

    again = execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store, Log())
    assert again.run_id == first.run_id and again.predicted_cases == 1 and again.resumed_cases == 9
    assert any(victim in m and str(path) in m and "predicted again" in m for m in logged), logged
    assert store.get_run(first.run_id).status == "complete"
    assert again.evaluations["valid-f1"] == pytest.approx(first.evaluations["valid-f1"])
    assert execute(RunRequest("intensity-zscore", data, "valid-f1,oracle"), store).reused


def test_a_second_process_is_told_who_holds_the_run_and_changes_nothing(store):
    data = planted_dataset()
    first = execute(RunRequest("intensity-zscore", data, "oracle"), store)
    other = Owner(host="gpu-node-7", pid=4242)
    from bench.runner.plan import RunRequest as Request
    from bench.runner.plan import plan_run

    assert store.claim_run(plan_run(Request("intensity-zscore", data, "oracle")).columns(), other).run
    with pytest.raises(RunBusy, match=r"run 1 is being executed by process 4242 on gpu-node-7.*--wait"):
        execute(RunRequest("intensity-zscore", data, "valid-f1"), store)
    run = store.get_run(first.run_id)
    assert run.status == "complete" and run.owner == other.token and _protocols_on_board(store) == ["oracle"]
    # With --wait, the request runs once the holder lets go.
    threading.Timer(1.5, lambda: store.release_run(run.id, other.token)).start()
    done = execute(RunRequest("intensity-zscore", data, "valid-f1", wait_s=30), store)
    assert done.run_id == run.id and set(done.evaluations) == {"oracle", "valid-f1"}
