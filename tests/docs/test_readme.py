"""The README stays short and true: its links resolve and its multi-detector ``run`` example runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bench.cli.app import run_cli
from bench.store import Store

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _commands(text: str) -> list[str]:
    """Every ``mias-bench`` command in the README's code blocks, continuation lines joined, comments cut."""
    commands = []
    for block in re.findall(r"```\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("mias-bench "):
                commands.append(line)
    return commands


def test_the_readme_is_under_12_kb():
    assert README.stat().st_size < 12 * 1024, f"README.md is {README.stat().st_size} bytes"


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").rglob("*.md")), ROOT / "benchmarks" / "README.md"])
def test_relative_links_resolve(page):
    missing = [
        target
        for target in LINK.findall(page.read_text())
        if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


@pytest.mark.slow
def test_the_run_example_works_as_written(tmp_path, monkeypatch, capsys):
    """`data synth` then the two-detector `run`, word for word, with ~ a fresh home folder."""
    commands = _commands(README.read_text())
    synth = next(c for c in commands if c.startswith("mias-bench data synth"))
    run = next(c for c in commands if c.startswith("mias-bench run ") and "--threshold" in c and "~" in c)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MIAS_BENCH_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    for command in (synth, run):
        args = [str(Path(a).expanduser()) if a.startswith("~") else a for a in shlex.split(command)[1:]]
        assert run_cli(args) == 0, f"{command}\n{capsys.readouterr().err}"
    store = Store(f"sqlite:///{tmp_path / 'mias-bench.db'}", readonly=True)
    runs = store.list_runs()
    assert sorted(r.detector for r in runs) == ["mias-sam", "patchcore-r18"]
    assert all(r.status == "complete" for r in runs)


def test_the_python_examples_define_working_detectors():
    """The plugin quick start predicts on a sealed case; the anomalib example names anomalib's Stfpm."""
    import numpy as np

    from bench.sdk import Case, Detector

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 2
    brightness, stfpm = {}, {}
    exec(compile(blocks[0], "README.md", "exec"), brightness)
    exec(compile(blocks[1], "README.md", "exec"), stfpm)
    detector = brightness["Brightness"]
    assert issubclass(detector, Detector) and detector.name == "brightness"
    image = np.zeros((8, 8), np.float32)
    image[2, 3] = 0.9
    (prediction,) = detector().predict([Case("test-0001", image, "brain", "test", 8)])
    assert prediction.score == np.float32(0.9) and prediction.anomaly_map[2, 3] == np.float32(0.9)
    config = stfpm["Stfpm"].Config()
    assert stfpm["Stfpm"].name == "stfpm" and config.MODEL == "Stfpm" and config.epochs == 100
