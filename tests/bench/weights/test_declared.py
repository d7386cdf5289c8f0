"""Checkpoints declared by plugins: listed with who declares them, digests recorded when unpublished,
names that would overwrite another file refused, registrations written atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading

import pytest
from fakedist import BROKEN, write_dist

from bench.cli.app import run_cli
from bench.errors import WeightsError
from bench.paths import weights_dir
from bench.plugins import discover_detectors
from bench.weights import add_checkpoint, fetch_checkpoint, get_checkpoint, load_checkpoint
from bench.weights import registry as weights_registry
from bench.weights.registry import read_registry, registry_path


def test_weights_list_shows_every_installed_detectors_declarations(capsys):
    expected: dict[str, set[str]] = {}
    for record in discover_detectors():  # the independent reading: each class attribute directly
        if record.ok:
            for ck in record.obj.checkpoints:
                expected.setdefault(ck.name, set()).add(record.name)
    assert run_cli(["weights", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {n: set(rows[n]["declared_by"]) for n in expected} == expected
    assert rows["resnet18.a1_in1k"]["declared_by"] == ["patchcore-r18"]
    assert rows["wide_resnet50_2.racm_in1k"]["declared_by"] == ["patchcore-wrn50"]
    assert rows["resnet18.a1_in1k"]["digest_source"] == "unknown" and rows["sam_vit_b"]["digest_source"] == "declared"


def test_a_malformed_declaration_makes_the_plugin_broken_not_the_listing(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    write_dist(site, "broken-plugins", BROKEN)
    monkeypatch.syspath_prepend(str(site))
    records = {r.name: r for r in discover_detectors()}
    assert "file 'registry.json' must be a plain file name the cache does not use" in records["bad-checkpoints"].error
    assert run_cli(["weights", "list", "--json"]) == 0
    assert "sneaky" not in {r["name"] for r in json.loads(capsys.readouterr().out)}


def test_an_unpublished_digest_is_recorded_on_first_fetch_and_checked_on_every_load(
    server, served_checkpoint, declare, capsys
):
    import torch

    state, _ = server
    buffer = __import__("io").BytesIO()
    torch.save({"w": torch.arange(4.0)}, buffer)
    state.payload = buffer.getvalue()
    unpublished = dataclasses.replace(served_checkpoint, sha256=None, size=None, file="served.pth")
    declare(unpublished)
    assert get_checkpoint("served").digest_source == "unknown"
    path = fetch_checkpoint("served")
    digest = hashlib.sha256(state.payload).hexdigest()
    ck = get_checkpoint("served")
    assert (ck.sha256, ck.digest_source) == (digest, "recorded")
    assert run_cli(["weights", "list", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "served")
    assert row["digest_source"] == "recorded" and row["sha256"] == digest and row["declared_by"] == ["nan-maps"]
    assert load_checkpoint("served").sha256 == digest
    changed = bytearray(path.read_bytes())
    changed[len(changed) // 2] ^= 0xFF  # same size, other bytes, behind the cache's back
    path.write_bytes(bytes(changed))
    with pytest.raises(WeightsError, match=f"expected SHA-256 {digest}"):
        load_checkpoint("served")


def test_adding_under_a_declared_name_without_a_digest_records_this_files(tmp_path, declare):
    declare(dataclasses.replace(get_checkpoint("sam_vit_b"), name="plain", file="plain.bin", sha256=None, size=None))
    (tmp_path / "w.bin").write_bytes(b"weights")
    ck = add_checkpoint(tmp_path / "w.bin", "plain")
    assert ck.sha256 == hashlib.sha256(b"weights").hexdigest() and ck.digest_source == "recorded"
    assert (weights_dir() / "plain.bin").read_bytes() == b"weights"


def _registrations() -> dict:
    return read_registry()["added"]


def test_a_name_whose_file_would_replace_the_registry_is_refused(tmp_path):
    (tmp_path / "a.pth").write_bytes(b"abc")
    add_checkpoint(tmp_path / "a.pth", "mine")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(WeightsError, match="its file registry.json would replace the cache's own registry.json"):
        add_checkpoint(tmp_path / "x.json", "registry")
    assert set(_registrations()) == {"mine"}


def test_a_name_whose_file_is_a_declared_checkpoints_file_is_refused(tmp_path, capsys):
    (tmp_path / "w.pth").write_bytes(b"not sam")
    assert run_cli(["weights", "add", str(tmp_path / "w.pth"), "--name", "sam_vit_b_01ec64"]) == 1
    err = capsys.readouterr().err
    assert "its file sam_vit_b_01ec64.pth is the file of checkpoint 'sam_vit_b' (declared by mias-sam)" in err
    assert not (weights_dir() / "sam_vit_b_01ec64.pth").exists() and _registrations() == {}


def test_registrations_are_replaced_atomically(tmp_path, monkeypatch):
    (tmp_path / "a.pth").write_bytes(b"abc")
    add_checkpoint(tmp_path / "a.pth", "first")
    before = registry_path().read_bytes()

    def dies_halfway(data, fh, **kwargs):
        fh.write('{"added": {')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights_registry.json, "dump", dies_halfway)
    (tmp_path / "b.pth").write_bytes(b"def")
    with pytest.raises(OSError, match="No space left"):
        add_checkpoint(tmp_path / "b.pth", "second")
    assert registry_path().read_bytes() == before
    assert [p.name for p in weights_dir().iterdir() if p.name.startswith(".registry-")] == []


def test_concurrent_adds_all_land(tmp_path):
    for i in range(8):
        (tmp_path / f"w{i}.pth").write_bytes(bytes([i]) * 100)
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            add_checkpoint(tmp_path / f"w{i}.pth", f"w{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and set(_registrations()) == {f"w{i}" for i in range(8)}
