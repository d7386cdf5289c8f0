"""``mias-bench run``: detectors on a dataset, with per-detector settings, sweeps and seeds."""

from __future__ import annotations

from pathlib import Path

import typer
from click import BadParameter
from rich.markup import escape

from bench.cli.options import DB_OPTION
from bench.cli.output import RichReporter, err, out
from bench.formatting import percent


def run_command(
    detectors: list[str] = typer.Argument(..., help="One or more detector names."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. bmad-brain."),
    data_root: Path = typer.Option(None, "--data-root", help="Dataset root (default: $MIAS_BENCH_DATA)."),
    threshold: str = typer.Option(
        "", "--threshold", "-t", help="Protocols, comma-separated: fixed:T, valid-f1, normal-pXX, oracle, mask."
    ),
    preset: str = typer.Option(None, "--preset", help="A detector preset, e.g. paper."),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        help="Config override [DETECTOR.]KEY=VALUE (repeatable); a bare KEY applies to every detector that has it; "
        "VALUE=a,b,c sweeps (one run per combination).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="The run's seed."),
    seeds: str = typer.Option(
        None, "--seeds", help="Run once per seed, e.g. 0,1,2 or 0-4 (the leaderboard shows mean and spread)."
    ),
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
    from bench.overrides import expand_overrides, parse_seeds
    from bench.plugins import get_detector
    from bench.runner import RunFailed, RunInterrupted, RunRequest, check_request, execute
    from bench.store import Store

    if seeds is not None and seed != 0:
        raise BadParameter("give either --seed or --seeds, not both")
    seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    combos = expand_overrides({name: get_detector(name) for name in dict.fromkeys(detectors)}, list(overrides))
    for name, sets in combos.items():
        for chosen in sets:  # every combination is validated before anything runs
            check_request(name, preset, chosen, threshold, frame)
    store = Store(db)
    data = open_dataset(dataset, data_root)
    failures = 0
    requests = [
        RunRequest(
            detector=name,
            dataset=data,
            protocols=threshold,
            preset=preset,
            overrides=chosen,
            seed=each_seed,
            frame=frame,
            device=device,
            batch_size=batch_size,
            allow_new_code=new_run,
            wait_s=wait,
        )
        for name, sets in combos.items()
        for chosen in sets
        for each_seed in seed_list
    ]
    if len(requests) > 1:
        err().print(f"{len(requests)} runs: {len(combos)} detector(s), sweeps and seeds expanded", highlight=False)
    for request in requests:
        name = request.detector
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
        settings = " ".join(request.overrides) + (f" seed={request.seed}" if len(seed_list) > 1 else "")
        for protocol, summary in result.evaluations.items():
            shown = percent(summary.get("dice"))
            out().print(
                escape(
                    f"run {result.run_id} {name}@{protocol}{' [' + settings + ']' if settings else ''}: DICE {shown}"
                )
            )
        for protocol, error in result.failed_evaluations.items():
            failures += 1
            err().print(
                f"[red]error:[/] run {result.run_id} {name}@{protocol}: {error}", highlight=False, soft_wrap=True
            )
    if failures:
        raise typer.Exit(1)
