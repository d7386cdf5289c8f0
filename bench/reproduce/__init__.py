"""Reproductions: a paper's table as a spec, run, and set beside the measured table (``mias-bench reproduce``)."""

from bench.reproduce.report import markdown, render_tables, write_reproduction
from bench.reproduce.run import MeasuredMethod, Reproduction, reproduce
from bench.reproduce.spec import Method, ReproductionSpec, load_spec, shipped_specs

__all__ = [
    "MeasuredMethod",
    "Method",
    "Reproduction",
    "ReproductionSpec",
    "load_spec",
    "markdown",
    "render_tables",
    "reproduce",
    "shipped_specs",
    "write_reproduction",
]
