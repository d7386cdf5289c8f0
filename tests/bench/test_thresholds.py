"""Threshold protocols: parsing, each fit against a brute-force loop, the oracle invariant, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from bench.errors import ThresholdError
from bench.thresholds import (
    ACCEPTED_FORMS,
    ThresholdFit,
    apply_threshold,
    fit_threshold,
    parse_protocol,
    parse_protocols,
)

# ---------------------------------------------------------------- helpers


def make_split(rng, n, shape=(16, 16), anomalous_share=0.5, quantize=None, signal=1.5):
    """Maps, truths and labels: anomalous cases hold one rectangle the map raises by ``signal``."""
    maps, truths, labels = [], [], []
    for i in range(n):
        truth = np.zeros(shape, dtype=bool)
        anomalous = i < round(n * anomalous_share)
        if anomalous:
            y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
            truth[y : y + rng.integers(2, shape[0] // 2), x : x + rng.integers(2, shape[1] // 2)] = True
        amap = rng.normal(size=shape) + signal * truth
        if quantize:
            amap = np.round(amap * quantize) / quantize
        maps.append(amap.astype(np.float32))
        truths.append(truth)
        labels.append(int(anomalous))
    return maps, truths, labels


def brute_dice(pred, truth):
    inter, size = int((pred & truth).sum()), int(pred.sum() + truth.sum())
    return 1.0 if size == 0 else 2.0 * inter / size


def brute_mean_dice(maps, truths, labels, t):
    """The paper's DICE at threshold t: mean over anomalous cases, pixels >= t in float32."""
    t32 = np.float32(t)
    return float(
        np.mean([brute_dice(m >= t32, tr) for m, tr, lab in zip(maps, truths, labels, strict=True) if lab == 1])
    )


def brute_f1(maps, truths, t):
    pred = np.concatenate([(m >= t).ravel() for m in maps])
    truth = np.concatenate([tr.ravel() for tr in truths])
    tp, fp, fn = (pred & truth).sum(), (pred & ~truth).sum(), (~pred & truth).sum()
    return 2 * tp / (2 * tp + fp + fn)


def fit(text, valid=((), (), ()), test=((), (), ()), extra=()):
    return fit_threshold(
        parse_protocol(text),
        valid_maps=valid[0],
        valid_truths=valid[1],
        valid_labels=valid[2],
        test_maps=test[0],
        test_truths=test[1],
        test_labels=test[2],
        extra_candidates=extra,
    )


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "name", "kind", "parameter"),
    [
        ("fixed:0.5", "fixed:0.5", "fixed", 0.5),
        ("fixed:.5", "fixed:0.5", "fixed", 0.5),
        ("fixed:1", "fixed:1", "fixed", 1.0),
        ("fixed:-2.5e-3", "fixed:-0.0025", "fixed", -0.0025),
        (" Valid-F1 ", "valid-f1", "valid-f1", None),
        ("normal-p99", "normal-p99", "normal-percentile", 99.0),
        ("normal-p99.5", "normal-p99.5", "normal-percentile", 99.5),
        ("normal-p99.50", "normal-p99.5", "normal-percentile", 99.5),
        ("normal-p100", "normal-p100", "normal-percentile", 100.0),
        ("normal-p.5", "normal-p0.5", "normal-percentile", 0.5),
        ("oracle", "oracle", "oracle", None),
        ("mask", "mask", "mask", None),
    ],
)
def test_parse_accepted_forms(text, name, kind, parameter):
    protocol = parse_protocol(text)
    assert (protocol.name, protocol.kind, protocol.parameter) == (name, kind, parameter)
    assert parse_protocol(protocol.name) == protocol  # the canonical name parses back to itself
    assert protocol.label


def test_protocol_flags():
    flags = {p.name: (p.honest, p.needs_valid) for p in parse_protocols("fixed:0.5,valid-f1,normal-p99,oracle,mask")}
    assert flags == {
        "fixed:0.5": (True, False),
        "valid-f1": (True, True),
        "normal-p99": (True, True),
        "oracle": (False, False),
        "mask": (True, False),
    }
    oracle = parse_protocol("oracle")
    assert "upper bound" in oracle.label and "test set" in oracle.label
    with pytest.raises(dataclasses.FrozenInstanceError):
        oracle.honest = True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fixed",
        "fixed:",
        "fixed:abc",
        "fixed:nan",
        "fixed:inf",
        "normal-p",
        "normal-p0",
        "normal-p101",
        "normal-p-5",
        "normal-p1e1",
        "normal-p99%",
        "valid-f2",
        "oracle:1",
        "p99",
    ],
)
def test_parse_rejects_malformed_values_quoting_them(text):
    with pytest.raises(ThresholdError) as info:
        parse_protocol(text)
    message = str(info.value)
    assert repr(text) in message
    assert ACCEPTED_FORMS in message
    for form in ("fixed:T", "valid-f1", "normal-pXX", "oracle", "mask"):
        assert form in message


def test_parse_protocols_keeps_order_and_drops_duplicates():
    names = [p.name for p in parse_protocols("valid-f1,oracle,normal-p99, fixed:.5,oracle,fixed:0.5,normal-p99.0")]
    assert names == ["valid-f1", "oracle", "normal-p99", "fixed:0.5"]
    assert parse_protocols("") == []
    with pytest.raises(ThresholdError, match="'bogus'"):
        parse_protocols("valid-f1,bogus")


# ---------------------------------------------------------------- fits


def test_fixed_and_mask_fits():
    assert fit("fixed:0.25") == ThresholdFit(0.25, "user", False)
    assert fit("mask") == ThresholdFit(None, None, False)


@pytest.mark.parametrize("seed", range(4))
def test_valid_f1_is_the_brute_force_optimum_over_every_distinct_value(seed):
    rng = np.random.default_rng(seed)
    valid = make_split(rng, 6, quantize=3 if seed % 2 else None)  # odd seeds: many ties
    maps, truths, _ = valid
    values = np.unique(np.concatenate([m.ravel() for m in maps]))
    f1s = [brute_f1(maps, truths, t) for t in values]
    best = max(f1s)
    expected = max(t for t, f in zip(values, f1s, strict=True) if f == best)  # ties: the largest threshold
    result = fit("valid-f1", valid=valid)
    assert result.fitted_on == "valid" and not result.upper_bound
    assert result.value == float(expected)
    assert brute_f1(maps, truths, np.float32(result.value)) == pytest.approx(best, abs=1e-12)
    # scikit-learn agrees on the optimum F1.
    precision, recall, _ = precision_recall_curve(
        np.concatenate([t.ravel() for t in truths]), np.concatenate([m.ravel() for m in maps])
    )
    with np.errstate(invalid="ignore"):
        sk_best = np.nanmax(2 * precision * recall / (precision + recall))
    assert best == pytest.approx(sk_best, abs=1e-12)


def test_normal_percentile_uses_normal_validation_pixels_only():
    rng = np.random.default_rng(11)
    maps, truths, labels = make_split(rng, 6, shape=(9, 11))
    maps[0] = maps[0] + 100.0  # an anomalous case far above: must not move the threshold
    pixels = np.sort(
        np.concatenate([m.ravel() for m, lab in zip(maps, labels, strict=True) if lab == 0]).astype(np.float64)
    )
    for pct in (99.0, 99.5, 50.0, 100.0):
        rank = pct / 100 * (pixels.size - 1)  # linear interpolation between closest ranks
        lo = int(np.floor(rank))
        hi = min(lo + 1, pixels.size - 1)
        expected = pixels[lo] + (rank - lo) * (pixels[hi] - pixels[lo])
        result = fit(f"normal-p{pct}", valid=(maps, truths, labels))
        assert result.value == pytest.approx(expected, rel=1e-6)
        assert (result.fitted_on, result.upper_bound) == ("valid-normal", False)


@pytest.mark.parametrize("seed", range(4))
def test_oracle_is_the_brute_force_optimum_when_the_grid_covers_every_value(seed):
    rng = np.random.default_rng(seed)
    # 4 x 15 x 15 = 900 pixels <= 1024 grid points: the grid holds every distinct value.
    test = make_split(rng, 4, shape=(15, 15), quantize=2 if seed % 2 else None)
    values = np.unique(np.concatenate([m.ravel() for m in test[0]]))
    best = max(brute_mean_dice(*test, t) for t in values)
    result = fit("oracle", test=test)
    assert (result.fitted_on, result.upper_bound) == ("test", True)
    assert brute_mean_dice(*test, result.value) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_oracle_is_the_exact_optimum_over_every_distinct_value_of_a_large_split(seed, monkeypatch):
    import bench.thresholds as thresholds

    monkeypatch.setattr(thresholds, "_ORACLE_EXACT", 64)  # force several levels of refinement
    monkeypatch.setattr(thresholds, "ORACLE_GRID_SIZE", 16)
    rng = np.random.default_rng(12 + seed)
    test = make_split(rng, 12, shape=(48, 48), quantize=100 if seed == 2 else None)  # 27,648 pixels
    maps, truths, labels = test
    values = np.unique(np.concatenate([m.ravel() for m, lab in zip(maps, labels, strict=True) if lab == 1]))
    assert values.size > (40 if seed == 2 else 1000)
    # Every distinct value, evaluated by brute force (vectorised over thresholds).
    totals = np.zeros(values.size)
    for amap, truth, lab in zip(maps, truths, labels, strict=True):
        if lab != 1:
            continue
        pred = amap.ravel()[None, :] >= values[:, None]
        inter = (pred & truth.ravel()[None, :]).sum(axis=1)
        denom = pred.sum(axis=1) + truth.sum()
        totals += np.where(denom == 0, 1.0, 2.0 * inter / np.maximum(denom, 1))
    best = np.flatnonzero(totals == totals.max())[-1]
    result = fit("oracle", test=test)
    assert result.value == pytest.approx(float(values[best]), abs=0)
    assert brute_mean_dice(*test, result.value) == pytest.approx(totals.max() / sum(labels), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_oracle_dice_is_never_below_an_honest_protocols_dice(seed):
    rng = np.random.default_rng(100 + seed)
    shape = (int(rng.integers(40, 64)), int(rng.integers(40, 64)))
    valid = make_split(rng, 8, shape=shape, signal=float(rng.uniform(0.5, 3)))
    test = make_split(rng, 12, shape=shape, anomalous_share=0.7, signal=float(rng.uniform(0.5, 3)))
    honest = {
        name: fit(name, valid=valid).value
        for name in ("valid-f1", "normal-p99", "normal-p99.9", "fixed:0.5", "fixed:-3", "fixed:7")
    }
    # A lucky user who typed the best lesion value: a 1,024-point grid alone usually misses it.
    lesion_values = np.unique(np.concatenate([m[t] for m, t in zip(test[0], test[1], strict=True)]))
    lucky = max(lesion_values, key=lambda v: brute_mean_dice(*test, v))
    honest[f"fixed:{float(lucky)!r}"] = fit(f"fixed:{float(lucky)!r}").value
    oracle = fit("oracle", valid=valid, test=test, extra=tuple(honest.values()))
    oracle_dice = brute_mean_dice(*test, oracle.value)
    for name, value in honest.items():
        assert oracle_dice >= brute_mean_dice(*test, value) - 1e-12, name


def test_apply_threshold_is_greater_or_equal_in_the_maps_dtype():
    amap = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    assert apply_threshold(amap, float(np.float32(0.3))).tolist() == [[False, False], [True, True]]
    # A float64 threshold a hair above a float32 value rounds to it: the pixel is kept.
    just_above = float(np.float32(0.3)) + 1e-12
    assert apply_threshold(amap, just_above).tolist() == [[False, False], [True, True]]
    assert apply_threshold(amap, 1.0).dtype == bool


# ---------------------------------------------------------------- errors


def test_fits_that_lack_data_say_what_they_needed():
    rng = np.random.default_rng(13)
    only_normal = make_split(rng, 3, anomalous_share=0.0)
    only_anomalous = make_split(rng, 3, anomalous_share=1.0)
    with pytest.raises(ThresholdError, match=r"'valid-f1' needs the validation split"):
        fit("valid-f1")
    with pytest.raises(ThresholdError, match=r"'normal-p99' needs the validation split"):
        fit("normal-p99")
    with pytest.raises(ThresholdError, match=r"'valid-f1' needs anomalous pixels in the validation split"):
        fit("valid-f1", valid=only_normal)
    with pytest.raises(ThresholdError, match=r"'normal-p99' needs at least one normal validation case"):
        fit("normal-p99", valid=only_anomalous)
    with pytest.raises(ThresholdError, match=r"'oracle' needs the test split"):
        fit("oracle")
    with pytest.raises(ThresholdError, match=r"'oracle' needs at least one anomalous test case"):
        fit("oracle", test=only_normal)
    maps, truths, labels = only_normal
    with pytest.raises(ThresholdError, match="3 maps, 3 truths and 2 labels"):
        fit("valid-f1", valid=(maps, truths, labels[:2]))
