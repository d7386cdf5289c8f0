"""The ``mias-bench`` command: subcommands wired together, errors turned into exit codes.

Exit codes: 0 success, 1 a library error (:class:`~bench.errors.BenchError`,
one red line; the traceback only with ``--debug``), 2 a usage error (no
command, an unknown command or option, a bad value, a missing argument: one
line with the usage hint), 130 interrupted.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from rich.markup import escape

from bench.cli import compare, data, demo, detectors, grid, leaderboard, publish, reproduce, run, runs, weights
from bench.cli.output import err
from bench.errors import BenchError

app = typer.Typer(
    name="mias-bench",
    help="Benchmark unsupervised anomaly segmentation in medical images.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}


class MissingCommand(typer.TyperException):
    """A command group was called without a subcommand (a usage error, exit 2)."""

    exit_code = 2

    def __init__(self, ctx: typer.Context) -> None:
        super().__init__("missing command")
        self.ctx = ctx


def _require_command(ctx: typer.Context) -> None:
    """Group callback: a group alone is a usage error, not a page of help (typer's no_args_is_help)."""
    if ctx.invoked_subcommand is None:
        raise MissingCommand(ctx)


def _show_version(value: bool) -> None:
    if value:
        try:
            installed = version("mias-bench")
        except PackageNotFoundError:  # running from a source tree that was never installed
            installed = "unknown (not installed)"
        print(f"mias-bench {installed}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    _version: bool = typer.Option(
        False, "--version", help="Print the installed version and exit.", callback=_show_version, is_eager=True
    ),
) -> None:
    _state["debug"] = debug
    _require_command(ctx)


_GROUP = {"no_args_is_help": False, "invoke_without_command": True, "callback": _require_command}
app.add_typer(detectors.app, name="detectors", **_GROUP)
app.add_typer(runs.runs_app, name="runs", **_GROUP)
app.command("run")(run.run_command)
app.command("leaderboard")(leaderboard.leaderboard_command)
app.command("demo")(demo.demo_command)
app.command("compare")(compare.compare_command)
app.command("publish")(publish.publish_command)
app.command("verify")(publish.verify_command)
app.command("reproduce")(reproduce.reproduce_command)
app.command("grid")(grid.grid_command)


app.add_typer(data.app, name="data", **_GROUP)
app.add_typer(weights.app, name="weights", **_GROUP)


def usage_line(exc: typer.TyperException) -> str:
    """One line for a usage error: what was wrong, the command's usage, and where help is.

    Typer (0.29) raises its own copy of click's exceptions, all subclasses of
    the public :class:`typer.TyperException`; a usage error carries the
    click context of the command it concerns (``ctx``).
    """
    ctx = getattr(exc, "ctx", None)
    lines = [line.strip() for line in exc.format_message().splitlines() if line.strip()]
    message = " ".join(lines) or type(exc).__name__
    if ctx is None:
        return message
    usage = ctx.get_usage().strip().removeprefix("Usage:").strip()
    return f"{message} (usage: {usage}; see '{ctx.command_path} --help')"


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one red line on stderr."""
    _state["debug"] = False
    try:
        result = app(args=argv, prog_name="mias-bench", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err().print("[red]aborted[/]")
        return 130
    except typer.TyperException as exc:
        code = getattr(exc, "exit_code", 1)
        err().print(f"[red]error:[/] {escape(usage_line(exc))}", highlight=False, soft_wrap=True)
        return code
    except BenchError as exc:
        if _state["debug"]:
            raise
        err().print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run_cli(sys.argv[1:]))
