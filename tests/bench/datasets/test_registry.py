"""The dataset registry: entry points, guarded loading, lookup by name, data roots."""

from __future__ import annotations

import json

import pytest
from fakedist import write_dist
from typer.testing import CliRunner

from bench.cli.data import app
from bench.datasets.registry import (
    discover_datasets,
    get_dataset_spec,
    list_datasets,
    open_dataset,
)
from bench.datasets.spec import DatasetSpec
from bench.errors import DatasetError, PluginError, UnknownNameError

FAKE_MODULE = """
from bench.datasets import DatasetSpec, InMemoryDataset, SplitCounts

TOY = DatasetSpec(
    "toy-set", "toy", "an outside dataset", lambda root: InMemoryDataset("toy-set", "toy", []),
    {"test": SplitCounts(normal=1, anomalous=2)},
)
MISNAMED = DatasetSpec("another-name", "toy", "", lambda root: None)
NOT_A_SPEC = object()
"""


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_datasets.py").write_text(FAKE_MODULE)
    datasets = {
        "toy-set": "fake_datasets:TOY",
        "misnamed": "fake_datasets:MISNAMED",
        "not-a-spec": "fake_datasets:NOT_A_SPEC",
        "broken-import": "fake_datasets_missing:ANYTHING",
        "bmad-brain": "fake_datasets:TOY",  # a second package claiming a first-party name
    }
    write_dist(site, "fake-datasets", {}, datasets)
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.mark.parametrize("name", ["bmad-brain", "bmad-liver", "bmad-resc"])
def test_every_registered_dataset_loads_and_describes_itself(name):
    spec = get_dataset_spec(name)
    assert isinstance(spec, DatasetSpec) and spec.name == name
    described = spec.as_dict()
    assert described["modality"] in ("brain", "liver", "retina")
    assert set(described["published"]) == {"train", "valid", "test"}
    record = {r.name: r for r in discover_datasets()}[name]
    assert record.ok and record.distribution == "mias-bench" and record.target.startswith("bench.datasets.bmad:")


def test_outside_packages_add_datasets_and_broken_ones_are_listed_with_their_error(fake_site):
    records: dict[str, list] = {}
    for r in discover_datasets():
        records.setdefault(r.name, []).append(r)
    assert records["toy-set"][0].ok and records["toy-set"][0].distribution == "fake-datasets"
    assert "declares name 'another-name'" in records["misnamed"][0].error
    assert "expected a bench.datasets.DatasetSpec" in records["not-a-spec"][0].error
    assert "fake_datasets_missing" in records["broken-import"][0].error
    first, second = records["bmad-brain"]
    assert first.ok and first.distribution == "mias-bench" and "duplicate name" in second.error
    assert {"toy-set", "bmad-brain"} <= set(list_datasets()) and "misnamed" not in list_datasets()
    assert list_datasets("bmad-*") == ["bmad-brain", "bmad-liver", "bmad-resc"]
    with pytest.raises(PluginError, match="installed but broken"):
        get_dataset_spec("not-a-spec")


def test_data_list_shows_every_dataset_with_its_status(fake_site):
    result = CliRunner().invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout) if r["status"] == "ok"}
    assert rows["bmad-liver"]["published"]["valid"] == {"normal": 93, "anomalous": 73, "total": 166}
    assert rows["bmad-brain"]["distribution"] == "mias-bench" and rows["toy-set"]["modality"] == "toy"
    table = CliRunner().invoke(app, ["list"])
    assert table.exit_code == 0 and "bmad-resc" in table.stdout and "toy-set" in table.stdout
    assert "expected a bench.datasets.DatasetSpec" in table.stdout


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean 'bmad-brain'"):
        get_dataset_spec("bmad-brian")


def test_open_dataset_needs_a_root_and_falls_back_to_the_environment(brats_tree, monkeypatch):
    with pytest.raises(DatasetError, match="pass --data-root DIR or set MIAS_BENCH_DATA"):
        open_dataset("bmad-brain")
    monkeypatch.setenv("MIAS_BENCH_DATA", str(brats_tree.parent))
    assert open_dataset("bmad-brain").root == brats_tree
    assert open_dataset("bmad-brain", brats_tree).location() == str(brats_tree)
