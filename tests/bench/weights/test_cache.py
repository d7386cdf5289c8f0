"""The cache: ``add``, ``verify``, the missing-file error, remembered digests, and loading."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from bench.errors import UnknownNameError, WeightsError
from bench.paths import weights_dir
from bench.weights import (
    add_checkpoint,
    get_checkpoint,
    list_checkpoints,
    load_checkpoint,
    require_checkpoint,
    verify_checkpoints,
)
from bench.weights.cache import file_digest


def _file(tmp_path, name="mine.pth", content=b"weights"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_an_added_file_is_listed_installed_and_verified(tmp_path):
    ck = add_checkpoint(_file(tmp_path), "mine", variant="vit_b")
    assert (ck.name, ck.file, ck.origin, ck.variant) == ("mine", "mine.pth", "added", "vit_b")
    assert ck.sha256 == hashlib.sha256(b"weights").hexdigest()
    assert "mine" in [c.name for c in list_checkpoints()]
    assert (weights_dir() / "mine.pth").read_bytes() == b"weights"
    results = {r.name: r for r in verify_checkpoints()}
    assert results["mine"].status == "ok" and results["sam_vit_b"].status == "missing"


def test_a_changed_file_is_reported_corrupt(tmp_path):
    add_checkpoint(_file(tmp_path), "mine")
    (weights_dir() / "mine.pth").write_bytes(b"weightz")  # same size, other bytes
    [result] = verify_checkpoints(["mine"])
    assert result.status == "corrupt" and "expected SHA-256" in result.detail


def test_a_declared_name_must_match_the_published_file(tmp_path):
    with pytest.raises(WeightsError, match="expected 375,042,383 bytes"):
        add_checkpoint(_file(tmp_path), "sam_vit_b")
    assert not (weights_dir() / "sam_vit_b_01ec64.pth").exists()
    assert [p for p in (weights_dir() / ".downloads").iterdir()] == []


def test_add_refuses_a_missing_source(tmp_path):
    with pytest.raises(WeightsError, match="expected a checkpoint file at .*nothing"):
        add_checkpoint(tmp_path / "absent.pth", "x")


def test_a_missing_checkpoint_names_file_address_and_commands():
    with pytest.raises(WeightsError) as info:
        require_checkpoint("sam_vit_h")
    message = str(info.value)
    for part in (
        "sam_vit_h_4b8939.pth",
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
        "`mias-bench weights fetch sam_vit_h`",
        "`mias-bench weights add PATH --name sam_vit_h`",
        str(weights_dir()),
    ):
        assert part in message


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownNameError, match="did you mean 'medsam_vit_b'"):
        get_checkpoint("medsam_vitb")


def test_digests_are_remembered_until_the_file_changes(tmp_path, monkeypatch):
    add_checkpoint(_file(tmp_path), "mine")
    path = weights_dir() / "mine.pth"
    from bench.weights import cache

    calls = []
    real = cache.sha256_file
    monkeypatch.setattr(cache, "sha256_file", lambda p, *a: calls.append(p) or real(p, *a))
    assert file_digest(path) == hashlib.sha256(b"weights").hexdigest() and calls == []
    path.write_bytes(b"other!!")
    os.utime(path, ns=(1, 1))
    assert file_digest(path) == hashlib.sha256(b"other!!").hexdigest() and calls == [path]


def test_loading_uses_weights_only(tmp_path):
    state = {"layer.weight": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, tmp_path / "plain.pth")
    add_checkpoint(tmp_path / "plain.pth", "plain")
    loaded = load_checkpoint("plain")
    assert torch.equal(loaded.state_dict["layer.weight"], state["layer.weight"])
    assert loaded.sha256 == hashlib.sha256((tmp_path / "plain.pth").read_bytes()).hexdigest()

    torch.save({"layer.weight": torch.zeros(1), "extra": _Payload()}, tmp_path / "code.pth")
    add_checkpoint(tmp_path / "code.pth", "code")
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_checkpoint("code")


def test_loading_refuses_a_file_changed_since_it_was_added(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pth")
    add_checkpoint(tmp_path / "w.pth", "w")
    torch.save({"w": torch.ones(2)}, weights_dir() / "w.pth")
    with pytest.raises(WeightsError, match="expected SHA-256"):
        load_checkpoint("w")


class _Payload:
    """Any class: unpickling it would import and run code, which weights_only refuses."""
