"""The ImageNet backbones PatchCore's detectors declare, as timm publishes them on the Hugging Face hub.

Declared statically (the plugin listing must not import timm): name and hub
repository are timm's default pretrained tag for each backbone, the licence
is timm's ``pretrained_cfg.license`` (a test checks both against
``timm.models.get_pretrained_cfg``). The hub publishes no SHA-256 beside the
file, so ``sha256`` is ``None``: the cache records the digest of the file
when it is first fetched or added, and checks every later load against it.
"""

from __future__ import annotations

from bench.sdk import Checkpoint

_HUB = "https://huggingface.co/{repo}/resolve/main/model.safetensors"


def _timm_backbone(backbone: str, tag: str) -> Checkpoint:
    repo = f"timm/{backbone}.{tag}"
    return Checkpoint(
        name=f"{backbone}.{tag}",
        file=f"{backbone}.{tag}.safetensors",
        url=_HUB.format(repo=repo),
        sha256=None,
        licence="apache-2.0",
        variant=backbone,
        description=f"timm {backbone} ImageNet weights ({repo}), loaded as PatchCore's backbone",
    )


#: timm backbone name -> its declared checkpoint.
BACKBONE_CHECKPOINTS: dict[str, Checkpoint] = {
    "resnet18": _timm_backbone("resnet18", "a1_in1k"),
    "wide_resnet50_2": _timm_backbone("wide_resnet50_2", "racm_in1k"),
}
