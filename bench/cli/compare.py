"""``mias-bench compare``: paired statistics of methods on the same test cases."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.options import DB_OPTION
from bench.cli.output import out, print_json
from bench.formatting import p_value, percent, points


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
    from bench.store import Store

    comparison = compare_methods(
        Store(db), list(methods), dataset, metric=metric, n_boot=n_boot, seed=seed, alpha=alpha
    )
    if as_json:
        print_json(comparison.as_dict())
        return
    console = out()
    for renderable in render_comparison(comparison):
        console.print(renderable)


def render_comparison(comparison) -> list:
    """A method table (id, rank, group, mean, n, marks), a pair table by method id, and the notes; metrics in %.

    Pairs name methods by their short id (``M1``...) so the table stays readable at 80 columns;
    long method names wrap instead of being cut.
    """
    from bench.marks import MARKS

    direction = "higher" if comparison.higher_is_better else "lower"
    level = f"{100 * comparison.confidence:g}%"
    ids = {m.label: f"M{i}" for i, m in enumerate(comparison.ranked(), start=1)}
    methods = Table(
        title=f"{comparison.metric} on {comparison.dataset} · manifest {comparison.manifest_hash[:12]}",
        caption=f"{comparison.metric} in %, {direction} is better",
        caption_justify="left",
    )
    for name, justify in (("id", "left"), ("rank", "right"), ("group", "left"), ("method", "left")):
        methods.add_column(name, justify=justify, overflow="fold")
    for name, justify in (("run", "right"), ("n", "right"), (comparison.metric, "right"), ("marks", "left")):
        methods.add_column(name, justify=justify, no_wrap=name != "marks")
    for m in comparison.ranked():
        methods.add_row(
            ids[m.label],
            str(m.rank),
            m.letters,
            escape(m.label),
            str(m.run_id),
            str(m.n),
            percent(m.mean),
            ", ".join(m.marks),
        )
    pairs = Table(
        title="pairs",
        caption=(
            f"diff = A − B in percentage points; {level} paired bootstrap CI ({comparison.n_boot} resamples, "
            f"seed {comparison.seed}); p: two-sided Wilcoxon signed-rank; W/T/L: cases A wins/ties/loses"
        ),
        caption_justify="left",
    )
    for name in ("A", "B", "diff", f"{level} CI", "p", "p Holm", "W/T/L", "verdict"):
        pairs.add_column(name, justify="left" if name in ("A", "B", "verdict") else "right", overflow="fold")
    for p in comparison.pairs:
        verdict = "identical" if p.verdict == "identical" else "no significant difference"
        if p.significant and p.better:
            verdict = f"[bold]{ids[p.better]} better[/]"
        pairs.add_row(
            ids[p.a],
            ids[p.b],
            points(p.mean_diff),
            f"[{points(p.ci_low)}, {points(p.ci_high)}]",
            p_value(p.p_value) + ("*" if p.note else ""),
            p_value(p.p_holm),
            f"{p.wins}/{p.ties}/{p.losses}",
            verdict,
        )
    notes = [
        "rank: by mean (1 + the number of methods with a better mean); group: methods sharing a letter are not "
        f"significantly different (Wilcoxon signed-rank, Holm, α={comparison.alpha:g})"
    ]
    notes += [escape(f"* {ids[p.a]} vs {ids[p.b]}: {p.note}") for p in comparison.pairs if p.note]
    marked = sorted({mark for m in comparison.methods for mark in m.marks})
    notes += [f"{mark}: {MARKS[mark].rule}" for mark in marked]
    return [methods, pairs, *notes]
