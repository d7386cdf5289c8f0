"""Reproductions: a paper's table as a spec, run, and set beside the measured table (``mias-bench reproduce``)."""

from bench.reproduce.report import SMOKE, markdown, table_header, table_lines, write_reproduction
from bench.reproduce.run import MeasuredMethod, Reproduction, reproduce
from bench.reproduce.spec import Method, ReproductionSpec, load_spec, shipped_specs

__all__ = [
    "SMOKE",
    "MeasuredMethod",
    "Method",
    "Reproduction",
    "ReproductionSpec",
    "load_spec",
    "markdown",
    "reproduce",
    "shipped_specs",
    "table_header",
    "table_lines",
    "write_reproduction",
]
