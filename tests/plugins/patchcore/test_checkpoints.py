"""PatchCore's declared backbones: as timm publishes them, and loaded from the platform's cache when there."""

from __future__ import annotations

import hashlib

import pytest
from planted import planted_cases

from bench.contract import DetectorContext
from bench.weights import WeightsLedger, add_checkpoint, get_checkpoint, open_ledger
from bench_patchcore import PatchcoreR18, PatchcoreWrn50
from bench_patchcore.checkpoints import BACKBONE_CHECKPOINTS


@pytest.mark.parametrize(("detector", "backbone"), [(PatchcoreR18, "resnet18"), (PatchcoreWrn50, "wide_resnet50_2")])
def test_each_detector_declares_its_default_backbone_as_timm_publishes_it(detector, backbone):
    from timm.models import get_pretrained_cfg

    assert detector.Config().backbone == backbone
    [declared] = detector.checkpoints
    cfg = get_pretrained_cfg(backbone)  # timm's public record of its default pretrained weights
    assert declared.name == cfg.hf_hub_id.removeprefix("timm/")
    assert declared.url == f"https://huggingface.co/{cfg.hf_hub_id}/resolve/main/model.safetensors"
    assert declared.licence == cfg.license and declared.sha256 is None
    assert get_checkpoint(declared.name).declared_by == (detector.name,)


@pytest.mark.slow
def test_backbone_weights_in_the_platform_cache_are_loaded_checked_and_recorded(tmp_path):
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(3)
    reference = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    name = BACKBONE_CHECKPOINTS["resnet18"].name
    assert add_checkpoint(path, name).sha256 == digest  # no published digest: this file's is recorded

    cases = planted_cases(n_train=4, n_valid=0, n_test=2, size=64, seed=0)
    detector = PatchcoreR18(PatchcoreR18.Config(input_size=64), DetectorContext(work_dir=tmp_path / "work"))
    ledger = WeightsLedger()
    with open_ledger(ledger):
        detector.fit([c for c in cases if c.split == "train"])
    loaded = detector._model.feature_extractor.feature_extractor.conv1.weight
    assert torch.equal(loaded, reference.conv1.weight)
    assert [(f.name, f.sha256) for f in ledger.files] == [(name, digest)]
    info = detector.run_info()
    assert info.weights_sha256 == digest and info.notes["weights_source"] == f"mias-bench weights cache: {name}"
    assert PatchcoreR18.offline_overrides() == {}  # the demo would use these weights
