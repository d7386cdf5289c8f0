"""The anomalib bridge: any anomalib 2.x image anomaly model as a mias-bench detector.

The model is built from its Lightning class (``anomalib.models.<Name>``)
with pre-processing reduced to the input size, and no post-processor,
evaluator or visualiser: the runner, not anomalib, thresholds maps and
computes metrics. :mod:`bench_anomalib.training` trains it on the normal
training cases with a quiet Lightning Trainer; prediction calls the torch
model in eval mode and resizes its maps to each case's frame.

Subclasses register one model under their own name with typed defaults: set
``name`` and a ``Config`` whose ``MODEL`` names the class (see
``bench_anomalib.baselines`` and ``docs/detectors/anomalib.md``), or
override :meth:`AnomalibDetector.model_class` for a model that is not in
anomalib (ReContrast).

This module imports only light things at module level; torch, Lightning and
anomalib are imported when a detector fits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from bench.sdk import (
    Capabilities,
    Case,
    ConfigError,
    Detector,
    DetectorConfig,
    DetectorContext,
    Prediction,
    RunInfo,
    batched,
    suggest,
)
from bench_anomalib.config import AnomalibConfig, AnomalibRunConfig

log = logging.getLogger(__name__)

#: Settings that make a detector finish the offline demo in seconds on a CPU (recorded in the stored config).
DEMO_SETTINGS: dict[str, Any] = {"input_size": 64, "train_batch_size": 8}


class AnomalibDetector(Detector):
    """An anomalib image model, trained on the normal training cases; outputs an anomaly map and a score, no mask.

    The map is the model's own (float32, H x W at the case's resolution,
    bilinear from the model's input size; larger is more anomalous; units
    are the model's); the score is the model's image score, or the map's
    maximum for models that give none.
    """

    name = "anomalib"
    version = "1.0"
    Config: ClassVar[type[DetectorConfig]] = AnomalibConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, modalities=("*",), needs_weights=True)
    description = "Any anomalib 2.x image model (--set model=Padim, model_args={...}); anomaly map and score, no mask."
    #: Where the default backbone's pretrained weights come from (for the demo's offline check).
    backbone_source: ClassVar[Literal["timm", "torchvision"]] = "timm"
    #: The demo's overrides beyond DEMO_SETTINGS (shorter training, a small backbone).
    demo_overrides: ClassVar[dict[str, Any]] = {"model_args": {"backbone": "resnet18"}}

    def __init__(self, config: DetectorConfig | None = None, context: DetectorContext | None = None):
        super().__init__(config, context)
        self._module: Any = None
        self._info: dict[str, Any] = {}
        self._has_pretrained_weights: bool | None = None  # known once the model is built

    @property
    def cfg(self) -> AnomalibRunConfig:
        return self.config  # type: ignore[return-value]

    def model_class(self) -> type:
        """The Lightning class to build; anomalib's class named by the config unless a subclass says otherwise."""
        from bench_anomalib.models import resolve_model_class

        return resolve_model_class(self.cfg.model_name())

    def fit(self, normal_cases: Sequence[Case]) -> None:
        """Resize the normal cases once, build the model (weights from the cache or none), train it."""
        import time

        from bench_anomalib.preprocess import resize_cases
        from bench_anomalib.quiet import quiet_training
        from bench_anomalib.training import plan_training, seeded, train

        cfg = self.cfg
        model_class = self.model_class()
        started = time.perf_counter()
        images = resize_cases((case.image for case in normal_cases), cfg.input_size)
        if len(images) == 0:
            raise ConfigError(f"{self.name}: fit() needs at least one normal training case, got none")
        self._module = None
        with seeded(self.context.seed, self.context.device), quiet_training():
            module, loads = self._build(model_class)
            # A model that loaded, skipped or was told about pretrained weights has them; others need none.
            from bench_anomalib.models import init_parameters

            self._has_pretrained_weights = bool(loads.files or loads.skipped) or "pre_trained" in init_parameters(
                model_class
            )
            plan = plan_training(self.name, module, cfg)
            self._check_learning_type(module)
            summary = train(
                module,
                images,
                plan,
                cfg,
                seed=self.context.seed,
                device=self.context.device,
                work_dir=self.context.work_dir,
                report=lambda done, total: self.context.report_progress("epoch", done, total),
            )
        self._module = module.to(self.context.device).eval()
        self._info = {
            "model": model_class.__name__,
            "model_kwargs": cfg.model_kwargs(),
            "train_cases": len(images),
            "epochs_run": summary.epochs,
            "steps_run": summary.steps,
            "train_images_seen": summary.images,
            # One-pass models return a placeholder loss to satisfy Lightning: there is nothing to report.
            "train_loss_per_epoch": [] if plan.one_pass else [round(loss, 6) for loss in summary.epoch_losses],
            "one_pass": plan.one_pass,
            "optimizer": _describe_optimizers(module),
            "pretrained_files": [{"name": f.name, "path": str(f.path), "sha256": f.sha256} for f in loads.files],
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        log.info("%s: %s trained %d epochs, %d steps", self.name, model_class.__name__, summary.epochs, summary.steps)

    def _build(self, model_class: type) -> tuple[Any, Any]:
        """The Lightning module, built with pretrained loads routed through the cache; and what was loaded."""
        from torchvision.transforms.v2 import Resize

        from bench_anomalib.backbone_weights import pretrained_loads, weights_error
        from bench_anomalib.models import check_model_args, init_parameters
        from bench_anomalib.quiet import import_anomalib_models

        import_anomalib_models()
        from anomalib.pre_processing import PreProcessor

        cfg = self.cfg
        kwargs = cfg.model_kwargs()
        check_model_args(model_class, kwargs)
        self._check_backbone(kwargs.get("backbone"))
        if "pre_trained" in init_parameters(model_class):
            kwargs["pre_trained"] = cfg.pretrained
        size = (cfg.input_size, cfg.input_size)
        # Cases arrive resized and normalised; the Resize is a no-op that tells the model its input size.
        components = {
            "pre_processor": PreProcessor(transform=Resize(size, antialias=True)),
            "post_processor": False,
            "evaluator": False,
            "visualizer": False,
        }
        with pretrained_loads(self.name, cfg.pretrained) as loads:
            try:
                module = model_class(**kwargs, **components)
            except Exception as exc:
                error = weights_error(self.name, loads, exc)
                if error is not None:
                    raise error from exc
                if isinstance(exc, ValueError | TypeError | NotImplementedError):
                    raise ConfigError(
                        f"{self.name}: anomalib's {model_class.__name__} refused its arguments {kwargs}: {exc}"
                    ) from exc
                raise
        return module, loads

    def _check_backbone(self, backbone: Any) -> None:
        """Raise :class:`ConfigError` with close matches when timm does not know the ``backbone`` argument."""
        if not isinstance(backbone, str) or self.backbone_source != "timm":
            return
        import timm

        if not timm.is_model(backbone):
            names = timm.list_models()
            raise ConfigError(f"{self.name}: backbone {backbone!r} is not a timm model{suggest(backbone, names)}")

    def _check_learning_type(self, module: Any) -> None:
        from anomalib import LearningType

        if module.learning_type != LearningType.ONE_CLASS:
            raise ConfigError(
                f"{self.name}: anomalib's {type(module).__name__} is a {module.learning_type.value} model; "
                "the bridge trains one-class models on normal cases"
            )

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        """One map (float32, H x W of each case) and score per case."""
        import torch

        from bench_anomalib.preprocess import normalise, resize_cases, to_case_frame

        if self._module is None:
            raise ConfigError(f"{self.name}: call fit(normal_cases) before predict()")
        cfg, device = self.cfg, torch.device(self.context.device)
        out: list[Prediction] = []
        for batch in batched(cases, self.context.batch_size):
            x = normalise(resize_cases([c.image for c in batch], cfg.input_size).to(device), cfg.mean, cfg.std)
            with torch.no_grad():
                result = self._module.model(x)
            maps = result.anomaly_map
            if maps is None:
                raise ConfigError(
                    f"{self.name}: anomalib's {type(self._module).__name__} returned no anomaly map (it scores "
                    "whole images only); segmentation needs a model that outputs maps"
                )
            scores = result.pred_score
            if scores is None:
                scores = torch.amax(maps.reshape(len(batch), -1), dim=1)
            frames = to_case_frame(maps, [c.shape for c in batch])
            values = scores.reshape(len(batch), -1)[:, 0].float().cpu().tolist()
            out.extend(Prediction(anomaly_map=m, score=float(s)) for m, s in zip(frames, values, strict=True))
        return out

    def close(self) -> None:
        """Release the model (memory, GPU)."""
        self._module = None

    @classmethod
    def offline_overrides(cls) -> dict[str, Any] | None:
        """Demo-sized settings (small input, short training, resnet18) on a random-init backbone.

        Always random-init, cached ImageNet weights or not: a shortened run is a
        smoke test of the pipeline, and without pretrained weights the platform
        marks it ``random-init``, which keeps it out of every ranking.
        """
        return {**DEMO_SETTINGS, **cls.demo_overrides, "pretrained": False}

    def uses_pretrained_weights(self) -> bool:
        """True unless the built model turned out to have no pretrained weights at all (e.g. GANomaly)."""
        if self._has_pretrained_weights is None:
            return super().uses_pretrained_weights()
        return self._has_pretrained_weights

    def run_info(self) -> RunInfo:
        cfg = self.cfg
        files = self._info.get("pretrained_files", [])
        weights, digest = None, None
        if cfg.pretrained and files:
            weights = "+".join(f["name"] for f in files)
            digest = files[0]["sha256"] if len(files) == 1 else None
        elif not cfg.pretrained and self.uses_pretrained_weights():
            weights = "random-init"
        return RunInfo(weights=weights, weights_sha256=digest, device=self.context.device, notes=dict(self._info))


def _describe_optimizers(module: Any) -> list[dict[str, Any]]:
    """Optimiser class and per-group hyper-parameters the model trained with (for the run's notes)."""
    trainer = getattr(module, "_trainer", None)
    optimizers = trainer.optimizers if trainer is not None else []
    described = []
    for optimizer in optimizers:
        if type(optimizer).__name__.startswith("_Mock"):  # Lightning's stand-in for "no optimiser"
            continue
        groups = [
            {k: v for k, v in group.items() if k in ("lr", "betas", "weight_decay", "amsgrad", "eps", "momentum")}
            for group in optimizer.param_groups
        ]
        described.append({"class": type(optimizer).__name__, "groups": groups})
    return described
