"""A child Python whose home, caches and temporary folder are empty folders of the test's own.

For tests that check a plugin writes nothing outside its work folder and
never reaches the network: :func:`fresh_env` builds the environment,
:func:`run_script` runs a script in it, :func:`files` lists what a folder
holds, :func:`plant_timm_resnet18` puts a random resnet18 where timm looks
for ``timm/resnet18.a1_in1k`` in the Hugging Face hub cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
FOLDERS = ("home", "hf", "torch", "xdg", "tmp", "cwd", "work")


def fresh_env(tmp_path: Path, **extra: str) -> tuple[dict[str, str], dict[str, Path]]:
    """The environment (this one, less every HF/torch/XDG/matplotlib setting) and its folders, by name."""
    folders = {name: tmp_path / name for name in FOLDERS}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TORCH", "XDG_", "MPL", "HUGGINGFACE"))}
    env.update(
        HOME=str(folders["home"]),
        HF_HOME=str(folders["hf"]),
        TORCH_HOME=str(folders["torch"]),
        XDG_CACHE_HOME=str(folders["xdg"]),
        TMPDIR=str(folders["tmp"]),
        PYTHONPATH=os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        **extra,
    )
    return env, folders


def run_script(script: str, env: dict[str, str], cwd: Path, *args: str, timeout: float | None = None) -> dict:
    """Run ``script`` in a child Python; return the JSON object on its last line of output."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def files(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` and its size."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def plant_timm_resnet18(hf_home: Path, seed: int, commit: str) -> tuple[Path, float]:
    """A random resnet18 saved as ``timm/resnet18.a1_in1k``'s weights in the hub cache; (file, sum of conv1)."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = timm.create_model("resnet18", pretrained=False)
    repo = hf_home / "hub" / "models--timm--resnet18.a1_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    path = repo / "snapshots" / commit / "model.safetensors"
    path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path, float(model.conv1.weight.detach().double().sum())
