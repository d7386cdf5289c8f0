"""In a fresh process with fresh home folders: what PatchCore writes, and that it fails offline before loading anomalib.

Each test runs a short script in a child process whose HOME, HF_HOME,
TORCH_HOME, XDG cache, TMPDIR and working directory are empty folders under
the test's tmp_path, because the hub libraries read those locations once, at
import.
"""

from __future__ import annotations

import pytest
from sandbox import files, fresh_env, plant_timm_resnet18, run_script

FIT_AND_PREDICT = """
import json, sys, time
from pathlib import Path
from planted import planted_cases
from bench.contract import DetectorContext
from bench.weights import WeightsLedger, open_ledger
from bench_patchcore import PatchcoreR18

cases = planted_cases(n_train=4, n_valid=0, n_test=4, size=64, seed=0)
work = Path(sys.argv[1])
detector = PatchcoreR18(PatchcoreR18.Config(pretrained=True, input_size=64), DetectorContext(work_dir=work))
ledger = WeightsLedger()
with open_ledger(ledger):
    detector.fit([c for c in cases if c.split == "train"])
preds = detector.predict([c for c in cases if c.split == "test"])
w = detector._model.feature_extractor.feature_extractor.conv1.weight.detach()
info = detector.run_info()
print(json.dumps({"shapes": [list(p.anomaly_map.shape) for p in preds], "conv1_sum": float(w.double().sum()),
                  "weights": info.weights, "sha256": info.weights_sha256,
                  "ledger": [[f.name, f.sha256] for f in ledger.files]}))
"""

FAIL_OFFLINE = """
import json, sys
from planted import planted_cases
from bench.errors import WeightsError
from bench_patchcore import PatchcoreR18, PatchcoreWrn50

train = [c for c in planted_cases(n_train=2, n_valid=0, n_test=0, size=32)]
out = {}
for cls in (PatchcoreR18, PatchcoreWrn50):
    try:
        cls().fit(train)
        out[cls.name] = {"error": None}
    except WeightsError as exc:
        # Failing before the slow anomalib import is what makes the failure fast.
        out[cls.name] = {"error": str(exc), "anomalib_imported": "anomalib" in sys.modules}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_cached_weights_are_used_offline_and_nothing_is_written_outside_the_work_dir(tmp_path):
    import hashlib

    # The hub is online in name but points at a closed local port: any request would fail.
    env, folders = fresh_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    weights, conv1_sum = plant_timm_resnet18(folders["hf"], seed=7, commit="0123456789abcdef0123456789abcdef01234567")
    before = {name: files(folder) for name, folder in folders.items()}

    out = run_script(FIT_AND_PREDICT, env, folders["cwd"], str(folders["work"]), timeout=120)

    assert out["shapes"] == [[64, 64]] * 4
    assert out["conv1_sum"] == pytest.approx(conv1_sum, rel=1e-9)  # the cached file, not a download
    assert out["weights"] == "imagenet:resnet18"
    assert out["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    # reported to the platform, which hashed the file itself
    assert out["ledger"] == [["resnet18.a1_in1k", out["sha256"]]]
    after = {name: files(folder) for name, folder in folders.items()}
    for name in ("home", "hf", "torch", "xdg", "cwd", "tmp"):
        assert after[name] == before[name], f"{name} gained files: {set(after[name]) - set(before[name])}"
    assert not any(folders["home"].iterdir()) and not any(folders["cwd"].iterdir())


@pytest.mark.slow
def test_pretrained_without_cached_weights_fails_fast_offline_naming_the_backbone(tmp_path):
    env, folders = fresh_env(tmp_path, HF_HUB_OFFLINE="1")
    out = run_script(FAIL_OFFLINE, env, folders["cwd"], timeout=120)
    for name, backbone in (("patchcore-r18", "resnet18"), ("patchcore-wrn50", "wide_resnet50_2")):
        result = out[name]
        assert result["error"] is not None, f"{name} fitted without weights"
        assert result["anomalib_imported"] is False
        message = result["error"]
        assert f"backbone {backbone!r}" in message and "HF_HUB_OFFLINE" in message
        assert "network access" in message and "pretrained=false" in message
        assert str(folders["hf"]) in message  # where the weights were looked for
    assert not files(folders["home"]) and not files(folders["cwd"]) and not files(folders["hf"])


@pytest.mark.slow
def test_an_unreachable_hub_fails_fast_when_not_marked_offline(tmp_path):
    # A closed local port stands in for a dead network; nothing leaves the machine.
    env, folders = fresh_env(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9")
    out = run_script(FAIL_OFFLINE, env, folders["cwd"], timeout=120)
    for name in ("patchcore-r18", "patchcore-wrn50"):
        assert out[name]["error"] is not None and out[name]["anomalib_imported"] is False
        assert "127.0.0.1:9 cannot be reached within 3 s" in out[name]["error"]
