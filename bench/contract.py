"""The detector contract: what a plugin receives, what it must return.

A detector sees :class:`Case` objects already in the evaluation frame (under
the default protocol: square-padded and resized to 256 x 256, float32 in
[0, 1]) and returns one :class:`Prediction` per case in that same frame. The
runner, never the plugin, applies thresholds and computes metrics.

**Test truth is sealed.** A :class:`Case` has no mask and no label, by type:
the runner builds a fresh one for every image it hands over, with a copy of the
pixels and, for the validation and test splits, an opaque id and a shuffled
order (file names such as ``test/Ungood/00012.png`` and the sorted order would
tell a detector which images are anomalous). Only :meth:`Detector.calibrate`
sees truth: :class:`LabelledCase` objects of the validation split. Nothing a
detector is handed (cases, context, work folder) leads to the test truth. A
plugin runs in the user's process with the user's file permissions, so it is
not sandboxed against reading the dataset from disk itself; the published
provenance (plugin, version, config) and re-running are the defence there.

**The order of calls** (written down once, in :data:`HOOK_ORDER`):

1. ``fit(train)``: the normal training cases, in dataset order, when the
   detector ``needs_fit`` and has something to predict.
2. ``calibrate(valid)``: every validation case with its label and mask, when
   ``capabilities.uses_validation``.
3. ``predict(valid batches)``: the validation split again, sealed, when a
   threshold protocol fits its threshold on validation maps.
4. ``predict(test batches)``: the test cases not yet stored, sealed.
5. ``finalize(test cases, predictions)``: once, with every test case and its
   prediction, when :meth:`Detector.needs_finalize`; the platform then marks
   the run ``transductive`` (it used the test set as a whole).
6. ``close()``: always last, also after a failure; then the runner deletes
   ``context.work_dir``.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from bench.errors import ContractViolation
from bench.weights.checkpoint import Checkpoint

#: Version of this contract. A plugin declares the version it was written
#: against as ``Detector.api_version``; a different major version is refused.
API_VERSION = 1

NORMAL, ANOMALOUS = 0, 1

#: The hooks the runner calls, in the order it calls them (each only when it applies).
HOOK_ORDER = ("fit", "calibrate", "predict", "finalize", "close")


@dataclass(frozen=True, eq=False, slots=True)
class Case:
    """One image, ready for a detector, and nothing else.

    Attributes:
        id: unique within the split handed over; opaque (e.g. ``"test-0007"``)
            for validation and test cases.
        image: float32, H x W, grayscale in [0, 1] (the detector's own copy).
        modality: ``"brain"``, ``"liver"``, ``"retina"`` or a plugin's own.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        source_bits: bit depth of the stored image (8, 16, or 32 for float).
    """

    id: str
    image: np.ndarray
    modality: str
    split: str
    source_bits: int = 8

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape  # type: ignore[return-value]


@dataclass(frozen=True, eq=False, slots=True)
class LabelledCase:
    """One image with its truth, as a dataset loads it (and as :meth:`Detector.calibrate` sees validation cases).

    Attributes:
        id: unique within the dataset, e.g. ``"test/Ungood/00012"``.
        image: float32, H x W, grayscale in [0, 1].
        mask: bool, H x W, the ground-truth lesion; ``None`` for normal cases
            (all-zero truth) and for cases whose truth is unknown.
        modality: ``"brain"``, ``"liver"``, ``"retina"`` or a plugin's own.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        label: 0 normal, 1 anomalous.
        source_bits: bit depth of the stored image (8, 16, or 32 for float);
            the evaluation frame resizes 8-bit images in 8 bits, as the
            paper's PIL pipeline does.
    """

    id: str
    image: np.ndarray
    mask: np.ndarray | None
    modality: str
    split: str
    label: int
    source_bits: int = 8

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape  # type: ignore[return-value]

    def truth(self) -> np.ndarray:
        """bool, H x W: the mask, or all-zero for a case without one."""
        if self.mask is None:
            return np.zeros(self.image.shape, dtype=bool)
        return self.mask

    def sealed(self, case_id: str | None = None) -> Case:
        """The detector's view: a new :class:`Case` with a copy of the pixels and no truth."""
        return Case(
            id=self.id if case_id is None else case_id,
            image=np.array(self.image, dtype=np.float32, copy=True),
            modality=self.modality,
            split=self.split,
            source_bits=self.source_bits,
        )

    def relabelled(self, case_id: str) -> LabelledCase:
        """The same case under another id (the validation split's opaque ids), pixels copied."""
        return LabelledCase(
            id=case_id,
            image=np.array(self.image, dtype=np.float32, copy=True),
            mask=None if self.mask is None else np.array(self.mask, dtype=bool, copy=True),
            modality=self.modality,
            split=self.split,
            label=self.label,
            source_bits=self.source_bits,
        )


@dataclass(eq=False)
class Prediction:
    """What a detector returns for one case.

    Attributes:
        anomaly_map: float32, H x W, in the case's frame; larger is more
            anomalous. Any finite range.
        score: image-level anomaly score (larger is more anomalous).
        mask: bool, H x W, the detector's own segmentation, or ``None`` when
            the detector outputs only a map (the runner thresholds it).
        extra_masks: optional named alternatives (bool, H x W) whose DICE is
            stored per case beside the reported mask (e.g. all three of SAM's
            multimask outputs).
    """

    anomaly_map: np.ndarray
    score: float
    mask: np.ndarray | None = None
    extra_masks: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a detector can do; the runner and the listing read these.

    Attributes:
        outputs_mask: True for threshold-free detectors that return their
            own mask; False for detectors that return only an anomaly map.
        needs_fit: whether :meth:`Detector.fit` must see normal training cases.
        modalities: modalities the detector supports; ``("*",)`` for any.
        needs_weights: whether a pretrained checkpoint is normally required.
        uses_validation: whether :meth:`Detector.calibrate` reads the
            validation split (e.g. to normalise maps).
        gpu: whether a run is meant for a CUDA device; a grid asks its
            scheduler for one GPU per run when the device is ``auto`` and the
            cluster has GPUs (``--device cuda`` always asks).
        cpus: CPU cores one run keeps busy, what a grid reserves per run.
        memory_gib: peak host memory of one run in GiB, what a grid reserves
            per run (0: not declared, nothing reserved).
    """

    outputs_mask: bool
    needs_fit: bool = True
    modalities: tuple[str, ...] = ("*",)
    needs_weights: bool = False
    uses_validation: bool = False
    gpu: bool = False
    cpus: float = 1.0
    memory_gib: float = 0.0

    def supports(self, modality: str) -> bool:
        return "*" in self.modalities or modality in self.modalities

    def as_dict(self) -> dict[str, Any]:
        return {
            "outputs_mask": self.outputs_mask,
            "needs_fit": self.needs_fit,
            "modalities": list(self.modalities),
            "needs_weights": self.needs_weights,
            "uses_validation": self.uses_validation,
            "gpu": self.gpu,
            "cpus": self.cpus,
            "memory_gib": self.memory_gib,
        }


class DetectorConfig(BaseModel):
    """Base of every detector's typed config: every field has a default.

    Unknown keys are refused, values are validated (``"3"`` becomes ``3``
    for an int field), and the resolved config is stored with every run.
    Every number is finite: infinity and NaN are refused in float fields
    and anywhere inside loosely typed ones (``dict[str, Any]``), since the
    stored config must be valid JSON and its hash stable.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite_everywhere(self) -> DetectorConfig:
        for key, value in self:
            found = _non_finite(value, key)
            if found is not None:
                raise ValueError(f"{found[0]} must be a finite number, got {found[1]}")
        return self

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """SHA-256 hex of the canonical JSON; identifies the config in the store."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """(path, value) of the first infinite or NaN float inside ``value`` (dicts, lists, tuples), else ``None``."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        items = [(f"{path}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    for child_path, child in items:
        found = _non_finite(child, child_path)
        if found is not None:
            return found
    return None


@dataclass
class DetectorContext:
    """What the runner lends a detector: where to work, on what device, and how to report progress.

    Attributes:
        device: ``"cpu"`` or ``"cuda"`` (resolved by the runner).
        seed: the run's seed; a detector seeds every random choice from it.
        work_dir: a private, empty folder for the detector's files during the
            run; the runner removes it after :meth:`Detector.close`.
        batch_size: cases per :meth:`Detector.predict` call.
        on_progress: the runner's progress callback; call
            :meth:`report_progress` rather than this.
    """

    device: str = "cpu"
    seed: int = 0
    work_dir: Path | None = None
    batch_size: int = 8
    on_progress: Callable[[str, int, int | None], None] | None = field(default=None, repr=False)

    def report_progress(self, task: str, done: int, total: int | None = None) -> None:
        """Show progress of a long step inside a hook (e.g. ``("epoch", 3, 10)``); the CLI draws it."""
        if self.on_progress is not None:
            self.on_progress(task, done, total)


@dataclass(frozen=True)
class RunInfo:
    """What a detector says about a run, stored with it as notes (after its last hook).

    Informational only: the platform decides the weights provenance from the
    files actually loaded (see :func:`bench.sdk.record_weights`) and the
    ``transductive`` mark from whether :meth:`Detector.finalize` ran; the values
    a plugin declares here are kept beside them under ``declared`` and never
    used for a mark.
    """

    weights: str | None = None
    weights_sha256: str | None = None
    device: str = "cpu"
    transductive: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


class Detector(ABC):
    """Base class of every detector plugin.

    Subclasses set the class attributes and implement :meth:`predict` (and
    :meth:`fit` when ``capabilities.needs_fit``). The runner calls the hooks
    in the order the module docstring gives (:data:`HOOK_ORDER`).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    api_version: ClassVar[int] = API_VERSION
    Config: ClassVar[type[DetectorConfig]] = DetectorConfig
    capabilities: ClassVar[Capabilities]
    #: Named partial configs, e.g. ``{"paper": {...}}``; ``default`` is implied.
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    description: ClassVar[str] = ""
    #: Checkpoints this detector can load (``mias-bench weights list`` shows them; ``weights fetch`` installs them).
    checkpoints: ClassVar[tuple[Checkpoint, ...]] = ()

    def __init__(self, config: DetectorConfig | None = None, context: DetectorContext | None = None):
        self.config = config if config is not None else self.Config()
        self.context = context if context is not None else DetectorContext()

    def fit(self, normal_cases: Sequence[Case]) -> None:
        """Learn from normal training cases (iterated, possibly lazily, once)."""

    def calibrate(self, valid_cases: Sequence[LabelledCase]) -> None:
        """Read the validation split (normal and anomalous, with labels and masks) before testing."""

    @abstractmethod
    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        """Return one :class:`Prediction` per case, in order."""

    def finalize(self, cases: Sequence[Case], predictions: list[Prediction]) -> list[Prediction]:
        """Post-process every test prediction at once (transductive methods).

        Called only when :meth:`needs_finalize` is true, and the platform then
        marks the run ``transductive``. The default returns the predictions
        unchanged.
        """
        return predictions

    def needs_finalize(self) -> bool:
        """True when :meth:`finalize` must run under this config (the run is then transductive)."""
        return type(self).finalize is not Detector.finalize

    def close(self) -> None:
        """Release what the detector holds (files, threads, GPU memory); called last, also after a failure."""

    def run_info(self) -> RunInfo:
        return RunInfo(device=self.context.device)

    def uses_pretrained_weights(self) -> bool:
        """Whether this config is meant to run on pretrained weights (default: ``capabilities.needs_weights``).

        The platform marks a run ``random-init`` when this is true and no
        pretrained file was loaded through :func:`bench.sdk.load_checkpoint` or
        reported with :func:`bench.sdk.record_weights` while the detector ran.
        """
        return self.capabilities.needs_weights

    @classmethod
    def offline_overrides(cls) -> dict[str, Any] | None:
        """Config overrides that let this detector run with no network, or ``None`` if it cannot.

        The demo runs every detector that can. A detector that needs weights
        returns e.g. ``{"weights": "random-init"}`` when no checkpoint is
        installed (the run is then stored and shown as random-init), ``{}``
        when its checkpoint is installed.
        """
        return None if cls.capabilities.needs_weights else {}


def validate_prediction(detector: str, case: Case, prediction: Any) -> Prediction:
    """Check one prediction against the contract; return it with exact dtypes.

    Raises:
        ContractViolation: naming the detector and the case, and what was
            expected and found.
    """
    where = f"detector `{detector}` on case `{case.id}`"
    if not isinstance(prediction, Prediction):
        raise ContractViolation(f"{where}: expected a Prediction, got {type(prediction).__name__}")
    amap = np.asarray(prediction.anomaly_map)
    if amap.shape != case.shape:
        raise ContractViolation(f"{where}: anomaly_map shape {amap.shape}, expected {case.shape} (the case's frame)")
    if not np.issubdtype(amap.dtype, np.floating):
        raise ContractViolation(f"{where}: anomaly_map dtype {amap.dtype}, expected float32")
    if not np.isfinite(amap).all():
        bad = int((~np.isfinite(amap)).sum())
        raise ContractViolation(f"{where}: anomaly_map has {bad} NaN or infinite values")
    try:
        score = float(prediction.score)
    except (TypeError, ValueError) as exc:
        raise ContractViolation(f"{where}: score {prediction.score!r} is not a number") from exc
    if not np.isfinite(score):
        raise ContractViolation(f"{where}: score is {score}, expected a finite number")
    masks = {"mask": prediction.mask} if prediction.mask is not None else {}
    masks.update({f"extra_masks[{k!r}]": v for k, v in prediction.extra_masks.items()})
    checked: dict[str, np.ndarray] = {}
    for label, m in masks.items():
        arr = np.asarray(m)
        if arr.shape != case.shape:
            raise ContractViolation(f"{where}: {label} shape {arr.shape}, expected {case.shape}")
        if arr.dtype != bool:
            raise ContractViolation(f"{where}: {label} dtype {arr.dtype}, expected bool")
        checked[label] = arr
    return Prediction(
        anomaly_map=amap.astype(np.float32, copy=False),
        score=score,
        mask=checked.get("mask"),
        extra_masks={k: np.asarray(v) for k, v in prediction.extra_masks.items()},
    )
