"""A reproduction spec: a paper's table as data (TOML), read and checked.

A spec names the methods (detector, preset, ``--set`` values, threshold
protocol), the datasets per modality, the seeds, the metrics the paper
reports, its published figures (in percent) with their source, and the
reference method every other is compared with. ``mias-bench reproduce
NAME|FILE`` runs what the store lacks and sets the measured table beside the
published one. The specs that ship with mias-bench are in this package's
``specs/`` folder; a user writes their own for any paper.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from bench.errors import ConfigError, ThresholdError
from bench.metrics import METRICS
from bench.names import suggest
from bench.thresholds import parse_protocol

SPECS = files("bench.reproduce") / "specs"


@dataclass(frozen=True)
class Method:
    """One row of the paper's table and how mias-bench runs it."""

    label: str
    detector: str
    protocol: str
    preset: str | None = None
    set: tuple[str, ...] = ()
    note: str | None = None
    published: dict[str, dict[str, float]] = field(default_factory=dict)  # modality -> metric -> percent


@dataclass(frozen=True)
class ReproductionSpec:
    name: str
    title: str
    source: str
    reference: str
    metrics: dict[str, str]  # metric name -> the paper's column title
    datasets: dict[str, str]  # modality -> registered dataset name
    methods: tuple[Method, ...]
    seeds: tuple[int, ...] = (0,)
    path: str = ""

    def method(self, label: str) -> Method:
        return next(m for m in self.methods if m.label == label)


def shipped_specs() -> list[str]:
    """Names of the specs that ship with mias-bench."""
    return sorted(p.name.removesuffix(".toml") for p in SPECS.iterdir() if p.name.endswith(".toml"))


def load_spec(name_or_path: str | Path) -> ReproductionSpec:
    """A shipped spec by name, or a spec file by path.

    Raises:
        ConfigError: no such spec, a file that is not TOML, or a spec that is malformed (naming the field).
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"no reproduction spec file at {path}")
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        shipped = SPECS / f"{name_or_path}.toml"
        if not shipped.is_file():
            known = shipped_specs()
            raise ConfigError(
                f"unknown reproduction spec {str(name_or_path)!r}{suggest(str(name_or_path), known)} "
                f"(shipped: {', '.join(known)}; or pass a .toml file)"
            )
        text, where = shipped.read_text(encoding="utf-8"), f"{name_or_path} (shipped)"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    return _parse(data, where)


def _need(data: dict, key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, str | dict | list) and not value):
        raise ConfigError(f"{where}: expected a non-empty {kind.__name__} under {key!r}, found {value!r}")
    return value


def _parse(data: dict[str, Any], where: str) -> ReproductionSpec:
    metrics = _need(data, "metrics", dict, where)
    for metric in metrics:
        if metric not in METRICS:
            raise ConfigError(f"{where}: unknown metric {metric!r}{suggest(metric, METRICS)}")
    datasets = _need(data, "datasets", dict, where)
    methods = []
    for index, raw in enumerate(_need(data, "methods", list, where)):
        here = f"{where}: methods[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{here}: expected a table")
        published = raw.get("published", {})
        for modality, figures in published.items():
            if modality not in datasets:
                raise ConfigError(f"{here}: published figures for {modality!r}, which [datasets] does not name")
            for metric, value in figures.items():
                if metric not in metrics or not isinstance(value, int | float):
                    raise ConfigError(
                        f"{here}: published {modality}.{metric} = {value!r}; expected a number of a listed metric"
                    )
        settings = raw.get("set", [])
        if not isinstance(settings, list) or not all(isinstance(s, str) for s in settings):
            raise ConfigError(f"{here}: 'set' must be a list of KEY=VALUE strings")
        try:
            protocol = parse_protocol(_need(raw, "protocol", str, here)).name
        except ThresholdError as exc:
            raise ConfigError(f"{here}: one threshold protocol per method: {exc}") from None
        methods.append(
            Method(
                label=_need(raw, "label", str, here),
                detector=_need(raw, "detector", str, here),
                protocol=protocol,
                preset=raw.get("preset"),
                set=tuple(settings),
                note=raw.get("note"),
                published={m: {k: float(v) for k, v in f.items()} for m, f in published.items()},
            )
        )
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{where}: method labels must be unique, found {labels}")
    reference = _need(data, "reference", str, where)
    if reference not in labels:
        raise ConfigError(f"{where}: reference {reference!r} is not a method label{suggest(reference, labels)}")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(f"{where}: 'seeds' must be a list of non-negative integers, found {seeds!r}")
    return ReproductionSpec(
        name=_need(data, "name", str, where),
        title=data.get("title", data.get("name", "")),
        source=_need(data, "source", str, where),
        reference=reference,
        metrics=dict(metrics),
        datasets=dict(datasets),
        methods=tuple(methods),
        seeds=tuple(seeds),
        path=where,
    )
