"""What a test does when a server or package it needs is missing: skip on a developer's machine, fail in CI.

CI (``CI`` set, as ``.ci/run`` does) installs everything, so a missing piece
there is a broken set-up, never a reason to pass quietly.
"""

from __future__ import annotations

import os

import pytest


def unavailable(message: str) -> None:
    """Fail under CI, else skip; either way the test stops here with ``message``."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
