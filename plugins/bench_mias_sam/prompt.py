"""The prompt and the decoder: centre of gravity of the map, one positive point, SAM's masks.

The point is the centre of gravity of ``max(map, 0) ** gamma`` in the
``size`` x ``size`` image SAM was given, with x the column and y the row and
pixel centres at integers (no threshold). Values below 0 only occur when a
map is normalised with another set's minimum (``validation``); they are
more normal than any reference and weigh nothing. Under the paper's
``test-set`` normalisation no value is below 0 and the formula is the
published one. An all-zero weight map has no centre and is an error.

The point is moved into SAM's input frame the way
``ResizeLongestSide.apply_coords`` does (x 4 from 256 to 1024), and decoded
with the image's stored embedding: no box, no mask input,
``multimask_output=True``; each mask is upscaled as ``Sam.postprocess_masks``
does and binarised at logit > 0, as ``SamPredictor.predict`` returns it.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.sdk import BenchError


class EmptyPromptError(BenchError):
    """The prompt's weight map is zero (or not finite) everywhere, so it has no centre of gravity."""


def centre_of_gravity(norm_map: np.ndarray, gamma: float, where: str = "an anomaly map") -> tuple[float, float]:
    """H x W normalised map -> (x, y) centre of gravity of ``max(map, 0) ** gamma``, in pixels."""
    weights = np.power(np.maximum(norm_map.astype(np.float64), 0.0), gamma)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise EmptyPromptError(
            f"{where}: the prompt weights max(map, 0)^{gamma} sum to {total}; expected a positive finite sum "
            "(the normalised map is zero or negative everywhere)"
        )
    rows = np.arange(norm_map.shape[0], dtype=np.float64)
    cols = np.arange(norm_map.shape[1], dtype=np.float64)
    x = float(weights.sum(axis=0) @ cols / total)
    y = float(weights.sum(axis=1) @ rows / total)
    return x, y


def longest_side_shape(height: int, width: int, target: int) -> tuple[int, int]:
    """Shape after scaling the longest side to ``target``, rounded half up (SAM's rule)."""
    scale = target / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def to_input_frame(point: tuple[float, float], image_shape: tuple[int, int], target: int) -> np.ndarray:
    """(x, y) in an H x W image -> 1 x 2 float array in SAM's resized input frame."""
    h, w = image_shape
    new_h, new_w = longest_side_shape(h, w, target)
    return np.array([[point[0] * (new_w / w), point[1] * (new_h / h)]], dtype=np.float64)


class SamDecoder:
    """Runs SAM's prompt encoder and mask decoder on a stored image embedding.

    Counts its calls (``calls``) so tests can check one decode per image.
    """

    def __init__(self, sam):
        self.sam = sam
        self.calls = 0

    @torch.no_grad()
    def decode(
        self,
        embedding: torch.Tensor,
        point: np.ndarray,
        input_size: tuple[int, int],
        output_size: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """One positive point -> SAM's three masks.

        Args:
            embedding: 1 x 256 x 64 x 64, the image's encoder output.
            point: 1 x 2 (x, y) in SAM's input frame (see :func:`to_input_frame`).
            input_size: (h, w) of the resized image inside SAM's padded input.
            output_size: (H, W) the masks are upscaled to.

        Returns:
            masks: bool, 3 x H x W (logit > 0); iou: float32, 3, SAM's predicted IoU of each.
        """
        device = embedding.device
        coords = torch.as_tensor(point, dtype=torch.float, device=device)[None]  # 1 x 1 x 2
        labels = torch.ones((1, 1), dtype=torch.int, device=device)
        sparse, dense = self.sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        low_res, iou = self.sam.mask_decoder(
            image_embeddings=embedding,
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        logits = self.sam.postprocess_masks(low_res, input_size, output_size)
        self.calls += 1
        masks = (logits > self.sam.mask_threshold)[0].cpu().numpy()
        return masks, iou[0].float().cpu().numpy()


def select_mask(masks: np.ndarray, iou: np.ndarray, mask_index: int | str) -> np.ndarray:
    """The reported mask: ``masks[mask_index]``, or the one with the highest predicted IoU for ``"best"``."""
    index = int(np.argmax(iou)) if mask_index == "best" else int(mask_index)
    return masks[index]
