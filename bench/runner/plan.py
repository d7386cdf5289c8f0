"""The first stage of a run: a request resolved into a typed plan, before anything is stored.

:func:`plan_run` validates every name and value of a :class:`RunRequest`
(detector, preset, ``--set`` overrides, protocols, frame, modality), refuses
a request that cannot apply (protocol ``mask`` on a detector that outputs no
mask), lists the dataset's test cases, and builds the run's
:class:`~bench.provenance.Provenance`: its identity (so its key) and what the
software was. Nothing is written and no image is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bench
from bench.contract import Detector, DetectorConfig
from bench.datasets.base import CaseRef, Dataset
from bench.errors import ConfigError, ThresholdError
from bench.frame import Frame, get_frame
from bench.plugins import PluginRecord, get_detector_record, resolve_config
from bench.provenance import PLATFORM, Provenance, git_commit, module_commit, package_versions, resolve_device
from bench.store.owners import STALE_AFTER_S
from bench.thresholds import ThresholdProtocol, parse_protocols


@dataclass
class RunRequest:
    """One detector on one dataset, as a user asks for it.

    Attributes:
        protocols: comma-separated threshold protocols (or parsed ones); empty
            picks ``mask`` for threshold-free detectors, else ``valid-f1``.
        allow_new_code: start a new run when the stored run of the same
            request was made by another detector or plugin version (otherwise
            that is refused with both versions named).
        wait_s: how long to wait for another process executing the same run
            (0: report who holds it and stop).
        predictions: where the run's predictions are cached (a folder or an
            fsspec URL); ``None``: :func:`bench.paths.predictions_root`.
        stale_after_s: a claim whose heartbeat is older than this may be taken
            over (a grid shortens it so a retried run resumes promptly).
    """

    detector: str
    dataset: Dataset
    protocols: str | list[ThresholdProtocol] = ""
    preset: str | None = None
    overrides: list[str] = field(default_factory=list)
    seed: int = 0
    frame: str = "paper-256"
    device: str = "auto"
    batch_size: int = 8
    allow_new_code: bool = False
    wait_s: float = 0.0
    predictions: str | None = None
    stale_after_s: float = STALE_AFTER_S


@dataclass
class RunPlan:
    """Everything decided about a run before it starts (the input of every later stage)."""

    request: RunRequest
    record: PluginRecord
    detector_cls: type[Detector]
    config: DetectorConfig
    protocols: list[ThresholdProtocol]
    frame: Frame
    device: str
    provenance: Provenance
    test_refs: list[CaseRef]

    @property
    def name(self) -> str:
        return self.detector_cls.name

    @property
    def dataset(self) -> Dataset:
        return self.request.dataset

    @property
    def key(self) -> str:
        return self.provenance.key()

    @property
    def lineage_key(self) -> str:
        return self.provenance.lineage_key()

    def columns(self) -> dict:
        """The ``runs`` columns of a new run of this plan."""
        return {
            **self.provenance.columns(),
            "run_key": self.key,
            "lineage_key": self.lineage_key,
            "data_location": self.dataset.location(),
        }


def _protocols(cls: type[Detector], protocols: str | list[ThresholdProtocol]) -> list[ThresholdProtocol]:
    parsed = parse_protocols(protocols) if isinstance(protocols, str) else list(protocols)
    parsed = parsed or parse_protocols("mask" if cls.capabilities.outputs_mask else "valid-f1")
    if not cls.capabilities.outputs_mask:
        masks = [p.name for p in parsed if p.kind == "mask"]
        if masks:
            raise ThresholdError(
                f"detector {cls.name!r} outputs no mask (only an anomaly map), so protocol 'mask' does not apply; "
                "use fixed:T, valid-f1, normal-pXX or oracle"
            )
    return parsed


def check_request(detector: str, preset: str | None, overrides: list[str], protocols: str, frame: str) -> None:
    """Validate a request's names and values before any data is read or anything stored."""
    cls: type[Detector] = get_detector_record(detector).obj
    resolve_config(cls, preset, overrides)
    _protocols(cls, protocols)
    get_frame(frame)


def plan_run(request: RunRequest) -> RunPlan:
    """Resolve ``request`` into a :class:`RunPlan`.

    Raises:
        BenchError: unknown detector, bad config or protocol, a protocol that
            cannot apply, an unsupported modality, or a dataset without test cases.
    """
    record = get_detector_record(request.detector)
    cls: type[Detector] = record.obj
    config = resolve_config(cls, request.preset, request.overrides)
    protocols = _protocols(cls, request.protocols)
    dataset = request.dataset
    if not cls.capabilities.supports(dataset.modality):
        raise ConfigError(
            f"detector {cls.name!r} supports modalities {list(cls.capabilities.modalities)}, "
            f"not {dataset.modality!r} ({dataset.name})"
        )
    frame = get_frame(request.frame)
    if request.batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {request.batch_size}")
    test_refs = dataset.cases("test")
    if not test_refs:
        raise ConfigError(f"dataset {dataset.name} at {dataset.location()} has no test cases")
    device = resolve_device(request.device)
    provenance = Provenance(
        detector=cls.name,
        detector_version=str(cls.version),
        plugin_dist=record.distribution,
        plugin_version=record.version,
        preset=request.preset,
        config=config.model_dump(mode="json"),
        config_hash=config.config_hash(),
        dataset=dataset.name,
        collection=dataset.collection,
        modality=dataset.modality,
        manifest_hash=dataset.manifest_hash(),
        frame=frame.name,
        split="test",
        seed=request.seed,
        n_cases=len(test_refs),
        device=device,
        mias_bench_version=bench.__version__,
        git_commit=git_commit(),
        plugin_commit=module_commit(cls),
        packages=package_versions((record.distribution,) if record.distribution else ()),
        provenance=PLATFORM,
    )
    return RunPlan(request, record, cls, config, protocols, frame, device, provenance, test_refs)
