"""The detector config tables in docs/ are generated from the code and are current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_config_tables_are_what_the_generator_writes_now():
    spec = importlib.util.spec_from_file_location("make_config_tables", DOCS / "make_config_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render([module._info(name) for name in module._names()])
    committed = (DOCS / "detectors" / "configs.md").read_text(encoding="utf-8")
    assert committed == expected, "docs/detectors/configs.md is stale: run `python docs/make_config_tables.py`"
    for name in module._names():
        assert f"## `{name}`" in committed
