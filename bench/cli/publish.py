"""``mias-bench publish`` and ``mias-bench verify``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from bench.cli.options import DB_OPTION
from bench.cli.output import err, print_json
from bench.cli.output import out as _results


def publish_command(
    dataset: str = typer.Option(
        ..., "--dataset", "-d", help="A dataset (bmad-brain) or a collection (synthetic, bmad: all its datasets)."
    ),
    out: Path = typer.Option(Path("leaderboards"), "--out", help="Parent folder; files go to OUT/DATASET/."),
    db: str = DB_OPTION,
) -> None:
    """Write OUT/DATASET/: leaderboard.md, .csv, .json, cases.csv, index.html and its gallery."""
    from bench.publish import publish
    from bench.store import Store

    result = publish(Store(db), dataset, out)
    console = _results()
    console.print(
        f"published {result.rows} rows in {result.groups} group(s) to {escape(str(result.folder))}", highlight=False
    )
    gallery = {k: v for k, v in result.files.items() if k.startswith("gallery/")}
    for name, size in result.files.items():
        if name not in gallery:
            console.print(f"  {name}  {size:,} bytes", highlight=False)
    if gallery:
        console.print(f"  gallery/  {len(gallery)} PNGs, {sum(gallery.values()):,} bytes", highlight=False)
    for note in result.notes:
        err().print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


def verify_command(
    path: Path = typer.Argument(..., help="A published leaderboard folder (or its leaderboard.json)."),
    db: str = typer.Option(
        None, "--db", help="Also check every row against this store (SQLAlchemy URL or SQLite path)."
    ),
    rescore: bool = typer.Option(
        False, "--rescore", help="With --db: score every row again from its cached predictions and the data."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check a published leaderboard on its own (and against a store with --db); exit 1 if anything fails."""
    from bench.publish.verify import open_store, verify_publication

    report = verify_publication(path, open_store(db) if db else None, rescore=rescore)
    if as_json:
        print_json(report.as_dict())
    else:
        console = _results()
        for check in report.checks:
            state = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
            console.print(f"{state}  {escape(check.what)}: {escape(check.name)}", highlight=False)
            for problem in check.problems:
                console.print(f"        {problem}", highlight=False, markup=False, soft_wrap=True)
        for note in report.notes:
            err().print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        failed = len(report.failures)
        rows = report.rows
        against = f"against {report.store}" if report.store else "on its own (no store)"
        summary = (
            f"{sum(c.ok for c in rows)} of {len(rows)} rows verified {against}; "
            f"{len(report.checks)} checks, {failed} failed"
        )
        err().print(f"[red]{summary}[/]" if failed else summary, highlight=False)
    if not report.ok:
        raise typer.Exit(1)
