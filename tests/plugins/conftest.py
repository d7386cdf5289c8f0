"""The baselines' tests (anomalib bridge, ReContrast): a planted-lesion brain tree, and a run through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted_tree import SMALL_PLANTED, run_through_cli, write_planted_brain


@pytest.fixture(scope="session")
def planted_root(tmp_path_factory) -> Path:
    return write_planted_brain(tmp_path_factory.mktemp("planted") / "BraTS2021_slice", **SMALL_PLANTED)


@pytest.fixture
def cli_run(planted_root, capsys):
    """``cli_run(name, settings) -> (leaderboard rows, stored run notes)``, valid-f1 and oracle."""
    return lambda name, settings: run_through_cli(planted_root, name, settings, capsys)
