"""PatchCore's config: every number bounded, before torch or anomalib is imported."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.plugins import get_detector, resolve_config


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("coreset_sampling_ratio=0", "coreset_sampling_ratio"),
        ("coreset_sampling_ratio=1.5", "coreset_sampling_ratio"),
        ("num_neighbors=0", "num_neighbors"),
        ("num_neighbors=100000", "num_neighbors"),
        ("input_size=16", "input_size"),
        ("mean=[0.5,0.5,2]", "mean"),
        ("mean=[-0.1,0.5,0.5]", "mean"),
        ("std=[0.2,0,0.2]", "std"),
        ("std=[0.2,0.2,20]", "std"),
    ],
)
@pytest.mark.parametrize("detector", ["patchcore-r18", "patchcore-wrn50"])
def test_out_of_range_values_are_refused_naming_the_key(detector, override, key):
    with pytest.raises(ConfigError, match=rf"'{detector}'.*{key}"):
        resolve_config(get_detector(detector), None, [override])


def test_the_bounds_admit_the_defaults_and_the_bmad_preset():
    cls = get_detector("patchcore-r18")
    assert resolve_config(cls, "bmad").input_size == 224
    assert resolve_config(cls, None, ["num_neighbors=1", "std=[1,1,1]", "mean=[0,0,0]"]).num_neighbors == 1
