"""The plugin SDK boundary is enforced: import-linter keeps plugins on bench.sdk, and fails on a violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import bench
import bench.sdk

ROOT = Path(__file__).resolve().parents[2]


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _lint(config: Path, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    script = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(extra_path) if extra_path else ""}
    return subprocess.run([script, "--no-cache", str(config)], cwd=cwd, capture_output=True, text=True, env=env)


def test_every_private_module_of_the_core_is_forbidden_to_plugins():
    package = Path(bench.__file__).parent
    private = {
        f"bench.{p.stem if p.is_file() else p.name}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__", "sdk"}) or (p / "__init__.py").is_file()
    }
    assert set(_contract("sdk-boundary")["forbidden_modules"]) == private
    # Every first-party plugin registered in pyproject.toml is held to the contract.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    plugins = {
        v.split(":")[0].split(".")[0] for v in config["project"]["entry-points"]["mias_bench.detectors"].values()
    }
    assert plugins <= set(_contract("sdk-boundary")["source_modules"])


def test_the_repository_keeps_its_contracts():
    result = _lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_plugin_that_reaches_past_the_sdk_fails_the_check(tmp_path):
    plugin = tmp_path / "src" / "bench_rogue"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text("from bench.sdk import Detector\nfrom bench.runner import execute\n")
    config = tmp_path / "contracts.toml"
    contract = _contract("sdk-boundary")
    forbidden = ", ".join(f'"{m}"' for m in contract["forbidden_modules"])
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["bench", "bench_rogue"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "plugins use bench.sdk"\ntype = "forbidden"\nsource_modules = ["bench_rogue"]\n'
        f"forbidden_modules = [{forbidden}]\nallow_indirect_imports = true\n"
    )
    pythonpath = f"{tmp_path / 'src'}:{Path(bench.__file__).parents[1]}"
    result = _lint(config, tmp_path, Path(pythonpath))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bench_rogue -> bench.runner" in result.stdout and "BROKEN" in result.stdout


@pytest.mark.parametrize("name", bench.sdk.__all__)
def test_everything_the_sdk_exports_exists(name):
    assert getattr(bench.sdk, name) is not None
