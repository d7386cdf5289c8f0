"""``--set`` for several detectors and sweeps: which detector each setting is for, and every combination.

``--set mias-sam.k=3`` sets ``k`` for ``mias-sam`` only; a bare ``--set k=3``
applies to every requested detector whose config has ``k`` and is refused
only when none has it. A comma-separated value is a sweep:
``--set mias-sam.k=1,3,5 --set mias-sam.gamma=3,5`` asks for one run per
combination (six here), each with its own identity. For a list-valued key
(e.g. PatchCore's ``layers``) the commas separate the list's items instead; a
value that parses as JSON as a whole (``[1, 2]``, ``{"a": 1}``, ``"a,b"``) is
one value.
"""

from __future__ import annotations

import itertools
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from bench.contract import Detector
from bench.errors import ConfigError
from bench.names import suggest


@dataclass(frozen=True)
class Setting:
    """One ``--set``: for one detector (``None``: every detector with the key), a key and its values."""

    detector: str | None
    key: str
    raw: str
    text: str  # as the user wrote it, for messages


def parse_settings(pairs: list[str], detectors: list[str]) -> list[Setting]:
    """Read ``[DETECTOR.]KEY=VALUE`` pairs; ``DETECTOR`` must be one of ``detectors``.

    Raises:
        ConfigError: a malformed pair, or a detector prefix that names no requested detector.
    """
    settings = []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"malformed --set {pair!r}: expected [DETECTOR.]KEY=VALUE, e.g. --set mias-sam.k=3")
        detector = None
        for name in sorted(detectors, key=len, reverse=True):  # detector names may contain dots
            if key.startswith(name + "."):
                detector, key = name, key[len(name) + 1 :]
                break
        else:
            if "." in key:
                prefix = key.rsplit(".", 1)[0]
                raise ConfigError(
                    f"--set {pair!r}: {prefix!r} is not a detector of this request{suggest(prefix, detectors)} "
                    f"(requested: {', '.join(detectors)})"
                )
        settings.append(Setting(detector, key, raw, pair))
    return settings


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def _split(raw: str) -> list[str]:
    """Comma-separated parts, commas inside brackets, braces or quotes not counting."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(raw):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(raw[start:i])
            start = i + 1
    parts.append(raw[start:])
    return [p.strip() for p in parts]


def _value(text: str, setting: Setting) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"--set {setting.text!r}: {setting.key} must be a finite number, got {text!r}")
    return value


def _values(setting: Setting, annotation: Any) -> list[Any]:
    """The values one setting sweeps over (one value: no sweep)."""
    raw = setting.raw.strip()
    try:
        json.loads(raw)
    except json.JSONDecodeError:
        pass
    else:
        return [_value(raw, setting)]  # JSON as a whole: one value (a number, a list, an object, a quoted string)
    parts = _split(raw)
    if _is_sequence(annotation):
        return [[_value(p, setting) for p in parts]] if len(parts) > 1 else [_value(raw, setting)]
    if any(p == "" for p in parts) and len(parts) > 1:
        raise ConfigError(f"--set {setting.text!r}: a sweep needs a value between every comma")
    return [_value(p, setting) for p in parts]


def expand_overrides(detectors: dict[str, type[Detector]], pairs: list[str]) -> dict[str, list[list[str]]]:
    """Per detector, every combination of its settings as ``KEY=JSON`` overrides (``[[]]`` when none apply).

    Raises:
        ConfigError: a bare key no requested detector has, or a qualified key its detector lacks (with a hint).
    """
    settings = parse_settings(pairs, list(detectors))
    out: dict[str, list[list[str]]] = {}
    for setting in settings:
        if setting.detector:
            targets = [setting.detector]
        else:
            targets = [d for d, c in detectors.items() if setting.key in c.Config.model_fields]
        if not targets:
            keys = sorted({k for c in detectors.values() for k in c.Config.model_fields})
            raise ConfigError(
                f"--set {setting.text!r}: no requested detector has a config key {setting.key!r}"
                f"{suggest(setting.key, keys)} (detectors: {', '.join(detectors)})"
            )
        for target in targets:
            fields = detectors[target].Config.model_fields
            if setting.key not in fields:
                raise ConfigError(
                    f"--set {setting.text!r}: detector {target!r} has no config key {setting.key!r}"
                    f"{suggest(setting.key, fields)} (keys: {', '.join(fields)})"
                )
    for name, cls in detectors.items():
        axes: dict[str, list[Any]] = {}
        for setting in settings:
            applies = setting.detector == name or (setting.detector is None and setting.key in cls.Config.model_fields)
            if applies:
                axes[setting.key] = _values(setting, cls.Config.model_fields[setting.key].annotation)
        keys = list(axes)
        out[name] = [
            [f"{k}={json.dumps(v)}" for k, v in zip(keys, combo, strict=True)]
            for combo in itertools.product(*(axes[k] for k in keys))
        ]
    return out


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` -> the seeds, in order, without repeats.

    Raises:
        ConfigError: naming the part that is not a non-negative integer or range.
    """
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            values = range(int(low), int(high) + 1) if dash else [int(part)]
        except ValueError:
            raise ConfigError(f"--seeds {text!r}: {part!r} is not a seed or a range such as 0-4") from None
        if not values or min(values) < 0:
            raise ConfigError(f"--seeds {text!r}: {part!r} is empty or negative")
        seeds += [v for v in values if v not in seeds]
    return seeds
