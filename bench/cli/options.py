"""Options shared by several commands, defined once."""

from __future__ import annotations

import typer

DB_OPTION = typer.Option(
    None, "--db", help="SQLAlchemy URL or SQLite path (default: $MIAS_BENCH_DB or ./mias-bench.db)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
DATASET_FILTER = typer.Option(None, "--dataset", "-d", help="Only this dataset.")
