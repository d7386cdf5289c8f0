"""``mias-bench demo``: the synthetic benchmark, every offline-capable detector, compared and published."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.output import RichReporter, err, out


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
    from bench.cli.leaderboard import leaderboard_tables
    from bench.demo import prepare_data, reference_comparisons, run_demo
    from bench.leaderboard import leaderboard_rows
    from bench.store import Store

    console = err()
    started = time.perf_counter()
    with RichReporter() as progress:
        prepare_data(folder, seed, size, lambda modality, done, total: progress.step(f"synth {modality}", done, total))
    result = run_demo(
        folder,
        db=db,
        seed=seed,
        size=size,
        detectors=list(only) or None,
        reporter=RichReporter,
        log=lambda message: console.print(message, highlight=False, markup=False, soft_wrap=True),
    )
    store = Store(result.db_url)
    rows = [r for r in leaderboard_rows(store) if r.collection == "synthetic"]
    console_out = out()
    for table in leaderboard_tables(rows, console_out.width):
        console_out.print(table)
    for comparison in reference_comparisons(store):
        for item in render_comparison(comparison):
            console_out.print(item)
    from bench.publish import publish

    published = publish(store, "synthetic", publish_to or folder / "leaderboards")
    console.print(
        f"published {published.rows} rows to {published.folder} (open {published.folder / 'index.html'})",
        highlight=False,
        markup=False,
    )
    console.print(
        f"demo finished in {time.perf_counter() - started:.0f} s: {len(result.results)} runs, "
        f"{len(result.failures)} failed; database {result.db_url}; data in {folder / 'data'}"
    )
    if result.failures:
        raise typer.Exit(1)
