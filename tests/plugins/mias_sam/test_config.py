"""Config, presets, discovery, and a listing that never imports torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.errors import ConfigError
from bench.plugins import discover_detectors, resolve_config
from bench_mias_sam import MiasSam


def test_mias_sam_is_discovered_through_its_entry_point():
    record = {r.name: r for r in discover_detectors()}["mias-sam"]
    assert record.ok, record.error
    assert record.obj is MiasSam and record.distribution == "mias-bench"
    caps = MiasSam.capabilities
    assert caps.outputs_mask and caps.needs_fit and caps.needs_weights and caps.uses_validation


def test_importing_the_plugin_does_not_import_torch_faiss_or_sam():
    env = {**os.environ, "MIAS_BENCH_PLUGINS": "mias-sam"}  # other plugins answer for themselves
    code = (
        "import sys, bench_mias_sam\n"
        "from bench.plugins import discover_detectors\n"
        "discover_detectors()\n"
        "heavy = [m for m in ('torch', 'faiss', 'segment_anything') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "[]"


def test_defaults_are_the_honest_published_pipeline():
    cfg = MiasSam.Config()
    assert (cfg.sam_variant, cfg.weights, cfg.k, cfg.normalization) == ("vit_b", None, 1, "validation")
    assert (cfg.gamma, cfg.sigma, cfg.image_size, cfg.mask_index, cfg.train_flip) == (5.0, 4.0, 256, 0, False)


def test_paper_preset_is_transductive_and_default_preset_is_not():
    paper = resolve_config(MiasSam, "paper")
    default = resolve_config(MiasSam, "default")
    assert paper.normalization == "test-set" and default.normalization == "validation"
    assert paper.model_dump() | {"normalization": "validation"} == default.model_dump()
    assert MiasSam(paper).needs_finalize() and not MiasSam(default).needs_finalize()
    assert "train_flip" in MiasSam.description and "transductive" in MiasSam.description


def test_overrides_are_typed():
    cfg = resolve_config(MiasSam, "paper", ["mask_index=best", "k=3", "sam_variant=medsam", "faiss_device=cpu"])
    assert (cfg.mask_index, cfg.k, cfg.sam_variant, cfg.faiss_device) == ("best", 3, "medsam", "cpu")
    assert resolve_config(MiasSam, None, ["mask_index=2"]).mask_index == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sam_variant=tiny"], "exists only with random weights"),
        (["mask_index=3"], "mask_index"),
        (["normalization=global"], "normalization"),
        (["k=0"], "k"),
        (["knn=3"], "did you mean 'k'"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(MiasSam, None, overrides)


def test_tiny_with_random_weights_is_accepted():
    cfg = resolve_config(MiasSam, None, ["sam_variant=tiny", "weights=random-init"])
    assert cfg.weights == "random-init"
