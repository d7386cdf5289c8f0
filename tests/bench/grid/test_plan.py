"""Grid plans: the TOML format, the options form, and their expansion into runs."""

from __future__ import annotations

import itertools
import json

import pytest

from bench.errors import BenchError, ConfigError
from bench.grid import DatasetEntry, DetectorEntry, GridPlan, expand_grid, plan_from_options, read_plan, resources_of
from bench.store import Store

PLAN = """
protocols = ["valid-f1", "oracle"]
seeds = "0-2"
frames = ["paper-256", "native"]
set = ["grid=16,32"]
batch_size = 4

[[datasets]]
name = "bmad-brain"
root = "data/brain"

[[detectors]]
name = "intensity-zscore"

[[detectors]]
name = "blocks-once"
protocols = "fixed:0.5"
set = ["map_sigma=1.0,2.0"]
"""


def test_a_toml_plan_reads_every_field_and_roots_relative_to_the_file(tmp_path):
    (tmp_path / "plans").mkdir()
    path = tmp_path / "plans" / "grid.toml"
    path.write_text(PLAN)
    plan = read_plan(path)
    assert plan.protocols == "valid-f1,oracle" and plan.seeds == (0, 1, 2) and plan.batch_size == 4
    assert plan.frames == ("paper-256", "native") and plan.overrides == ("grid=16,32",)
    assert plan.datasets == (DatasetEntry(name="bmad-brain", root=str(tmp_path / "plans" / "data" / "brain")),)
    assert plan.detectors[1] == DetectorEntry(name="blocks-once", protocols="fixed:0.5", set=("map_sigma=1.0,2.0",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds = 'a-b'\n", "'a-b' is not a seed or a range"),
        ("[[datasets]]\nname = 'bmad-brain'\nroot = 'x'\n[[detectors]]\nname = 'z'\nk = 3\n", "detectors.0.k"),
        ("batch_size = 0\n[[datasets]]\nname='d'\nroot='x'\n[[detectors]]\nname='z'\n", "batch_size"),
        ("[[datasets]]\nname = 'bmad-brain'\nroot = 'x'\n", "names no detector"),
        ("[[detectors]]\nname = 'intensity-zscore'\n", "names no dataset"),
        ("seeds = [1, 1]\n", "distinct"),
        ("protocols = \n", "not valid TOML"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_plan(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_plan_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read grid plan .*nope\.toml"):
        read_plan(tmp_path / "nope.toml")


def test_options_build_the_same_plan_as_a_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        'protocols = "valid-f1"\nseeds = "0,2"\nset = ["grid=16"]\n'
        '[[datasets]]\nname = "bmad-liver"\nroot = "liver"\n'
        '[[detectors]]\nname = "intensity-zscore"\n'
    )
    given = plan_from_options(
        ["intensity-zscore"],
        [f"bmad-liver={tmp_path / 'liver'}"],
        protocols="valid-f1",
        overrides=["grid=16"],
        seeds="0,2",
    )
    assert given == read_plan(path)
    with pytest.raises(ConfigError, match="expected NAME=ROOT"):
        plan_from_options(["intensity-zscore"], ["bmad-liver"])


def test_expansion_is_every_combination_once_with_the_runners_identity(grid_data, tmp_path):
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore", set=("grid=16,32",)), DetectorEntry(name="blocks-once")),
        datasets=(
            DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),
            DatasetEntry(name="bmad-liver", root=str(grid_data / "liver")),
        ),
        seeds=(0, 3),
        frames=("paper-256", "native"),
        protocols="valid-f1",
    )
    expansion = expand_grid(plan, Store(str(tmp_path / "g.db")))
    # An independent count: datasets x (2 configs + 1) x frames x seeds.
    expected = list(
        itertools.product(
            ["bmad-brain", "bmad-liver"],
            [("intensity-zscore", ("grid=16",)), ("intensity-zscore", ("grid=32",)), ("blocks-once", ())],
            ["paper-256", "native"],
            [0, 3],
        )
    )
    got = [(r.dataset, (r.detector, r.overrides), r.frame, r.seed) for r in expansion.runs]
    assert sorted(got) == sorted(expected) and len(got) == 24
    assert [r.index for r in expansion.runs] == list(range(24))
    assert len({r.run_key for r in expansion.runs}) == 24 and len({r.label for r in expansion.runs}) == 24
    assert not expansion.skipped and len(expansion.todo) == 24
    first = expansion.runs[0]
    assert first.label == "intensity-zscore[grid=16] bmad-brain paper-256 seed 0"
    assert json.loads(first.overrides[0].split("=", 1)[1]) == 16


def test_a_detector_without_the_datasets_modality_is_skipped_with_the_reason(grid_data, tmp_path):
    plan = GridPlan(
        detectors=(DetectorEntry(name="greedy-zscore"),),
        datasets=(
            DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),
            DatasetEntry(name="bmad-liver", root=str(grid_data / "liver")),
        ),
    )
    expansion = expand_grid(plan, Store(str(tmp_path / "g.db")))
    (liver,) = [r for r in expansion.runs if r.dataset == "bmad-liver"]
    assert expansion.skipped[liver.index].error == "greedy-zscore does not support modality 'liver'"
    assert [r.dataset for r in expansion.todo] == ["bmad-brain"]


@pytest.mark.parametrize(
    ("entry", "shared", "message"),
    [
        (DetectorEntry(name="intensity-zscor"), (), "did you mean 'intensity-zscore'"),
        (DetectorEntry(name="intensity-zscore", set=("gird=3",)), (), "'intensity-zscore' has no config key 'gird'"),
        (DetectorEntry(name="intensity-zscore"), ("nothing=3",), "no requested detector has a config key 'nothing'"),
        (DetectorEntry(name="intensity-zscore", protocols="mask"), (), "outputs no mask"),
        (DetectorEntry(name="intensity-zscore", preset="paper"), (), "has no preset 'paper'"),
    ],
)
def test_a_bad_grid_is_refused_before_anything_is_stored(grid_data, tmp_path, entry, shared, message):
    plan = GridPlan(
        detectors=(entry,), datasets=(DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),), set=shared
    )
    store = Store(str(tmp_path / "g.db"))
    with pytest.raises(BenchError, match=message):
        expand_grid(plan, store)
    assert store.list_runs() == []


def test_a_dataset_folder_that_cannot_be_opened_is_named(tmp_path):
    plan = GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore"),),
        datasets=(DatasetEntry(name="bmad-brain", root=str(tmp_path / "nowhere")),),
    )
    with pytest.raises(BenchError, match="nowhere"):
        expand_grid(plan, Store(str(tmp_path / "g.db")))


def test_resources_follow_the_declared_capabilities_and_the_device():
    from grid_plugins import GreedyZScore

    from bench_intensity_zscore import IntensityZScore

    assert resources_of(GreedyZScore, "auto").gpus == 1.0 and resources_of(GreedyZScore, "cpu").gpus == 0.0
    greedy = resources_of(GreedyZScore, "auto")
    assert greedy.cpus == 2.0 and greedy.memory_bytes == 3 * 1024**3
    plain = resources_of(IntensityZScore, "auto")
    assert (plain.cpus, plain.gpus, plain.memory_bytes) == (1.0, 0.0, 0)
    assert resources_of(IntensityZScore, "cuda").gpus == 1.0  # asked for explicitly


def test_the_reference_detector_declares_what_a_grid_reserves_for_it():
    from bench_mias_sam import MiasSam

    needs = resources_of(MiasSam, "auto")
    assert (needs.cpus, needs.gpus, needs.memory_bytes) == (1.0, 1.0, 4 * 1024**3)
    assert resources_of(MiasSam, "cpu").gpus == 0.0
