"""The one plugin registry: found once per process, guarded per entry point, allow/block lists, capability queries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakedist import EXITING, GOOD, HANGING, SUPPORT, write_dist
from planted import planted_cases

import bench.registry
from bench.cli.app import run_cli
from bench.datasets.registry import DATASETS, discover_datasets, open_dataset
from bench.errors import ConfigError, PluginError
from bench.plugins import DETECTORS, discover_detectors, get_detector_record, select_detectors

SCRIPT = Path(sys.executable).parent / "mias-bench"


@pytest.fixture
def count_scans(monkeypatch):
    """Count calls of importlib.metadata.entry_points made by the registry, per group."""
    calls: list[str] = []
    real = bench.registry.entry_points

    def counting(**kwargs):
        calls.append(kwargs["group"])
        return real(**kwargs)

    monkeypatch.setattr(bench.registry, "entry_points", counting)
    return calls


def _brain_tree(root: Path) -> Path:
    import numpy as np
    from PIL import Image

    for case in planted_cases(n_train=4, n_valid=4, n_test=4, size=32):
        name = Path(case.id).name
        folder = "Ungood" if case.label else "good"
        path = root / "train/good" / name if case.split == "train" else root / case.split / folder / "img" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(case.image * 255).astype(np.uint8)).save(path)
        if case.label:
            (root / case.split / folder / "label").mkdir(parents=True, exist_ok=True)
            Image.fromarray(case.mask.astype(np.uint8) * 255).save(root / case.split / folder / "label" / name)
    return root


def test_a_run_scans_each_group_once(count_scans, tmp_path, capsys):
    root = _brain_tree(tmp_path / "BraTS2021_slice")
    before = (DETECTORS.discoveries, DATASETS.discoveries)  # counted since the process started
    args = ["run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(root), "-t", "valid-f1"]
    assert run_cli(args) == 0, capsys.readouterr().err
    assert sorted(count_scans) == ["mias_bench.datasets", "mias_bench.detectors"]
    assert (DETECTORS.discoveries - before[0], DATASETS.discoveries - before[1]) == (1, 1)
    get_detector_record("intensity-zscore")
    open_dataset("bmad-brain", root)
    assert len(count_scans) == 2  # later lookups in the same process reuse what was loaded


def test_reset_forgets_what_was_loaded(count_scans):
    discover_detectors()
    discover_detectors()
    bench.registry.reset()
    discover_detectors()
    assert count_scans == ["mias_bench.detectors", "mias_bench.detectors"]


def test_changing_the_allow_list_rescans(count_scans, monkeypatch):
    assert "patchcore-r18" in {r.name for r in discover_detectors()}
    monkeypatch.setenv("MIAS_BENCH_PLUGINS", "intensity-zscore")
    assert {r.name for r in discover_detectors()} == {"intensity-zscore"}
    assert len(count_scans) == 2


def test_the_block_list_never_imports_a_plugin_and_lists_it_as_blocked(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", {**GOOD, "broken-import": "broken_import:Anything"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("MIAS_BENCH_BLOCK", "broken-import,exploding")
    sys.modules.pop("broken_import", None)
    records = {r.name: r for r in discover_detectors()}
    assert records["broken-import"].status == "blocked" and records["exploding"].status == "blocked"
    assert records["nan-maps"].ok and "broken_import" not in sys.modules
    with pytest.raises(PluginError, match="'exploding' is blocked by MIAS_BENCH_BLOCK"):
        get_detector_record("exploding")


def test_the_block_list_takes_distribution_names_and_covers_datasets(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", GOOD, datasets={"odd-set": "broken_import:SPEC"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("MIAS_BENCH_BLOCK", "fake-plugins")
    assert all(r.status == "blocked" for r in discover_detectors() if r.distribution == "fake-plugins")
    datasets = {r.name: r for r in discover_datasets()}
    assert datasets["odd-set"].status == "blocked" and datasets["bmad-brain"].ok


def test_plugins_raising_system_exit_or_keyboard_interrupt_at_import_are_recorded_as_broken(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist(site, "exiting-plugins", EXITING)
    monkeypatch.syspath_prepend(str(site))
    records = {r.name: r for r in discover_detectors()}
    assert "SystemExit: 3" in records["exits-on-import"].error
    assert "KeyboardInterrupt: raised by the plugin" in records["interrupts-on-import"].error
    assert records["intensity-zscore"].ok


def test_a_plugin_whose_import_hangs_is_given_up_and_named(tmp_path):
    site = tmp_path / "site"
    write_dist(site, "hanging-plugins", HANGING)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(SUPPORT)]),
        "MIAS_BENCH_PLUGIN_TIMEOUT": "1",
    }
    # The subprocess timeout only stops a hung suite; the assertions are on what the CLI said.
    listing = subprocess.run(
        [str(SCRIPT), "detectors", "list", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert listing.returncode == 0, listing.stderr
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    error = rows["hanging-import"]["error"]
    assert "import of 'hanging_import:Anything' did not finish within 1 s" in error
    assert "MIAS_BENCH_PLUGIN_TIMEOUT" in error and "MIAS_BENCH_BLOCK=hanging-import" in error
    assert rows["intensity-zscore"]["status"] == "ok"
    run = subprocess.run(
        [str(SCRIPT), "run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 1 and "dataset root" in run.stderr and "Traceback" not in run.stderr


def test_a_bad_timeout_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MIAS_BENCH_PLUGIN_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="MIAS_BENCH_PLUGIN_TIMEOUT='soon': expected a number of seconds"):
        discover_detectors()


def _capabilities(name: str) -> dict:
    return get_detector_record(name).obj.capabilities.as_dict()


def test_where_selects_by_capability_and_ands_conditions():
    usable = [r.name for r in discover_detectors() if r.ok]
    # the independent computation: each detector's own capabilities, read directly
    maps_only = {n for n in usable if not _capabilities(n)["outputs_mask"]}
    assert {r.name for r in select_detectors(["outputs_mask=false"])} == maps_only
    assert "intensity-zscore" in maps_only and "mias-sam" not in maps_only
    both = {n for n in maps_only if not _capabilities(n)["needs_weights"]}
    assert {r.name for r in select_detectors(["outputs_mask=false", "needs_weights=no"])} == both
    brain = {n for n in usable if {"*", "brain"} & set(_capabilities(n)["modalities"])}
    assert {r.name for r in select_detectors(["modalities=brain"])} == brain


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("output_mask=false", "unknown detector capability 'output_mask'; did you mean 'outputs_mask'"),
        ("outputs_mask=maybe", "capability 'outputs_mask' is true or false, got 'maybe'"),
        ("outputs_mask", "malformed condition 'outputs_mask': expected KEY=VALUE"),
    ],
)
def test_bad_conditions_are_clear_errors(condition, message):
    with pytest.raises(ConfigError, match=message):
        select_detectors([condition])


def test_detectors_list_where_on_the_command_line(capsys):
    assert run_cli(["detectors", "list", "--json", "--where", "outputs_mask=false", "--where", "needs_fit=true"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert "intensity-zscore" in names and "mias-sam" not in names
    assert run_cli(["detectors", "list", "--where", "outputs_mask=false"]) == 0
    assert "intensity-zscore" in capsys.readouterr().out
    assert run_cli(["detectors", "list", "--where", "output_mask=false"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'outputs_mask'" in err
