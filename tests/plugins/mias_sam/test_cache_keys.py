"""Cache keys change with everything that changes the cached array, and with nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from bench_mias_sam.cache_keys import bank_key, embedding_key, encoder_identity, search_key

BASE = {
    "variant": "vit_b",
    "weights_sha256": None,
    "seed": 0,
    "input_size": 1024,
    "attention": "fused",
    "dtype": "float32",
    "compiled": False,
    "device": "cpu",
}


@pytest.mark.parametrize(
    "change",
    [
        {"variant": "vit_l"},
        {"seed": 1},
        {"weights_sha256": "ab" * 32},
        {"input_size": 256},
        {"attention": "reference"},
        {"dtype": "bfloat16"},
        {"compiled": True},
        {"device": "cuda"},
    ],
)
def test_every_encoder_setting_is_in_its_identity(change):
    assert encoder_identity(**BASE) != encoder_identity(**{**BASE, **change})


def test_a_checkpoints_identity_ignores_the_seed_and_cuda_indexes_are_one_device():
    with_weights = {**BASE, "weights_sha256": "cd" * 32}
    assert encoder_identity(**with_weights) == encoder_identity(**{**with_weights, "seed": 7})
    assert encoder_identity(**{**BASE, "device": "cuda:0"}) == encoder_identity(**{**BASE, "device": "cuda:1"})


def test_an_embedding_key_names_the_pixels_and_the_encoder():
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    encoder = encoder_identity(**BASE)
    key = embedding_key(encoder, image)
    assert key == embedding_key(encoder, image.copy())  # content, not object
    changed = image.copy()
    changed[3, 4, 1] ^= 1
    assert key != embedding_key(encoder, changed)
    assert key != embedding_key(encoder, image[:, ::-1])  # a flipped training image is another image
    assert key != embedding_key(encoder_identity(**{**BASE, "seed": 1}), image)
    assert key != embedding_key(encoder, image.reshape(4, 16, 3))  # same bytes, other shape


def test_a_bank_key_follows_its_members_in_order_and_its_options():
    members = ["a" * 64, "b" * 64]
    key = bank_key(members, {"index": "flat"})
    assert key == bank_key(list(members), {"index": "flat"})
    assert key != bank_key(members[::-1], {"index": "flat"})
    assert key != bank_key(members[:1], {"index": "flat"})
    assert key != bank_key(members, {"index": "flat", "dtype": "float16"})


def test_a_search_key_names_bank_embedding_and_neighbour_count():
    key = search_key("b" * 64, "e" * 64, 16)
    assert key != search_key("c" * 64, "e" * 64, 16)
    assert key != search_key("b" * 64, "f" * 64, 16)
    assert key != search_key("b" * 64, "e" * 64, 17)
