"""A checkpoint server on loopback (a thread in the test) that can drop connections or ignore ranges."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakedist import write_dist

from bench.weights import Checkpoint


@dataclass
class ServerState:
    payload: bytes
    drop_after: list[int] = field(default_factory=list)  # per request: close after this many bytes
    honour_ranges: bool = True
    requests: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        state = self.state
        range_header = self.headers.get("Range")
        state.requests.append({"path": self.path, "range": range_header})
        if self.path != "/ckpt.bin":
            self.send_error(404)
            return
        body, start = state.payload, 0
        match = re.match(r"bytes=(\d+)-", range_header or "")
        if match and state.honour_ranges:
            start = int(match.group(1))
            body = state.payload[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(state.payload) - 1}/{len(state.payload)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        drop = state.drop_after.pop(0) if state.drop_after else None
        if drop is not None:
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    """(state, base URL) of a server for ``/ckpt.bin`` on 127.0.0.1."""
    payload = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a little: more than one read chunk
    state = ServerState(payload)
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def served_checkpoint(server):
    state, base = server
    return Checkpoint(
        name="served",
        file="served_ckpt.bin",
        url=f"{base}/ckpt.bin",
        size=len(state.payload),
        sha256=hashlib.sha256(state.payload).hexdigest(),
        variant="vit_b",
    )


@pytest.fixture
def declare(tmp_path, monkeypatch):
    """``declare(*checkpoints)``: an installed detector (``nan-maps``, a fake distribution) declares them."""
    import fake_plugins

    site = tmp_path / "declaring-site"
    write_dist(site, "declaring-plugins", {"nan-maps": "fake_plugins:NanMaps"})
    monkeypatch.syspath_prepend(str(site))

    def declare(*checkpoints: Checkpoint) -> None:
        monkeypatch.setattr(fake_plugins.NanMaps, "checkpoints", tuple(checkpoints))

    return declare
