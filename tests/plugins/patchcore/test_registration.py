"""The two PatchCore detectors as the platform sees them: listing, import cost, config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.errors import ConfigError
from bench.plugins import discover_detectors, get_detector, resolve_config
from bench_patchcore import PatchcoreR18, PatchcoreWrn50


def test_both_detectors_are_listed_through_their_entry_points():
    records = {r.name: r for r in discover_detectors()}
    for name, cls in (("patchcore-wrn50", PatchcoreWrn50), ("patchcore-r18", PatchcoreR18)):
        assert records[name].ok, records[name].error
        assert records[name].distribution == "mias-bench"
        assert get_detector(name) is cls


def test_importing_the_plugin_imports_neither_torch_nor_anomalib_nor_timm():
    code = "import sys, bench_patchcore; print(sorted({'torch', 'timm', 'anomalib'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("cls", "backbone"), [(PatchcoreWrn50, "wide_resnet50_2"), (PatchcoreR18, "resnet18")])
def test_capabilities_and_defaults(cls, backbone):
    caps = cls.capabilities
    assert (caps.outputs_mask, caps.needs_fit, caps.needs_weights, caps.modalities) == (False, True, True, ("*",))
    config = cls.Config()
    assert config.backbone == backbone and config.layers == ("layer2", "layer3")
    assert config.coreset_sampling_ratio == 0.1 and config.num_neighbors == 9
    assert config.input_size == 256 and config.pretrained is True
    assert config.gray_to_rgb == "repeat" and config.resize == "bilinear-antialias"
    assert config.mean == (0.485, 0.456, 0.406) and config.std == (0.229, 0.224, 0.225)


def test_the_stored_config_states_the_preprocessing():
    stored = PatchcoreR18.Config().model_dump(mode="json")
    assert {"input_size", "gray_to_rgb", "resize", "mean", "std", "pretrained", "backbone"} <= set(stored)


def test_bmad_preset_and_overrides_resolve_through_the_platform():
    config = resolve_config(PatchcoreWrn50, "bmad", ["pretrained=false", 'layers=["layer1","layer2"]'])
    assert config.input_size == 224 and config.pretrained is False and config.layers == ("layer1", "layer2")


@pytest.mark.parametrize(
    "override",
    [
        "coreset_sampling_ratio=0",
        "coreset_sampling_ratio=1.5",
        "num_neighbors=0",
        "input_size=8",
        "std=[1,0,1]",
        'layers=["layer2","layer2"]',
        "layers=[]",
    ],
)
def test_invalid_values_are_config_errors(override):
    with pytest.raises(ConfigError, match="invalid config for detector 'patchcore-r18'"):
        resolve_config(PatchcoreR18, None, [override])
