"""In a fresh process with empty home, cache and working folders: what the bridge loads and writes, offline.

Each test runs a short script in a child process whose HOME, HF_HOME,
TORCH_HOME, XDG cache, TMPDIR and working directory are empty folders under
the test's tmp_path (the hub libraries read those locations at import). The
hub endpoint is a closed local port, so any request would fail: nothing may
be downloaded, only cached files read.
"""

from __future__ import annotations

import hashlib

import pytest
from sandbox import files, fresh_env, plant_timm_resnet18, run_script

SCRIPT = """
import json, sys
from pathlib import Path
from planted import planted_cases
from bench.contract import DetectorContext
from bench.errors import WeightsError
from bench.weights import WeightsLedger, open_ledger
from bench_anomalib import CfaDetector, Rd4ad
from bench_recontrast import ReContrast

cases = planted_cases(n_train=4, n_valid=0, n_test=2, size=64, seed=0)
train, test = [c for c in cases if c.split == "train"], [c for c in cases if c.split == "test"]
work = Path(sys.argv[1])
tiny = {"epochs": 1, "input_size": 64, "train_batch_size": 4}
out = {}
# resnet18's timm weights are in the hub cache; CFA runs random-init.
for cls, pretrained in ((Rd4ad, True), (CfaDetector, False)):
    config = cls.Config(backbone="resnet18", pretrained=pretrained, **tiny)
    detector = cls(config, DetectorContext(work_dir=work / cls.name))
    with open_ledger(WeightsLedger()) as ledger:
        detector.fit(train)
    preds = detector.predict(test)
    info = detector.run_info()
    out[cls.name] = {
        "shapes": [list(p.anomaly_map.shape) for p in preds],
        "weights": info.weights,
        "sha256": info.weights_sha256,
        "ledger": [[f.name, f.sha256] for f in ledger.files],
    }
    if cls is Rd4ad:  # RD4AD's encoder is frozen: it still holds the loaded weights
        conv1 = detector._module.model.encoder.feature_extractor["conv1"].weight
        out["rd4ad_conv1_sum"] = float(conv1.detach().double().sum())
# Nothing of resnet34 is cached (timm's hub file; torchvision's file for CFA).
out["errors"] = {}
for cls in (Rd4ad, CfaDetector, ReContrast):
    backbone = "vgg19_bn" if cls is CfaDetector else "resnet34"
    try:
        cls(cls.Config(backbone=backbone, pretrained=True, input_size=64)).fit(train)
        out["errors"][cls.name] = None
    except WeightsError as exc:
        out["errors"][cls.name] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_cached_weights_are_reported_missing_ones_named_and_nothing_written_outside_the_work_dir(tmp_path):
    # online in name, but the endpoint is a closed local port
    env, folders = fresh_env(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9")
    weights, conv1_sum = plant_timm_resnet18(folders["hf"], seed=11, commit="fedcba9876543210fedcba9876543210fedcba98")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    before = {name: files(folder) for name, folder in folders.items()}

    out = run_script(SCRIPT, env, folders["cwd"], str(folders["work"]))

    rd4ad, cfa = out["rd4ad"], out["cfa"]
    assert out["rd4ad_conv1_sum"] == pytest.approx(conv1_sum, rel=1e-9)  # the cached file, not a random init
    assert rd4ad["shapes"] == [[64, 64]] * 2 and cfa["shapes"] == [[64, 64]] * 2
    name = "timm/resnet18.a1_in1k/model.safetensors"
    assert rd4ad["weights"] == name and rd4ad["sha256"] == digest
    assert rd4ad["ledger"] == [[name, digest]]  # the platform's own record of what was loaded
    assert cfa["weights"] == "random-init" and cfa["sha256"] is None and cfa["ledger"] == []

    errors = out["errors"]
    for detector in ("rd4ad", "recontrast"):
        message = errors[detector]
        assert message is not None, f"{detector} fitted without weights"
        assert "timm/resnet34" in message and "not in the Hugging Face cache" in message
        assert str(folders["hf"]) in message and "timm.create_model" in message and "pretrained=false" in message
    message = errors["cfa"]
    assert message is not None and "vgg19_bn-c79401a0.pth" in message and str(folders["torch"]) in message
    assert "torch.hub.load_state_dict_from_url" in message and "pretrained=false" in message

    after = {name: files(folder) for name, folder in folders.items()}
    for folder in ("home", "hf", "torch", "xdg", "cwd", "tmp"):
        assert after[folder] == before[folder], f"{folder} gained files: {set(after[folder]) - set(before[folder])}"
    assert not any(folders["home"].iterdir()) and not any(folders["cwd"].iterdir())
