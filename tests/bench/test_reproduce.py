"""Reproduction specs: the shipped table, a small spec run end to end on synthetic data, and bad specs refused."""

from __future__ import annotations

import json

import pytest
from fakedist import GOOD, write_dist

from bench.cli.app import run_cli
from bench.datasets.synth.writer import generate_synthetic
from bench.errors import ConfigError
from bench.reproduce import load_spec, reproduce, shipped_specs, write_reproduction
from bench.store import Store

MINI = """
name = "mini"
title = "A two-method table"
source = "a test of the spec format"
reference = "z-score"
seeds = [0, 1]
[metrics]
dice = "DICE"
pixel_auroc_anomalous = "P-AUROC"
[datasets]
brain = "bmad-brain"
[[methods]]
label = "z-score"
detector = "intensity-zscore"
protocol = "valid-f1"
published = { brain = { dice = 20.0, pixel_auroc_anomalous = 90.0 } }
[[methods]]
label = "untrained"
detector = "untrained-zscore"
protocol = "valid-f1"
set = ["grid=16"]
note = "meant for weights it never loads"
published = { brain = { dice = 10.0 } }
"""


def test_the_papers_table_ships_as_a_spec_with_its_published_figures():
    assert "mias-sam-2025" in shipped_specs()
    spec = load_spec("mias-sam-2025")
    assert [m.label for m in spec.methods] == [
        "RD4AD",
        "PatchCore",
        "CFA",
        "CFlow-AD",
        "SimpleNet",
        "ReContrast",
        "MIAS-SAM",
    ]
    assert spec.reference == "MIAS-SAM" and spec.metrics == {"dice": "DICE", "pixel_auroc_anomalous": "P-AUROC"}
    mias = spec.method("MIAS-SAM")
    assert (mias.detector, mias.preset, mias.protocol) == ("mias-sam", "paper", "mask")
    assert mias.published["liver"] == {"dice": 42.85, "pixel_auroc_anomalous": 97.56}
    assert spec.method("PatchCore").published["retina"]["dice"] == 57.04
    assert "SuperSimpleNet" in spec.method("SimpleNet").note


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", GOOD)
    monkeypatch.syspath_prepend(str(site))
    generate_synthetic(tmp_path / "data", ["brain"], size=64, n_train=6, n_valid=4, n_test=8)
    (tmp_path / "mini.toml").write_text(MINI)
    return tmp_path


def test_a_spec_runs_what_is_missing_and_sets_measured_beside_published(synthetic):
    store = Store(str(synthetic / "r.db"))
    spec = load_spec(synthetic / "mini.toml")
    first = reproduce(spec, store, synthetic / "data")
    assert first.smoke and not first.failures
    runs = store.list_runs()
    assert len(runs) == 4  # two methods x two seeds
    by_label = {m.method.label: m for m in first.measured}
    assert by_label["untrained"].marks == ["random-init"] and by_label["z-score"].marks == []
    z = by_label["z-score"].as_dict(spec.metrics)
    rows = [r for r in by_label["z-score"].rows]
    measured = 100 * sum(r.metrics["dice"] for r in rows) / 2
    assert z["cells"]["dice"]["measured"] == pytest.approx(measured)
    assert z["cells"]["dice"]["difference"] == pytest.approx(measured - 20.0)
    assert by_label["untrained"].comparison["against"] == "z-score"
    folder = write_reproduction(first, synthetic / "out")
    document = json.loads((folder / "reproduction.json").read_text())
    assert document["smoke"] and document["spec"] == "mini" and len(document["methods"]) == 2
    text = (folder / "reproduction.md").read_text()
    assert "SMOKE RUN" in text and "| untrained * | valid-f1 | random-init | 10.00 |" in text
    again = reproduce(spec, store, synthetic / "data")
    assert len(store.list_runs()) == 4  # nothing new ran
    assert again.as_dict() == first.as_dict()


def test_reproduce_through_the_cli_writes_its_folder_and_a_rerun_runs_nothing(synthetic, capsys):
    args = ["reproduce", str(synthetic / "mini.toml"), "--data-root", str(synthetic / "data")]
    args += ["--db", str(synthetic / "c.db"), "--out", str(synthetic / "boards")]
    assert run_cli(args) == 0
    out = capsys.readouterr().out
    assert "SMOKE RUN" in out and "A two-method table · brain" in out
    assert (synthetic / "boards" / "mini" / "SHA256SUMS").is_file()
    assert run_cli(args) == 0
    assert "already stored" not in capsys.readouterr().out
    assert len(Store(str(synthetic / "c.db")).list_runs()) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('dice = "DICE"', 'dize = "DICE"'), "unknown metric 'dize'.*did you mean 'dice'"),
        (lambda t: t.replace('reference = "z-score"', 'reference = "MIAS"'), "reference 'MIAS' is not a method"),
        (lambda t: t.replace("brain = { dice = 10.0 }", "liver = { dice = 10.0 }"), "'liver', which \\[datasets\\]"),
        (lambda t: t.replace("seeds = [0, 1]", "seeds = [-1]"), "'seeds' must be"),
        (lambda t: t.replace('label = "untrained"', 'label = "z-score"'), "labels must be unique"),
        (lambda t: t + "\n[[", "not valid TOML"),
        (lambda t: t.replace('protocol = "valid-f1"', 'protocol = "valid-f1,oracle"', 1), "one threshold protocol"),
    ],
)
def test_a_malformed_spec_is_refused_naming_what_is_wrong(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(change(MINI))
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_an_unknown_spec_name_suggests_the_shipped_ones():
    with pytest.raises(ConfigError, match="unknown reproduction spec 'mias-sam-2024'.*did you mean 'mias-sam-2025'"):
        load_spec("mias-sam-2024")
