"""Locating timm weights in the hub cache, and deciding quickly when they cannot be had."""

from __future__ import annotations

import socket
import threading

import pytest
from huggingface_hub import constants

from bench.errors import WeightsError
from bench_patchcore import weights


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_an_empty_cache_is_reported_as_not_cached_without_creating_folders(empty_hub_cache):
    source = weights.locate_weights("wide_resnet50_2")
    assert source.kind == "hf-hub" and source.location == "timm/wide_resnet50_2.racm_in1k"
    assert source.cached_file is None and source.cache == empty_hub_cache
    assert not any(empty_hub_cache.iterdir())


def test_a_cached_pickle_is_found_when_there_is_no_safetensors(empty_hub_cache):
    snapshot = empty_hub_cache / "models--timm--resnet18.a1_in1k" / "snapshots" / ("f" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "pytorch_model.bin").write_bytes(b"weights")
    (empty_hub_cache / "models--timm--resnet18.a1_in1k" / "refs").mkdir()
    (empty_hub_cache / "models--timm--resnet18.a1_in1k" / "refs" / "main").write_text("f" * 40)
    source = weights.locate_weights("resnet18")
    assert source.cached_file == snapshot / "pytorch_model.bin"
    weights.require_weights("patchcore-r18", source)  # cached: nothing to fetch, no error


def test_offline_hub_without_cache_raises_at_once(empty_hub_cache, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    attempts = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: attempts.append(a) or None)
    source = weights.locate_weights("resnet18")
    with pytest.raises(WeightsError, match=r"backbone 'resnet18' \(timm/resnet18.a1_in1k\) are not in .*hub"):
        weights.require_weights("patchcore-r18", source)
    assert attempts == []  # offline means no connection is even tried


def test_a_stuck_connection_is_given_up_after_the_probe_timeout(monkeypatch):
    release = threading.Event()

    def stuck(*args, **kwargs):
        release.wait(30)
        raise OSError("connection never opened")  # what a real stuck connect ends in

    monkeypatch.setattr(socket, "create_connection", stuck)
    try:
        assert weights._reachable("hub.invalid", 443, timeout=0.3) is False
        # It returned while the connection attempt was still stuck: the probe was abandoned, not awaited.
        assert not release.is_set()
        assert any(t.is_alive() and t.daemon for t in threading.enumerate() if t is not threading.current_thread())
    finally:
        release.set()  # let the abandoned probe thread end now, not in another test


def test_a_timm_model_without_pretrained_weights_is_a_weights_error():
    with pytest.raises(WeightsError, match="no pretrained weights for backbone 'cspresnet50d'"):
        weights.locate_weights("cspresnet50d")
