"""BMAD loaders: every layout variant gives the same cases; decoding is lazy and format-blind."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.datasets import FolderDataset
from bench.datasets.bmad import BMAD_BRAIN, BMAD_LIVER, BMAD_RESC
from bench.datasets.folder import FileCaseRef
from bench.errors import DatasetError


def _loaded(dataset) -> dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray | None]]:
    out = {}
    for split in ("train", "valid", "test"):
        for ref in dataset.cases(split):
            case = ref.load()
            stem = ref.id.rsplit("/", 1)[-1].removesuffix(".png")
            out[(split, case.label, stem)] = (case.image, case.mask)
    return out


def _expected(toy):
    out = {}
    for c in toy:
        image = c.image.astype(np.float32) / 255
        out[(c.split, c.label, c.stem)] = (image, None if c.mask is None else c.mask > 0)
    return out


def test_every_layout_variant_gives_the_same_cases(tmp_path, kit, toy, layout):
    root = kit.write_tree(tmp_path / "data", layout, toy)
    dataset = BMAD_BRAIN.open(root)
    got, want = _loaded(dataset), _expected(toy)
    assert sorted(got) == sorted(want)
    for key, (image, mask) in want.items():
        np.testing.assert_array_equal(got[key][0], image)
        if mask is None:
            assert got[key][1] is None  # normal cases have no mask, even when a file exists
        else:
            np.testing.assert_array_equal(got[key][1], mask)


def test_every_layout_variant_lists_the_same_files_in_its_manifest(tmp_path, kit, toy, layout):
    import hashlib

    def sha(array):
        return hashlib.sha256(kit.png_bytes(array)).hexdigest()

    want = sorted(
        [(c.split, c.label, sha(c.image)) for c in toy] + [(c.split, 1, sha(c.mask)) for c in toy if c.mask is not None]
    )
    entries = BMAD_BRAIN.open(kit.write_tree(tmp_path / "d", layout, toy)).manifest().entries
    blank = sha(np.zeros_like(toy[0].image))  # the anomalib copy also ships all-zero masks of normal cases
    got = sorted((e.split, e.label, e.sha256) for e in entries if not (e.label == 0 and e.sha256 == blank))
    assert got == want


def test_case_ids_labels_and_splits(brats_tree, toy):
    dataset = BMAD_BRAIN.open(brats_tree)
    test = dataset.cases("test")
    assert [r.id for r in test] == sorted(r.id for r in test)
    assert {r.split for r in test} == {"test"}
    anomalous = [r for r in test if r.label == 1]
    assert anomalous[0].id == "test/Ungood/img/te001.png"
    assert isinstance(anomalous[0], FileCaseRef) and anomalous[0].mask == "test/Ungood/label/te001.png"
    assert [r.label for r in dataset.cases("train")] == [0] * 4
    assert len(dataset.cases("valid")) == 4
    assert dataset.collection == "bmad" and dataset.modality == "brain" and dataset.name == "bmad-brain"
    case = anomalous[0].load()
    assert case.image.dtype == np.float32 and case.mask.dtype == bool and case.source_bits == 8
    assert case.modality == "brain" and case.split == "test" and case.label == 1


def test_val_and_validation_folders_are_the_valid_split(tmp_path, kit, toy):
    dataset = BMAD_LIVER.open(kit.write_tree(tmp_path / "hist_DIY", "brats-variant", toy))
    assert len(dataset.cases("valid")) == 4
    assert all(r.id.startswith("val/") and r.split == "valid" for r in dataset.cases("valid"))
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        dataset.cases("val")


def test_a_parent_root_finds_the_dataset_folder_by_any_of_its_names(tmp_path, kit, toy):
    kit.write_tree(tmp_path / "BMAD" / "BraTS2021_slice", "brats", toy)
    kit.write_tree(tmp_path / "BMAD" / "Liver", "hist_diy", toy)
    kit.write_tree(tmp_path / "BMAD" / "resc", "resc", toy)
    assert BMAD_BRAIN.open(tmp_path / "BMAD").root.name == "BraTS2021_slice"
    assert BMAD_LIVER.open(tmp_path / "BMAD").root.name == "Liver"
    assert BMAD_RESC.open(tmp_path / "BMAD").root.name == "resc"


def test_a_root_without_the_dataset_names_what_it_expected(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(
        DatasetError, match=r"expected train/, valid/ \(or val/\) and test/.*BraTS2021_slice/.*found other/"
    ):
        BMAD_BRAIN.open(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        BMAD_BRAIN.open(tmp_path / "missing")


def _write(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


@pytest.mark.parametrize("kind", ["gray8", "gray16", "rgb", "rgba-matplotlib", "palette"])
def test_images_become_float_grey_in_unit_range_whatever_the_png(tmp_path, kind):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (12, 20), dtype=np.uint8)
    expected, bits = grey.astype(np.float32) / 255, 8
    path = tmp_path / "train" / "good" / "a.png"
    if kind == "gray8":
        _write(path, grey)
    elif kind == "gray16":
        deep = (grey.astype(np.uint16) * 257 + rng.integers(0, 200, grey.shape)).astype(np.uint16)
        _write(path, deep)
        expected, bits = deep.astype(np.float32) / 65535, 16
    elif kind == "rgb":
        _write(path, np.stack([grey] * 3, axis=-1))
    elif kind == "rgba-matplotlib":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path.parent.mkdir(parents=True)
        plt.imsave(path, grey, cmap="gray", vmin=0, vmax=255)
        rgba = np.asarray(Image.open(path))
        assert rgba.shape[2] == 4 and (rgba[..., 0] == rgba[..., 2]).all()
        expected = rgba[..., 0].astype(np.float32) / 255  # matplotlib's own colormap rounding
    elif kind == "palette":
        path.parent.mkdir(parents=True)
        Image.fromarray(grey).convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
        expected = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
    (tmp_path / "test" / "good").mkdir(parents=True)
    case = FolderDataset("x", "brain", tmp_path).cases("train")[0].load()
    assert case.image.dtype == np.float32 and case.image.shape == (12, 20)
    assert case.source_bits == bits
    np.testing.assert_allclose(case.image, expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["levels", "rgb", "rgba-black-opaque", "16bit"])
def test_masks_are_binarised_above_zero(tmp_path, kind):
    truth = np.zeros((10, 10), dtype=bool)
    truth[2:5, 3:8] = True
    levels = np.where(truth, np.array([1, 2, 4] * 34)[:100].reshape(10, 10), 0).astype(np.uint8)
    mask_path = tmp_path / "test" / "Ungood" / "label" / "m.png"
    if kind == "levels":
        _write(mask_path, levels)  # BraTS grey levels 1, 2, 4: a == 255 rule would lose them all
    elif kind == "rgb":
        _write(mask_path, np.stack([levels] * 3, -1))
    elif kind == "rgba-black-opaque":
        _write(mask_path, np.stack([levels, levels, levels, np.full_like(levels, 255)], -1))
    elif kind == "16bit":
        _write(mask_path, levels.astype(np.uint16) * 1000)
    _write(tmp_path / "test" / "Ungood" / "img" / "m.png", np.zeros((10, 10), np.uint8))
    case = FolderDataset("x", "brain", tmp_path).cases("test")[0].load()
    np.testing.assert_array_equal(case.mask, truth)


def test_listing_decodes_nothing(tmp_path, kit, monkeypatch):
    import bench.datasets.images as images

    cases = kit.toy_cases(n_train=300, n_valid=20, n_test=80, size=4)
    dataset = BMAD_BRAIN.open(kit.write_tree(tmp_path / "d", "brats", cases))

    def forbidden(*args, **kwargs):
        raise AssertionError("an image was decoded while listing")

    monkeypatch.setattr(images.Image, "open", forbidden)
    assert sum(len(dataset.cases(s)) for s in ("train", "valid", "test")) == 400
    assert len(dataset.manifest_hash()) == 64
    with pytest.raises(AssertionError, match="decoded"):
        dataset.cases("test")[0].load()


def test_a_mask_of_another_size_is_an_error_naming_both_files(tmp_path):
    _write(tmp_path / "test" / "Ungood" / "img" / "a.png", np.zeros((8, 8), np.uint8))
    _write(tmp_path / "test" / "Ungood" / "label" / "a.png", np.full((8, 9), 255, np.uint8))
    (tmp_path / "train" / "good").mkdir(parents=True)
    ref = FolderDataset("x", "brain", tmp_path).cases("test")[0]
    with pytest.raises(DatasetError, match=r"mask `test/Ungood/label/a.png` is 9x8 .* `test/Ungood/img/a.png`, 8x8"):
        ref.load()
