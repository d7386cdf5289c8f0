"""PatchCore (Roth et al., CVPR 2022) through anomalib 2.x, on the platform's cases.

anomalib's :class:`PatchcoreModel` does the work, driven the way its
Lightning module drives it: in training mode each batch of normal cases adds
its patch embeddings to the model's store, then anomalib's k-center-greedy
coreset keeps ``coreset_sampling_ratio`` of them as the memory bank; in eval
mode the model returns an anomaly map (nearest-neighbour patch distances,
upsampled to the input, Gaussian sigma 4) and its reweighted image score. No
Engine, datamodule or trainer: fit sees exactly the cases it is given, and
nothing is written to disk.

This module imports only light things at module level; torch, timm and
anomalib are imported when a detector fits.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.sdk import (
    Capabilities,
    Case,
    ConfigError,
    Detector,
    DetectorConfig,
    DetectorContext,
    LoadedWeights,
    Prediction,
    RunInfo,
    WeightsError,
    batched,
    checkpoint_path,
    load_checkpoint,
    record_weights,
)
from bench_patchcore.checkpoints import BACKBONE_CHECKPOINTS
from bench_patchcore.config import PatchcoreConfig, PatchcoreR18Config, PatchcoreWrn50Config
from bench_patchcore.preprocess import to_backbone_input, to_case_frame

if TYPE_CHECKING:
    import torch

    from bench_patchcore.weights import WeightsSource

log = logging.getLogger(__name__)


class PatchcoreDetector(Detector):
    """anomalib's PatchCore; subclasses only choose the default backbone.

    Outputs an anomaly map (float32, H x W at the case's resolution; larger
    is more anomalous; unnormalised L2 patch distances, not squared) and an
    image score; never a mask, so the runner thresholds the map.
    """

    version = "1.0"
    Config: type[DetectorConfig] = PatchcoreConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, modalities=("*",), needs_weights=True)
    presets = {"bmad": {"input_size": 224}}

    def __init__(self, config: DetectorConfig | None = None, context: DetectorContext | None = None):
        super().__init__(config, context)
        self._model: Any = None
        self._source: WeightsSource | None = None
        self._platform: str | None = None
        self._weights_sha256: str | None = None
        self._patches_collected = 0
        self._coreset_seconds = 0.0

    @property
    def cfg(self) -> PatchcoreConfig:
        return self.config  # type: ignore[return-value]

    def fit(self, normal_cases: Sequence[Case]) -> None:
        """Collect patch embeddings of every normal case, then subsample them to the memory bank."""
        import torch

        from bench_patchcore.anomalib_model import (
            import_patchcore_model,
            keep_large_allocations_off_the_heap,
            silent_coreset_progress,
        )
        from bench_patchcore.weights import check_backbone, locate_weights, require_weights

        cfg = self.cfg
        # Config and weights are checked before anomalib (the slow import) is loaded, so they fail at once.
        check_backbone(self.name, cfg.backbone)
        _check_layers(self.name, cfg.backbone, cfg.layers)
        source = platform = None
        if cfg.pretrained:
            platform = self._platform_weights()
            if platform is None:
                source = locate_weights(cfg.backbone)
                require_weights(self.name, source)
        PatchcoreModel = import_patchcore_model()  # noqa: N806
        device = torch.device(self.context.device)

        self._model = None
        with _seeded(self.context.seed, device), torch.no_grad():
            model = self._build(PatchcoreModel, source, platform).to(device).train()
            cases = 0
            for batch in batched(normal_cases, self.context.batch_size):
                model(to_backbone_input([c.image for c in batch], cfg, device))
                cases += len(batch)
            patches = sum(e.shape[0] for e in model.embedding_store)
            if cases == 0:
                raise ConfigError(f"{self.name}: fit() needs at least one normal training case, got none")
            if int(patches * cfg.coreset_sampling_ratio) < 1:
                raise ConfigError(
                    f"{self.name}: coreset_sampling_ratio {cfg.coreset_sampling_ratio} of {patches} patches "
                    f"keeps none; expected a ratio of at least {1 / patches:.3g}"
                )
            started = time.perf_counter()
            keep_large_allocations_off_the_heap()
            with silent_coreset_progress(), warnings.catch_warnings():
                # anomalib 2.7 warns about its deprecated `embeddings` argument even when it is not passed.
                warnings.filterwarnings("ignore", "Argument embeddings is deprecated", DeprecationWarning)
                model.subsample_embedding(cfg.coreset_sampling_ratio)
            self._coreset_seconds = time.perf_counter() - started
        self._model = model.eval()
        self._patches_collected = patches
        if source is not None:
            self._source = locate_weights(cfg.backbone)  # after a download, the file is now cached
            cached = self._source.cached_file
            # The platform hashes the file itself and records it as this run's weights.
            self._weights_sha256 = record_weights(cached, self._weights_name()) if cached is not None else None
        elif platform is not None:
            self._platform = platform.name
            self._weights_sha256 = platform.sha256
        log.info(
            "%s: memory bank %s from %d patches of %d cases", self.name, tuple(model.memory_bank.shape), patches, cases
        )

    def _platform_weights(self) -> LoadedWeights | None:
        """The backbone's declared checkpoint from the platform's cache (digest checked), or ``None``."""
        declared = BACKBONE_CHECKPOINTS.get(self.cfg.backbone)
        if declared is None or not checkpoint_path(declared).is_file():
            return None
        return load_checkpoint(declared.name)

    def _weights_name(self) -> str:
        declared = BACKBONE_CHECKPOINTS.get(self.cfg.backbone)
        if declared is not None:
            return declared.name
        return self._source.location if self._source is not None else self.cfg.backbone

    def _build(self, model_cls: type, source: WeightsSource | None, platform: LoadedWeights | None = None) -> Any:
        from bench_patchcore.weights import how_to_get, hub_offline

        cfg = self.cfg
        if platform is not None:
            model = model_cls(
                layers=list(cfg.layers), backbone=cfg.backbone, pre_trained=False, num_neighbors=cfg.num_neighbors
            )
            backbone = model.feature_extractor.feature_extractor
            # The feature extractor drops the classifier and later stages; every parameter it keeps must load.
            missing = backbone.load_state_dict(platform.state_dict, strict=False).missing_keys
            if missing:
                raise WeightsError(
                    f"{self.name}: checkpoint {platform.name!r} ({platform.path}) lacks {len(missing)} parameters "
                    f"of backbone {cfg.backbone!r}, e.g. {missing[0]!r}"
                )
            return model
        offline = hub_offline() if source is not None and source.cached_file is not None else contextlib.nullcontext()
        try:
            with offline:
                return model_cls(
                    layers=list(cfg.layers),
                    backbone=cfg.backbone,
                    pre_trained=cfg.pretrained,
                    num_neighbors=cfg.num_neighbors,
                )
        except (OSError, RuntimeError) as exc:
            if source is None:
                raise
            raise WeightsError(
                f"{self.name}: could not load ImageNet weights for backbone {cfg.backbone!r} "
                f"({source.location}): {type(exc).__name__}: {exc}. {how_to_get(source)}."
            ) from exc

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        """One map (float32, H x W of each case, bilinear from the input size) and score per case."""
        import torch

        if self._model is None:
            raise ConfigError(f"{self.name}: call fit(normal_cases) before predict()")
        device = torch.device(self.context.device)
        out: list[Prediction] = []
        for batch in batched(cases, self.context.batch_size):
            with torch.no_grad():
                result = self._model(to_backbone_input([c.image for c in batch], self.cfg, device))
            maps = to_case_frame(result.anomaly_map, [c.shape for c in batch])
            scores = result.pred_score.reshape(-1).float().cpu().numpy()
            out.extend(Prediction(anomaly_map=m, score=float(s)) for m, s in zip(maps, scores, strict=True))
        return out

    @classmethod
    def offline_overrides(cls) -> dict[str, Any] | None:
        """ImageNet weights when the platform's or timm's cache holds them, else a random-init backbone (marked)."""
        from bench_patchcore.weights import locate_weights

        declared = BACKBONE_CHECKPOINTS.get(cls.Config().backbone)
        if declared is not None and checkpoint_path(declared).is_file():
            return {}
        try:
            source = locate_weights(cls.Config().backbone)
        except WeightsError:
            return {"pretrained": False}
        return {} if source.cached_file is not None else {"pretrained": False}

    def run_info(self) -> RunInfo:
        cfg = self.cfg
        notes: dict[str, Any] = {"backbone": cfg.backbone, "layers": list(cfg.layers)}
        if self._model is not None:
            bank = self._model.memory_bank
            notes.update(
                coreset_size=int(bank.shape[0]),
                embedding_dim=int(bank.shape[1]),
                bank_bytes=int(bank.numel() * bank.element_size()),
                patches_collected=self._patches_collected,
                coreset_seconds=round(self._coreset_seconds, 3),
            )
        if cfg.pretrained and self._platform is not None:
            notes["weights_source"] = f"mias-bench weights cache: {self._platform}"
        elif cfg.pretrained:
            notes["weights_source"] = self._source.location if self._source else None
            notes["weights_file"] = str(self._source.cached_file) if self._source and self._source.cached_file else None
        return RunInfo(
            weights=f"imagenet:{cfg.backbone}" if cfg.pretrained else "random-init",
            weights_sha256=self._weights_sha256 if cfg.pretrained else None,
            device=self.context.device,
            notes=notes,
        )


class PatchcoreWrn50(PatchcoreDetector):
    """PatchCore on wide_resnet50_2, layers 2 and 3 (BMAD's ``_resnet50`` configs)."""

    name = "patchcore-wrn50"
    Config = PatchcoreWrn50Config
    checkpoints = (BACKBONE_CHECKPOINTS["wide_resnet50_2"],)
    description = "PatchCore (anomalib) on wide_resnet50_2 layers 2+3; anomaly map and score, no mask."


class PatchcoreR18(PatchcoreDetector):
    """PatchCore on resnet18, layers 2 and 3 (BMAD's default)."""

    name = "patchcore-r18"
    Config = PatchcoreR18Config
    checkpoints = (BACKBONE_CHECKPOINTS["resnet18"],)
    description = "PatchCore (anomalib) on resnet18 layers 2+3; anomaly map and score, no mask."


def _check_layers(detector: str, backbone: str, layers: Sequence[str]) -> None:
    """Raise :class:`ConfigError` naming the backbone's layers when one of ``layers`` is not among them.

    anomalib would only log a warning and drop the layer. The model is built
    on the meta device: no memory, no weights.
    """
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(backbone, pretrained=False, features_only=True)
    available = [info["module"] for info in model.feature_info.info]
    unknown = [layer for layer in layers if layer not in available]
    if unknown:
        raise ConfigError(
            f"{detector}: backbone {backbone!r} has no feature layer {unknown[0]!r}; expected some of {available}"
        )


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch and numpy (random init, random projection, coreset start) and restore their state after."""
    import torch

    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    state = np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(state)
