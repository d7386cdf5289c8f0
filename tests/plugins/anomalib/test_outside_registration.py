"""The outside-registration example of ``docs/detectors/anomalib.md``, installed as an outside distribution.

The Python and TOML blocks are read from the page itself, so the page and
what this test proves cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakedist import SUPPORT, write_dist

REPO = Path(__file__).resolve().parents[3]
PAGE = REPO / "docs" / "detectors" / "anomalib.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


@pytest.fixture
def outside_site(tmp_path) -> Path:
    """A site folder holding the page's module and a dist-info with the page's entry point."""
    (python,) = [b for b in _blocks("python") if "# my_detectors.py" in b]
    (toml,) = [b for b in _blocks("toml") if "mias_bench.detectors" in b]
    (entry,) = re.findall(r'^(\S+) = "(\S+)"$', toml, flags=re.MULTILINE)
    site = tmp_path / "site"
    site.mkdir()
    (site / "my_detectors.py").write_text(python)
    write_dist(site, "my-detectors", {entry[0]: entry[1]})
    return site


def _cli(site: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(SUPPORT)])}
    done = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_documented_subclass_registers_under_its_own_name(outside_site):
    rows = {r["name"]: r for r in json.loads(_cli(outside_site, "detectors", "list", "--json"))}
    stfpm = rows["stfpm"]
    assert stfpm["status"] == "ok" and stfpm["distribution"] == "my-detectors"
    assert stfpm["capabilities"]["outputs_mask"] is False and stfpm["capabilities"]["needs_fit"] is True
    info = json.loads(_cli(outside_site, "detectors", "info", "stfpm", "--json"))
    assert info["defaults"]["backbone"] == "resnet18" and info["defaults"]["epochs"] == 100
    assert info["defaults"]["layers"] == ["layer1", "layer2", "layer3"]


@pytest.mark.slow
def test_the_documented_subclass_trains_its_anomalib_model(outside_site, monkeypatch):
    from planted import planted_cases

    from bench.contract import DetectorContext

    monkeypatch.syspath_prepend(str(outside_site))
    from my_detectors import Stfpm

    cases = planted_cases(n_train=2, n_valid=0, n_test=2, size=64, seed=0)
    config = Stfpm.Config(epochs=1, input_size=64, train_batch_size=2, pretrained=False)
    detector = Stfpm(config, DetectorContext())
    detector.fit([c for c in cases if c.split == "train"])
    preds = detector.predict([c for c in cases if c.split == "test"])
    assert [p.anomaly_map.shape for p in preds] == [(64, 64), (64, 64)]
    notes = detector.run_info().notes
    assert notes["model"] == "Stfpm"
    assert notes["model_kwargs"] == {"backbone": "resnet18", "layers": ["layer1", "layer2", "layer3"]}
    assert notes["epochs_run"] == 1 and notes["steps_run"] == 1
