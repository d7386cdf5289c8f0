"""Detector plugins: the ``mias_bench.detectors`` registry, the contract check, and config resolution.

Discovery itself is :mod:`bench.registry` (once per process, every entry
point in its own guard, allow and block lists). This module says what a
usable detector is (:func:`check_detector`) and turns presets and ``--set``
overrides into a validated config. First-party detectors are registered in
``pyproject.toml`` exactly like outside ones.

``MIAS_BENCH_PLUGINS`` (comma-separated entry-point or distribution names)
narrows which detector plugins load, e.g. ``MIAS_BENCH_PLUGINS=intensity-zscore``;
``MIAS_BENCH_BLOCK`` never imports the ones it names.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from bench.contract import API_VERSION, Capabilities, Detector, DetectorConfig
from bench.errors import ConfigError, PluginError
from bench.names import suggest
from bench.registry import ALLOW_ENV, BLOCK_ENV, PluginRecord, Registry, env_names
from bench.registry import load_entry_points as _load_entry_points
from bench.weights.checkpoint import declaration_problems

DETECTOR_GROUP = "mias_bench.detectors"
PLUGINS_ENV = ALLOW_ENV
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9.]+)*$")

__all__ = [
    "BLOCK_ENV",
    "DETECTORS",
    "DETECTOR_GROUP",
    "PLUGINS_ENV",
    "PluginRecord",
    "check_detector",
    "discover_detectors",
    "get_detector",
    "get_detector_record",
    "list_detectors",
    "load_entry_points",
    "parse_overrides",
    "resolve_config",
    "select_detectors",
]


def load_entry_points(group: str, check: Callable[[str, Any], None], *, narrow: bool = False) -> list[PluginRecord]:
    """Load every entry point of ``group`` afresh (no cache); ``narrow`` honours ``MIAS_BENCH_PLUGINS``."""
    return _load_entry_points(group, check, allow=env_names(ALLOW_ENV) if narrow else None, block=env_names(BLOCK_ENV))


def check_detector(name: str, obj: Any) -> None:
    """Reject an entry point that is not a usable :class:`Detector` subclass."""
    if not (inspect.isclass(obj) and issubclass(obj, Detector)):
        raise PluginError(f"plugin {name!r}: expected a subclass of bench.Detector, got {obj!r}")
    declared = getattr(obj, "name", None)
    if declared != name:
        raise PluginError(f"plugin {name!r}: class {obj.__name__} declares name {declared!r}; it must match")
    if not _NAME_RE.match(name):
        raise PluginError(f"plugin {name!r}: names are lower-case and hyphenated (e.g. 'patchcore-wrn50')")
    api = getattr(obj, "api_version", None)
    if api != API_VERSION:
        raise PluginError(f"plugin {name!r}: written for detector API {api}, this mias-bench provides {API_VERSION}")
    if not isinstance(getattr(obj, "capabilities", None), Capabilities):
        raise PluginError(f"plugin {name!r}: `capabilities` must be a bench.Capabilities instance")
    config_cls = getattr(obj, "Config", None)
    if not (inspect.isclass(config_cls) and issubclass(config_cls, DetectorConfig)):
        raise PluginError(f"plugin {name!r}: `Config` must subclass bench.DetectorConfig")
    try:
        config_cls()
    except ValidationError as exc:
        raise PluginError(
            f"plugin {name!r}: every config field needs a default ({exc.error_count()} without)"
        ) from None
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise PluginError(f"plugin {name!r}: {obj.__name__} does not implement {missing}")
    declared = getattr(obj, "checkpoints", ())
    if not isinstance(declared, tuple):
        raise PluginError(f"plugin {name!r}: `checkpoints` must be a tuple of bench.sdk.Checkpoint, got {declared!r}")
    for ck in declared:
        problems = declaration_problems(ck)
        if problems:
            raise PluginError(f"plugin {name!r}: {problems[0]}")


def _capabilities(cls: type[Detector]) -> dict[str, Any]:
    return cls.capabilities.as_dict()


#: The detector plugins of this process (``bench.registry.reset()`` forgets them).
DETECTORS = Registry(DETECTOR_GROUP, "detector", check_detector, honours_allow_list=True, capabilities=_capabilities)


def discover_detectors() -> list[PluginRecord]:
    """Every detector entry point, loaded and checked once per process (broken ones carry their error)."""
    return DETECTORS.records()


def list_detectors(pattern: str = "*") -> list[str]:
    """Names of detectors that loaded cleanly, filtered by a shell-style wildcard."""
    return DETECTORS.names(pattern)


def select_detectors(conditions: Iterable[str]) -> list[PluginRecord]:
    """Usable detectors whose capabilities meet every ``KEY=VALUE`` condition, e.g. ``outputs_mask=false``."""
    return DETECTORS.where(conditions)


def get_detector_record(name: str) -> PluginRecord:
    """The record of one detector; unknown names suggest close matches."""
    return DETECTORS.get(name)


def get_detector(name: str) -> type[Detector]:
    return get_detector_record(name).obj


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["k=3", "mask_index=best"]`` -> ``{"k": 3, "mask_index": "best"}``.

    Values are read as JSON when they parse (numbers, true/false, null,
    lists), else kept as strings; the config's types then validate them.
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"malformed --set {pair!r}: expected KEY=VALUE, e.g. --set k=3")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def resolve_config(
    detector: type[Detector], preset: str | None = None, overrides: Iterable[str] = ()
) -> DetectorConfig:
    """Defaults, then the preset, then ``--set`` overrides, validated by the detector's Config."""
    values: dict[str, Any] = {}
    preset = preset or "default"
    if preset != "default" and preset not in detector.presets:
        known = ["default", *detector.presets]
        raise ConfigError(f"detector {detector.name!r} has no preset {preset!r}{suggest(preset, known)}")
    values.update(detector.presets.get(preset, {}))
    values.update(parse_overrides(overrides))
    fields = detector.Config.model_fields
    unknown = [k for k in values if k not in fields]
    if unknown:
        key = unknown[0]
        raise ConfigError(
            f"detector {detector.name!r} has no config key {key!r}{suggest(key, fields)} (keys: {', '.join(fields)})"
        )
    try:
        return detector.Config(**values)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ConfigError(f"invalid config for detector {detector.name!r}: {problems}") from None


def _problem(error: Any) -> str:
    """``"key: message"`` for a field error; a whole-config check's message already names its key."""
    where = ".".join(map(str, error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
