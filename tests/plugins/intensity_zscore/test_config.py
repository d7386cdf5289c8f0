"""intensity-zscore's config: every number bounded."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.plugins import get_detector, resolve_config


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("min_std=0", "min_std"),
        ("min_std=2", "min_std"),
        ("stats_sigma=-1", "stats_sigma"),
        ("stats_sigma=1000", "stats_sigma"),
        ("map_sigma=-0.5", "map_sigma"),
        ("map_sigma=1000", "map_sigma"),
        ("grid=4", "grid"),
        ("grid=4096", "grid"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=rf"intensity-zscore'.*{key}"):
        resolve_config(get_detector("intensity-zscore"), None, [override])


def test_the_bounds_admit_the_defaults_and_sensible_values():
    config = resolve_config(get_detector("intensity-zscore"), None, ["min_std=1", "stats_sigma=64", "map_sigma=0"])
    assert (config.min_std, config.stats_sigma, config.map_sigma) == (1.0, 64.0, 0.0)
