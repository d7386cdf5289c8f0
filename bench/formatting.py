"""How numbers read wherever mias-bench shows them: terminal tables, Markdown, the page.

One definition each, so the same p-value or percentage prints the same way everywhere.
"""

from __future__ import annotations

import math
from typing import Any


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: float | None) -> str:
    """``0.12345`` -> ``"12.35"``; missing or NaN -> ``"–"``."""
    return "–" if is_missing(value) else f"{100 * value:.2f}"


def points(value: float | None) -> str:
    """A difference of fractions in signed percentage points: ``0.0123`` -> ``"+1.23"``."""
    return "–" if is_missing(value) else f"{100 * value:+.2f}"


def number(value: float | None) -> str:
    """A threshold or other raw number, four significant digits."""
    return "–" if is_missing(value) else f"{value:.4g}"


def p_value(value: float | None) -> str:
    """A p-value: scientific below 0.001, else three decimals."""
    return "–" if is_missing(value) else (f"{value:.2e}" if value < 1e-3 else f"{value:.3f}")


def json_safe(value: Any) -> Any:
    """``value`` with every NaN replaced by ``None``, through dicts, lists and tuples (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
