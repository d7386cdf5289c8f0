"""Terminal tables at 80 and 120 columns: readable, nothing cut, the same rows and numbers as --json."""

from __future__ import annotations

import json

import pytest
from planted import planted_dataset
from rich.console import Console

from bench.cli.app import run_cli
from bench.cli.leaderboard import leaderboard_tables
from bench.formatting import percent
from bench.leaderboard import leaderboard_rows
from bench.runner import RunRequest, execute
from bench.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "runs.db"))
    data = planted_dataset()
    execute(RunRequest("intensity-zscore", data, "valid-f1,normal-p99.5,fixed:1.5,oracle"), store)
    execute(RunRequest("intensity-zscore", data, "valid-f1", overrides=["grid=16", "map_sigma=0.5"], seed=3), store)
    return store


def _render(items, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    for item in items:
        console.print(item)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_leaderboard_fits_the_terminal_and_shows_every_row_and_number(store, width):
    rows = leaderboard_rows(store)
    text = _render(leaderboard_tables(rows, width), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text  # nothing is cut short
    flat = text.replace("\n", " ")
    for row in rows:
        assert percent(row.metrics["dice"]) in text and percent(row.metrics["pixel_auroc"]) in text
        assert f" {row.run_id} " in flat
    if width >= 200:  # wide enough that no method name needs to wrap
        assert all(row.method in text for row in rows)


def test_the_table_and_the_json_hold_the_same_rows(store, capsys):
    assert run_cli(["leaderboard", "--json", "--db", store.url]) == 0
    as_json = json.loads(capsys.readouterr().out)
    rows = leaderboard_rows(store)
    assert [(r["run_id"], r["protocol"]) for r in as_json] == [(r.run_id, r.protocol) for r in rows]
    text = _render(leaderboard_tables(rows, 80), 80)
    dice_in_table = sorted(percent(r["metrics"]["dice"]) for r in as_json)
    assert all(text.count(value) >= dice_in_table.count(value) for value in dice_in_table)


@pytest.mark.parametrize("width", [80, 120])
def test_runs_list_fits_the_terminal(store, width, monkeypatch, capsys):
    import bench.cli.render as render

    monkeypatch.setattr(render, "out", lambda: Console(width=width, color_system=None))
    assert run_cli(["runs", "list", "--db", store.url]) == 0
    text = capsys.readouterr().out
    assert text.strip() and max(len(line) for line in text.splitlines()) <= width and "…" not in text
