"""ReContrast's typed config: the authors' published settings as defaults (pydantic only, no torch).

Defaults follow the authors' OCT2017 script (``recontrast_oct.py`` in
``guojiajeremy/ReContrast``), the closest of their medical settings to
BMAD: wide_resnet50_2 with torchvision's ImageNet V1 weights (timm's
``.tv_in1k`` copy of them), 256 x 256 input, batch 32, 1,000 optimiser
steps, AdamW lr 2e-3 (reconstruction) and 1e-5 (encoder), weight decay
1e-5, the trained encoder's batch-norm statistics frozen, hard mining from
alpha -3 to 1 over the first 10 % of steps, map smoothed with sigma 4.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, field_validator

from bench_anomalib import AnomalibRunConfig
from bench_anomalib.baselines import multiple_of_32
from bench_anomalib.config import FiniteFloat

#: ResNet families whose RD4AD decoder anomalib ships and whose bottleneck width ReContrast's rule covers.
ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2")


class ReContrastConfig(AnomalibRunConfig):
    """ReContrast (Guo et al., NeurIPS 2023)."""

    MODEL: ClassVar[str] = "ReContrast"

    backbone: str = Field(
        "wide_resnet50_2.tv_in1k", description="timm ResNet-family encoder, optionally with a pretrained tag"
    )
    lr_decoder: FiniteFloat = Field(2e-3, gt=0, le=1, description="AdamW learning rate of bottleneck, decoder, heads")
    lr_encoder: FiniteFloat = Field(1e-5, ge=0, le=1, description="AdamW learning rate of the trained encoder")
    betas: tuple[FiniteFloat, FiniteFloat] = Field((0.9, 0.999), description="AdamW betas")
    weight_decay: FiniteFloat = Field(1e-5, ge=0, le=1, description="AdamW weight decay")
    encoder_bn_train: bool = Field(
        False, description="trained encoder's batch norm updates its statistics (authors: OCT false, APTOS/ISIC true)"
    )
    mining_alpha_start: FiniteFloat = Field(-3.0, ge=-10, le=10, description="hard-mining threshold at step 0 (std)")
    mining_alpha_final: FiniteFloat = Field(1.0, ge=-10, le=10, description="hard-mining threshold after warm-up (std)")
    mining_warmup: FiniteFloat = Field(0.1, ge=0, le=1, description="fraction of steps alpha takes to reach its final")
    mining_factor: FiniteFloat = Field(0.0, ge=0, le=1, description="gradient multiplier of easy points (0: none)")
    sigma: FiniteFloat = Field(4.0, gt=0, le=64, description="Gaussian smoothing of the map (input pixels)")
    max_steps: int | None = Field(1000, ge=1, description="optimiser steps (authors' OCT2017 script: 1,000)")
    input_size: Annotated[int, AfterValidator(multiple_of_32)] = Field(
        256, ge=32, le=2048, description="side of the square model input (pixels, a multiple of 32)"
    )

    @field_validator("backbone")
    @classmethod
    def _resnet_family(cls, value: str) -> str:
        arch = value.split(".", 1)[0]
        if arch not in ARCHITECTURES:
            raise ValueError(f"expected one of {', '.join(ARCHITECTURES)} (optionally with a tag), got {value!r}")
        return value

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in value):
            raise ValueError(f"each beta must be in [0, 1), got {value}")
        return value
