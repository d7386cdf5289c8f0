"""The embedded synthetic benchmark: BMAD layouts, same seed same bytes, realistic difficulty."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli.app import run_cli
from bench.cli.data import app
from bench.datasets.bmad import BMAD_BRAIN, BMAD_LIVER, BMAD_RESC
from bench.datasets.check import check_dataset
from bench.datasets.synth import generate_synthetic
from bench.errors import ConfigError, DatasetError

SMALL = {"size": 64, "n_train": 3, "n_valid": 2, "n_test": 4}
SPECS = {"brain": BMAD_BRAIN, "liver": BMAD_LIVER, "retina": BMAD_RESC}


def _file_digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_synthetic(base / name, ["all"], seed=seed, **SMALL)
    return base


def test_same_seed_writes_identical_bytes(trees):
    first, second = _file_digests(trees / "a"), _file_digests(trees / "b")
    assert first == second
    assert sum(k.endswith(".png") for k in first) == 3 * (3 + 2 + 4 + 1 + 2)  # images, plus masks of anomalous
    assert _file_digests(trees / "c") != first


@pytest.mark.parametrize("modality", ["brain", "liver", "retina"])
def test_manifest_hash_follows_the_seed(trees, modality):
    spec = SPECS[modality]
    a, b, c = (spec.open(trees / n / modality).manifest_hash() for n in "abc")
    assert a == b != c


@pytest.mark.parametrize("modality", ["brain", "liver", "retina"])
def test_the_bmad_loaders_read_the_synthetic_trees_unchanged(trees, modality):
    dataset = SPECS[modality].open(trees / "a")  # the parent: the loader finds brain/, liver/, retina/
    assert dataset.collection == "synthetic" and dataset.root.name == modality
    shape = (64, 128) if modality == "retina" else (64, 64)
    counts = {s: [r.label for r in dataset.cases(s)] for s in ("train", "valid", "test")}
    assert {s: (v.count(0), v.count(1)) for s, v in counts.items()} == {
        "train": (3, 0),
        "valid": (1, 1),
        "test": (2, 2),
    }
    for split in ("train", "valid", "test"):
        for ref in dataset.cases(split):
            case = ref.load()
            assert case.shape == shape and case.source_bits == 8
            assert case.image.min() >= 0.0 and case.image.max() <= 1.0 and case.image.std() > 0.02
            if case.label:
                assert case.mask.any() and case.mask.mean() < 0.5
                assert (case.image[case.mask] > 0).mean() > 0.95  # lesions lie in tissue, not in the background
            else:
                assert case.mask is None
    info = dataset.synthetic_info()
    assert info["modality"] == modality and info["seed"] == 0 and info["size"] == 64


@pytest.mark.parametrize("modality", ["brain", "liver", "retina"])
def test_check_reports_a_clean_synthetic_tree(trees, modality):
    report = check_dataset(SPECS[modality], trees / "a" / modality)
    assert report.problems == [] and report.ok
    assert "marker" in report.expected_source


def test_synth_then_check_through_the_cli(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_cli(["data", "synth", "--out", str(out), "--modality", "brain", "--size", "48", "--n-train", "2",
                    "--n-valid", "2", "--n-test", "2"]) == 0  # fmt: skip
    assert "--dataset bmad-brain" in capsys.readouterr().out
    assert run_cli(["data", "check", str(out / "brain"), "--dataset", "bmad-brain"]) == 0
    assert "bmad-brain: clean" in capsys.readouterr().out


def test_synth_command_on_the_sub_app(tmp_path):
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--modality", "retina", "--size", "32",
                                      "--n-train", "1", "--n-valid", "0", "--n-test", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    marker = json.loads((tmp_path / "retina" / "mias-bench-synthetic.json").read_text())
    assert marker["layout"] == "RESC" and marker["shape"] == [32, 64]
    assert sorted(p.relative_to(tmp_path / "retina").as_posix() for p in (tmp_path / "retina").rglob("*.png")) == [
        "Test/test/Ungood/00001.png",
        "Test/test/good/00000.png",
        "Test/test_label/Ungood/00001.png",
        "Train/train/good/00000.png",
    ]


def test_regenerating_replaces_a_synthetic_tree_and_refuses_other_folders(tmp_path):
    generate_synthetic(tmp_path, ["liver"], size=32, n_train=1, n_valid=0, n_test=6)
    generate_synthetic(tmp_path, ["liver"], size=32, n_train=1, n_valid=0, n_test=2)
    assert len(BMAD_LIVER.open(tmp_path).cases("test")) == 2  # no stale files from the first run
    (tmp_path / "other" / "brain").mkdir(parents=True)
    (tmp_path / "other" / "brain" / "precious.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="refusing to write into .*brain"):
        generate_synthetic(tmp_path / "other", ["brain"], size=32)
    assert (tmp_path / "other" / "brain" / "precious.txt").exists()


def test_bad_synth_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown modality 'kidney'"):
        generate_synthetic(tmp_path, ["kidney"])
    with pytest.raises(ConfigError, match="too small"):
        generate_synthetic(tmp_path, ["brain"], size=8)


def test_a_tree_opened_as_the_wrong_modality_is_refused(trees):
    with pytest.raises(DatasetError, match="holds the synthetic retina set, not brain"):
        BMAD_BRAIN.open(trees / "a" / "retina")


def _oracle_dice(maps, masks) -> float:
    """Best mean per-image DICE over one global threshold (brute force over quantiles)."""
    best = 0.0
    for t in np.quantile(np.concatenate([m.ravel() for m in maps]), np.linspace(0.5, 0.999, 60)):
        scores = [2 * ((m > t) & g).sum() / ((m > t).sum() + g.sum()) for m, g in zip(maps, masks, strict=True)]
        best = max(best, float(np.mean(scores)))
    return best


def test_brain_lesions_are_not_separable_by_intensity_alone_but_are_detectable(tmp_path):
    from bench_intensity_zscore import IntensityZScore

    generate_synthetic(tmp_path, ["brain"], size=128, n_train=24, n_valid=0, n_test=24)
    dataset = BMAD_BRAIN.open(tmp_path)
    train = [r.load() for r in dataset.cases("train")]
    test = [r.load() for r in dataset.cases("test") if r.label == 1]
    masks = [c.mask for c in test]
    # A global intensity threshold (either direction) segments lesions poorly...
    bright = _oracle_dice([c.image for c in test], masks)
    dark = _oracle_dice([np.where(c.image > 0, 1 - c.image, 0) for c in test], masks)
    assert max(bright, dark) < 0.35
    # ...while a per-pixel model of normal anatomy finds them, far from perfectly.
    detector = IntensityZScore()
    detector.fit(train)
    zscore = _oracle_dice([p.anomaly_map for p in detector.predict(test)], masks)
    assert 0.1 < zscore < 0.7
    assert zscore > max(bright, dark)
