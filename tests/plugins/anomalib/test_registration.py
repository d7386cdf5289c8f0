"""The anomalib detectors as the platform sees them: listing, info, import cost, and configs it refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.cli.app import run_cli
from bench.errors import ConfigError
from bench.plugins import get_detector, resolve_config
from bench_anomalib import AnomalibDetector, CfaDetector, Cflow, Rd4ad, SuperSimpleNet

DETECTORS = {
    "anomalib": AnomalibDetector,
    "rd4ad": Rd4ad,
    "cfa": CfaDetector,
    "cflow": Cflow,
    "supersimplenet": SuperSimpleNet,
}
#: anomalib's published settings (model defaults, examples/configs/model/*.yaml, SuperSimpleNet's README).
PUBLISHED = {
    "rd4ad": {"backbone": "wide_resnet50_2", "layers": ["layer1", "layer2", "layer3"], "epochs": 200},
    "cfa": {"backbone": "wide_resnet50_2", "gamma_c": 1, "gamma_d": 1, "radius": 1e-5, "epochs": 30},
    "cflow": {"backbone": "wide_resnet50_2", "layers": ["layer2", "layer3", "layer4"], "lr": 1e-4, "epochs": 50},
    "supersimplenet": {"backbone": "wide_resnet50_2.tv_in1k", "layers": ["layer2", "layer3"], "epochs": 300},
}


def test_each_detector_is_listed_with_its_capabilities(capsys):
    assert run_cli(["detectors", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for name, cls in DETECTORS.items():
        row = rows[name]
        assert row["status"] == "ok", row["error"]
        assert row["distribution"] == "mias-bench" and row["entry_point"].startswith("bench_anomalib:")
        assert row["capabilities"] == {
            "outputs_mask": False,
            "needs_fit": True,
            "modalities": ["*"],
            "needs_weights": True,
            "uses_validation": False,
            "gpu": False,
            "cpus": 1.0,
            "memory_gib": 0.0,
        }
        assert get_detector(name) is cls
    described = rows["supersimplenet"]["description"]
    assert "SuperSimpleNet" in described and "stands in for the paper's SimpleNet" in described
    assert run_cli(["detectors", "list"]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in DETECTORS)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_info_prints_the_config_with_the_published_defaults(name, capsys):
    assert run_cli(["detectors", "info", name, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key, value in PUBLISHED[name].items():
        assert info["defaults"][key] == value, key
    assert info["defaults"]["input_size"] == 256 and info["defaults"]["train_batch_size"] == 32
    assert info["defaults"]["pretrained"] is True
    assert set(info["defaults"]) == set(info["schema"]["properties"])
    assert run_cli(["detectors", "info", name]) == 0
    printed = capsys.readouterr().out
    assert "epochs" in printed and "backbone" in printed and "pretrained" in printed


def test_generic_info_names_the_model_keys(capsys):
    assert run_cli(["detectors", "info", "anomalib", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["defaults"]["model"] == "Padim" and info["defaults"]["model_args"] == {}
    assert info["defaults"]["epochs"] is None


def test_importing_the_plugin_imports_neither_torch_nor_anomalib():
    code = (
        "import sys, bench_anomalib, bench_recontrast; "
        "print(sorted({'torch', 'timm', 'anomalib', 'lightning'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_unknown_model_name_suggests_close_matches():
    with pytest.raises(ConfigError, match=r"unknown anomalib model 'Padin'; did you mean 'Padim'"):
        resolve_config(AnomalibDetector, None, ['model="Padin"'])


def test_an_unknown_model_through_the_cli_is_one_red_line(planted_root, capsys):
    code = run_cli(["run", "anomalib", "-d", "bmad-brain", "--data-root", str(planted_root), "--set", 'model="Stfmp"'])
    err = capsys.readouterr().err
    assert code == 1 and "did you mean 'Stfpm'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("AiVad", r"'AiVad' is a video model .*not an image anomaly model"),
        ("Fuvas", r"'Fuvas' is a video model"),
    ],
)
def test_a_model_that_is_not_an_image_anomaly_model_is_refused(model, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(AnomalibDetector, None, [f'model="{model}"'])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('{"backbon": "resnet18"}', r"Padim takes no argument 'backbon'; did you mean 'backbone'"),
        ('{"pre_trained": false}', r"'pre_trained' is set by the bridge \(use the bridge's `pretrained` key\)"),
        ('{"post_processor": true}', r"'post_processor' is set by the bridge"),
    ],
)
def test_model_args_are_checked_against_the_model(args, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(AnomalibDetector, None, ['model="Padim"', f"model_args={args}"])


def test_model_args_must_be_finite_json():
    with pytest.raises(ConfigError, match="expected a finite number"):
        resolve_config(AnomalibDetector, None, ['model_args={"radius": NaN}'])
    config = resolve_config(AnomalibDetector, None, ['model="Stfpm"', 'model_args={"layers": ["layer1"]}'])
    assert config.model_kwargs() == {"layers": ["layer1"]} and config.model_name() == "Stfpm"


@pytest.mark.parametrize(
    ("cls", "override"),
    [
        (Rd4ad, "epochs=0"),
        (Rd4ad, "train_batch_size=0"),
        (Rd4ad, "input_size=100"),  # not a multiple of 32
        (Rd4ad, 'layers=["layer1","layer2"]'),
        (Rd4ad, 'layers=["layer1","layer1","layer2"]'),
        (Rd4ad, 'anomaly_map_mode="max"'),
        (Rd4ad, "std=[1,0,1]"),
        (Rd4ad, "mean=[0.5,Infinity,0.5]"),
        (CfaDetector, 'backbone="resnet50"'),
        (CfaDetector, "radius=NaN"),
        (CfaDetector, "gamma_c=0"),
        (Cflow, "lr=-1"),
        (Cflow, "layers=[]"),
        (SuperSimpleNet, "input_size=64"),  # its Perlin noise needs 32 x 32 features
        (SuperSimpleNet, "perlin_threshold=1.5"),
        (AnomalibDetector, "max_steps=0"),
    ],
)
def test_invalid_values_are_config_errors(cls, override):
    with pytest.raises(ConfigError, match=f"invalid config for detector '{cls.name}'"):
        resolve_config(cls, None, [override])


def test_the_bmad_presets_state_bmads_differences():
    assert resolve_config(Rd4ad, "bmad", []).model_dump()["anomaly_map_mode"] == "multiply"
    for cls in (Rd4ad, CfaDetector, Cflow):
        assert resolve_config(cls, "bmad", []).input_size == 224


def test_named_configs_pass_every_non_run_field_to_the_model():
    kwargs = Cflow.Config().model_kwargs()
    assert kwargs == {
        "backbone": "wide_resnet50_2",
        "layers": ["layer2", "layer3", "layer4"],
        "fiber_batch_size": 64,
        "decoder": "freia-cflow",
        "condition_vector": 128,
        "coupling_blocks": 8,
        "clamp_alpha": 1.9,
        "permute_soft": False,
        "lr": 1e-4,
    }


def test_the_demo_plans_each_detector_with_demo_settings_the_config_accepts():
    from bench.demo import plan_detectors

    plan = plan_detectors(list(DETECTORS))
    assert set(plan.detectors) == set(DETECTORS) and not plan.skipped
    for name, overrides in plan.detectors.items():
        config = resolve_config(DETECTORS[name], None, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
        assert config.input_size <= 128 and config.train_batch_size <= 24
        backbone = overrides.get("backbone", overrides.get("model_args", {}).get("backbone"))
        assert backbone.startswith("resnet18")
        # shortened training is a smoke test: always random-init, so the platform marks it and never ranks it
        assert config.pretrained is False
