"""Did-you-mean hints for unknown names (detectors, datasets, checkpoints, presets, config keys)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'a', 'b'?"`` for up to three close matches of ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
