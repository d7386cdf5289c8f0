"""Plugin discovery: guarded loading, narrowing, name lookup, config resolution."""

from __future__ import annotations

import pytest
from fakedist import BROKEN, GOOD, write_dist

from bench.errors import ConfigError, PluginError, UnknownNameError
from bench.plugins import (
    discover_detectors,
    get_detector,
    list_detectors,
    parse_overrides,
    resolve_config,
)


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist(site, "fake-plugins", {**GOOD, **BROKEN})
    monkeypatch.syspath_prepend(str(site))
    return site


def test_first_party_plugins_are_discovered_through_entry_points():
    records = {r.name: r for r in discover_detectors()}
    assert records["intensity-zscore"].ok
    assert records["intensity-zscore"].distribution == "mias-bench"
    assert records["intensity-zscore"].version


def test_broken_plugins_are_listed_with_their_error_and_do_not_stop_discovery(fake_site):
    records = discover_detectors()
    by_name: dict[str, list] = {}
    for r in records:
        by_name.setdefault(r.name, []).append(r)
    assert all(r.ok for n in GOOD for r in by_name[n])
    assert "expected a subclass of bench.Detector" in by_name["not-a-detector"][0].error
    assert "written for detector API 0" in by_name["old-api"][0].error
    assert "a_dependency_that_is_not_installed" in by_name["broken-import"][0].error
    dupes = by_name["intensity-zscore"]
    assert dupes[0].ok and dupes[0].distribution == "mias-bench"
    assert "duplicate name" in dupes[1].error and "mias-bench" in dupes[1].error
    assert set(list_detectors()) >= {"intensity-zscore", *GOOD}
    assert "not-a-detector" not in list_detectors()


def test_plugins_env_narrows_what_loads(fake_site, monkeypatch):
    monkeypatch.setenv("MIAS_BENCH_PLUGINS", "nan-maps,mias-bench")
    names = {r.name for r in discover_detectors()}
    assert "nan-maps" in names and "intensity-zscore" in names  # by name and by distribution
    assert "exploding" not in names and "broken-import" not in names


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean 'intensity-zscore'"):
        get_detector("intensity-zscor")


def test_broken_plugin_by_name_says_why(fake_site):
    with pytest.raises(PluginError, match="old-api.*written for detector API 0"):
        get_detector("old-api")


def test_wildcard_listing():
    assert list_detectors("intensity-*") == ["intensity-zscore"]


def test_parse_overrides_reads_json_values_and_keeps_strings():
    assert parse_overrides(["grid=64", "min_std=0.5", "name=best", "flag=true", "x=null"]) == {
        "grid": 64,
        "min_std": 0.5,
        "name": "best",
        "flag": True,
        "x": None,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["grid64"], "malformed --set 'grid64': expected KEY=VALUE"),
        (["=3"], "malformed --set"),
        (["gird=64"], "no config key 'gird'; did you mean 'grid'"),
        (["grid=big"], "invalid config for detector 'intensity-zscore': grid"),
        (["grid=2"], "greater than or equal to 8"),
    ],
)
def test_bad_overrides_are_config_errors(overrides, message):
    cls = get_detector("intensity-zscore")
    with pytest.raises(ConfigError, match=message):
        resolve_config(cls, None, overrides)


def test_resolve_config_applies_defaults_then_overrides_and_hash_changes():
    cls = get_detector("intensity-zscore")
    default = resolve_config(cls)
    changed = resolve_config(cls, None, ["grid=64"])
    assert default.grid == 128 and changed.grid == 64
    assert default.config_hash() == resolve_config(cls).config_hash()
    assert default.config_hash() != changed.config_hash()


def test_unknown_preset_is_an_error():
    with pytest.raises(ConfigError, match="no preset 'paper'"):
        resolve_config(get_detector("intensity-zscore"), "paper")
