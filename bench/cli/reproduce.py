"""``mias-bench reproduce``: run a paper's table and set it beside the published one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.options import DB_OPTION
from bench.cli.output import RichReporter, err, out, print_json

if TYPE_CHECKING:
    from bench.reproduce import Reproduction


def reproduce_command(
    spec: str = typer.Argument(..., help="A shipped spec name (e.g. mias-sam-2025) or a spec .toml file."),
    data_root: Path = typer.Option(
        None,
        "--data-root",
        help="Folder holding each dataset's folder (BMAD: BraTS2021_slice, ...; synthetic: brain, ...).",
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Run each detector as it can without network (random-init weights): a smoke run."
    ),
    publish_to: Path = typer.Option(Path("leaderboards"), "--out", help="Parent folder of OUT/<spec>/."),
    as_json: bool = typer.Option(False, "--json", help="Print the reproduction as JSON."),
    db: str = DB_OPTION,
) -> None:
    """Run what the store lacks of a reproduction spec, print and write the published table beside the measured."""
    from bench.paths import data_root as default_root
    from bench.reproduce import load_spec, reproduce, write_reproduction
    from bench.store import Store

    loaded = load_spec(spec)
    root = data_root or default_root(None)
    if root is None:
        raise typer.BadParameter("pass --data-root (or set MIAS_BENCH_DATA)", param_hint="--data-root")
    result = reproduce(
        loaded,
        Store(db),
        root,
        offline=offline,
        reporter=RichReporter,
        log=lambda message: err().print(escape(message), highlight=False, soft_wrap=True),
    )
    folder = write_reproduction(result, publish_to)
    if as_json:
        print_json(result.as_dict())
    else:
        console = out()
        for item in render_tables(result):
            console.print(item)
    err().print(f"wrote {escape(str(folder))}", highlight=False)
    if result.failures:
        raise typer.Exit(1)


def render_tables(reproduction: Reproduction) -> list:
    """Rich tables, one per modality, and the notes (metrics in percent)."""
    from bench.reproduce import SMOKE, table_header, table_lines

    items: list = []
    if reproduction.smoke:
        items.append(f"[bold yellow]{escape(SMOKE)}[/]")
    header = table_header(reproduction)
    for modality, lines in table_lines(reproduction).items():
        table = Table(
            title=f"{escape(reproduction.spec.title)} · {modality} ({reproduction.spec.datasets[modality]})",
            caption="in %; Δ = measured − paper",
            caption_justify="left",
        )
        for index, name in enumerate(header):
            table.add_column(
                escape(name), justify="left" if index < 3 or index == len(header) - 1 else "right", overflow="fold"
            )
        for line in lines:
            table.add_row(*(escape(cell) for cell in line))
        items.append(table)
    notes = [f"* {m.label}: {m.note}" for m in reproduction.spec.methods if m.note]
    items += [escape(n) for n in notes + [f"source: {reproduction.spec.source}"] + reproduction.notes]
    return items
