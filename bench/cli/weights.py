"""``mias-bench weights list|fetch|add|verify``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from bench.cli.output import err, out, print_json
from bench.paths import weights_dir
from bench.weights import (
    add_checkpoint,
    checkpoint_path,
    declaration_conflicts,
    fetch_checkpoint,
    installed,
    list_checkpoints,
    verify_checkpoints,
)
from bench.weights.registry import as_dict

app = typer.Typer(help="List, fetch, add and verify model checkpoints.", no_args_is_help=True)


def checkpoint_listing() -> list[dict]:
    """Every checkpoint installed detectors declare or a user added, with whether (and where) it is installed."""
    return [{**as_dict(ck), "installed": installed(ck), "path": str(checkpoint_path(ck))} for ck in list_checkpoints()]


class RichDownloadProgress:
    """A rich download bar on stderr (bytes, speed, time left)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err(),
        )
        self.task = None

    def __enter__(self) -> RichDownloadProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, description: str, total: int | None, completed: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(description, total=total, completed=completed)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the checkpoints installed detectors declare and those added, and whether each is installed."""
    rows = checkpoint_listing()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"checkpoints ({weights_dir()})")
    for col in ("name", "declared by", "file", "size", "sha256", "licence", "installed", "source"):
        table.add_column(col)
    for r in rows:
        short = (r["sha256"] or "")[:12]
        digest = {"declared": short, "recorded": f"{short} (recorded)"}
        table.add_row(
            r["name"],
            ", ".join(r["declared_by"]) or "(added)",
            r["file"],
            f"{r['size'] / 2**20:,.0f} MiB" if r["size"] else "?",
            digest.get(r["digest_source"], "unknown until fetched"),
            r["licence"] or "?",
            "[green]yes[/]" if r["installed"] else "no",
            r["url"] or r["description"],
        )
    out().print(table)
    for conflict in declaration_conflicts():
        err().print(f"[yellow]note:[/] {conflict}", highlight=False, soft_wrap=True)


@app.command("fetch")
def fetch_command(name: str = typer.Argument(..., help="Checkpoint name, e.g. sam_vit_b.")) -> None:
    """Download a declared checkpoint (resumable), verify its SHA-256 (or record it) and install it."""
    with RichDownloadProgress() as bar:
        path = fetch_checkpoint(name, progress=bar)
    err().print(f"[green]installed[/] {name} at {path}", highlight=False, soft_wrap=True)


@app.command("add")
def add_command(
    path: Path = typer.Argument(..., help="A checkpoint file on this machine."),
    name: str = typer.Option(..., "--name", help="Name to register it under (a declared name is verified)."),
    variant: str = typer.Option(None, "--variant", help="Architecture variant the weights fit (e.g. vit_b)."),
) -> None:
    """Copy a local checkpoint into the cache under NAME."""
    ck = add_checkpoint(path, name, variant)
    err().print(f"[green]added[/] {ck.name} ({ck.file})", highlight=False, soft_wrap=True)


@app.command("verify")
def verify_command(
    names: list[str] = typer.Argument(None, help="Checkpoints to check (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Hash installed checkpoints and compare with their expected digests.

    Exits 1 when a file is corrupt, or when a checkpoint named here is missing.
    """
    results = verify_checkpoints(names or None)
    if as_json:
        print_json([r.__dict__ for r in results])
    else:
        table = Table(title="checkpoint verification")
        for col in ("name", "file", "status", "sha256", "detail"):
            table.add_column(col)
        colours = {"ok": "green", "missing": "yellow", "corrupt": "red"}
        for r in results:
            status = f"[{colours[r.status]}]{r.status}[/]"
            table.add_row(r.name, r.file, status, (r.sha256 or "")[:12], r.detail if r.status == "corrupt" else "")
        out().print(table)
    if any(r.status == "corrupt" or (names and r.status == "missing") for r in results):
        raise typer.Exit(code=1)
