"""Write a fake installed distribution (a ``*.dist-info`` folder) for entry-point tests."""

from __future__ import annotations

from pathlib import Path

SUPPORT = Path(__file__).parent

GOOD = {
    "nan-maps": "fake_plugins:NanMaps",
    "wrong-shape": "fake_plugins:WrongShape",
    "exploding": "fake_plugins:Exploding",
    "slow-zscore": "fake_plugins:SlowZScore",
    "transductive-zscore": "fake_plugins:TransductiveZScore",
    "untrained-zscore": "fake_plugins:UntrainedZScore",
    "loads-weights": "fake_plugins:LoadsWeights",
    "cheating": "fake_plugins:Cheating",
    "blocks-after": "fake_plugins:BlocksAfter",
    "blocks-after-transductive": "fake_plugins:BlocksAfterTransductive",
    "exits-in-predict": "fake_plugins:ExitsInPredict",
    "interrupts-itself": "fake_plugins:InterruptsItself",
}
BROKEN = {
    "not-a-detector": "fake_plugins:NotADetector",
    "old-api": "fake_plugins:OldApi",
    "broken-import": "broken_import:Anything",
    "intensity-zscore": "fake_plugins:NanMaps",  # duplicate of a first-party name
    "bad-checkpoints": "fake_plugins:BadCheckpoints",
}


def write_dist(site: Path, name: str, detectors: dict[str, str], datasets: dict[str, str] | None = None) -> Path:
    """Create ``site/<name>-1.0.dist-info`` declaring the given entry points."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = ["[mias_bench.detectors]", *(f"{k} = {v}" for k, v in detectors.items())]
    if datasets:
        lines += ["", "[mias_bench.datasets]", *(f"{k} = {v}" for k, v in datasets.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


#: Plugins whose import never returns, or raises SystemExit / KeyboardInterrupt (kept apart: loading waits).
HANGING = {"hanging-import": "hanging_import:Anything"}
EXITING = {"exits-on-import": "exits_on_import:Anything", "interrupts-on-import": "interrupts_on_import:Anything"}
