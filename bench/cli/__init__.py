"""The Typer command-line interface (``mias-bench``)."""
