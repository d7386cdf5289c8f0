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

fit, calibrate, predict and finalize read only ``case.image``, ``case.id``,
``case.split`` and ``case.shape`` (calibrate also ``case.label``, to keep
the normal validation images).

Only light modules are imported here; torch, segment_anything and faiss load
when a model is first needed, so ``mias-bench detectors list`` stays fast.
"""

from __future__ import annotations

import dataclasses
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

#: Process memory for the embeddings and searches of the normal validation images calibrate() computed, so
#: that predicting the validation split (for a threshold protocol) computes them not again even with the disk
#: cache off. 4 MiB per image (ViT-B): 2 GiB holds 512; images past that are read from the disk cache or encoded
#: again, with the same result.
CALIBRATION_MEMO_BYTES = 2 << 30
#: Training-case ids listed in run_info when a subset of the training images is used (the paper's 11).
LISTED_TRAIN_IDS = 64


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
    encoded at most once in every mode, and not at all when the embedding
    cache has it (see :mod:`bench_mias_sam.pipeline`).
    """

    name = "mias-sam"
    version = "1.1"
    Config = MiasSamConfig
    # gpu: SAM's encoder is meant for CUDA (a grid asks for a GPU where its cluster has one). memory_gib: a
    # ViT-B run at the defaults peaked at 2.74 GiB on CPU (benchmarks/README.md); 4 is the encoder's own
    # default budget (encoder_memory_gib), which bounds its batch.
    capabilities = Capabilities(
        outputs_mask=True,
        needs_fit=True,
        modalities=("*",),
        needs_weights=True,
        uses_validation=True,
        gpu=True,
        memory_gib=4.0,
    )
    checkpoints = SAM_CHECKPOINTS
    presets = PRESETS
    description = (
        "MIAS-SAM (BMVC 2025): SAM ViT-B embeddings, a patch memory bank (exact faiss kNN by default; float16, "
        "coreset and IVF/IVF-PQ options), and the map's centre of gravity as a point prompt to SAM's decoder; "
        "threshold-free masks. Preset `paper`: the code behind the paper's table (a bank of 11 training images, "
        "drawn with a recorded seed) with test-set min-max normalisation (transductive, labelled so); it leaves "
        "out the authors' unseeded random horizontal flip of training images (train_flip=true gives a seeded "
        "one). Preset `authors-2026`: the same with every training image (the authors' current code). Preset "
        "`default`: every training image, min-max from normal validation cases."
    )

    def __init__(self, config: MiasSamConfig | None = None, context: DetectorContext | None = None):
        super().__init__(config, context)
        self._pipeline: MiasSamPipeline | None = None
        self._weights: tuple[str, str | None] | None = None
        self._fitted = False
        self._train_ids: list[str] = []
        self._train_available = 0
        self._norm: MinMax | None = None
        self._pending: dict[str, _Pending] = {}
        self._store: EmbeddingStore | None = None
        self._info_at_close: RunInfo | None = None

    @property
    def cfg(self) -> MiasSamConfig:
        return self.config  # type: ignore[return-value]

    @property
    def pipeline(self) -> MiasSamPipeline:
        """The loaded pipeline (SAM, encoder, memory bank, decoder, caches); built on first use."""
        if self._pipeline is None:
            from bench_mias_sam.cache_keys import encoder_identity
            from bench_mias_sam.disk_cache import cache_from_environment
            from bench_mias_sam.encoder import SamEncoder
            from bench_mias_sam.memory_bank import BankOptions, resolve_faiss_device
            from bench_mias_sam.pipeline import MiasSamPipeline
            from bench_mias_sam.sam_models import load_sam

            cfg, ctx = self.cfg, self.context
            faiss_device = resolve_faiss_device(cfg.faiss_device, ctx.device)
            cache = cache_from_environment()
            loaded = load_sam(cfg.sam_variant, cfg.weights, seed=ctx.seed, device=ctx.device)
            self._weights = (loaded.weights, loaded.weights_sha256)
            encoder = SamEncoder(
                loaded.model,
                device=ctx.device,
                attention=cfg.attention,
                dtype=cfg.encoder_dtype,
                compile=cfg.encoder_compile,
                batch=cfg.encoder_batch,
                memory_gib=cfg.encoder_memory_gib,
            )
            encoder_id = encoder_identity(
                variant=cfg.sam_variant,
                weights_sha256=loaded.weights_sha256,
                seed=ctx.seed,
                input_size=encoder.input_frame,
                attention=cfg.attention,
                dtype=cfg.encoder_dtype,
                compiled=cfg.encoder_compile,
                device=ctx.device,
            )
            self._pipeline = MiasSamPipeline(
                loaded.model,
                device=ctx.device,
                k=cfg.k,
                sigma=cfg.sigma,
                image_size=cfg.image_size,
                faiss_device=faiss_device,
                encoder=encoder,
                bank_options=BankOptions.from_config(cfg, ctx.seed),
                cache=cache,
                encoder_id=encoder_id,
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
        """Put every patch of the training images used (all, or ``train_images`` drawn) in the memory bank."""
        from bench_mias_sam.training_subset import draw_training_subset

        pipeline = self.pipeline
        pipeline.reset_bank()
        available = len(normal_cases)
        positions = draw_training_subset(available, self.cfg.train_images, self.cfg.train_subset_seed)
        order = positions
        if pipeline.bank_options.needs_training:  # spread an ivf bank's k-means sample over the whole set
            order = [positions[i] for i in np.random.default_rng(self.context.seed).permutation(len(positions))]
        every = order == list(range(available))
        cases = iter(normal_cases) if every else (normal_cases[i] for i in order)
        flips = np.random.default_rng(self.context.seed)
        used: list[str] = []
        for batch in batched(cases, self.context.batch_size):
            images, _ = self._images(batch)
            if self.cfg.train_flip:
                images = [img[:, ::-1].copy() if flips.random() < 0.5 else img for img in images]
            keys = [pipeline.key(image) for image in images]
            pipeline.add_to_bank(pipeline.embed(images, keys), keys)
            used.extend(case.id for case in batch)
            self.context.report_progress("fit", len(used), len(order))
        pipeline.finish_bank()
        if self.cfg.k > pipeline.bank.size:
            raise ConfigError(f"mias-sam: k={self.cfg.k} exceeds the memory bank's {pipeline.bank.size} patches")
        self._train_ids, self._train_available = used, available
        self._fitted = True
        pipeline.bank.log_size(len(used))

    def calibrate(self, valid_cases: Sequence[Case]) -> None:
        """Under ``validation`` normalisation: one min and one max over the normal validation maps."""
        from bench_mias_sam.anomaly_map import MinMax

        if self.cfg.normalization != "validation":
            return
        self._require_fit("calibrate")
        pipeline = self.pipeline
        pipeline.memo.open(CALIBRATION_MEMO_BYTES)
        lo, hi, normals, total = np.inf, -np.inf, 0, 0
        for batch in batched(valid_cases, self.context.batch_size):
            total += len(batch)
            batch = [c for c in batch if c.label == 0]
            if not batch:
                continue
            images, _ = self._images(batch)
            maps = pipeline.maps_from_scores(pipeline.scores(images, [pipeline.key(image) for image in images]))
            lo, hi = min(lo, float(maps.min())), max(hi, float(maps.max()))
            normals += len(batch)
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
        pipeline = self.pipeline
        if any(case.split != "valid" for case in cases):
            pipeline.memo.close()  # testing has begun: the validation split is not predicted after it
        images, geometries = self._images(cases)
        keys = [pipeline.key(image) for image in images]
        embeddings = pipeline.embed(images, keys)
        scores = pipeline.scores(images, keys, embeddings)
        maps = pipeline.maps_from_scores(scores)
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
            masks = self._masks(case.id, embeddings[i : i + 1], norm.apply(maps[i]), geometries[i])
            out.append(Prediction(anomaly_map=amap, score=score, **masks))
        return out

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
        for done, (cid, pred, p) in enumerate(zip(ids, predictions, pending, strict=True)):
            amap = self.pipeline.maps_from_scores(p.scores[None])[0]
            assert self._store is not None
            masks = self._masks(cid, self._store.take(cid), self._norm.apply(amap), p.geometry)
            out.append(dataclasses.replace(pred, **masks))
            self.context.report_progress("decode", done + 1, len(ids))
        self._pending.clear()  # leftovers (e.g. validation cases) have no test statistics to wait for
        self._close_store()
        return out

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        """Release the network, the memory bank and any test embeddings left on disk.

        :meth:`run_info` still answers afterwards, with what it said at the close.
        """
        if self._pipeline is not None:
            self._info_at_close = self.run_info()
        self._close_store()
        self._pending.clear()
        if self._pipeline is not None:
            self._pipeline.memo.close()
        self._pipeline = None
        self._fitted = False

    @classmethod
    def offline_overrides(cls) -> dict[str, Any] | None:
        """The default ViT-B when its checkpoint is installed; else the tiny SAM with random weights.

        Real ViT-B with random weights costs ~10-20 s per image on a CPU and
        means nothing either, so the offline smoke run uses the tiny
        configuration, stored and shown as random-init.
        """
        from bench.sdk import checkpoint_path, get_checkpoint
        from bench_mias_sam.checkpoints import OFFICIAL_FOR_VARIANT

        if checkpoint_path(get_checkpoint(OFFICIAL_FOR_VARIANT["vit_b"])).is_file():
            return {}
        return {"sam_variant": "tiny", "weights": RANDOM_INIT}

    def run_info(self) -> RunInfo:
        if self._pipeline is None and self._info_at_close is not None:
            return self._info_at_close
        cfg = self.cfg
        notes: dict[str, Any] = {
            "sam_variant": cfg.sam_variant,
            "normalization": cfg.normalization,
            "mask_index": cfg.mask_index,
            "train_flip": cfg.train_flip,
            "attention": cfg.attention,
            "encoder_dtype": cfg.encoder_dtype,
            "encoder_compile": cfg.encoder_compile,
            "anomaly_map": "smoothed squared L2 patch distances (unnormalised); normalisation shapes the prompt",
        }
        if self._pipeline is not None:
            pipeline, times = self._pipeline, self._pipeline.times
            notes.update(pipeline.bank.describe(len(self._train_ids)))
            notes.update(pipeline.encoder.batch.as_notes())
            notes.update(
                {
                    "train_images_available": self._train_available,
                    "train_images": len(self._train_ids),
                    "images_encoded": times.encoded,
                    "embeddings_reused": times.embeddings_reused,
                    "images_searched": times.searched,
                    "searches_reused": times.searches_reused,
                    "search_k": pipeline.search_k if pipeline.bank.size else None,
                    "masks_decoded": times.decoded,
                    "embedding_cache": str(pipeline.cache.root) if pipeline.cache is not None else "off",
                    **{f"{k}_per_image": v for k, v in times.per_image().items()},
                }
            )
            if cfg.train_images is not None:
                notes["train_subset_seed"] = cfg.train_subset_seed
                notes["train_subset_ids"] = self._train_ids[:LISTED_TRAIN_IDS]
        if self._norm is not None:
            notes.update({"norm_min": self._norm.lo, "norm_max": self._norm.hi, "norm_from": self._norm.source})
        if cfg.normalization == "test-set":
            notes["test_embeddings"] = "kept on disk in the run's work_dir between predict and finalize"
        weights, sha = self._weights if self._weights is not None else (cfg.weights, None)
        return RunInfo(
            weights=weights,
            weights_sha256=sha,
            device=self.context.device,
            transductive=cfg.normalization == "test-set",
            notes=notes,
        )
