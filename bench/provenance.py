"""What a stored run records about the software it ran on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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
    "faiss-cpu",
    "faiss-gpu-cu12",
    "sqlalchemy",
)


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages that can change a result (absent ones left out)."""
    found = {}
    for name in (*_PACKAGES, *extra):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    """The commit of the working directory's git checkout, if any (with ``+dirty``)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head or None


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
