"""``mias-bench run``, ``runs list|show`` and ``leaderboard``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from bench.cli.output import RichReporter, err, out, print_json
from bench.store import Store

DB_OPTION = typer.Option(
    None, "--db", help="SQLAlchemy URL or SQLite path (default: $MIAS_BENCH_DB or ./mias-bench.db)."
)
runs_app = typer.Typer(help="Inspect stored runs.", no_args_is_help=True)


def run_command(
    detectors: list[str] = typer.Argument(..., help="One or more detector names."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. bmad-brain."),
    data_root: Path = typer.Option(None, "--data-root", help="Dataset root (default: $MIAS_BENCH_DATA)."),
    threshold: str = typer.Option(
        "", "--threshold", "-t", help="Protocols, comma-separated: fixed:T, valid-f1, normal-pXX, oracle, mask."
    ),
    preset: str = typer.Option(None, "--preset", help="A detector preset, e.g. paper."),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE (repeatable)."),
    seed: int = typer.Option(0, "--seed"),
    frame: str = typer.Option("paper-256", "--frame", help="Evaluation frame: paper-256 or native."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    new_run: bool = typer.Option(
        False, "--new-run", help="Start a new run when the stored one was made by another detector or plugin version."
    ),
    wait: float = typer.Option(
        0.0, "--wait", min=0.0, help="Seconds to wait for another process running the same run (default: report it)."
    ),
    db: str = DB_OPTION,
) -> None:
    """Run detectors on a dataset's test split, score them and store the results."""
    from bench.datasets.registry import open_dataset
    from bench.runner import RunFailed, RunInterrupted, RunRequest, check_request, execute

    for name in detectors:
        check_request(name, preset, list(overrides), threshold, frame)
    store = Store(db)
    data = open_dataset(dataset, data_root)
    failures = 0
    for name in detectors:
        request = RunRequest(
            detector=name,
            dataset=data,
            protocols=threshold,
            preset=preset,
            overrides=list(overrides),
            seed=seed,
            frame=frame,
            device=device,
            batch_size=batch_size,
            allow_new_code=new_run,
            wait_s=wait,
        )
        try:
            with RichReporter() as reporter:
                result = execute(request, store, reporter)
        except RunInterrupted as exc:
            err().print(f"[yellow]{exc}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except RunFailed as exc:
            failures += 1
            err().print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
            continue
        for protocol, summary in result.evaluations.items():
            dice = summary.get("dice")
            shown = "–" if dice is None or dice != dice else f"{100 * dice:.2f}"
            out().print(f"run {result.run_id} {name}@{protocol}: DICE {shown}")
        for protocol, error in result.failed_evaluations.items():
            failures += 1
            err().print(
                f"[red]error:[/] run {result.run_id} {name}@{protocol}: {error}", highlight=False, soft_wrap=True
            )
    if failures:
        raise typer.Exit(1)


def leaderboard_command(
    dataset: str = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
    db: str = DB_OPTION,
) -> None:
    """Print one table per modality, rows sorted by DICE."""
    from bench.leaderboard import leaderboard_rows, render_tables

    rows = leaderboard_rows(Store(db, readonly=True), dataset)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        err().print("no complete runs stored yet; start one with `mias-bench run`")
        return
    console = out()
    for table in render_tables(rows):
        console.print(table)


def _run_dict(run) -> dict:
    return {
        "id": run.id,
        "detector": run.detector,
        "plugin": f"{run.plugin_dist} {run.plugin_version}",
        "dataset": run.dataset,
        "collection": run.collection,
        "modality": run.modality,
        "status": run.status,
        "error": run.error,
        "n_cases": run.n_cases,
        "config_hash": run.config_hash,
        "manifest_hash": run.manifest_hash,
        "weights": run.weights,
        "seed": run.seed,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@runs_app.command("list")
def runs_list(
    dataset: str = typer.Option(None, "--dataset", "-d"),
    as_json: bool = typer.Option(False, "--json"),
    db: str = DB_OPTION,
) -> None:
    """List stored runs with their status."""
    runs = [_run_dict(r) for r in Store(db, readonly=True).list_runs(dataset)]
    if as_json:
        print_json(runs)
        return
    table = Table(title="runs")
    for col in ("id", "detector", "dataset", "modality", "status", "cases", "weights", "finished"):
        table.add_column(col)
    for r in runs:
        status = {"complete": "[green]complete[/]", "failed": "[red]failed[/]"}.get(r["status"], r["status"])
        table.add_row(
            str(r["id"]),
            r["detector"],
            r["dataset"],
            r["modality"],
            status,
            str(r["n_cases"]),
            r["weights"] or "none",
            r["finished_at"] or "",
        )
    out().print(table)


@runs_app.command("show")
def runs_show(run_id: int = typer.Argument(...), as_json: bool = typer.Option(False, "--json"), db: str = DB_OPTION):
    """Show one run's provenance and its scored protocols."""
    from bench.errors import UnknownNameError

    store = Store(db, readonly=True)
    run = store.get_run(run_id)
    if run is None:
        raise UnknownNameError(f"no run {run_id} in {store.url}")
    data = _run_dict(run)
    data.update(
        config=json.loads(run.config_json),
        packages=json.loads(run.packages_json),
        frame=run.frame,
        device=run.device,
        git_commit=run.git_commit,
        weights_sha256=run.weights_sha256,
        transductive=run.transductive,
        fit_seconds=run.fit_seconds,
        predicted=len(store.predicted_cases(run.id)),
        evaluations=[
            {
                "protocol": e.protocol,
                "threshold": e.threshold,
                "fitted_on": e.fitted_on,
                "upper_bound": e.upper_bound,
                "summary": store.summary(e.id),
            }
            for e in store.evaluations(run.id)
        ],
    )
    if as_json:
        print_json(data)
        return
    console = out()
    for key, value in data.items():
        if key != "evaluations":
            console.print(f"[bold]{key}[/]: {value}")
    for e in data["evaluations"]:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in e["summary"].items() if v == v)
        console.print(f"[bold]{e['protocol']}[/] threshold={e['threshold']} fitted_on={e['fitted_on']}: {shown}")


def demo_command(
    folder: Path = typer.Option(Path("mias-bench-demo"), "--out", help="Working folder: data, database, results."),
    seed: int = typer.Option(0, "--seed"),
    size: int = typer.Option(256, "--size", help="Side of the synthetic images (pixels)."),
    only: list[str] = typer.Option([], "--detector", help="Run only these detectors (repeatable)."),
    db: str = typer.Option(None, "--db", help="Store (default: <out>/mias-bench.db)."),
    publish_to: Path = typer.Option(
        None,
        "--publish",
        help="Parent folder of the published leaderboard "
        "(default: <out>/leaderboards); it goes to <publish>/synthetic/.",
    ),
) -> None:
    """Run every offline-capable detector on the embedded synthetic benchmark, compare, publish."""
    import time

    from bench.cli.compare import render_comparison
    from bench.demo import prepare_data, reference_comparisons, run_demo
    from bench.leaderboard import leaderboard_rows, render_tables

    console = err()
    started = time.perf_counter()
    with _synth_progress() as progress:
        prepare_data(folder, seed, size, progress)
    result = run_demo(
        folder,
        db=db,
        seed=seed,
        size=size,
        detectors=list(only) or None,
        reporter=RichReporter,
        log=lambda message: console.print(message, highlight=False),
    )
    store = Store(result.db_url)
    rows = [r for r in leaderboard_rows(store) if r.collection == "synthetic"]
    console_out = out()
    for table in render_tables(rows):
        console_out.print(table)
    for comparison in reference_comparisons(store):
        for item in render_comparison(comparison):
            console_out.print(item)
    from bench.publish import publish

    published = publish(store, "synthetic", publish_to or folder / "leaderboards")
    console.print(f"published {published.rows} rows to {published.folder} (open {published.folder / 'index.html'})")
    console.print(
        f"demo finished in {time.perf_counter() - started:.0f} s: {len(result.results)} runs, "
        f"{len(result.failures)} failed; database {result.db_url}; data in {folder / 'data'}"
    )
    if result.failures:
        raise typer.Exit(1)


class _synth_progress:
    """A progress bar for writing the synthetic trees (stderr)."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("synth {task.description}"), BarColumn(), MofNCompleteColumn())
        self._progress = Progress(*columns, console=err())
        self._progress.start()
        self._tasks: dict[str, int] = {}
        return self

    def __call__(self, modality: str, done: int, total: int) -> None:
        if modality not in self._tasks:
            self._tasks[modality] = self._progress.add_task(modality, total=total)
        self._progress.update(self._tasks[modality], completed=done)

    def __exit__(self, *exc) -> None:
        self._progress.stop()
