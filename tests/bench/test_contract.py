"""Validation of what a plugin returns, and config hashing."""

from __future__ import annotations

import numpy as np
import pytest

from bench.contract import Case, Prediction, validate_prediction
from bench.errors import ContractViolation

CASE = Case(id="test-00007", image=np.zeros((8, 8), np.float32), modality="brain", split="test")


def _pred(**kw):
    base = {"anomaly_map": np.zeros((8, 8), np.float32), "score": 0.5}
    base.update(kw)
    return Prediction(**base)


def test_valid_prediction_passes_and_float64_maps_become_float32():
    out = validate_prediction("d", CASE, _pred(anomaly_map=np.ones((8, 8), np.float64)))
    assert out.anomaly_map.dtype == np.float32


@pytest.mark.parametrize(
    ("pred", "message"),
    [
        (_pred(anomaly_map=np.zeros((4, 8), np.float32)), r"anomaly_map shape \(4, 8\), expected \(8, 8\)"),
        (_pred(anomaly_map=np.zeros((8, 8), np.int32)), "anomaly_map dtype int32, expected float32"),
        (_pred(anomaly_map=np.full((8, 8), np.nan, np.float32)), "64 NaN or infinite values"),
        (_pred(score=float("inf")), "score is inf"),
        (_pred(score="high"), "score 'high' is not a number"),
        (_pred(mask=np.zeros((8, 8), np.uint8)), "mask dtype uint8, expected bool"),
        (_pred(mask=np.zeros((8, 9), bool)), r"mask shape \(8, 9\)"),
        (_pred(extra_masks={"m0": np.zeros((2, 2), bool)}), "extra_masks\\['m0'\\] shape"),
        ("not a prediction", "expected a Prediction, got str"),
    ],
)
def test_contract_violations_name_detector_and_case(pred, message):
    with pytest.raises(ContractViolation, match=message) as info:
        validate_prediction("my-detector", CASE, pred)
    assert "detector `my-detector` on case `test-00007`" in str(info.value)
