"""The ``mias-bench`` command: subcommands wired together, errors turned into exit codes."""

from __future__ import annotations

import sys

import click
import typer
from rich.markup import escape

from bench.cli import compare, data, detectors, grid, publish, reproduce, runs, weights
from bench.cli.output import err
from bench.errors import BenchError

app = typer.Typer(
    name="mias-bench",
    help="Benchmark unsupervised anomaly segmentation in medical images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")) -> None:
    _state["debug"] = debug


app.add_typer(detectors.app, name="detectors")
app.add_typer(runs.runs_app, name="runs")
app.command("run")(runs.run_command)
app.command("leaderboard")(runs.leaderboard_command)
app.command("demo")(runs.demo_command)
app.command("compare")(compare.compare_command)
app.command("publish")(publish.publish_command)
app.command("verify")(publish.verify_command)
app.command("reproduce")(reproduce.reproduce_command)
app.command("grid")(grid.grid_command)


app.add_typer(data.app, name="data")
app.add_typer(weights.app, name="weights")


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; library errors become one red line."""
    _state["debug"] = False
    try:
        result = app(args=argv, prog_name="mias-bench", standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err().print("[red]aborted[/]")
        return 130
    except BenchError as exc:
        if _state["debug"]:
            raise
        err().print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # [ray] is not markup
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run_cli(sys.argv[1:]))
