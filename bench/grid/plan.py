"""A grid plan: which detectors (with configs and sweeps), datasets, frames and seeds to run.

Read from TOML (``mias-bench grid PLAN.toml``) or built from command-line
options; both give the same :class:`GridPlan`. The format::

    protocols = "valid-f1,oracle"   # threshold protocols of every detector without its own
    seeds = "0-2"                   # or [0, 1, 2]
    frames = ["paper-256"]          # evaluation frames (each one is a run of its own)
    set = ["k=1,3"]                 # --set for every detector: bare KEY for each that has it, DETECTOR.KEY for one
    device = "auto"
    batch_size = 8
    store = "postgresql+psycopg://bench@db.example/bench"   # optional; --db wins
    cache = "s3://bucket/mias-bench"                          # optional; --cache wins

    [[datasets]]
    name = "bmad-brain"
    root = "/shared/BraTS2021_slice"   # a folder every worker sees; relative to the plan file

    [[detectors]]
    name = "mias-sam"
    preset = "paper"
    protocols = "mask"
    set = ["gamma=3,5"]

Values use the syntax of ``mias-bench run``: ``set`` entries are ``--set``
values (a comma sweeps), ``seeds`` is ``--seeds``, ``protocols`` is ``-t``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.errors import ConfigError
from bench.overrides import parse_seeds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _protocols_text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


class DetectorEntry(_Strict):
    """One detector of the grid: its preset, ``--set`` values (sweeps expand) and its own protocols."""

    name: str
    preset: str | None = None
    overrides: tuple[str, ...] = Field(default=(), alias="set")
    protocols: str | None = None

    @field_validator("protocols", mode="before")
    @classmethod
    def _join(cls, value):
        return _protocols_text(value) if isinstance(value, list) else value


class DatasetEntry(_Strict):
    """One dataset of the grid and the folder it is read from (the same path on every worker)."""

    name: str
    root: str


class GridPlan(_Strict):
    """Everything a grid expands into runs (see the module docstring for the TOML form)."""

    detectors: tuple[DetectorEntry, ...] = ()
    datasets: tuple[DatasetEntry, ...] = ()
    protocols: str = ""
    seeds: tuple[int, ...] = (0,)
    frames: tuple[str, ...] = ("paper-256",)
    overrides: tuple[str, ...] = Field(default=(), alias="set")
    device: str = "auto"
    batch_size: int = Field(default=8, ge=1)
    allow_new_code: bool = False
    store: str | None = None
    cache: str | None = None

    @field_validator("protocols", mode="before")
    @classmethod
    def _join(cls, value):
        return _protocols_text(value) if isinstance(value, list) else value

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value):
        if isinstance(value, str):
            return tuple(parse_seeds(value))
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds_valid(cls, value):
        if not value:
            raise ValueError("at least one seed is needed")
        if min(value) < 0 or len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct and non-negative, got {list(value)}")
        return value

    @field_validator("frames", mode="before")
    @classmethod
    def _frames(cls, value):
        return (value,) if isinstance(value, str) else value

    def check(self, source: str = "the grid") -> GridPlan:
        """Refuse a plan with nothing to run; return it."""
        if not self.detectors:
            raise ConfigError(f"{source} names no detector (a [[detectors]] table with a name, or --detector)")
        if not self.datasets:
            raise ConfigError(f"{source} names no dataset (a [[datasets]] table with name and root, or --dataset)")
        if not self.frames:
            raise ConfigError(f"{source} names no evaluation frame")
        return self


def read_plan(path: str | Path) -> GridPlan:
    """Read a TOML plan; dataset roots are taken relative to the plan file's folder.

    Raises:
        ConfigError: the file is missing, not TOML, or not a plan, naming the file and the key.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read grid plan {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid plan {path} is not valid TOML: {exc}") from None
    for entry in raw.get("datasets", []) if isinstance(raw.get("datasets"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("root"), str):
            entry["root"] = str((path.parent / Path(entry["root"]).expanduser()).resolve())
    try:
        plan = GridPlan.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"grid plan {path}: {problems}") from None
    except ConfigError as exc:  # a seeds string parse_seeds refused
        raise ConfigError(f"grid plan {path}: {exc}") from None
    return plan.check(f"grid plan {path}")


def plan_from_options(
    detectors: list[str],
    datasets: list[str],
    *,
    protocols: str = "",
    preset: str | None = None,
    overrides: list[str] | None = None,
    seeds: str = "0",
    frames: list[str] | None = None,
    device: str = "auto",
    batch_size: int = 8,
    allow_new_code: bool = False,
) -> GridPlan:
    """The plan the command-line options describe; ``datasets`` are ``NAME=ROOT``.

    Raises:
        ConfigError: a dataset without ``=ROOT``, or what :meth:`GridPlan.check` refuses.
    """
    entries = []
    for item in datasets:
        name, sep, root = item.partition("=")
        if not sep or not name.strip() or not root.strip():
            raise ConfigError(
                f"--dataset {item!r}: expected NAME=ROOT, e.g. --dataset bmad-brain=/data/BraTS2021_slice"
            )
        entries.append(DatasetEntry(name=name.strip(), root=str(Path(root.strip()).expanduser().resolve())))
    try:
        plan = GridPlan(
            detectors=tuple(DetectorEntry(name=d, preset=preset) for d in dict.fromkeys(detectors)),
            datasets=tuple(entries),
            protocols=protocols,
            seeds=seeds,
            frames=tuple(frames or ("paper-256",)),
            overrides=tuple(overrides or ()),
            device=device,
            batch_size=batch_size,
            allow_new_code=allow_new_code,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"grid options: {problems}") from None
    return plan.check("the grid options")
