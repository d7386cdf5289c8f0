"""The MIAS-SAM paper's anomalib baselines as named detectors: ``rd4ad``, ``cfa``, ``cflow``, ``supersimplenet``.

Each is the generic bridge with one model and typed defaults. The defaults
are anomalib's published settings (its model defaults and its
``examples/configs/model/*.yaml``; SuperSimpleNet's README): backbone,
layers, epochs, and the optimiser each model's ``configure_optimizers``
fixes (recorded in every run's notes). Training batch size 32 and input
256 x 256 are anomalib's datamodule defaults. The ``bmad`` preset applies
the differences of BMAD's own configs (``DorisBao/BMAD``, ``config/*``): input
224, and RD4AD's maps multiplied across layers. BMAD's configs also stop
early on the validation split's pixel AUROC; here a detector never sees
validation labels while it trains, so no preset does that.

SuperSimpleNet (Rolih et al., ICPR 2024 / JIMS 2025) stands in for the
paper's SimpleNet (Liu et al., CVPR 2023), which anomalib does not ship; it
is labelled SuperSimpleNet everywhere (see ``docs/detectors/supersimplenet.md``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from bench_anomalib.config import AnomalibRunConfig, FiniteFloat
from bench_anomalib.detector import AnomalibDetector


def multiple_of_32(value: int) -> int:
    """Reverse distillation's decoder rebuilds layer 3's 1/16 grid from the bottleneck's 1/32 one."""
    if value % 32:
        raise ValueError(f"input_size must be a multiple of 32 for reverse distillation, got {value}")
    return value


def _distinct(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise ValueError(f"layers must be distinct, got {list(value)}")
    return value


#: Backbone layer names, each named once.
Layers = Annotated[tuple[str, ...], AfterValidator(_distinct)]


class Rd4adConfig(AnomalibRunConfig):
    """Reverse Distillation (Deng & Li, CVPR 2022) as anomalib ships it; Adam lr 0.005, betas (0.5, 0.99)."""

    MODEL: ClassVar[str] = "ReverseDistillation"

    backbone: str = Field("wide_resnet50_2", description="timm ResNet-family encoder (the decoder mirrors it)")
    layers: Annotated[tuple[str, str, str], AfterValidator(_distinct)] = Field(
        ("layer1", "layer2", "layer3"), description="the three encoder layers distilled (RD's bottleneck takes three)"
    )
    anomaly_map_mode: Literal["add", "multiply"] = Field(
        "add", description="how the per-layer cosine-distance maps are combined"
    )
    epochs: int | None = Field(200, ge=1, le=100_000, description="training epochs (anomalib's config: 200)")
    input_size: Annotated[int, AfterValidator(multiple_of_32)] = Field(
        256, ge=32, le=2048, description="side of the square model input (pixels, a multiple of 32)"
    )


class CfaConfig(AnomalibRunConfig):
    """Coupled-hypersphere Feature Adaptation (Lee et al., IEEE Access 2022); AdamW lr 1e-3, wd 5e-4, amsgrad."""

    MODEL: ClassVar[str] = "Cfa"

    backbone: Literal["wide_resnet50_2", "resnet18", "vgg19_bn"] = Field(
        "wide_resnet50_2", description="torchvision backbone (default ImageNet weights), one CFA supports"
    )
    gamma_c: int = Field(1, ge=1, description="centroid compression: memory bank size = feature positions / gamma_c")
    gamma_d: int = Field(1, ge=1, description="descriptor channel compression")
    num_nearest_neighbors: int = Field(3, ge=1, description="nearest memory-bank centroids per feature")
    num_hard_negative_features: int = Field(3, ge=1, description="hard negatives in the loss")
    radius: FiniteFloat = Field(1e-5, gt=0, description="initial hypersphere radius")
    epochs: int | None = Field(30, ge=1, le=100_000, description="training epochs (anomalib's config: 30)")


class CflowConfig(AnomalibRunConfig):
    """CFLOW-AD (Gudovskiy et al., WACV 2022): conditional normalising flows on three encoder layers."""

    MODEL: ClassVar[str] = "Cflow"

    backbone: str = Field("wide_resnet50_2", description="timm CNN encoder (frozen)")
    layers: Layers = Field(("layer2", "layer3", "layer4"), min_length=1, description="encoder layers modelled")
    fiber_batch_size: int = Field(64, ge=1, description="feature vectors per flow optimiser step")
    decoder: Literal["freia-cflow"] = Field("freia-cflow", description="normalising-flow architecture (FrEIA)")
    condition_vector: int = Field(128, ge=2, description="positional-encoding length conditioning each flow")
    coupling_blocks: int = Field(8, ge=1, description="coupling blocks per flow")
    clamp_alpha: FiniteFloat = Field(1.9, gt=0, description="soft clamp of the coupling scales")
    permute_soft: bool = Field(False, description="random orthogonal (true) or hard permutation between blocks")
    lr: FiniteFloat = Field(1e-4, gt=0, le=1, description="Adam learning rate of the flows")
    epochs: int | None = Field(50, ge=1, le=100_000, description="training epochs (anomalib's config: 50)")


class SupersimplenetConfig(AnomalibRunConfig):
    """SuperSimpleNet, unsupervised (anomalib's JIMS variant by default); AdamW, MultiStepLR at 80 % and 90 %."""

    MODEL: ClassVar[str] = "Supersimplenet"

    backbone: str = Field(
        "wide_resnet50_2.tv_in1k", description="timm backbone; anomalib asks for torchvision V1 weights ('.tv_...')"
    )
    layers: Layers = Field(("layer2", "layer3"), min_length=1, description="backbone layers upscaled and joined")
    perlin_threshold: FiniteFloat = Field(
        0.2, ge=0, le=1, description="Perlin-noise threshold of the synthetic feature-space anomalies"
    )
    adapt_cls_features: bool = Field(
        False, description="classification head on adapted features (ICPR version) instead of raw ones (JIMS)"
    )
    epochs: int | None = Field(300, ge=1, le=100_000, description="training epochs (anomalib's README: 300)")
    # The Perlin noise of the synthetic anomalies needs a 32 x 32 feature grid (layer 2 upscaled twice: input / 4).
    input_size: int = Field(256, ge=128, le=2048, description="side of the square model input (pixels, at least 128)")


_BMAD_INPUT = {"input_size": 224}
#: Demo settings beyond the bridge's DEMO_SETTINGS: resnet18 and one epoch (a smoke run, not the method).
_DEMO = {"backbone": "resnet18", "epochs": 1}


class Rd4ad(AnomalibDetector):
    """RD4AD through anomalib's ReverseDistillation."""

    name = "rd4ad"
    Config = Rd4adConfig
    description = "RD4AD (anomalib ReverseDistillation), wide_resnet50_2 layers 1-3, 200 epochs; map and score."
    presets = {"bmad": {**_BMAD_INPUT, "anomaly_map_mode": "multiply"}}
    demo_overrides: ClassVar[dict[str, Any]] = _DEMO


class CfaDetector(AnomalibDetector):
    """CFA through anomalib's Cfa (torchvision backbone weights)."""

    name = "cfa"
    Config = CfaConfig
    description = "CFA (anomalib Cfa), torchvision wide_resnet50_2, 30 epochs; map and score."
    presets = {"bmad": dict(_BMAD_INPUT)}
    backbone_source: ClassVar[Literal["timm", "torchvision"]] = "torchvision"
    demo_overrides: ClassVar[dict[str, Any]] = _DEMO


class Cflow(AnomalibDetector):
    """CFLOW-AD through anomalib's Cflow."""

    name = "cflow"
    Config = CflowConfig
    description = "CFLOW-AD (anomalib Cflow), wide_resnet50_2 layers 2-4, 50 epochs; map and score."
    presets = {"bmad": dict(_BMAD_INPUT)}
    # The demo's 24 training cases in one batch: its 2 x 2 layer-4 grid then holds 96 fibres, over one flow batch.
    demo_overrides: ClassVar[dict[str, Any]] = {**_DEMO, "train_batch_size": 24}


class SuperSimpleNet(AnomalibDetector):
    """SuperSimpleNet through anomalib's Supersimplenet; stands in for the paper's SimpleNet."""

    name = "supersimplenet"
    Config = SupersimplenetConfig
    description = (
        "SuperSimpleNet (anomalib Supersimplenet; stands in for the paper's SimpleNet), "
        "wide_resnet50_2.tv_in1k, 300 epochs; map and score."
    )
    demo_overrides: ClassVar[dict[str, Any]] = {**_DEMO, "backbone": "resnet18.tv_in1k", "input_size": 128}
