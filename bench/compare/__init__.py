"""Paired comparison of methods on the same test cases (``mias-bench compare``)."""

from bench.compare.comparison import (
    PER_CASE_METRICS,
    Comparison,
    ComparisonError,
    MethodStats,
    PairStats,
    case_values,
    compare_methods,
    compare_rows,
    metric_direction,
    parse_spec,
    resolve_spec,
)
from bench.compare.stats import TIE, holm, paired_bootstrap_ci, statistical_ranks, wilcoxon_p

__all__ = [
    "PER_CASE_METRICS",
    "TIE",
    "Comparison",
    "ComparisonError",
    "MethodStats",
    "PairStats",
    "case_values",
    "compare_methods",
    "compare_rows",
    "holm",
    "metric_direction",
    "paired_bootstrap_ci",
    "parse_spec",
    "resolve_spec",
    "statistical_ranks",
    "wilcoxon_p",
]
