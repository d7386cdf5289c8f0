"""Paired comparison of methods on the same test cases (``mias-bench compare``)."""

from bench.compare.comparison import (
    PER_CASE_METRICS,
    Comparison,
    ComparisonError,
    MethodStats,
    PairStats,
    case_values,
    compare_arrays,
    compare_methods,
    compare_rows,
    compare_values,
    metric_direction,
    parse_spec,
    resolve_spec,
)
from bench.compare.stats import TIE, holm, letter_groups, mean_ranks, paired_bootstrap_ci, wilcoxon_p, wilcoxon_test

__all__ = [
    "PER_CASE_METRICS",
    "TIE",
    "Comparison",
    "ComparisonError",
    "MethodStats",
    "PairStats",
    "case_values",
    "compare_arrays",
    "compare_methods",
    "compare_rows",
    "compare_values",
    "holm",
    "metric_direction",
    "paired_bootstrap_ci",
    "parse_spec",
    "resolve_spec",
    "letter_groups",
    "mean_ranks",
    "wilcoxon_p",
    "wilcoxon_test",
]
