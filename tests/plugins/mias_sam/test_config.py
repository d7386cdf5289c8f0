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
    assert (cfg.train_images, cfg.bank_index, cfg.bank_dtype, cfg.bank_coreset) == (None, "flat", "float32", "none")
    assert (cfg.attention, cfg.encoder_dtype, cfg.encoder_compile) == ("fused", "float32", False)
    assert resolve_config(MiasSam, "default") == cfg  # the default preset is the class defaults


def test_the_two_eras_of_the_authors_code():
    paper = resolve_config(MiasSam, "paper")
    current = resolve_config(MiasSam, "authors-2026")
    default = resolve_config(MiasSam, "default")
    # 2025 (the paper's table): 11 training images drawn with a declared seed, test-set min-max
    assert (paper.train_images, paper.train_subset_seed, paper.normalization) == (11, 0, "test-set")
    # 2026 refactor: every training image, otherwise the same
    assert current.model_dump() == paper.model_dump() | {"train_images": None}
    assert default.model_dump() == current.model_dump() | {"normalization": "validation"}
    # exact search over every kept patch in all three
    assert {(c.bank_index, c.bank_dtype, c.bank_coreset) for c in (paper, current, default)} == {
        ("flat", "float32", "none")
    }


def test_paper_preset_is_transductive_and_default_preset_is_not():
    paper = resolve_config(MiasSam, "paper")
    default = resolve_config(MiasSam, "default")
    assert paper.normalization == "test-set" and default.normalization == "validation"
    assert MiasSam(paper).needs_finalize() and not MiasSam(default).needs_finalize()
    assert "train_flip" in MiasSam.description and "transductive" in MiasSam.description
    assert "authors-2026" in MiasSam.description and "11 training images" in MiasSam.description


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
        (["gamma=inf"], "gamma"),
        (["gamma=nan"], "gamma"),
        (["gamma=0"], "gamma"),
        (["gamma=1000"], "gamma"),
        (["sigma=-1"], "sigma"),
        (["sigma=inf"], "sigma"),
        (["encoder_memory_gib=nan"], "encoder_memory_gib"),
        (["encoder_memory_gib=0.1"], "encoder_memory_gib"),
        (["encoder_batch=0"], "encoder_batch"),
        (["train_images=0"], "train_images"),
        (["train_subset_seed=-1"], "train_subset_seed"),
        (["bank_coreset=random", "bank_coreset_ratio=0"], "bank_coreset_ratio"),
        (["bank_coreset=random", "bank_coreset_ratio=1.5"], "bank_coreset_ratio"),
        (["bank_coreset=random", "bank_coreset_ratio=nan"], "bank_coreset_ratio"),
        (["bank_coreset_ratio=0.5"], "bank_coreset_ratio=0.5 needs bank_coreset"),
        (["bank_index=ivf-pq", "pq_subquantizers=48"], "pq_subquantizers=48 must divide"),
        (["bank_index=ivf-pq", "bank_dtype=float16"], "bank_dtype=float16"),
        (["bank_index=ivf", "ivf_lists=8", "ivf_probe=9"], "ivf_probe=9 exceeds ivf_lists=8"),
        (["pq_bits=16"], "pq_bits"),
        (["coreset_projection_dim=4"], "coreset_projection_dim"),
        (["attention=flash"], "attention"),
        (["encoder_dtype=float16"], "encoder_dtype"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(MiasSam, None, overrides)


def test_every_numeric_key_is_bounded():
    """A new int or float key without both bounds fails here (and finite floats: allow_inf_nan=False)."""
    for name, field in MiasSam.Config.model_fields.items():
        kinds = {int, float} & set(getattr(field.annotation, "__args__", (field.annotation,)))
        if not kinds:
            continue
        bounds = {type(m).__name__ for m in field.metadata}
        assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, f"{name} is not bounded on both sides"
        if float in kinds:
            assert any(getattr(m, "allow_inf_nan", True) is False for m in field.metadata), f"{name} allows inf/nan"


def test_tiny_with_random_weights_is_accepted():
    cfg = resolve_config(MiasSam, None, ["sam_variant=tiny", "weights=random-init"])
    assert cfg.weights == "random-init"
