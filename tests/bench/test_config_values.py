"""Every detector config refuses non-finite numbers before anything runs."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from bench.cli.app import run_cli
from bench.contract import DetectorConfig
from bench.errors import ConfigError
from bench.plugins import discover_detectors, resolve_config


def _float_overrides(config: DetectorConfig) -> list[tuple[str, Any]]:
    """(key, value with one float replaced by infinity) for every float-valued field of ``config``."""
    out = []
    for key, value in config.model_dump().items():
        if isinstance(value, float):
            out.append((key, math.inf))
        elif isinstance(value, tuple | list) and value and all(isinstance(v, float) for v in value):
            out.append((key, [math.inf, *value[1:]]))
    return out


def _cases() -> list:
    cases = []
    for record in discover_detectors():
        if not record.ok:
            continue
        for key, value in _float_overrides(record.obj.Config()):
            cases.append(pytest.param(record.obj, key, value, id=f"{record.name}.{key}"))
    return cases


@pytest.mark.parametrize(("detector", "key", "value"), _cases())
@pytest.mark.parametrize("spelling", ["Infinity", "-Infinity", "NaN"])
def test_every_float_of_every_installed_detector_refuses_non_finite_values(detector, key, value, spelling):
    raw = json.dumps(value).replace("Infinity", spelling) if isinstance(value, list) else spelling
    with pytest.raises(ConfigError, match=rf"invalid config for detector '{detector.name}': {key}.*finite"):
        resolve_config(detector, None, [f"{key}={raw}"])


def test_a_config_field_without_a_float_type_is_checked_too():
    class Loose(DetectorConfig):
        extra_args: dict[str, Any] = {}

    assert Loose(extra_args={"lr": 0.1}).extra_args == {"lr": 0.1}
    with pytest.raises(ValueError, match="extra_args.lr.*finite"):
        Loose(extra_args={"lr": math.inf})
    with pytest.raises(ValueError, match=r"extra_args.betas\[1\].*finite"):
        Loose(extra_args={"betas": [0.9, math.nan]})
    config = Loose()
    with pytest.raises(ValueError, match="finite"):
        config.extra_args = {"lr": -math.inf}  # assignment is validated as well


def test_set_infinity_on_the_command_line_is_one_red_line_and_nothing_is_stored(tmp_path, capsys):
    db = tmp_path / "x.db"
    code = run_cli(
        ["run", "intensity-zscore", "-d", "bmad-brain", "--data-root", str(tmp_path), "--set", "min_std=Infinity"]
        + ["--db", str(db)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "min_std" in err and "finite" in err and "Traceback" not in err
    assert not db.exists()
