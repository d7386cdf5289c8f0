"""MIAS-SAM's typed config and its presets.

Only pydantic and the contract are imported here, so listing detectors never
imports torch. Every numeric key is bounded and finite; a cross-key rule
that fails names the keys involved. ``docs/detectors/mias-sam.md`` explains
each key and when to pick which memory-bank option.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bench.sdk import DetectorConfig

RANDOM_INIT = "random-init"
SamVariant = Literal["vit_b", "vit_l", "vit_h", "medsam", "tiny"]
Normalization = Literal["validation", "test-set", "per-image"]
MaskIndex = Literal[0, 1, 2, "best"]
AttentionKernel = Literal["fused", "reference"]
EncoderDtype = Literal["float32", "bfloat16"]
BankIndex = Literal["flat", "ivf", "ivf-pq"]
BankDtype = Literal["float32", "float16"]
Coreset = Literal["none", "random", "greedy"]

#: Length of a patch feature (must stay in step with ``patches.FEATURE_DIM``, which needs torch).
FEATURE_DIM = 1024
#: The authors' 2025 code (behind the paper's table) builds its memory bank from this many training images.
PAPER_TRAIN_IMAGES = 11


def _finite(**kwargs) -> dict:
    return {"allow_inf_nan": False, **kwargs}


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
    train_images: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="training images in the memory bank: null for every one (the authors' 2026 code), or a "
        "number drawn at random from the sorted training cases with train_subset_seed (the paper's 2025 code "
        "used 11)",
    )
    train_subset_seed: int = Field(
        0, ge=0, le=2**32 - 1, description="seed of the draw of train_images training images (unused when null)"
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
    gamma: float = Field(
        5.0, **_finite(gt=0, le=100), description="exponent of the normalised map in the prompt's centre of gravity"
    )
    mask_index: MaskIndex = Field(
        0,
        description="which of SAM's three multimask outputs is reported: 0, 1, 2, or best (highest predicted "
        "IoU); the DICE of all three is stored per case either way",
    )
    sigma: float = Field(
        4.0, **_finite(ge=0, le=64), description="Gaussian smoothing of the upsampled map (pixels at image_size)"
    )
    image_size: int = Field(
        256, ge=32, le=4096, description="side of the square image given to SAM (pixels) and of the anomaly map"
    )
    train_flip: bool = Field(
        False,
        description="flip training images horizontally with probability 0.5 (seeded); the authors' code does "
        "this unseeded",
    )
    attention: AttentionKernel = Field(
        "fused",
        description="the encoder's attention: fused (torch scaled_dot_product_attention, same outputs to float32 "
        "rounding, a fraction of the memory) or reference (segment-anything's own code)",
    )
    encoder_dtype: EncoderDtype = Field(
        "float32",
        description="float32, or bfloat16 autocast of the encoder (for CUDA; about 15x slower on CPUs without "
        "bf16 units, and not bit-comparable with float32 runs)",
    )
    encoder_compile: bool = Field(False, description="run the encoder through torch.compile (CUDA mostly)")
    encoder_batch: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="images per encoder call; null: chosen from memory (encoder_memory_gib on CPU, free "
        "device memory on CUDA); the batch used is recorded in run_info",
    )
    encoder_memory_gib: float = Field(
        4.0,
        **_finite(ge=0.5, le=4096),
        description="CPU memory the encoder may use (weights and one batch's activations) when encoder_batch "
        "is null; also capped at half the memory the system has available",
    )
    bank_index: BankIndex = Field(
        "flat",
        description="how the memory bank is searched: flat (exact, the paper's), ivf (inverted lists, "
        "approximate), ivf-pq (inverted lists of product-quantised codes, approximate and compressed)",
    )
    bank_dtype: BankDtype = Field(
        "float32",
        description="how flat and ivf banks store each value: float32 (exact) or float16 (half the bytes; "
        "distances from the rounded values)",
    )
    bank_coreset: Coreset = Field(
        "none",
        description="keep only part of the training patches: none, random (a seeded uniform draw), or greedy "
        "(approximate k-center greedy on a random projection, streamed image by image)",
    )
    bank_coreset_ratio: float = Field(
        1.0, **_finite(gt=0, le=1), description="fraction of each image's patches the coreset keeps"
    )
    coreset_projection_dim: int = Field(
        128, ge=8, le=FEATURE_DIM, description="dimension of the random projection the greedy coreset works in"
    )
    ivf_lists: int = Field(1024, ge=1, le=1 << 20, description="inverted lists (k-means centroids) of ivf banks")
    ivf_probe: int = Field(16, ge=1, le=1 << 20, description="inverted lists searched per query")
    pq_subquantizers: int = Field(
        64, ge=1, le=FEATURE_DIM, description=f"product-quantiser sub-vectors per patch (divides {FEATURE_DIM})"
    )
    pq_bits: int = Field(8, ge=4, le=12, description="bits per product-quantiser code")
    faiss_device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="where the nearest-neighbour search runs; auto: the GPU when faiss has one"
    )

    @model_validator(mode="after")
    def _consistent(self) -> MiasSamConfig:
        if self.sam_variant == "tiny" and self.weights != RANDOM_INIT:
            raise ValueError(
                f"sam_variant 'tiny' exists only with random weights; set weights={RANDOM_INIT} "
                f"(got weights={self.weights!r})"
            )
        if self.bank_coreset == "none" and self.bank_coreset_ratio != 1.0:
            raise ValueError(
                f"bank_coreset_ratio={self.bank_coreset_ratio} needs bank_coreset=random or greedy "
                "(bank_coreset is none)"
            )
        if self.bank_index == "ivf-pq":
            if FEATURE_DIM % self.pq_subquantizers:
                raise ValueError(
                    f"pq_subquantizers={self.pq_subquantizers} must divide the feature length {FEATURE_DIM}"
                )
            if self.bank_dtype != "float32":
                raise ValueError(
                    f"bank_dtype={self.bank_dtype} has no meaning for bank_index=ivf-pq (codes are product-"
                    "quantised); leave bank_dtype=float32"
                )
        if self.bank_index != "flat" and self.ivf_probe > self.ivf_lists:
            raise ValueError(f"ivf_probe={self.ivf_probe} exceeds ivf_lists={self.ivf_lists}")
        return self


_PAPER = {
    "sam_variant": "vit_b",
    "weights": None,
    "train_images": PAPER_TRAIN_IMAGES,
    "train_subset_seed": 0,
    "k": 1,
    "normalization": "test-set",
    "gamma": 5.0,
    "mask_index": 0,
    "sigma": 4.0,
    "image_size": 256,
    "train_flip": False,
    "bank_index": "flat",
    "bank_dtype": "float32",
    "bank_coreset": "none",
}

PRESETS: dict[str, dict] = {
    # The code behind the paper's table (authors' commits of 2025): a bank of 11 training images (drawn here
    # with a declared seed; theirs was unseeded) and min-max over the test set (transductive).
    "paper": dict(_PAPER),
    # The authors' 2026 refactor: the same pipeline with every training image in the bank.
    "authors-2026": {**_PAPER, "train_images": None},
    # The honest leaderboard setting (the class defaults): every training image, min-max from normal
    # validation cases.
    "default": {**_PAPER, "train_images": None, "normalization": "validation"},
}
