"""Building SAM for MIAS-SAM: the published variants, MedSAM, and a tiny test network.

The published architectures come from ``segment_anything``'s own builders
(built without a checkpoint, then loaded here with
``torch.load(..., weights_only=True)`` through :mod:`bench.weights`). MedSAM
is the ViT-B architecture with MedSAM's checkpoint.

The tiny variant is assembled from ``segment_anything.modeling``'s own
modules (``ImageEncoderViT``, ``PromptEncoder``, ``MaskDecoder``,
``TwoWayTransformer``) at a small size: input 256 with patch size 4, so its
neck output is still 256 x 64 x 64 and every later stage (the 32 x 32
patch grid, the 1,024-value patch features, the decoder's 256 x 256 low
resolution masks) is exactly the published shape. It always has random
weights, so the full pipeline runs in seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from segment_anything.build_sam import sam_model_registry
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from bench.sdk import RANDOM_INIT, ConfigError, WeightsError, get_checkpoint, load_checkpoint
from bench_mias_sam.checkpoints import OFFICIAL_FOR_VARIANT

#: segment_anything builder for each variant (MedSAM shares ViT-B's architecture).
ARCHITECTURE = {"vit_b": "vit_b", "vit_l": "vit_l", "vit_h": "vit_h", "medsam": "vit_b"}

TINY_IMAGE_SIZE = 256
TINY_PATCH_SIZE = 4  # 256 / 4 = 64: the neck output keeps SAM's 64 x 64 grid
EMBED_CHANNELS = 256  # SAM's neck width (prompt_embed_dim)


@dataclass
class LoadedSam:
    """A SAM network ready for inference, with the provenance of its weights.

    Attributes:
        model: the network, in eval mode, on its device, gradients off.
        weights: checkpoint name, or ``"random-init"``.
        weights_sha256: the checkpoint file's SHA-256 (``None`` for random weights).
    """

    model: Sam
    weights: str
    weights_sha256: str | None


def build_tiny_sam() -> Sam:
    """A small SAM with the published tensor shapes: B x 3 x 256 x 256 in, B x 256 x 64 x 64 embedding.

    Encoder: embedding 32, depth 2, 2 heads, windowed attention (window 8)
    with relative positions; decoder: one two-way block with a narrow MLP.
    About 2.1 M parameters.
    """
    image_embedding = TINY_IMAGE_SIZE // TINY_PATCH_SIZE
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=TINY_IMAGE_SIZE,
            patch_size=TINY_PATCH_SIZE,
            embed_dim=32,
            depth=2,
            num_heads=2,
            mlp_ratio=2.0,
            out_chans=EMBED_CHANNELS,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True,
            window_size=8,
            global_attn_indexes=(),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=EMBED_CHANNELS,
            image_embedding_size=(image_embedding, image_embedding),
            input_image_size=(TINY_IMAGE_SIZE, TINY_IMAGE_SIZE),
            mask_in_chans=4,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=EMBED_CHANNELS, mlp_dim=128, num_heads=2),
            transformer_dim=EMBED_CHANNELS,
            iou_head_depth=2,
            iou_head_hidden_dim=32,
        ),
    )
    return sam.eval()


def build_architecture(variant: str) -> Sam:
    """The untrained network of ``variant`` (random weights from torch's global generator)."""
    if variant == "tiny":
        return build_tiny_sam()
    try:
        return sam_model_registry[ARCHITECTURE[variant]](checkpoint=None)
    except KeyError:
        raise ConfigError(f"unknown sam_variant {variant!r}; expected one of {[*ARCHITECTURE, 'tiny']}") from None


def checkpoint_name(variant: str, weights: str | None) -> str | None:
    """The checkpoint a config asks for (``None`` for random weights).

    Raises:
        ConfigError: the tiny variant with a checkpoint, or a known checkpoint
            made for another variant.
    """
    if weights == RANDOM_INIT:
        return None
    if variant == "tiny":
        raise ConfigError(f"sam_variant 'tiny' exists only with random weights; set weights={RANDOM_INIT}")
    name = weights or OFFICIAL_FOR_VARIANT[variant]
    ck = get_checkpoint(name)
    if ck.variant is not None and ck.variant != variant:
        raise ConfigError(
            f"checkpoint {name!r} is for sam_variant {ck.variant!r}, but the config says {variant!r}; "
            f"set sam_variant={ck.variant} or weights=null"
        )
    return name


def load_sam(variant: str, weights: str | None, *, seed: int, device: str) -> LoadedSam:
    """Build ``variant`` and fill it with the configured weights.

    The checkpoint is located before anything is built, so a missing file
    fails at once (naming the file, its address and the command that
    installs it); there is never a silent fall-back to random weights.
    Random weights are drawn from ``torch.manual_seed(seed)`` inside a forked
    generator state, so runs are repeatable and the caller's state is kept.
    """
    name = checkpoint_name(variant, weights)
    loaded = load_checkpoint(name) if name is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = build_architecture(variant)
    if loaded is not None:
        try:
            sam.load_state_dict(loaded.state_dict, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise WeightsError(
                f"checkpoint {name!r} ({loaded.path}) does not fit the {ARCHITECTURE.get(variant, variant)} "
                f"architecture of sam_variant {variant!r}: {first}"
            ) from None
    sam.eval().requires_grad_(False)
    sam.to(device)
    return LoadedSam(sam, name or RANDOM_INIT, loaded.sha256 if loaded is not None else None)
