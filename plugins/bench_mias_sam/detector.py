"""The ``mias-sam`` detector: MIAS-SAM (Colussi, Ahmetovic, Mascetti, BMVC 2025) on the bench contract.

A threshold-free segmenter: SAM's encoder embeds each image once; every
5 x 5 patch of the embedding is scored by its squared distance to the
nearest patch of the normal training images (the memory bank); the scores
make an anomaly map; the map's centre of gravity prompts SAM's decoder,
which turns the same embedding into three candidate masks.

The reported ``anomaly_map`` is the smoothed map of squared distances,
unnormalised, for every normalisation mode: min-max scaling is affine, so
map metrics (pixel AUROC, AUPRO) do not depend on it, and a threshold fitted
on validation maps meets test maps on the same scale. Normalisation only
shapes the prompt. ``score`` is the largest patch score.

Only light modules are imported here; torch, segment_anything and faiss load
when a model is first needed, so ``mias-bench detectors list`` stays fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.sdk import Capabilities, Case, ConfigError, Detector, DetectorContext, Prediction, RunInfo, batched
from bench_mias_sam.checkpoints import SAM_CHECKPOINTS
from bench_mias_sam.config import PRESETS, RANDOM_INIT, MiasSamConfig

if TYPE_CHECKING:
    from bench_mias_sam.anomaly_map import Geometry, MinMax
    from bench_mias_sam.embedding_store import EmbeddingStore
    from bench_mias_sam.pipeline import MiasSamPipeline

log = logging.getLogger("bench_mias_sam")

#: CPU memory for the embeddings of normal validation images that calibrate() encoded, so that
#: predicting the validation split (for a threshold protocol) does not encode them again.
#: 4 MiB per image (ViT-B): 2 GiB holds 512; images past that are encoded again, with the same result.
CALIBRATION_CACHE_BYTES = 2 << 30


def _image_key(case: Case) -> str:
    """A case's id with a digest of its pixels: the same id with other pixels is another image."""
    image = np.ascontiguousarray(case.image)
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(repr((image.shape, image.dtype.str)).encode())
    return f"{case.id}#{digest.hexdigest()}"


@dataclass
class _Pending:
    """A test case waiting for test-set statistics: its patch scores and frame (embedding on disk)."""

    scores: np.ndarray  # 32 x 32 float32
    geometry: Geometry
    map_min: float
    map_max: float


class MiasSam(Detector):
    """MIAS-SAM: SAM-embedding memory bank, centre-of-gravity prompt, SAM's own mask.

    Under ``normalization=test-set`` no prompt exists before every test map
    is known: :meth:`predict` returns maps and scores with ``mask=None``,
    writes each test embedding to ``context.work_dir`` (see
    :mod:`bench_mias_sam.embedding_store` for why disk), and
    :meth:`finalize` decodes the masks from those embeddings. Every image is
    encoded exactly once in every mode.
    """

    name = "mias-sam"
    version = "1.0"
    Config = MiasSamConfig
    capabilities = Capabilities(
        outputs_mask=True, needs_fit=True, modalities=("*",), needs_weights=True, uses_validation=True
    )
    checkpoints = SAM_CHECKPOINTS
    presets = PRESETS
    description = (
        "MIAS-SAM (BMVC 2025): SAM ViT-B embeddings, a patch memory bank (exact faiss kNN), and the map's "
        "centre of gravity as a point prompt to SAM's decoder; threshold-free masks. Preset `paper`: every "
        "published choice, with test-set min-max normalisation (transductive, labelled so); it leaves out the "
        "authors' unseeded random horizontal flip of training images (train_flip=true gives a seeded one). "
        "Preset `default`: the same with min-max from normal validation cases."
    )

    def __init__(self, config: MiasSamConfig | None = None, context: DetectorContext | None = None):
        super().__init__(config, context)
        self._pipeline: MiasSamPipeline | None = None
        self._weights: tuple[str, str | None] | None = None
        self._fitted = False
        self._train_images = 0
        self._norm: MinMax | None = None
        self._pending: dict[str, _Pending] = {}
        self._store: EmbeddingStore | None = None
        # From calibrate(), for predict(): image key -> (1 x C x H x W embedding on the CPU, patch scores).
        self._calibrated: dict[str, tuple[Any, np.ndarray]] = {}
        self._calibrated_bytes = 0

    @property
    def cfg(self) -> MiasSamConfig:
        return self.config  # type: ignore[return-value]

    @property
    def pipeline(self) -> MiasSamPipeline:
        """The loaded pipeline (SAM, memory bank, decoder); built on first use."""
        if self._pipeline is None:
            from bench_mias_sam.memory_bank import resolve_faiss_device
            from bench_mias_sam.pipeline import MiasSamPipeline
            from bench_mias_sam.sam_models import load_sam

            faiss_device = resolve_faiss_device(self.cfg.faiss_device, self.context.device)
            loaded = load_sam(
                self.cfg.sam_variant, self.cfg.weights, seed=self.context.seed, device=self.context.device
            )
            self._weights = (loaded.weights, loaded.weights_sha256)
            self._pipeline = MiasSamPipeline(
                loaded.model, device=self.context.device, k=self.cfg.k, sigma=self.cfg.sigma, faiss_device=faiss_device
            )
        return self._pipeline

    def _require_fit(self, call: str) -> None:
        if not self._fitted:
            raise ConfigError(f"mias-sam: call fit(normal_cases) before {call}()")

    def _images(self, cases: Sequence[Case]) -> tuple[list[np.ndarray], list[Geometry]]:
        from bench_mias_sam.pipeline import model_image

        pairs = [model_image(case.image, self.cfg.image_size) for case in cases]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def fit(self, normal_cases: Sequence[Case]) -> None:
        """Encode every normal training case once and put all its patches in the memory bank."""
        from bench_mias_sam.memory_bank import MemoryBank

        pipeline = self.pipeline
        pipeline.bank = MemoryBank(pipeline.bank.dim, pipeline.bank.device)  # a second fit starts afresh
        rng = np.random.default_rng(self.context.seed)
        count = 0
        for batch in batched(normal_cases, self.context.batch_size):
            images, _ = self._images(batch)
            if self.cfg.train_flip:
                images = [img[:, ::-1].copy() if rng.random() < 0.5 else img for img in images]
            pipeline.add_to_bank(pipeline.encode(images))
            count += len(batch)
        if count == 0:
            raise ConfigError("mias-sam: fit() received no normal training cases; the memory bank would be empty")
        if self.cfg.k > pipeline.bank.size:
            raise ConfigError(f"mias-sam: k={self.cfg.k} exceeds the memory bank's {pipeline.bank.size} patches")
        self._train_images = count
        self._fitted = True
        pipeline.bank.log_size(count)

    def calibrate(self, valid_cases: Sequence[Case]) -> None:
        """Under ``validation`` normalisation: one min and one max over the normal validation maps."""
        from bench_mias_sam.anomaly_map import MinMax

        if self.cfg.normalization != "validation":
            return
        self._require_fit("calibrate")
        lo, hi, normals, total = np.inf, -np.inf, 0, 0
        self._calibrated, self._calibrated_bytes = {}, 0
        for batch in batched(valid_cases, self.context.batch_size):
            total += len(batch)
            batch = [c for c in batch if c.label == 0]
            if not batch:
                continue
            images, _ = self._images(batch)
            embeddings = self.pipeline.encode(images)
            scores, maps = self.pipeline.score(embeddings, self.cfg.image_size)
            lo, hi = min(lo, float(maps.min())), max(hi, float(maps.max()))
            normals += len(batch)
            for i, case in enumerate(batch):
                size = embeddings[i].element_size() * embeddings[i].nelement()
                if self._calibrated_bytes + size <= CALIBRATION_CACHE_BYTES:
                    self._calibrated[_image_key(case)] = (embeddings[i : i + 1].cpu().clone(), scores[i])
                    self._calibrated_bytes += size
        if normals == 0:
            raise ConfigError(
                f"mias-sam: normalization=validation needs normal validation cases; calibrate() received {total} "
                "cases and none is normal (set normalization=per-image or test-set)"
            )
        self._norm = MinMax.between(lo, hi, f"{normals} normal validation cases")

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        from bench_mias_sam.anomaly_map import MinMax, map_to_case
        from bench_mias_sam.embedding_store import EmbeddingStore

        self._require_fit("predict")
        mode = self.cfg.normalization
        if mode == "validation" and self._norm is None:
            raise ConfigError(
                "mias-sam: normalization=validation needs calibrate(valid_cases) before predict() "
                "(or set normalization=per-image)"
            )
        cases = list(cases)
        if not cases:
            return []
        embeddings, scores, maps, geometries = self._embed_and_score(cases)
        out = []
        for i, case in enumerate(cases):
            score = float(scores[i].max())
            amap = map_to_case(maps[i], geometries[i])
            if mode == "test-set":
                if self._store is None:
                    self._store = EmbeddingStore(
                        self.context.work_dir / "embeddings" if self.context.work_dir else None
                    )
                self._store.put(case.id, embeddings[i])
                self._pending[case.id] = _Pending(scores[i], geometries[i], float(maps[i].min()), float(maps[i].max()))
                out.append(Prediction(anomaly_map=amap, score=score, mask=None))
                continue
            norm = self._norm if mode == "validation" else MinMax.of(maps[i], f"case {case.id}")
            masks = self._masks(case.id, embeddings[i], norm.apply(maps[i]), geometries[i])
            out.append(Prediction(anomaly_map=amap, score=score, **masks))
        return out

    def _embed_and_score(self, cases: list[Case]) -> tuple[list, list[np.ndarray], list[np.ndarray], list[Geometry]]:
        """Per case: embedding (1 x C x H x W), patch scores, anomaly map, geometry.

        A normal validation image that :meth:`calibrate` encoded is taken from
        its cache (once) instead of going through the encoder again.
        """
        if self._calibrated and any(case.split != "valid" for case in cases):
            # Testing has begun: the validation split is not predicted after the test split.
            self._calibrated, self._calibrated_bytes = {}, 0
        images, geometries = self._images(cases)
        pipeline = self.pipeline
        embeddings: list = [None] * len(cases)
        scores: list[np.ndarray] = [np.empty(0)] * len(cases)
        maps: list[np.ndarray] = [np.empty(0)] * len(cases)
        fresh = []
        for i, case in enumerate(cases):
            cached = self._calibrated.pop(_image_key(case), None) if self._calibrated else None
            if cached is None:
                fresh.append(i)
                continue
            embeddings[i], scores[i] = cached
            maps[i] = pipeline.maps_from_scores(cached[1][None], self.cfg.image_size)[0]
        if fresh:
            encoded = pipeline.encode([images[i] for i in fresh])
            fresh_scores, fresh_maps = pipeline.score(encoded, self.cfg.image_size)
            for j, i in enumerate(fresh):
                embeddings[i], scores[i], maps[i] = encoded[j : j + 1], fresh_scores[j], fresh_maps[j]
        return embeddings, scores, maps, geometries

    def _masks(self, case_id: str, embedding, norm_map: np.ndarray, geometry: Geometry) -> dict[str, Any]:
        """Prompt, decode, crop to the case: ``{"mask": ..., "extra_masks": {"mask0"..."mask2"}}``."""
        from bench_mias_sam.prompt import select_mask

        masks, iou, _ = self.pipeline.segment(
            embedding, norm_map, self.cfg.gamma, geometry.side, where=f"mias-sam on case `{case_id}`"
        )
        chosen = select_mask(masks, iou, self.cfg.mask_index)
        crop = lambda m: np.ascontiguousarray(geometry.crop(m))  # noqa: E731
        return {"mask": crop(chosen), "extra_masks": {f"mask{j}": crop(m) for j, m in enumerate(masks)}}

    def needs_finalize(self) -> bool:
        return self.cfg.normalization == "test-set"

    def finalize(self, cases: Sequence[Case], predictions: list[Prediction]) -> list[Prediction]:
        """Under ``test-set`` normalisation: one min and max over these test maps, then every mask.

        Other modes return the predictions unchanged.
        """
        from bench_mias_sam.anomaly_map import MinMax

        if self.cfg.normalization != "test-set":
            return predictions
        ids = [case.id for case in cases]
        missing = [cid for cid in ids if cid not in self._pending]
        if missing or len(ids) != len(predictions):
            raise ConfigError(
                f"mias-sam: finalize() got {len(ids)} cases and {len(predictions)} predictions; "
                f"{len(missing)} were never predicted (first: {missing[:1]})"
            )
        pending = [self._pending[cid] for cid in ids]
        self._norm = MinMax.between(
            min(p.map_min for p in pending), max(p.map_max for p in pending), f"{len(ids)} test cases (test-set)"
        )
        out = []
        for cid, pred, p in zip(ids, predictions, pending, strict=True):
            amap = self.pipeline.maps_from_scores(p.scores[None], self.cfg.image_size)[0]
            assert self._store is not None
            masks = self._masks(cid, self._store.take(cid), self._norm.apply(amap), p.geometry)
            out.append(dataclasses.replace(pred, **masks))
        self._pending.clear()  # leftovers (e.g. validation cases) have no test statistics to wait for
        if self._store is not None:
            self._store.close()
            self._store = None
        return out

    @classmethod
    def offline_overrides(cls) -> dict[str, Any] | None:
        """The default ViT-B when its checkpoint is installed; else the tiny SAM with random weights.

        Real ViT-B with random weights costs ~22 s per image on a CPU and
        means nothing either, so the offline smoke run uses the tiny
        configuration, stored and shown as random-init.
        """
        from bench.sdk import checkpoint_path, get_checkpoint
        from bench_mias_sam.checkpoints import OFFICIAL_FOR_VARIANT

        if checkpoint_path(get_checkpoint(OFFICIAL_FOR_VARIANT["vit_b"])).is_file():
            return {}
        return {"sam_variant": "tiny", "weights": RANDOM_INIT}

    def run_info(self) -> RunInfo:
        notes: dict[str, Any] = {
            "sam_variant": self.cfg.sam_variant,
            "normalization": self.cfg.normalization,
            "mask_index": self.cfg.mask_index,
            "train_flip": self.cfg.train_flip,
            "anomaly_map": "smoothed squared L2 patch distances (unnormalised); normalisation shapes the prompt",
        }
        if self._pipeline is not None:
            bank = self._pipeline.bank
            times = self._pipeline.times
            notes.update(
                {
                    "faiss_device": bank.device,
                    "bank_patches": bank.size,
                    "bank_bytes": bank.nbytes,
                    "bank_bytes_per_train_image": bank.nbytes // max(self._train_images, 1),
                    "train_images": self._train_images,
                    "images_encoded": times.encoded,
                    "masks_decoded": times.decoded,
                    **{f"{k}_per_image": v for k, v in times.per_image().items()},
                }
            )
        if self._norm is not None:
            notes.update({"norm_min": self._norm.lo, "norm_max": self._norm.hi, "norm_from": self._norm.source})
        if self.cfg.normalization == "test-set":
            notes["test_embeddings"] = "kept on disk in the run's work_dir between predict and finalize"
        weights, sha = self._weights if self._weights is not None else (self.cfg.weights, None)
        return RunInfo(
            weights=weights,
            weights_sha256=sha,
            device=self.context.device,
            transductive=self.cfg.normalization == "test-set",
            notes=notes,
        )
