"""Typed configs of the PatchCore detectors (light: pydantic only, no torch).

Preprocessing is part of the config, so the stored config says exactly what
the backbone saw: the grayscale case copied to 3 channels, resized to
``input_size`` x ``input_size`` (bilinear, antialiased, as anomalib's own
pre-processor), then normalised with ``mean`` and ``std``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from bench.sdk import DetectorConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Cases are float32 in [0, 1], so a channel's mean lies in [0, 1] and its spread is at most 1.
ChannelMean = Annotated[float, Field(ge=0, le=1)]
ChannelStd = Annotated[float, Field(gt=0, le=1)]


class PatchcoreConfig(DetectorConfig):
    """Shared fields; the two detectors differ only in their ``backbone`` default."""

    backbone: str = Field("wide_resnet50_2", description="timm backbone name (a CNN with features_only support)")
    layers: tuple[str, ...] = Field(
        ("layer2", "layer3"), min_length=1, description="backbone layers whose features are concatenated"
    )
    coreset_sampling_ratio: float = Field(
        0.1, gt=0, le=1, description="fraction of training patch embeddings kept in the memory bank (k-center greedy)"
    )
    num_neighbors: int = Field(9, ge=1, le=1024, description="memory-bank neighbours used to reweight the image score")
    input_size: int = Field(
        256, ge=32, le=2048, description="side of the square backbone input (pixels); 256 = no resampling at 256 px"
    )
    pretrained: bool = Field(True, description="ImageNet weights from the timm cache; false = random-init backbone")
    gray_to_rgb: Literal["repeat"] = Field("repeat", description="how a grayscale case becomes 3 channels")
    resize: Literal["bilinear-antialias"] = Field(
        "bilinear-antialias", description="how the case is resized to input_size (torchvision Resize, antialias)"
    )
    mean: tuple[ChannelMean, ChannelMean, ChannelMean] = Field(
        IMAGENET_MEAN, description="per-channel normalisation mean (RGB, each in [0, 1])"
    )
    std: tuple[ChannelStd, ChannelStd, ChannelStd] = Field(
        IMAGENET_STD, description="per-channel normalisation std (RGB, each in (0, 1])"
    )

    @field_validator("layers")
    @classmethod
    def _distinct_layers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"layers must be distinct, got {list(value)}")
        return value


class PatchcoreWrn50Config(PatchcoreConfig):
    """BMAD's ``_resnet50`` configs: wide_resnet50_2, layers 2 and 3."""

    backbone: str = Field("wide_resnet50_2", description="timm backbone name (a CNN with features_only support)")


class PatchcoreR18Config(PatchcoreConfig):
    """BMAD's default PatchCore: resnet18, layers 2 and 3."""

    backbone: str = Field("resnet18", description="timm backbone name (a CNN with features_only support)")
