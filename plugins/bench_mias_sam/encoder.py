"""SAM's image encoder as MIAS-SAM runs it: preprocessing, attention kernel, dtype, batch from memory.

Each image goes through ``ResizeLongestSide.apply_image`` (PIL bilinear to
the encoder's input size) and ``Sam.preprocess`` (pixel normalisation and
padding), exactly as ``SamPredictor.set_image``, and the encoder runs on
batches of at most :attr:`SamEncoder.batch_size` images.

The batch size, unless the config fixes it, comes from memory: an estimate
of one image's activations (:func:`activation_bytes`) against what the
encoder may use: on CPU ``encoder_memory_gib`` (default 4 GiB, also at most
half of what the system has available) less the weights and a fixed
allowance; on CUDA 85 % of the device's free memory. The estimate is
deliberately high. ViT-B on this project's 2-core CPU: with the fused
attention, peak RSS 1.38 GiB at batch 1 and 1.81 GiB at batch 4, about
145 MiB per extra image (estimate: 192 MiB); with segment-anything's own,
3.7 GiB at batch 1 and 15.6 GiB at batch 8, about 1.7 GiB per extra image
(estimate: 2.4 GiB).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from bench_mias_sam.attention import mask_bytes, use_fused_attention, use_reference_attention

#: Python, torch and allocator overhead kept free of the CPU budget (bytes).
RUNTIME_BYTES = 512 << 20
#: Largest batch chosen from memory; on CPU a larger batch is not faster per image.
MAX_BATCH = {"cpu": 8, "cuda": 64}
CUDA_FREE_FRACTION = 0.85
#: Tensors alive at once per token and channel inside a ViT block (x, norm, qkv, attention out, MLP 4x, residual).
LIVE_PER_TOKEN_CHANNEL = 16


def available_memory_bytes() -> int | None:
    """Memory the system can give without swapping (``MemAvailable`` on Linux), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def activation_bytes(sam: Sam, attention: str, dtype: torch.dtype) -> int:
    """Estimated peak activation bytes of one image in the encoder (upper side)."""
    encoder = sam.image_encoder
    side = encoder.img_size // encoder.patch_embed.proj.stride[0]
    tokens = side * side
    width = max(encoder.patch_embed.proj.out_channels, sam.prompt_encoder.embed_dim)
    element = torch.finfo(dtype).bits // 8
    estimate = LIVE_PER_TOKEN_CHANNEL * tokens * width * element
    if attention == "reference":  # scores, biased scores and softmax, float32, for the largest attention block
        heads = encoder.blocks[0].attn.num_heads
        windows = [block.window_size for block in encoder.blocks]
        span = tokens if 0 in windows else max(windows) ** 2
        estimate += 3 * heads * (tokens // span) * span * span * 4
    return estimate


@dataclass(frozen=True)
class BatchChoice:
    """The encoder batch and where it came from (``config`` or the memory it was fitted to)."""

    size: int
    source: str
    budget_bytes: int | None = None
    per_image_bytes: int | None = None

    def as_notes(self) -> dict:
        notes = {"encoder_batch": self.size, "encoder_batch_from": self.source}
        if self.budget_bytes is not None:
            notes["encoder_batch_budget_mib"] = round(self.budget_bytes / 2**20, 1)
            notes["encoder_estimated_mib_per_image"] = round((self.per_image_bytes or 0) / 2**20, 1)
        return notes


def choose_batch(
    sam: Sam, *, device: str, attention: str, dtype: torch.dtype, fixed: int | None, memory_gib: float
) -> BatchChoice:
    """The encoder batch: ``fixed`` when given, else as many images as the memory budget holds (at least 1)."""
    if fixed is not None:
        return BatchChoice(fixed, "config")
    per_image = activation_bytes(sam, attention, dtype)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if kind == "cuda":
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        budget = int(free * CUDA_FREE_FRACTION)
        spare = budget - mask_bytes(device)
        source = f"{CUDA_FREE_FRACTION:.0%} of free CUDA memory"
    else:
        budget = int(memory_gib * 2**30)
        available = available_memory_bytes()
        if available is not None:
            budget = min(budget, available // 2)
        weights = sum(p.numel() * p.element_size() for p in sam.parameters())
        spare = budget - weights - mask_bytes(device) - RUNTIME_BYTES
        source = f"encoder_memory_gib={memory_gib:g}" + (" and available memory" if available is not None else "")
    size = int(min(MAX_BATCH[kind], max(1, math.floor(spare / per_image))))
    return BatchChoice(size, source, budget, per_image)


class SamEncoder:
    """Turns uint8 RGB square images into SAM embeddings (N x 256 x 64 x 64, float32).

    Args:
        sam: a SAM network in eval mode on ``device``; its encoder's attention
            modules are switched to the chosen kernel (see
            :mod:`bench_mias_sam.attention`).
        device: torch device of ``sam``.
        attention: ``"fused"`` or ``"reference"``.
        dtype: ``"float32"`` or ``"bfloat16"`` (autocast; outputs are float32).
        compile: wrap the encoder in ``torch.compile``.
        batch: images per call, or ``None`` to choose from memory.
        memory_gib: the CPU budget when ``batch`` is ``None``.
    """

    def __init__(
        self,
        sam: Sam,
        *,
        device: str,
        attention: str = "fused",
        dtype: str = "float32",
        compile: bool = False,
        batch: int | None = None,
        memory_gib: float = 4.0,
    ):
        self.sam = sam
        self.device = device
        self.attention = attention
        self.dtype = dtype
        self.compiled = compile
        (use_fused_attention if attention == "fused" else use_reference_attention)(sam.image_encoder)
        self.input_frame = sam.image_encoder.img_size
        self.transform = ResizeLongestSide(self.input_frame)
        self._autocast = getattr(torch, dtype) if dtype != "float32" else None
        self._forward = torch.compile(sam.image_encoder) if compile else sam.image_encoder
        self.batch = choose_batch(
            sam,
            device=device,
            attention=attention,
            dtype=self._autocast or torch.float32,
            fixed=batch,
            memory_gib=memory_gib,
        )
        self.input_size: tuple[int, int] | None = None

    @property
    def batch_size(self) -> int:
        return self.batch.size

    def _input(self, image: np.ndarray) -> torch.Tensor:
        resized = self.transform.apply_image(image)
        self.input_size = (resized.shape[0], resized.shape[1])
        tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous().float()
        return self.sam.preprocess(tensor[None])

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray]) -> torch.Tensor:
        """N uint8 RGB square images -> N x 256 x 64 x 64 float32 embeddings on ``device``."""
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.cat([self._input(image) for image in images[start : start + self.batch_size]])
            if self._autocast is not None:
                with torch.autocast(device_type=self.device.split(":")[0], dtype=self._autocast):
                    embeddings = self._forward(batch)
            else:
                embeddings = self._forward(batch)
            out.append(embeddings.float())
        return out[0] if len(out) == 1 else torch.cat(out)
