"""The MIAS-SAM pipeline on images: embed once, search the bank, map, segment from the stored embedding.

Like ``SamPredictor``, the expensive step (:meth:`MiasSamPipeline.embed`)
is separate from the cheap ones (:meth:`scores`, :meth:`segment`), and the
cheap steps take the embedding the expensive one returned, so an image is
encoded at most once per run (the published code encodes every test image
twice: once for the map, once again for the decoder).

Two results are looked up before they are computed, by content (see
:mod:`bench_mias_sam.cache_keys`): an image's embedding, and its search in
the memory bank. Lookups go to a short-lived in-process :class:`Memo`, then
to the on-disk :class:`DiskCache` shared by runs and processes (when one is
configured). So runs that differ only after the encoder reuse every encode,
and runs that differ only after the search (gamma, sigma, normalisation,
mask index, and k up to :data:`SEARCH_K`) reuse every search too.

Every search returns ``max(k, SEARCH_K)`` neighbours (at most the bank's
size) and the score is the mean of the first ``k``: that is what lets runs
with different k share one search. The nearest distance then comes from a
16-neighbour faiss call rather than a 1-neighbour one; faiss computes the
two with different kernels, and they differ by float rounding (about 1e-7
relative), as they do when the same queries are split into other batches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from segment_anything.utils.transforms import ResizeLongestSide

from bench.sdk import pad_square
from bench_mias_sam.anomaly_map import Geometry, anomaly_maps
from bench_mias_sam.cache_keys import bank_key, embedding_key, search_key
from bench_mias_sam.disk_cache import DiskCache
from bench_mias_sam.encoder import SamEncoder
from bench_mias_sam.memo import Memo
from bench_mias_sam.memory_bank import BankOptions, MemoryBank
from bench_mias_sam.patches import FEATURE_DIM, grid_shape, patch_features
from bench_mias_sam.prompt import SamDecoder, centre_of_gravity, to_input_frame

#: Neighbours every search returns (more when k is larger), so runs with k up to this share searches.
SEARCH_K = 16
EMBEDDINGS, SEARCHES = "encoder", "knn"


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
    """Counts and wall-clock seconds of each stage (the GPU is synchronised before each clock read).

    ``encoded`` counts images through the encoder, ``embeddings_reused``
    embeddings found in the memo or cache instead; ``searched`` images
    searched in the bank, ``searches_reused`` searches found instead.
    """

    encoded: int = 0
    encode_seconds: float = 0.0
    embeddings_reused: int = 0
    searched: int = 0
    search_seconds: float = 0.0
    searches_reused: int = 0
    mapped: int = 0
    map_seconds: float = 0.0
    decoded: int = 0
    decode_seconds: float = 0.0

    def per_image(self) -> dict[str, float]:
        def rate(seconds: float, n: int) -> float:
            return seconds / n if n else float("nan")

        return {
            "encode_s": rate(self.encode_seconds, self.encoded),
            "search_s": rate(self.search_seconds, self.searched),
            "map_s": rate(self.map_seconds, self.mapped),
            "decode_s": rate(self.decode_seconds, self.decoded),
        }


class MiasSamPipeline:
    """SAM's encoder, the memory bank and SAM's decoder, on uint8 RGB square images.

    Args:
        sam: a SAM network in eval mode on ``device``.
        device: torch device of ``sam``.
        k: neighbours per patch score.
        sigma: Gaussian smoothing of the map.
        image_size: side of the square images (and maps) the pipeline is given.
        faiss_device: ``"cpu"`` or ``"gpu"`` for the memory bank.
        encoder: the encoder runner (default: fused attention, float32, batch from memory).
        bank_options: how the bank stores and searches (default: exact float32).
        cache: the on-disk cache of embeddings and searches, or ``None``.
        encoder_id: digest of the encoder (see :func:`cache_keys.encoder_identity`); part of every key.
    """

    def __init__(
        self,
        sam,
        *,
        device: str,
        k: int,
        sigma: float,
        image_size: int = 256,
        faiss_device: str = "cpu",
        encoder: SamEncoder | None = None,
        bank_options: BankOptions | None = None,
        cache: DiskCache | None = None,
        encoder_id: str = "",
    ):
        self.sam = sam
        self.device = device
        self.k = k
        self.sigma = sigma
        self.image_size = image_size
        self.encoder = encoder if encoder is not None else SamEncoder(sam, device=device)
        self.decoder = SamDecoder(sam)
        self.faiss_device = faiss_device
        self.bank_options = bank_options or BankOptions()
        self.cache = cache
        self.encoder_id = encoder_id
        self.memo = Memo()
        self.times = StageTimes()
        frame = sam.image_encoder.img_size
        self.input_size = ResizeLongestSide.get_preprocess_shape(image_size, image_size, frame)
        side = frame // sam.image_encoder.patch_embed.proj.stride[0]
        self.embedding_shape = (sam.prompt_encoder.embed_dim, side, side)
        self.grid = grid_shape(side, side)
        self.reset_bank()

    def _clock(self) -> float:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    def _lookup(self, namespace: str, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        found = self.memo.get(namespace, key)
        if found is None and self.cache is not None:
            found = self.cache.get(namespace, key, shape, np.dtype(np.float32))
            if found is not None:
                self.memo.put(namespace, key, found)
        return found

    def _keep(self, namespace: str, key: str, array: np.ndarray) -> None:
        self.memo.put(namespace, key, array)
        if self.cache is not None:
            self.cache.put(namespace, key, array)

    # -- embeddings -------------------------------------------------------------------------------

    def key(self, image: np.ndarray) -> str:
        """The embedding key of one model image (uint8, S x S x 3)."""
        return embedding_key(self.encoder_id, image)

    @torch.no_grad()
    def embed(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> torch.Tensor:
        """N model images and their keys -> N x 256 x 64 x 64 float32 embeddings on ``device``.

        Each embedding is taken from the memo or the cache when there, else
        computed (the missing images in as few encoder calls as the batch
        allows) and kept there.
        """
        out: list[torch.Tensor | None] = [None] * len(images)
        todo = []
        for i, key in enumerate(keys):
            found = self._lookup(EMBEDDINGS, key, self.embedding_shape)
            if found is None:
                todo.append(i)
            else:
                out[i] = torch.from_numpy(found).to(self.device)
        self.times.embeddings_reused += len(images) - len(todo)
        if todo:
            start = self._clock()
            fresh = self.encoder([images[i] for i in todo])
            self.times.encoded += len(todo)
            self.times.encode_seconds += self._clock() - start
            for j, i in enumerate(todo):
                out[i] = fresh[j]
                self._keep(EMBEDDINGS, keys[i], fresh[j].cpu().numpy())
        return torch.stack(out)  # type: ignore[arg-type]

    # -- the memory bank --------------------------------------------------------------------------

    def reset_bank(self) -> None:
        """Start an empty bank (a second fit starts afresh)."""
        self.bank = MemoryBank(FEATURE_DIM, self.faiss_device, self.bank_options)
        self.bank_key: str | None = None
        self._bank_members: list[str] = []

    @torch.no_grad()
    def add_to_bank(self, embeddings: torch.Tensor, keys: Sequence[str]) -> None:
        """Add the patches of N embeddings (N x 256 x 64 x 64), image by image."""
        features = patch_features(embeddings).cpu().numpy()  # N x L x D
        for i in range(len(features)):
            self.bank.add(features[i])
        self._bank_members.extend(keys)

    def finish_bank(self) -> None:
        """End of the training images: finish the index and name the bank by its content."""
        import faiss

        self.bank.finish()
        options = {**self.bank_options.describe(), "faiss": faiss.__version__, "faiss_device": self.faiss_device}
        self.bank_key = bank_key(self._bank_members, options)

    @property
    def search_k(self) -> int:
        """Neighbours each search returns: ``max(k, SEARCH_K)``, at most the bank's size."""
        return min(max(self.k, SEARCH_K), self.bank.size)

    # -- scores and maps --------------------------------------------------------------------------

    @torch.no_grad()
    def scores(
        self, images: Sequence[np.ndarray], keys: Sequence[str], embeddings: torch.Tensor | None = None
    ) -> np.ndarray:
        """Patch scores (N x 32 x 32 float32): the mean of each patch's k smallest squared L2 distances.

        A search found in the memo or the cache is reused; the others are
        run on ``embeddings`` when given, else on embeddings from :meth:`embed`.
        """
        if self.bank_key is None:
            raise RuntimeError("scores() needs a memory bank: call add_to_bank() and finish_bank() first")
        width = self.search_k
        patches = self.grid[0] * self.grid[1]
        found: list[np.ndarray | None] = []
        for key in keys:
            found.append(self._lookup(SEARCHES, search_key(self.bank_key, key, width), (patches, width)))
        todo = [i for i, f in enumerate(found) if f is None]
        self.times.searches_reused += len(keys) - len(todo)
        if todo:
            subset = (
                embeddings[todo]
                if embeddings is not None
                else self.embed([images[i] for i in todo], [keys[i] for i in todo])
            )
            start = self._clock()
            features = patch_features(subset).reshape(-1, FEATURE_DIM).cpu().numpy()
            distances = self.bank.search(features, width).reshape(len(todo), patches, width)
            self.times.searched += len(todo)
            self.times.search_seconds += self._clock() - start
            for j, i in enumerate(todo):
                found[i] = distances[j]
                self._keep(SEARCHES, search_key(self.bank_key, keys[i], width), distances[j])
        nearest = np.stack(found)[:, :, : self.k]  # type: ignore[arg-type]
        return nearest.mean(axis=2).reshape(len(keys), *self.grid).astype(np.float32, copy=False)

    def maps_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """Patch scores (N x 32 x 32) -> anomaly maps (N x image_size x image_size float32)."""
        start = self._clock()
        maps = anomaly_maps(torch.from_numpy(np.ascontiguousarray(scores)).to(self.device), self.image_size, self.sigma)
        self.times.mapped += len(scores)
        self.times.map_seconds += self._clock() - start
        return maps

    # -- masks ------------------------------------------------------------------------------------

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
        start = self._clock()
        point = centre_of_gravity(norm_map, gamma, where)
        coords = to_input_frame(point, norm_map.shape, self.sam.image_encoder.img_size)
        masks, iou = self.decoder.decode(embedding.to(self.device), coords, self.input_size, (out_side, out_side))
        self.times.decoded += 1
        self.times.decode_seconds += self._clock() - start
        return masks, iou, point
