"""The ``mias-bench`` command: subcommands wired together, errors turned into exit codes."""

from __future__ import annotations

import sys

import click
import typer

from bench.cli import compare, detectors, runs
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


def _add_optional(module: str, name: str) -> None:
    """Sub-apps of other areas, wired in as they land."""
    try:
        mod = __import__(module, fromlist=["app"])
    except ImportError:
        return
    app.add_typer(mod.app, name=name)


_add_optional("bench.cli.data", "data")
_add_optional("bench.cli.weights", "weights")


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
        err().print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run_cli(sys.argv[1:]))
