"""``mias-bench grid``: many runs from a plan file or options, on this process, local workers or Ray."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.cli.output import err, out, print_json
from bench.formatting import percent

EXECUTORS = ("local", "process", "ray")


def grid_command(
    plan_file: Path = typer.Argument(None, help="A grid plan (.toml); or describe the grid with the options below."),
    detectors: list[str] = typer.Option([], "--detector", "-D", help="A detector (repeatable)."),
    datasets: list[str] = typer.Option(
        [], "--dataset", "-d", help="NAME=ROOT, a dataset and the folder every worker reads it from (repeatable)."
    ),
    threshold: str = typer.Option("", "--threshold", "-t", help="Protocols, comma-separated (as for run)."),
    preset: str = typer.Option(None, "--preset", help="A preset of every detector."),
    overrides: list[str] = typer.Option(
        [], "--set", help="[DETECTOR.]KEY=VALUE (repeatable); VALUE=a,b,c sweeps, as for run."
    ),
    seeds: str = typer.Option("0", "--seeds", help="Seeds, e.g. 0,1,2 or 0-4."),
    frames: list[str] = typer.Option([], "--frame", help="Evaluation frame (repeatable; default paper-256)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    new_run: bool = typer.Option(False, "--new-run", help="Start new runs where the stored ones are of other code."),
    executor: str = typer.Option("local", "--executor", "-x", help="local (one after another), process or ray."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="--executor process: worker processes."),
    gpus: str = typer.Option(
        None, "--gpus", help="--executor process: GPU ids to pin workers to, e.g. 0,1 (default: every visible GPU)."
    ),
    pin_cores: bool = typer.Option(
        True, "--pin-cores/--no-pin-cores", help="--executor process: give each worker its own cores (affinity)."
    ),
    address: str = typer.Option("auto", "--address", help="--executor ray: the cluster, e.g. 10.0.0.5:6379."),
    env: list[str] = typer.Option([], "--env", help="--executor ray: KEY=VALUE set for every task (repeatable)."),
    retries: int = typer.Option(2, "--retries", min=0, help="Starts again of a run whose worker was lost."),
    stale_after: float = typer.Option(
        60.0, "--stale-after", min=15.0, help="Seconds without heartbeat after which a lost worker's run is resumed."
    ),
    cache: str = typer.Option(
        None, "--cache", help="Prediction cache: a folder every worker sees or a URL such as s3://bucket/prefix."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs and what is stored; run nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome of every run as JSON."),
    db: str = typer.Option(
        None, "--db", help="SQLAlchemy URL or SQLite path (default: the plan's store, then as run)."
    ),
) -> None:
    """Expand detectors x configs x datasets x frames x seeds into runs, skip what the store holds, run the rest."""
    from bench.grid import expand_grid, grid_settings, plan_from_options, read_plan, run_grid
    from bench.runner import RunInterrupted
    from bench.store import Store
    from bench.store.engine import safe_url

    if executor not in EXECUTORS:
        raise typer.BadParameter(f"{executor!r}: expected one of {', '.join(EXECUTORS)}", param_hint="--executor")
    if plan_file is not None:
        if detectors or datasets or overrides or preset or frames:
            raise typer.BadParameter("give a plan file or --detector/--dataset/--set/--preset/--frame, not both")
        plan = read_plan(plan_file)
    else:
        plan = plan_from_options(
            detectors,
            datasets,
            protocols=threshold,
            preset=preset,
            overrides=list(overrides),
            seeds=seeds,
            frames=list(frames),
            device=device,
            batch_size=batch_size,
            allow_new_code=new_run,
        )
    runner = _executor(
        executor, workers, gpus, pin_cores, address, env, retries
    )  # a missing Ray is said before the store
    store = Store(db or plan.store)
    if executor == "local":
        runner.store = store  # runs in this process write through the store already open
    settings = grid_settings(store, cache or plan.cache, stale_after)
    expansion = expand_grid(plan, store)
    todo = expansion.todo
    err().print(
        f"grid: {len(expansion.runs)} runs, {len(expansion.skipped)} skipped, {len(todo)} to run "
        f"({runner.name if runner else 'dry run'}); store {escape(safe_url(store.url))}, "
        f"predictions {escape(settings.predictions)}",
        highlight=False,
        soft_wrap=True,
    )
    if dry_run:
        _show(expansion.runs, expansion.skipped, as_json, planned=True)
        return
    try:
        with _GridProgress(len(todo)) as progress:
            result = run_grid(expansion, store, runner, settings, progress.on_event)
    except RunInterrupted as exc:
        err().print(f"[yellow]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    _show(result.runs, result.outcomes, as_json)
    counts = {s: len(result.with_status(s)) for s in ("complete", "failed", "skipped")}
    err().print(f"grid: {counts['complete']} complete, {counts['failed']} failed, {counts['skipped']} skipped")
    if counts["failed"]:
        raise typer.Exit(1)


def _executor(kind: str, workers: int, gpus: str | None, pin_cores: bool, address: str, env: list[str], retries: int):
    from bench.grid import LocalExecutor, ProcessExecutor, RayExecutor

    if kind == "local":
        return LocalExecutor()
    if kind == "process":
        chosen = None if gpus is None else [g.strip() for g in gpus.split(",") if g.strip()]
        return ProcessExecutor(workers, chosen, retries=retries, pin_cores=pin_cores)
    variables = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--env")
        variables[key] = value
    return RayExecutor(address, retries=retries, env=variables)


def _show(runs, outcomes, as_json: bool, planned: bool = False) -> None:
    """The final table (stdout): every run with its status, run id, DICE per protocol, worker and time."""
    rows = []
    for run in runs:
        outcome = outcomes.get(run.index)
        status = outcome.status if outcome is not None else ("to run" if planned else "not run")
        rows.append(
            {
                "index": run.index,
                "run": run.label,
                "status": status,
                "run_id": outcome.run_id if outcome else None,
                "dice": {p: s.get("dice") for p, s in (outcome.evaluations if outcome else {}).items()},
                "where": outcome.where if outcome else "",
                "attempts": outcome.attempts if outcome else 0,
                "seconds": round(outcome.seconds, 2) if outcome and outcome.attempts else None,
                "note": (outcome.error or "") if outcome else "",
                "run_key": run.run_key,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title="grid")
    for column in ("#", "run", "status", "run id", "DICE", "worker", "tries", "s"):
        table.add_column(column, no_wrap=True)
    table.add_column("note", overflow="fold")  # errors can be long: they wrap, the rest stays on one line
    colours = {"complete": "green", "failed": "red", "skipped": "dim"}
    for row in rows:
        dice = ", ".join(f"{p} {percent(v)}" for p, v in row["dice"].items())
        status = row["status"]
        table.add_row(
            str(row["index"]),
            escape(row["run"]),
            f"[{colours.get(status, 'white')}]{status}[/]",
            str(row["run_id"] or ""),
            dice,
            row["where"],
            str(row["attempts"] or ""),
            "" if row["seconds"] is None else f"{row['seconds']:.1f}",
            escape(row["note"]),
        )
    out().print(table)


class _GridProgress:
    """One stderr line per run started, lost and finished, and an overall bar."""

    def __init__(self, total: int):
        self.console = err()
        self.progress = Progress(
            TextColumn("grid"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=self.console
        )
        self.task = self.progress.add_task("grid", total=total)

    def __enter__(self) -> _GridProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def on_event(self, event) -> None:
        from bench.grid import FINISHED, LOST, STARTED

        label = escape(event.run.label)
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        if event.kind == STARTED:
            self._line(f"started  {label} on {event.where}{again}")
        elif event.kind == LOST:
            self._line(f"[yellow]lost[/]     {label}: {escape(event.note)}")
        elif event.kind == FINISHED:
            outcome = event.outcome
            if outcome.status == "complete":
                dice = ", ".join(f"{p} DICE {percent(s.get('dice'))}" for p, s in outcome.evaluations.items())
                self._line(f"[green]finished[/] {label}: run {outcome.run_id}, {dice} ({outcome.seconds:.1f} s)")
            else:
                self._line(f"[red]failed[/]   {label}: {escape(outcome.error or '')}")
            self.progress.advance(self.task)

    def _line(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, soft_wrap=True)
