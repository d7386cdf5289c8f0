"""``mias-bench data list|check|synth``: registered datasets, tree checks, the synthetic benchmark."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.cli.output import err, out, print_json

app = typer.Typer(help="List, check and generate datasets.", no_args_is_help=True)


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err(), transient=False)


def _counts(published: dict) -> str:
    parts = []
    for split in ("train", "valid", "test"):
        c = published.get(split)
        if c:
            detail = (
                f" ({c['normal']:,}+{c['anomalous']:,})" if c.get("normal") is not None and c.get("anomalous") else ""
            )
            parts.append(f"{split} {c['total']:,}{detail}")
    return ", ".join(parts)


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List registered datasets (a broken entry point is listed with its error)."""
    from bench.datasets.registry import dataset_listing

    rows = dataset_listing()
    if as_json:
        print_json(rows)
        return
    table = Table(title="datasets")
    for col in ("name", "modality", "published counts (normal+anomalous)", "distribution", "status"):
        table.add_column(col)
    for r in rows:
        status = {"ok": "[green]ok[/]", "blocked": "[yellow]blocked[/]"}.get(r["status"], "[red]error[/] (below)")
        table.add_row(r["name"], r["modality"] or "", _counts(r["published"]), r["distribution"] or "?", status)
    console = out()
    console.print(table)
    for r in rows:
        if r["status"] == "error":
            console.print(f"[red]{r['name']}[/] ({r['distribution']}): {r['error']}", highlight=False, soft_wrap=True)


@app.command("check")
def check_command(
    root: Path = typer.Argument(..., help="Dataset folder, or a parent holding it (e.g. the BMAD release)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. bmad-brain."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Count cases per split and label against the published counts, and list every problem."""
    from bench.datasets.check import check_dataset
    from bench.datasets.registry import get_dataset_spec

    spec = get_dataset_spec(dataset)
    spec.open(root)  # a missing root fails here, before a progress bar is drawn
    with _progress() as bar:
        task = bar.add_task(f"checking {dataset}", total=None)
        report = check_dataset(spec, root, progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        print_json(report.as_dict())
    else:
        print_check(report)
    if not report.ok:
        raise typer.Exit(1)


def print_check(report) -> None:
    console = out()
    table = Table(title=f"{report.dataset} at {report.root} ({report.collection})")
    for col in ("split", "normal", "anomalous", "total", f"expected: {report.expected_source}"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split, c in report.counts.items():
        want = report.expected.get(split, {})
        shown = [str(want.get(k)) if want.get(k) is not None else "?" for k in ("normal", "anomalous", "total")]
        table.add_row(split, f"{c['normal']:,}", f"{c['anomalous']:,}", f"{c['total']:,}", " / ".join(shown))
    console.print(table)
    if report.sizes:
        sizes = ", ".join(f"{k} x{v}" for k, v in report.sizes.items())
        console.print(f"image sizes (WxH): {sizes}", highlight=False, soft_wrap=True)
    for p in report.problems:
        colour = "red" if p.severity == "error" else "yellow"
        console.print(f"[{colour}]{p.severity}[/] {p.path}: {p.message}", highlight=False, soft_wrap=True)
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "[green]clean[/]" if not n_err and not n_warn else f"{n_err} error(s), {n_warn} warning(s)"
    console.print(f"{report.dataset}: {verdict}", highlight=False, soft_wrap=True)


@app.command("synth")
def synth_command(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write brain/, liver/ and retina/ under."),
    modality: str = typer.Option("all", "--modality", help="brain, liver, retina or all."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    size: int = typer.Option(256, "--size", help="Image side in pixels (retina: size x 2*size)."),
    n_train: int = typer.Option(40, "--n-train", min=0, help="Normal training cases per modality."),
    n_valid: int = typer.Option(10, "--n-valid", min=0, help="Validation cases (half anomalous)."),
    n_test: int = typer.Option(30, "--n-test", min=0, help="Test cases (half anomalous)."),
) -> None:
    """Write the embedded synthetic benchmark in BMAD layouts (read by the bmad-* datasets)."""
    from bench.datasets.synth import generate_synthetic

    with _progress() as bar:
        tasks: dict[str, int] = {}

        def advance(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"synth {name}", total=total)
            bar.update(tasks[name], completed=done)

        summaries = generate_synthetic(
            out_dir, [modality], progress=advance, seed=seed, size=size, n_train=n_train, n_valid=n_valid, n_test=n_test
        )
    dataset = {"brain": "bmad-brain", "liver": "bmad-liver", "retina": "bmad-resc"}
    for s in summaries:
        total = sum(c["normal"] + c["anomalous"] for c in s.counts.values())
        out().print(
            f"{s.modality}: {total} cases in {s.root} ({s.layout} layout, {s.seconds:.1f} s); "
            f"read it with --dataset {dataset[s.modality]} --data-root {s.root}",
            highlight=False,
            soft_wrap=True,
        )
