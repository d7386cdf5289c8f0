"""The SAM and MedSAM checkpoints MIAS-SAM declares, as the weights cache sees them."""

from __future__ import annotations

import re

import pytest

from bench.weights import get_checkpoint
from bench_mias_sam import MiasSam
from bench_mias_sam.checkpoints import OFFICIAL_FOR_VARIANT, SAM_CHECKPOINTS

BY_NAME = {ck.name: ck for ck in SAM_CHECKPOINTS}


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_declared_checkpoint_has_an_official_address_size_full_digest_and_licence(name):
    ck = BY_NAME[name]
    assert ck.url.startswith("https://") and ck.url.endswith(ck.file)
    assert ck.size > 300_000_000 and ck.licence
    assert re.fullmatch(r"[0-9a-f]{64}", ck.sha256) and re.fullmatch(r"[0-9a-f]{32}", ck.md5)
    assert OFFICIAL_FOR_VARIANT[ck.variant] == name


@pytest.mark.parametrize("name", ["sam_vit_b", "sam_vit_l", "sam_vit_h"])
def test_the_hex_in_a_sam_file_name_is_the_start_of_its_md5(name):
    ck = BY_NAME[name]
    tag = ck.file.rsplit("_", 1)[1].removesuffix(".pth")
    assert ck.md5.startswith(tag) and not ck.sha256.startswith(tag)


def test_the_detector_declares_them_and_the_cache_finds_them_by_name():
    assert MiasSam.checkpoints == SAM_CHECKPOINTS
    for name in OFFICIAL_FOR_VARIANT.values():
        found = get_checkpoint(name)
        assert found.declared_by == ("mias-sam",) and found.sha256 == BY_NAME[name].sha256
