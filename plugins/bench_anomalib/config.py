"""Typed configs of the anomalib bridge (pydantic only; anomalib is imported only to check a model's name).

:class:`AnomalibRunConfig` holds what the bridge needs to run any anomalib
model: preprocessing (so the stored config says exactly what the network
saw), training length and batch size, and whether pretrained weights are
loaded. A subclass names its model in ``MODEL`` and declares the model's
init arguments as typed fields: every field that is not a run field is
passed to the model's constructor. :class:`AnomalibConfig` is the generic
form, where the model and its arguments are given as ``model`` and
``model_args``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from bench.sdk import DetectorConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: A float that must be a finite number (no NaN, no infinity).
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class AnomalibRunConfig(DetectorConfig):
    """How an anomalib model is run; subclasses add the model's own init arguments as fields."""

    #: anomalib.models class this config builds (``None``: the config names it, see :meth:`model_name`).
    MODEL: ClassVar[str | None] = None

    pretrained: bool = Field(
        True, description="ImageNet backbone weights from the local cache; false = random-init (recorded as such)"
    )
    epochs: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="training epochs over the normal cases (null: the model's own count; one-pass models take 1)",
    )
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimiser steps (null: the epochs decide)"
    )
    train_batch_size: int = Field(32, ge=1, le=4096, description="training cases per optimiser step")
    input_size: int = Field(
        256, ge=32, le=2048, description="side of the square model input (pixels); 256 = no resampling at 256 px"
    )
    gray_to_rgb: Literal["repeat"] = Field("repeat", description="how a grayscale case becomes 3 channels")
    resize: Literal["bilinear-antialias"] = Field(
        "bilinear-antialias", description="how the case is resized to input_size (bilinear, antialiased)"
    )
    mean: tuple[FiniteFloat, FiniteFloat, FiniteFloat] = Field(
        IMAGENET_MEAN, description="per-channel normalisation mean (RGB)"
    )
    std: tuple[FiniteFloat, FiniteFloat, FiniteFloat] = Field(
        IMAGENET_STD, description="per-channel normalisation std (RGB)"
    )

    @field_validator("std")
    @classmethod
    def _positive_std(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(value) <= 0:
            raise ValueError(f"every std must be > 0, got {value}")
        return value

    @classmethod
    def run_fields(cls) -> frozenset[str]:
        """Fields the bridge reads itself; every other field is a model init argument."""
        return frozenset(AnomalibRunConfig.model_fields)

    def model_name(self) -> str:
        """The ``anomalib.models`` class name this config builds."""
        if self.MODEL is None:
            raise NotImplementedError(f"{type(self).__name__} sets no MODEL")
        return self.MODEL

    def model_kwargs(self) -> dict[str, Any]:
        """Init arguments for the model: every field that is not a run field (tuples become lists)."""
        values = self.model_dump(mode="python", exclude=set(self.run_fields()))
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


class AnomalibConfig(AnomalibRunConfig):
    """The generic bridge: any anomalib image model by name, with its init arguments."""

    model: str = Field("Padim", min_length=1, description="anomalib.models class name, e.g. Padim, Stfpm, Fastflow")
    model_args: dict[str, Any] = Field(
        default_factory=dict, description='init arguments of the model (JSON values), e.g. {"backbone": "resnet18"}'
    )

    @classmethod
    def run_fields(cls) -> frozenset[str]:
        return super().run_fields() | {"model", "model_args"}

    def model_name(self) -> str:
        return self.model

    def model_kwargs(self) -> dict[str, Any]:
        return dict(self.model_args)

    @field_validator("model_args")
    @classmethod
    def _json_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not key.isidentifier():
                raise ValueError(f"argument name {key!r} is not a Python identifier")
            _check_json_value(item, key)
        return value

    @model_validator(mode="after")
    def _known_model_and_args(self) -> AnomalibConfig:
        # Importing anomalib takes seconds: the defaults are known to be valid and are not checked.
        if {"model", "model_args"} & self.model_fields_set:
            from bench_anomalib.models import check_model_args, resolve_model_class

            check_model_args(resolve_model_class(self.model), self.model_args)
        return self


def _check_json_value(value: Any, where: str) -> None:
    """Raise ValueError unless ``value`` is JSON data with finite numbers only."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: expected string keys, got {key!r}")
            _check_json_value(item, f"{where}.{key}")
        return
    raise ValueError(f"{where}: expected a JSON value, got {type(value).__name__}")
