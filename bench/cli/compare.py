"""``mias-bench compare``: paired statistics of methods on the same test cases."""

from __future__ import annotations

import typer
from rich.table import Table

from bench.cli.output import out, print_json
from bench.cli.runs import DB_OPTION
from bench.store import Store


def compare_command(
    methods: list[str] = typer.Argument(
        ..., help="Two or more methods: DETECTOR, DETECTOR@PROTOCOL or DETECTOR@PROTOCOL#RUN_ID."
    ),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. bmad-brain."),
    metric: str = typer.Option("dice", "--metric", help="Per-case metric: dice, dice_normal, fp_area_normal."),
    n_boot: int = typer.Option(10000, "--bootstrap", min=1, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="Significance level (Holm-corrected)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    db: str = DB_OPTION,
) -> None:
    """Compare methods case by case: mean difference, bootstrap CI, Wilcoxon p, Holm, ranks."""
    from bench.compare import compare_methods

    comparison = compare_methods(
        Store(db), list(methods), dataset, metric=metric, n_boot=n_boot, seed=seed, alpha=alpha
    )
    if as_json:
        print_json(comparison.as_dict())
        return
    console = out()
    for renderable in render_comparison(comparison):
        console.print(renderable)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _p(value: float) -> str:
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def render_comparison(comparison) -> list:
    """A method table (rank, mean, n, marks), a pair table and the notes; metrics in %."""
    from bench.leaderboard import MARKS

    direction = "higher" if comparison.higher_is_better else "lower"
    level = f"{100 * comparison.confidence:g}%"
    methods = Table(
        title=f"{comparison.metric} on {comparison.dataset} · manifest {comparison.manifest_hash[:12]}",
        caption=f"{comparison.metric} in %, {direction} is better",
        caption_justify="left",
    )
    for name, justify in (("rank", "right"), ("method", "left"), ("run", "right"), ("n", "right")):
        methods.add_column(name, justify=justify)
    methods.add_column(comparison.metric, justify="right")
    methods.add_column("marks")
    for m in comparison.ranked():
        methods.add_row(str(m.rank), m.label, str(m.run_id), str(m.n), _pct(m.mean), ", ".join(m.marks))
    pairs = Table(
        title="pairs",
        caption=(
            f"diff = A − B in percentage points; {level} paired bootstrap CI ({comparison.n_boot} resamples, "
            f"seed {comparison.seed}); p: two-sided Wilcoxon signed-rank; W/T/L: cases A wins/ties/loses"
        ),
        caption_justify="left",
    )
    for name in ("A", "B", "mean A", "mean B", "diff", f"{level} CI", "p", "p Holm", "W/T/L", "verdict"):
        pairs.add_column(name, justify="left" if name in ("A", "B", "verdict") else "right")
    for p in comparison.pairs:
        verdict = f"[bold]{p.verdict}[/]" if p.significant else p.verdict
        pairs.add_row(
            p.a,
            p.b,
            _pct(p.mean_a),
            _pct(p.mean_b),
            f"{100 * p.mean_diff:+.2f}",
            f"[{100 * p.ci_low:+.2f}, {100 * p.ci_high:+.2f}]",
            _p(p.p_value) + ("*" if p.note else ""),
            _p(p.p_holm),
            f"{p.wins}/{p.ties}/{p.losses}",
            verdict,
        )
    notes = [
        f"rank: 1 + the rank of the worst-ranked method significantly better (Holm, α={comparison.alpha:g}); "
        "methods sharing a rank are not significantly different"
    ]
    notes += [f"* {p.a} vs {p.b}: {p.note}" for p in comparison.pairs if p.note]
    marked = sorted({mark for m in comparison.methods for mark in m.marks})
    notes += [f"{mark}: {MARKS[mark]}" for mark in marked]
    return [methods, pairs, *notes]
