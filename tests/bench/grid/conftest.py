"""Grid fixtures: synthetic brain and liver trees, the grid test plugins, a real local Ray cluster.

Helpers and the test detectors live in ``tests/support`` (``grid_support``, ``grid_plugins``), which the
test process and every worker import.

The Ray cluster is started once per session (``ray start --head --block`` on
127.0.0.1, a port chosen at start and fixed for the session, two CPUs so two
worker processes run tasks), with the test plugins and a worker cache folder
in its environment; it is stopped afterwards by signalling the process the
fixture started (which ends the processes it started).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakedist import SUPPORT, write_dist
from grid_support import N_TEST
from unavailable import unavailable

from bench.datasets.synth.writer import generate_synthetic

GRID_PLUGINS = {
    "blocks-once": "grid_plugins:BlocksOnce",
    "greedy-zscore": "grid_plugins:GreedyZScore",
    "exploding": "fake_plugins:Exploding",
}


@pytest.fixture(scope="session")
def grid_data(tmp_path_factory) -> Path:
    """Synthetic brain and liver trees (64 px; 6 train, 4 valid, 8 test cases each)."""
    root = tmp_path_factory.mktemp("grid-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIAS_BENCH_CACHE", str(root / "cache"))
        generate_synthetic(root, ["brain", "liver"], size=64, n_train=6, n_valid=4, n_test=N_TEST)
    return root


@pytest.fixture(scope="session")
def grid_site(tmp_path_factory) -> Path:
    """A site folder declaring the grid test plugins as an installed distribution."""
    site = tmp_path_factory.mktemp("grid-site")
    write_dist(site, "grid-plugins", GRID_PLUGINS)
    return site


@pytest.fixture(autouse=True)
def _grid_plugins_installed(grid_site, monkeypatch):
    monkeypatch.syspath_prepend(str(grid_site))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster(grid_site, tmp_path_factory):
    """A Ray head node on 127.0.0.1 with 2 CPUs, for the session; ``address`` to join it."""
    if importlib.util.find_spec("ray") is None:
        message = "ray is not installed (pip install -e '.[test]' installs it)"
        unavailable(message)
    # Ray turns a loopback address into the host's network address unless told this is a one-machine
    # cluster; it reads that when ray is imported, so it is set for the driver (this process) and the cluster.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:  # imported before this fixture ran: set what the import would have read
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    temp = Path(tempfile.mkdtemp(prefix="mb-ray-"))  # short: Ray's socket paths live under it
    port = _free_port()
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.pathsep.join([str(grid_site), str(SUPPORT)]),
        "MIAS_BENCH_CACHE": str(temp / "worker-cache"),
        "HF_HUB_OFFLINE": "1",
    }
    ray_cli = Path(sys.executable).parent / "ray"
    cmd = [
        str(ray_cli),
        "start",
        "--head",
        "--block",
        "--port",
        str(port),
        "--num-cpus",
        "2",
        "--num-gpus",
        "0",
        "--object-store-memory",
        str(200 * 2**20),
    ]
    cmd += ["--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)]
    log = (temp / "ray-start.log").open("wb")
    head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"Ray runtime started" not in (temp / "ray-start.log").read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed: {(temp / 'ray-start.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield SimpleNamespace(address=f"127.0.0.1:{port}", temp=temp)
    finally:
        head.send_signal(signal.SIGTERM)  # --block: it stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the session it leads: only what this fixture started
            head.wait(10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
