"""In a fresh process with fresh home folders: what PatchCore writes, and that it fails offline before loading anomalib.

Each test runs a short script in a child process whose HOME, HF_HOME,
TORCH_HOME, XDG cache, TMPDIR and working directory are empty folders under
the test's tmp_path, because the hub libraries read those locations once, at
import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[2] / "support"

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


def _fresh_env(tmp_path: Path, **extra: str) -> tuple[dict[str, str], dict[str, Path]]:
    folders = {name: tmp_path / name for name in ("home", "hf", "torch", "xdg", "tmp", "cwd", "work")}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TORCH", "XDG_", "MPL", "HUGGINGFACE"))}
    env.update(
        HOME=str(folders["home"]),
        HF_HOME=str(folders["hf"]),
        TORCH_HOME=str(folders["torch"]),
        XDG_CACHE_HOME=str(folders["xdg"]),
        TMPDIR=str(folders["tmp"]),
        PYTHONPATH=os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        **extra,
    )
    return env, folders


def _run(script: str, env: dict[str, str], cwd: Path, *args: str, timeout: float = 120) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def _plant_cached_resnet18(hf_home: Path) -> tuple[Path, float]:
    """A random resnet18 saved where timm looks for ``timm/resnet18.a1_in1k`` in the hub cache."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(7)
    model = timm.create_model("resnet18", pretrained=False)
    repo = hf_home / "hub" / "models--timm--resnet18.a1_in1k"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    path = repo / "snapshots" / commit / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path, float(model.conv1.weight.detach().double().sum())


@pytest.mark.slow
def test_cached_weights_are_used_offline_and_nothing_is_written_outside_the_work_dir(tmp_path):
    import hashlib

    # The hub is online in name but points at a closed local port: any request would fail.
    env, folders = _fresh_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    weights, conv1_sum = _plant_cached_resnet18(folders["hf"])
    before = {name: _files(folder) for name, folder in folders.items()}

    out = _run(FIT_AND_PREDICT, env, folders["cwd"], str(folders["work"]))

    assert out["shapes"] == [[64, 64]] * 4
    assert out["conv1_sum"] == pytest.approx(conv1_sum, rel=1e-9)  # the cached file, not a download
    assert out["weights"] == "imagenet:resnet18"
    assert out["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    # reported to the platform, which hashed the file itself
    assert out["ledger"] == [["resnet18.a1_in1k", out["sha256"]]]
    after = {name: _files(folder) for name, folder in folders.items()}
    for name in ("home", "hf", "torch", "xdg", "cwd", "tmp"):
        assert after[name] == before[name], f"{name} gained files: {set(after[name]) - set(before[name])}"
    assert not any(folders["home"].iterdir()) and not any(folders["cwd"].iterdir())


@pytest.mark.slow
def test_pretrained_without_cached_weights_fails_fast_offline_naming_the_backbone(tmp_path):
    env, folders = _fresh_env(tmp_path, HF_HUB_OFFLINE="1")
    out = _run(FAIL_OFFLINE, env, folders["cwd"])
    for name, backbone in (("patchcore-r18", "resnet18"), ("patchcore-wrn50", "wide_resnet50_2")):
        result = out[name]
        assert result["error"] is not None, f"{name} fitted without weights"
        assert result["anomalib_imported"] is False
        message = result["error"]
        assert f"backbone {backbone!r}" in message and "HF_HUB_OFFLINE" in message
        assert "network access" in message and "pretrained=false" in message
        assert str(folders["hf"]) in message  # where the weights were looked for
    assert not _files(folders["home"]) and not _files(folders["cwd"]) and not _files(folders["hf"])


@pytest.mark.slow
def test_an_unreachable_hub_fails_fast_when_not_marked_offline(tmp_path):
    # A closed local port stands in for a dead network; nothing leaves the machine.
    env, folders = _fresh_env(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9")
    out = _run(FAIL_OFFLINE, env, folders["cwd"])
    for name in ("patchcore-r18", "patchcore-wrn50"):
        assert out[name]["error"] is not None and out[name]["anomalib_imported"] is False
        assert "127.0.0.1:9 cannot be reached within 3 s" in out[name]["error"]
