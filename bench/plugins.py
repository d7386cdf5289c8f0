"""Plugin discovery through ``importlib.metadata`` entry points.

Every entry point is loaded inside its own guard: a plugin that fails to
import, or whose object fails the group's check, becomes a record with an
error and never stops the caller. First-party detectors are registered in
``pyproject.toml`` exactly like outside ones.

``MIAS_BENCH_PLUGINS`` (comma-separated entry-point or distribution names)
narrows which detector plugins load, e.g. ``MIAS_BENCH_PLUGINS=intensity-zscore``.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from bench.contract import API_VERSION, Capabilities, Detector, DetectorConfig
from bench.errors import ConfigError, PluginError, UnknownNameError
from bench.names import suggest

DETECTOR_GROUP = "mias_bench.detectors"
PLUGINS_ENV = "MIAS_BENCH_PLUGINS"
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9.]+)*$")


@dataclass
class PluginRecord:
    """One entry point and what loading it gave: the object, or an error."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    obj: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "error"


def _wanted() -> set[str] | None:
    raw = os.environ.get(PLUGINS_ENV, "").strip()
    if not raw:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_one(ep: EntryPoint, check: Callable[[str, Any], None]) -> PluginRecord:
    dist = ep.dist.name if ep.dist is not None else None
    version = ep.dist.version if ep.dist is not None else None
    record = PluginRecord(name=ep.name, target=ep.value, distribution=dist, version=version)
    try:
        obj = ep.load()
    except BaseException as exc:  # a plugin's import may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        record.error = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
        return record
    try:
        check(ep.name, obj)
    except PluginError as exc:
        record.error = str(exc)
        return record
    except Exception as exc:  # a broken plugin object must not stop the listing
        record.error = f"check failed: {type(exc).__name__}: {exc}"
        return record
    record.obj = obj
    return record


def load_entry_points(group: str, check: Callable[[str, Any], None], *, narrow: bool = False) -> list[PluginRecord]:
    """Load every entry point of ``group``, each inside its own guard.

    Args:
        group: entry-point group, e.g. ``"mias_bench.detectors"``.
        check: raises :class:`PluginError` to reject a loaded object.
        narrow: honour ``MIAS_BENCH_PLUGINS`` for this group.

    Returns:
        One record per entry point, sorted by name; a second entry point with
        a name already taken is an error record naming both distributions.
    """
    wanted = _wanted() if narrow else None
    records: list[PluginRecord] = []
    seen: dict[str, PluginRecord] = {}
    eps = sorted(entry_points(group=group), key=lambda e: (e.name, e.value))
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else None
        if wanted is not None and ep.name not in wanted and dist not in wanted:
            continue
        if ep.name in seen:
            first = seen[ep.name]
            if first.target == ep.value and first.distribution == dist:
                continue  # the same distribution seen twice on sys.path
            records.append(
                PluginRecord(
                    name=ep.name,
                    target=ep.value,
                    distribution=dist,
                    version=ep.dist.version if ep.dist is not None else None,
                    error=f"duplicate name {ep.name!r}: already provided by {first.distribution} ({first.target})",
                )
            )
            continue
        record = _load_one(ep, check)
        seen[ep.name] = record
        records.append(record)
    return records


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


def discover_detectors() -> list[PluginRecord]:
    """Every detector entry point, loaded and checked (broken ones carry their error)."""
    return load_entry_points(DETECTOR_GROUP, check_detector, narrow=True)


def list_detectors(pattern: str = "*") -> list[str]:
    """Names of detectors that loaded cleanly, filtered by a shell-style wildcard."""
    return [r.name for r in discover_detectors() if r.ok and fnmatch.fnmatch(r.name, pattern)]


def get_detector_record(name: str) -> PluginRecord:
    """The record of one detector; unknown names suggest close matches."""
    records = {r.name: r for r in discover_detectors()}
    if name not in records:
        known = sorted(records)
        raise UnknownNameError(f"unknown detector {name!r}{suggest(name, known)} (installed: {', '.join(known)})")
    record = records[name]
    if not record.ok:
        raise PluginError(f"detector {name!r} is installed but broken: {record.error}")
    return record


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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid config for detector {detector.name!r}: {problems}") from None
