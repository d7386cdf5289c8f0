"""``fetch_checkpoint`` against a local server: verification, resume, restart, no network."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from bench.errors import UnknownNameError, WeightsError
from bench.paths import weights_dir
from bench.weights import fetch_checkpoint


def _leftovers() -> list[str]:
    root = weights_dir()
    bookkeeping = ("registry.json", "registry.lock")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name not in bookkeeping)


class Recorder:
    def __init__(self):
        self.starts, self.bytes = [], 0

    def start(self, description, total, completed):
        self.starts.append((description, total, completed))

    def advance(self, n):
        self.bytes += n


def test_a_good_digest_is_accepted_and_installed(server, served_checkpoint):
    state, _ = server
    progress = Recorder()
    path = fetch_checkpoint(served_checkpoint, progress=progress)
    assert path == weights_dir() / "served_ckpt.bin"
    assert path.read_bytes() == state.payload
    assert _leftovers() == ["served_ckpt.bin"]  # no temporary file left behind
    assert progress.starts == [("served", len(state.payload), 0)] and progress.bytes == len(state.payload)


def test_a_digest_prefix_is_enough_as_in_sam_file_names(server, served_checkpoint):
    ck = dataclasses.replace(served_checkpoint, sha256=served_checkpoint.sha256[:6])
    assert fetch_checkpoint(ck).read_bytes() == server[0].payload


def test_an_installed_file_is_not_downloaded_again(server, served_checkpoint):
    state, _ = server
    fetch_checkpoint(served_checkpoint)
    fetch_checkpoint(served_checkpoint)
    assert len(state.requests) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [({"sha256": "0" * 64}, "expected SHA-256 0000"), ({"size": 12345}, "expected 12,345 bytes")],
)
def test_a_wrong_digest_or_size_is_rejected_and_nothing_is_left_in_the_cache(served_checkpoint, change, message):
    with pytest.raises(WeightsError, match=message) as info:
        fetch_checkpoint(dataclasses.replace(served_checkpoint, **change))
    assert "deleted" in str(info.value)
    assert _leftovers() == []


def test_an_interrupted_download_resumes_where_it_stopped(server, served_checkpoint):
    state, _ = server
    state.drop_after = [300_000]
    path = fetch_checkpoint(served_checkpoint)
    assert path.read_bytes() == state.payload
    assert [r["range"] for r in state.requests] == [None, "bytes=300000-"]


def test_a_download_interrupted_too_often_is_kept_and_resumed_by_the_next_fetch(server, served_checkpoint):
    state, _ = server
    state.drop_after = [100_000, 100_000]
    with pytest.raises(WeightsError, match="interrupted 2 times.*200,000 bytes are kept.*again to resume"):
        fetch_checkpoint(served_checkpoint, retries=1)
    assert _leftovers() == [".downloads/served_ckpt.bin.part"]
    path = fetch_checkpoint(served_checkpoint)
    assert path.read_bytes() == state.payload
    assert [r["range"] for r in state.requests] == [None, "bytes=100000-", "bytes=200000-"]
    assert _leftovers() == ["served_ckpt.bin"]


def test_a_server_that_ignores_ranges_makes_a_clean_restart(server, served_checkpoint):
    state, _ = server
    state.honour_ranges = False
    state.drop_after = [300_000]
    path = fetch_checkpoint(served_checkpoint)
    assert path.read_bytes() == state.payload  # not 300,000 bytes twice
    assert [r["range"] for r in state.requests] == [None, "bytes=300000-"]


def test_no_network_is_a_clear_error(served_checkpoint):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ck = dataclasses.replace(served_checkpoint, url=f"http://127.0.0.1:{port}/ckpt.bin")
    with pytest.raises(WeightsError) as info:
        fetch_checkpoint(ck, timeout=5)
    message = str(info.value)
    assert f"could not reach http://127.0.0.1:{port}/ckpt.bin" in message
    assert "mias-bench weights add PATH --name served" in message
    assert _leftovers() == []


def test_an_http_error_names_the_status(served_checkpoint):
    ck = dataclasses.replace(served_checkpoint, url=served_checkpoint.url.replace("ckpt.bin", "nope.bin"))
    with pytest.raises(WeightsError, match="answered HTTP 404"):
        fetch_checkpoint(ck)


def test_unknown_names_and_files_without_an_address():
    with pytest.raises(UnknownNameError, match="did you mean 'sam_vit_b'"):
        fetch_checkpoint("sam_vit_bb")
