"""MIAS-SAM's typed config and its presets.

Only pydantic and the contract are imported here, so listing detectors never
imports torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bench.sdk import DetectorConfig

RANDOM_INIT = "random-init"
SamVariant = Literal["vit_b", "vit_l", "vit_h", "medsam", "tiny"]
Normalization = Literal["validation", "test-set", "per-image"]
MaskIndex = Literal[0, 1, 2, "best"]


class MiasSamConfig(DetectorConfig):
    """Every choice of the MIAS-SAM pipeline; the defaults are the honest leaderboard setting."""

    sam_variant: SamVariant = Field(
        "vit_b",
        description="SAM architecture: vit_b (the paper's), vit_l, vit_h, medsam (ViT-B with MedSAM weights), "
        "or tiny (a few-block random network for tests and CPU smoke runs)",
    )
    weights: str | None = Field(
        None,
        description="null: the variant's official checkpoint from the weights cache; 'random-init': random "
        "weights (recorded as such); or a checkpoint name registered with `mias-bench weights add`",
    )
    k: int = Field(
        1,
        ge=1,
        le=1024,
        description="nearest neighbours per patch; a patch's score is the mean of its k squared L2 distances "
        "(the published code's effective k is 1)",
    )
    normalization: Normalization = Field(
        "validation",
        description="how anomaly maps are min-max scaled before the prompt: validation (min and max over the "
        "normal validation maps), test-set (one min and max over all test maps: the paper's, transductive), "
        "or per-image",
    )
    gamma: float = Field(5.0, gt=0, description="exponent of the normalised map in the prompt's centre of gravity")
    mask_index: MaskIndex = Field(
        0,
        description="which of SAM's three multimask outputs is reported: 0, 1, 2, or best (highest predicted "
        "IoU); the DICE of all three is stored per case either way",
    )
    sigma: float = Field(4.0, ge=0, description="Gaussian smoothing of the upsampled map (pixels at image_size)")
    image_size: int = Field(
        256, ge=32, le=4096, description="side of the square image given to SAM (pixels) and of the anomaly map"
    )
    train_flip: bool = Field(
        False,
        description="flip training images horizontally with probability 0.5 (seeded); the authors' code does "
        "this unseeded",
    )
    faiss_device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="where the nearest-neighbour search runs; auto: the GPU when faiss has one"
    )

    @model_validator(mode="after")
    def _tiny_has_no_checkpoint(self) -> MiasSamConfig:
        if self.sam_variant == "tiny" and self.weights != RANDOM_INIT:
            raise ValueError(
                f"sam_variant 'tiny' exists only with random weights; set weights={RANDOM_INIT} "
                f"(got weights={self.weights!r})"
            )
        return self


_PAPER = {
    "sam_variant": "vit_b",
    "weights": None,
    "k": 1,
    "normalization": "test-set",
    "gamma": 5.0,
    "mask_index": 0,
    "sigma": 4.0,
    "image_size": 256,
    "train_flip": False,
}

PRESETS: dict[str, dict] = {
    # Every published choice. Transductive: min-max over the test set.
    "paper": dict(_PAPER),
    # The same, with min and max taken from normal validation cases.
    "default": {**_PAPER, "normalization": "validation"},
}
