"""``mias-bench runs list|show``: stored runs and their provenance."""

from __future__ import annotations

import json

import typer

from bench.cli.options import DATASET_FILTER, DB_OPTION, JSON_OPTION
from bench.cli.output import out, print_json
from bench.cli.render import Column, build_table, emit

runs_app = typer.Typer(help="Inspect stored runs.", no_args_is_help=True)


def _run_dict(run) -> dict:
    """A stored run as the listings show it: its state, then every provenance field."""
    from bench.provenance import Provenance

    return {
        "id": run.id,
        "status": run.status,
        "error": run.error,
        "owner": None if run.owner is None else {"host": run.owner_host, "pid": run.owner_pid},
        **Provenance.from_columns(run).as_dict(),
        "run_key": run.run_key,
        "fit_seconds": run.fit_seconds,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


RUN_COLUMNS = [
    Column("id", lambda r: str(r["id"]), number=True),
    Column("detector", lambda r: r["detector"]),
    Column("dataset", lambda r: r["dataset"]),
    Column("status", lambda r: r["status"]),
    Column("seed", lambda r: str(r["seed"]), number=True),
    Column("cases", lambda r: str(r["n_cases"]), number=True, min_width=100),
    Column("weights", lambda r: r["weights"] or "none", min_width=110),
    Column("finished", lambda r: (r["finished_at"] or "")[:19], min_width=130),
]


@runs_app.command("list")
def runs_list(dataset: str = DATASET_FILTER, as_json: bool = JSON_OPTION, db: str = DB_OPTION) -> None:
    """List stored runs with their status."""
    from bench.store import Store

    runs = [_run_dict(r) for r in Store(db, readonly=True).list_runs(dataset)]
    emit(
        runs,
        as_json,
        lambda width: [build_table(runs, RUN_COLUMNS, width=width, title="runs")] if runs else [],
        empty="no runs stored yet; start one with `mias-bench run`",
    )


@runs_app.command("show")
def runs_show(
    run_id: int = typer.Argument(..., help="A run id (see `mias-bench runs list`)."),
    as_json: bool = JSON_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Show one run's provenance and its scored protocols."""
    from bench.errors import UnknownNameError
    from bench.formatting import json_safe, number, percent
    from bench.store import Store

    store = Store(db, readonly=True)
    run = store.get_run(run_id)
    if run is None:
        raise UnknownNameError(f"no run {run_id} in {store.url}")
    data = _run_dict(run)
    data["predicted"] = len(store.predicted_cases(run.id))
    data["declared"] = json.loads(run.run_info_json or "{}").get("declared")
    data["evaluations"] = [
        {
            "protocol": e.protocol,
            "status": e.status,
            "error": e.error,
            "threshold": e.threshold,
            "fitted_on": e.fitted_on,
            "upper_bound": e.upper_bound,
            "summary": store.summary(e.id),
        }
        for e in store.evaluations(run.id)
    ]
    if as_json:
        print_json(json_safe(data))
        return
    console = out()
    for key, value in data.items():
        if key not in ("evaluations", "declared"):
            console.print(f"[bold]{key}[/]: {value}", highlight=False, markup=True, soft_wrap=True)
    columns = [
        Column("protocol", lambda e: e["protocol"]),
        Column("status", lambda e: e["status"] if not e["error"] else f"{e['status']}: {e['error']}"),
        Column("threshold", lambda e: number(e["threshold"]), number=True),
        Column("fitted on", lambda e: e["fitted_on"] or ""),
        Column("DICE", lambda e: percent(e["summary"].get("dice")), number=True),
        Column("pixel AUROC", lambda e: percent(e["summary"].get("pixel_auroc")), number=True),
    ]
    console.print(build_table(data["evaluations"], columns, width=console.width, title=f"run {run.id}: evaluations"))
