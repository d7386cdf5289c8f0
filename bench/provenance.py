"""What a stored run records about how it was made: one definition, read by every output.

:class:`Provenance` lists every field once. The runner builds it, the store
keeps each field in the ``runs`` column of the same name (a test checks that
every field has one), and the leaderboard, publish, the page and verify
iterate :func:`provenance_fields` instead of writing the list out again.

Fields marked ``identity`` make a run's key: the same request with the same
code on the same files finds the stored run. ``lineage`` fields are the
identity less the code versions, so a changed plugin is recognised as such
(and never silently resumes a run of the old code).

The platform, not the plugin, decides ``weights`` (the names of the files
loaded, joined by ``+``, or ``random-init``), ``weights_sha256`` (the file's
SHA-256; for several files, the SHA-256 of their ``name:digest`` lines),
``weights_files``, ``random_init`` and ``transductive``: from the weights ledger
(:mod:`bench.weights.ledger`) and from whether the runner called
``finalize``. ``provenance`` says which: ``platform`` for runs stored by this
version, ``self-reported`` for runs from before it (stored under schema 0001,
when plugins declared their own weights and marks).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_PACKAGES = (
    "mias-bench",
    "numpy",
    "scipy",
    "scikit-learn",
    "pillow",
    "torch",
    "torchvision",
    "segment-anything",
    "anomalib",
    "timm",
    "faiss-cpu",
    "faiss-gpu-cu12",
    "sqlalchemy",
)

PLATFORM = "platform"
SELF_REPORTED = "self-reported"


def _f(
    title: str,
    *,
    identity: bool = False,
    lineage: bool = False,
    json_column: str | None = None,
    default=None,
    empty: type = dict,
):
    """A provenance field; ``json_column`` names the text column holding a structure (``empty()`` when absent)."""
    metadata = {
        "title": title,
        "identity": identity or lineage,
        "lineage": lineage,
        "json_column": json_column,
        "empty": empty,
    }
    if json_column:
        return field(default_factory=empty, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Provenance:
    """Everything a run records about how it was made (see the module docstring)."""

    detector: str = _f("detector", lineage=True, default="")
    detector_version: str = _f("detector version", identity=True, default="")
    plugin_dist: str | None = _f("plugin distribution", lineage=True)
    plugin_version: str | None = _f("plugin version", identity=True)
    preset: str | None = _f("preset")
    config: dict = _f("config", json_column="config_json")
    config_hash: str = _f("config hash", lineage=True, default="")
    dataset: str = _f("dataset", lineage=True, default="")
    collection: str = _f("collection", default="")
    modality: str = _f("modality", default="")
    manifest_hash: str = _f("dataset manifest", lineage=True, default="")
    frame: str = _f("evaluation frame", lineage=True, default="")
    split: str = _f("split", lineage=True, default="test")
    seed: int = _f("seed", lineage=True, default=0)
    n_cases: int = _f("test cases", default=0)
    device: str = _f("device", default="cpu")
    mias_bench_version: str | None = _f("mias-bench version")
    git_commit: str | None = _f("mias-bench commit")
    plugin_commit: str | None = _f("plugin commit")
    packages: dict = _f("packages", json_column="packages_json")
    weights: str | None = _f("weights")
    weights_sha256: str | None = _f("weights SHA-256")
    weights_files: list = _f("weights files", json_column="weights_files_json", empty=list)
    random_init: bool | None = _f("random-init")
    transductive: bool = _f("transductive", default=False)
    provenance: str = _f("provenance decided by", default=PLATFORM)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """SHA-256 hex of the identity fields: what makes two requests the same run."""
        return _digest({f.name: getattr(self, f.name) for f in fields(self) if f.metadata["identity"]})

    def lineage_key(self) -> str:
        """SHA-256 hex of the identity less the code versions (a changed plugin shares it)."""
        return _digest({f.name: getattr(self, f.name) for f in fields(self) if f.metadata["lineage"]})

    def columns(self) -> dict[str, Any]:
        """``{column: value}`` for the ``runs`` table (structures as JSON text)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            column = f.metadata["json_column"]
            out[column or f.name] = json.dumps(value, sort_keys=True) if column else value
        return out

    @classmethod
    def from_columns(cls, row: Any) -> Provenance:
        """Read a stored run (any object with the ``runs`` columns as attributes)."""
        values = {}
        for f in fields(cls):
            column = f.metadata["json_column"]
            raw = getattr(row, column or f.name)
            values[f.name] = (json.loads(raw) if raw else f.metadata["empty"]()) if column else raw
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """From :meth:`as_dict` output (e.g. a published row); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def weights_fields(files: list[tuple[str, str]], meant_for_weights: bool) -> dict[str, Any]:
    """The weights fields of a run from the ``(name, sha256)`` of every file loaded (see the module docstring)."""
    if not files:
        return {
            "weights": "random-init" if meant_for_weights else None,
            "weights_sha256": None,
            "weights_files": [],
            "random_init": meant_for_weights,
        }
    lines = sorted(f"{name}:{digest}" for name, digest in files)
    combined = files[0][1] if len(files) == 1 else hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {
        "weights": "+".join(name for name, _ in files),
        "weights_sha256": combined,
        "weights_files": [{"name": name, "sha256": digest} for name, digest in files],
        "random_init": False,
    }


def provenance_fields() -> list[tuple[str, str]]:
    """``(name, title)`` of every provenance field, in order."""
    return [(f.name, f.metadata["title"]) for f in fields(Provenance)]


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages that can change a result (absent ones left out)."""
    found = {}
    for name in (*_PACKAGES, *extra):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the git checkout holding ``path`` (default: the installed mias-bench), ``+dirty`` if changed.

    ``None`` when ``path`` is not inside a git checkout (e.g. an installed wheel).
    """
    folder = Path(path) if path is not None else Path(__file__).resolve().parent
    folder = folder if folder.is_dir() else folder.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head or None


def module_commit(obj: Any) -> str | None:
    """The git commit of the checkout a class or module was imported from, if it is one."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    source = getattr(module, "__file__", None)
    return git_commit(Path(source).resolve().parent) if source else None


def resolve_device(requested: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``."""
    if requested != "auto":
        return requested
    # Without an NVIDIA driver there is no GPU to find: skip importing torch (seconds).
    if "torch" not in sys.modules and not Path("/proc/driver/nvidia").exists() and not shutil.which("nvidia-smi"):
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
