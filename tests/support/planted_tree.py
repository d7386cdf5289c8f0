"""The planted-lesion cases (see :mod:`planted`) as a BMAD brain tree, and a detector run on it through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from planted import planted_cases

from bench.cli.app import run_cli
from bench.datasets.synth.writer import MODALITY_LAYOUTS, case_paths
from bench.store import Store

#: Small enough for seconds per run on a 2-core CPU; lesions large and bright enough for random-init maps.
SMALL_PLANTED = {"n_train": 8, "n_valid": 4, "n_test": 8, "size": 64, "seed": 0}


def write_planted_brain(root: Path, **kwargs) -> Path:
    """8-bit PNGs of :func:`planted.planted_cases` (same keyword arguments) in the ``BraTS2021_slice`` layout."""
    from PIL import Image

    layout = MODALITY_LAYOUTS["brain"]
    for case in planted_cases(**kwargs):
        image_path, mask_path = case_paths(layout, case.split, case.label, Path(case.id).name)
        for rel, pixels in ((image_path, np.rint(case.image * 255)), (mask_path, case.truth() * 255)):
            if rel is None:
                continue
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8)).save(root / rel)
    return root


def run_through_cli(root: Path, name: str, settings: list[str], capsys) -> tuple[list[dict], dict]:
    """``mias-bench run NAME`` on the tree at ``root`` under valid-f1 and oracle, each setting a ``--set``.

    Returns the detector's leaderboard rows (``leaderboard --json``) and the stored run's notes
    (its ``run_info``, from the store at ``MIAS_BENCH_DB``).
    """
    args = ["run", name, "--dataset", "bmad-brain", "--data-root", str(root), "--threshold", "valid-f1,oracle"]
    for setting in settings:
        args += ["--set", setting]
    code = run_cli(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"{name}@valid-f1" in captured.out
    assert run_cli(["leaderboard", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["detector"] == name]
    (stored,) = [r for r in Store(os.environ["MIAS_BENCH_DB"]).list_runs() if r.detector == name]
    return rows, json.loads(stored.run_info_json)["declared"]["notes"]
