"""``--set`` per detector, sweeps, and ``--seeds``: parsed, targeted and expanded, or refused with a hint."""

from __future__ import annotations

import json

import pytest

from bench.errors import ConfigError
from bench.overrides import expand_overrides, parse_seeds
from bench.plugins import get_detector


@pytest.fixture
def detectors():
    return {name: get_detector(name) for name in ("patchcore-r18", "mias-sam", "intensity-zscore")}


def test_a_bare_key_goes_to_every_detector_that_has_it_and_a_prefixed_one_to_its_detector(detectors):
    combos = expand_overrides(detectors, ["pretrained=false", "mias-sam.k=3", "grid=64"])
    assert combos == {
        "patchcore-r18": [["pretrained=false"]],
        "mias-sam": [["k=3"]],
        "intensity-zscore": [["grid=64"]],
    }


def test_a_key_no_detector_has_is_refused_with_a_suggestion(detectors):
    with pytest.raises(ConfigError, match=r"no requested detector has a config key 'pretrainde'.*'pretrained'"):
        expand_overrides(detectors, ["pretrainde=false"])
    with pytest.raises(ConfigError, match=r"detector 'mias-sam' has no config key 'pretrained'"):
        expand_overrides(detectors, ["mias-sam.pretrained=false"])
    with pytest.raises(ConfigError, match=r"'mias-sm' is not a detector of this request.*'mias-sam'"):
        expand_overrides(detectors, ["mias-sm.k=3"])
    with pytest.raises(ConfigError, match="malformed --set"):
        expand_overrides(detectors, ["k"])


def test_comma_separated_values_sweep_every_combination(detectors):
    combos = expand_overrides(detectors, ["mias-sam.k=1,3,5", "mias-sam.gamma=3,5"])
    assert len(combos["mias-sam"]) == 6
    assert {tuple(c) for c in combos["mias-sam"]} == {(f"k={k}", f"gamma={g}") for k in (1, 3, 5) for g in (3, 5)}
    assert combos["patchcore-r18"] == [[]]


def test_list_keys_take_commas_as_items_and_json_values_are_one_value(detectors):
    combos = expand_overrides(detectors, ["patchcore-r18.layers=layer2,layer3", 'mias-sam.mask_index="best"'])
    assert combos["patchcore-r18"] == [['layers=["layer2", "layer3"]']]
    assert combos["mias-sam"] == [['mask_index="best"']]
    assert json.loads(combos["patchcore-r18"][0][0].split("=", 1)[1]) == ["layer2", "layer3"]
    with pytest.raises(ConfigError, match="grid must be a finite number"):
        expand_overrides(detectors, ["grid=1,NaN"])


def test_seeds_are_lists_and_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,1,4") == [3, 4, 5, 1]
    for bad in ("a", "1-", "-1", "5-3"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
