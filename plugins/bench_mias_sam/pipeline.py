"""The MIAS-SAM pipeline on images: encode once, score patches, segment from the stored embedding.

Like ``SamPredictor``, the expensive step (:meth:`MiasSamPipeline.encode`)
is separate from the cheap ones (:meth:`score`, :meth:`segment`), and both
cheap steps take the embedding the expensive one returned, so an image is
encoded exactly once (the published code encodes every test image twice:
once for the map, once again for the decoder).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from segment_anything.utils.transforms import ResizeLongestSide

from bench.sdk import pad_square
from bench_mias_sam.anomaly_map import Geometry, anomaly_maps
from bench_mias_sam.memory_bank import MemoryBank
from bench_mias_sam.patches import FEATURE_DIM, grid_shape, patch_features
from bench_mias_sam.prompt import SamDecoder, centre_of_gravity, to_input_frame


def model_image(image: np.ndarray, size: int) -> tuple[np.ndarray, Geometry]:
    """A case image as SAM's input: uint8 RGB, square, ``size`` x ``size``.

    Args:
        image: float32, H x W, grayscale in [0, 1] (from 8-bit PNGs, so
            ``rint(image * 255)`` is the exact original byte).

    Returns:
        uint8, size x size x 3 (the gray copied to three channels), and the
        geometry that maps it back to H x W. A non-square image is padded with
        black (half the difference on each side) and resized with PIL bilinear
        (antialiased), as the paper's torchvision ``Resize`` on a PIL image; an
        image already ``size`` x ``size`` is used as is.
    """
    gray = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    geometry = Geometry.of(*gray.shape)
    square = pad_square(gray)
    if square.shape != (size, size):
        square = np.asarray(Image.fromarray(square, mode="L").resize((size, size), Image.BILINEAR))
    return np.repeat(square[:, :, None], 3, axis=2), geometry


@dataclass
class StageTimes:
    """Counts and wall-clock seconds of each stage (the GPU is synchronised before each clock read)."""

    encoded: int = 0
    encode_seconds: float = 0.0
    scored: int = 0
    score_seconds: float = 0.0
    decoded: int = 0
    decode_seconds: float = 0.0

    def per_image(self) -> dict[str, float]:
        def rate(seconds: float, n: int) -> float:
            return seconds / n if n else float("nan")

        return {
            "encode_s": rate(self.encode_seconds, self.encoded),
            "score_s": rate(self.score_seconds, self.scored),
            "decode_s": rate(self.decode_seconds, self.decoded),
        }


class MiasSamPipeline:
    """SAM's encoder, the memory bank and SAM's decoder, on uint8 RGB square images.

    Args:
        sam: a SAM network in eval mode on ``device``.
        device: torch device of ``sam``.
        k: neighbours per patch score.
        sigma: Gaussian smoothing of the map.
        faiss_device: ``"cpu"`` or ``"gpu"`` for the memory bank.
    """

    def __init__(self, sam, *, device: str, k: int, sigma: float, faiss_device: str):
        self.sam = sam
        self.device = device
        self.k = k
        self.sigma = sigma
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self.decoder = SamDecoder(sam)
        self.bank = MemoryBank(FEATURE_DIM, faiss_device)
        self.times = StageTimes()
        self.input_size: tuple[int, int] | None = None

    def _clock(self) -> float:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    @torch.no_grad()
    def encode(self, images: list[np.ndarray]) -> torch.Tensor:
        """N uint8 RGB square images -> N x 256 x 64 x 64 embeddings (SAM's neck output).

        Each image goes through ``ResizeLongestSide.apply_image`` (PIL bilinear
        to SAM's input size) and ``Sam.preprocess`` (pixel normalisation and
        padding), exactly as ``SamPredictor.set_image``; the batch then runs
        through the encoder in one call.
        """
        start = self._clock()
        batch = []
        for image in images:
            resized = self.transform.apply_image(image)
            self.input_size = (resized.shape[0], resized.shape[1])
            tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous().float()
            batch.append(self.sam.preprocess(tensor[None]))
        embeddings = self.sam.image_encoder(torch.cat(batch))
        self.times.encoded += len(images)
        self.times.encode_seconds += self._clock() - start
        return embeddings

    @torch.no_grad()
    def add_to_bank(self, embeddings: torch.Tensor) -> None:
        """Add every patch of every embedding (N x 256 x 64 x 64) to the memory bank."""
        features = patch_features(embeddings)
        self.bank.add(features.reshape(-1, features.shape[-1]).cpu().numpy())

    @torch.no_grad()
    def score(self, embeddings: torch.Tensor, size: int) -> tuple[np.ndarray, np.ndarray]:
        """N embeddings -> patch scores (N x 32 x 32, squared L2) and anomaly maps (N x size x size)."""
        start = self._clock()
        n = embeddings.shape[0]
        rows, cols = grid_shape(embeddings.shape[-2], embeddings.shape[-1])
        features = patch_features(embeddings).reshape(-1, FEATURE_DIM).cpu().numpy()
        scores = self.bank.patch_scores(features, self.k).reshape(n, rows, cols)
        maps = anomaly_maps(torch.from_numpy(scores).to(self.device), size, self.sigma)
        self.times.scored += n
        self.times.score_seconds += self._clock() - start
        return scores, maps

    def maps_from_scores(self, scores: np.ndarray, size: int) -> np.ndarray:
        """Patch scores (N x 32 x 32) -> anomaly maps, without the bank (for maps kept as scores)."""
        return anomaly_maps(torch.from_numpy(scores).to(self.device), size, self.sigma)

    @torch.no_grad()
    def segment(
        self, embedding: torch.Tensor, norm_map: np.ndarray, gamma: float, out_side: int, where: str
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Prompt SAM with the map's centre of gravity and decode from the stored embedding.

        Args:
            embedding: 1 x 256 x 64 x 64, this image's encoder output.
            norm_map: size x size, the normalised anomaly map (the prompt's frame).
            out_side: side of the square the masks are upscaled to.

        Returns:
            masks (bool, 3 x out_side x out_side), SAM's predicted IoUs (3,), and
            the point (x, y) in the map's pixels.
        """
        if self.input_size is None:
            raise RuntimeError("segment() needs an embedding from encode() first")
        start = self._clock()
        point = centre_of_gravity(norm_map, gamma, where)
        coords = to_input_frame(point, norm_map.shape, self.sam.image_encoder.img_size)
        masks, iou = self.decoder.decode(embedding.to(self.device), coords, self.input_size, (out_side, out_side))
        self.times.decoded += 1
        self.times.decode_seconds += self._clock() - start
        return masks, iou, point
