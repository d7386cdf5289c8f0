"""patchcore-r18 end to end through the platform's runner, on generated cases."""

from __future__ import annotations

import json

from planted import planted_dataset

from bench.paths import cache_dir
from bench.runner import RunRequest, execute
from bench.store import Store


def test_the_runner_fits_thresholds_and_records_a_random_init_patchcore(tmp_path):
    store = Store(str(tmp_path / "runs.db"))
    request = RunRequest("patchcore-r18", planted_dataset(n_train=6), "valid-f1", overrides=["pretrained=false"])
    result = execute(request, store)
    summary = result.evaluations["valid-f1"]
    # chance: a mask covering everything scores about 0.06 DICE on these lesions
    assert summary["pixel_auroc"] > 0.95 and summary["dice"] > 0.6
    run = store.get_run(result.run_id)
    assert run.status == "complete" and run.weights == "random-init" and run.weights_sha256 is None
    assert run.random_init is True and run.provenance == "platform"  # decided by the platform: nothing loaded
    notes = json.loads(run.run_info_json)["declared"]["notes"]
    assert notes["coreset_size"] == int(6 * (256 // 8) ** 2 * 0.1)  # frame 256, input 256
    assert not any((cache_dir() / "work").iterdir())  # the run's work folder is removed after close()
