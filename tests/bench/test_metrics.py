"""Metrics against independent references: a direct DICE formula, scikit-learn, a brute-force AUPRO loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from bench.errors import BenchError
from bench.metrics import METRICS, MapMetrics, aupro, dice, image_auroc, pixel_auroc, pooled_dice, summarize

# ---------------------------------------------------------------- references


def medpy_dc(result: np.ndarray, reference: np.ndarray) -> float:
    """medpy.metric.binary.dc, written out (medpy returns 0 when both are empty)."""
    result, reference = np.atleast_1d(result.astype(bool)), np.atleast_1d(reference.astype(bool))
    intersection = np.count_nonzero(result & reference)
    size = np.count_nonzero(result) + np.count_nonzero(reference)
    return 2.0 * intersection / float(size) if size else 0.0


def brute_force_aupro(maps, truths, thresholds, fpr_limit):
    """One explicit pass per threshold (descending), then clipped trapezoids."""
    structure = np.ones((3, 3), dtype=bool)
    case_regions = []
    for truth in truths:
        labelled, count = ndimage.label(truth, structure=structure)
        case_regions.append([labelled == k for k in range(1, count + 1)])
    n_normal = sum(int((~t).sum()) for t in truths)
    points = []
    for t in sorted(thresholds, reverse=True):
        preds = [m >= t for m in maps]
        overlaps = []
        for pred, regions in zip(preds, case_regions, strict=True):
            overlaps += [(pred & region).sum() / region.sum() for region in regions]
        fp = sum(int((p & ~tr).sum()) for p, tr in zip(preds, truths, strict=True))
        points.append((fp / n_normal, float(np.mean(overlaps))))
    points = [(0.0, 0.0), *points, (1.0, 1.0)]
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        if x0 >= fpr_limit:
            break
        if x1 > fpr_limit:
            y1 = y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)
            x1 = fpr_limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / fpr_limit


def random_cases(rng, n, shape=(32, 32), blobs=2, signal=1.0, quantize=None):
    """Maps with a few lesion blobs that the map raises by ``signal`` on average."""
    maps, truths = [], []
    for _ in range(n):
        truth = np.zeros(shape, dtype=bool)
        for _ in range(rng.integers(0, blobs + 1)):
            y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
            r = rng.integers(1, max(2, shape[0] // 6))
            yy, xx = np.ogrid[: shape[0], : shape[1]]
            truth |= (yy - y) ** 2 + (xx - x) ** 2 <= r * r
        amap = rng.normal(size=shape) + signal * truth
        if quantize:
            amap = np.round(amap * quantize) / quantize
        maps.append(amap.astype(np.float32))
        truths.append(truth)
    return maps, truths


# ---------------------------------------------------------------- DICE


def test_dice_matches_medpy_formula_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shape = tuple(rng.integers(5, 40, size=2))
        pred, truth = rng.random(shape) < rng.random(), rng.random(shape) < rng.random()
        if pred.any() or truth.any():
            assert dice(pred, truth) == pytest.approx(medpy_dc(pred, truth), abs=1e-12)


def test_dice_edge_cases():
    empty, full = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    some = empty.copy()
    some[1, 1] = True
    assert dice(empty, empty) == 1.0  # both empty: nothing to find, nothing found
    assert dice(empty, some) == 0.0  # empty prediction
    assert dice(some, empty) == 0.0  # empty truth
    assert dice(some, some) == 1.0
    assert dice(full, some) == pytest.approx(2 / 17)


def test_dice_refuses_mismatched_shapes():
    with pytest.raises(BenchError, match=r"\(4, 4\).*\(4, 5\)"):
        dice(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_pooled_dice_equals_dice_of_concatenated_pixels():
    rng = np.random.default_rng(1)
    shapes = [(10, 12), (7, 7), (20, 5)]
    preds = [rng.random(s) < 0.3 for s in shapes]
    truths = [rng.random(s) < 0.2 for s in shapes]
    flat_p = np.concatenate([p.ravel() for p in preds])
    flat_t = np.concatenate([t.ravel() for t in truths])
    assert pooled_dice(preds, truths) == pytest.approx(medpy_dc(flat_p, flat_t), abs=1e-12)
    empty = [np.zeros(s, bool) for s in shapes]
    assert pooled_dice(empty, empty) == 1.0
    assert pooled_dice(preds, empty) == 0.0


# ---------------------------------------------------------------- AUROC


def test_pixel_auroc_matches_sklearn_with_ties_and_mixed_sizes():
    rng = np.random.default_rng(2)
    maps, truths = random_cases(rng, 6, shape=(24, 24), quantize=4)  # coarse values: many ties
    maps.append(np.round(rng.normal(size=(10, 30)) * 4).astype(np.float32) / 4)
    truths.append(rng.random((10, 30)) < 0.1)
    y = np.concatenate([t.ravel() for t in truths])
    s = np.concatenate([m.ravel() for m in maps])
    assert pixel_auroc(maps, truths) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_pixel_auroc_is_nan_with_one_class():
    maps = [np.random.default_rng(3).random((8, 8), dtype=np.float32)]
    assert math.isnan(pixel_auroc(maps, [np.zeros((8, 8), bool)]))
    assert math.isnan(pixel_auroc(maps, [np.ones((8, 8), bool)]))
    assert math.isnan(pixel_auroc([], []))


def test_image_auroc_matches_sklearn():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, size=200)
    scores = np.round(rng.normal(size=200) + labels, 1)  # ties
    assert image_auroc(scores.tolist(), labels.tolist()) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_image_auroc_edge_cases():
    assert math.isnan(image_auroc([0.1, 0.5], [1, 1]))
    assert math.isnan(image_auroc([], []))
    assert image_auroc([0.1, 0.9], [0, 1]) == 1.0
    assert image_auroc([0.5, 0.5], [0, 1]) == 0.5
    with pytest.raises(BenchError, match="0 \\(normal\\) or 1"):
        image_auroc([0.1, 0.2], [0, 2])


# ---------------------------------------------------------------- AUPRO


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fpr_limit", [0.3, 0.05, 1.0])
def test_aupro_equals_brute_force_over_every_distinct_value(seed, fpr_limit):
    rng = np.random.default_rng(seed)
    maps, truths = random_cases(rng, 3, shape=(12, 12), quantize=2 if seed % 2 else None)
    truths[0][:2, :2] = True  # at least one region
    values = np.unique(np.concatenate([m.ravel() for m in maps]))
    expected = brute_force_aupro(maps, truths, values, fpr_limit)
    assert aupro(maps, truths, fpr_limit=fpr_limit) == pytest.approx(expected, abs=1e-9)


def test_aupro_close_to_brute_force_on_a_fine_grid():
    rng = np.random.default_rng(10)
    maps, truths = random_cases(rng, 8, shape=(40, 40), blobs=3, signal=1.5)
    lo, hi = min(m.min() for m in maps), max(m.max() for m in maps)
    grid = np.linspace(lo, hi, 400)
    # 400 thresholds over ~8 standard deviations: each step moves FPR by < 1%.
    assert aupro(maps, truths) == pytest.approx(brute_force_aupro(maps, truths, grid, 0.3), abs=0.01)


def test_aupro_weights_regions_not_pixels():
    # A large region fully found and a small one missed: PRO is 1/2, not ~1.
    truth = np.zeros((20, 20), bool)
    truth[:10, :10] = True
    truth[15, 15] = True
    amap = np.where(truth, 0.0, 0.5).astype(np.float32)
    amap[:10, :10] = 1.0
    # At threshold 1: FPR 0, PRO 1/2; the small region then only enters after every normal pixel.
    assert aupro([amap], [truth]) == pytest.approx(0.5)


def test_aupro_regions_are_8_connected():
    # (0,0) and (1,1) touch diagonally: one region, half found; (5,5) is a second region, found.
    truth = np.zeros((8, 8), bool)
    truth[0, 0] = truth[1, 1] = truth[5, 5] = True
    amap = np.zeros((8, 8), np.float32)
    amap[0, 0] = amap[5, 5] = 1.0
    # Curve: (0, 0) -> (0, 3/4) -> (1, 1); at FPR 0.3 PRO is 0.825.
    assert aupro([amap], [truth]) == pytest.approx((0.75 + 0.825) / 2)


def test_aupro_perfect_map_is_one():
    rng = np.random.default_rng(5)
    _, truths = random_cases(rng, 5, shape=(32, 32))
    truths[0][5:9, 5:9] = True
    maps = [t.astype(np.float32) for t in truths]
    assert aupro(maps, truths) == pytest.approx(1.0)


def test_aupro_of_a_map_independent_of_truth_is_half_the_limit():
    # PRO ~ FPR when the map ignores the truth, so the normalised area is ~ limit / 2.
    rng = np.random.default_rng(6)
    _, truths = random_cases(rng, 20, shape=(64, 64), blobs=3)
    maps = [rng.random((64, 64), dtype=np.float32) for _ in truths]
    assert aupro(maps, truths, fpr_limit=0.3) == pytest.approx(0.15, abs=0.02)
    assert aupro(maps, truths, fpr_limit=1.0) == pytest.approx(0.5, abs=0.03)


def test_aupro_edge_cases():
    amap = np.random.default_rng(7).random((8, 8), dtype=np.float32)
    assert math.isnan(aupro([amap], [np.zeros((8, 8), bool)]))  # no region
    assert math.isnan(aupro([amap], [np.ones((8, 8), bool)]))  # no normal pixel
    with pytest.raises(BenchError, match="fpr_limit"):
        aupro([amap], [np.eye(8, dtype=bool)], fpr_limit=0.0)


# ---------------------------------------------------------------- fed case by case


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("chunk_pixels", [1, 50, 700, 10**6])
def test_map_metrics_fed_case_by_case_match_the_references_for_any_chunk_size(background, chunk_pixels):
    rng = np.random.default_rng(11)
    maps, truths = random_cases(rng, 7, shape=(20, 20), blobs=2, quantize=3)  # ties across chunks
    maps.append(rng.normal(size=(9, 31)))  # float64 beside float32, another size
    truths.append(rng.random((9, 31)) < 0.1)
    labels = [int(t.any()) for t in truths]
    scores = [float(m.max()) for m in maps]
    with MapMetrics(background=background, chunk_pixels=chunk_pixels) as acc:
        for amap, truth, label, score in zip(maps, truths, labels, scores, strict=True):
            acc.add(amap, truth, label, score)
        out = acc.result()
    flat = lambda xs: np.concatenate([x.ravel() for x in xs])  # noqa: E731
    assert out["pixel_auroc"] == pytest.approx(roc_auc_score(flat(truths), flat(maps)), abs=1e-12)
    assert out["image_auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    values = np.unique(flat(maps))
    assert out["aupro"] == pytest.approx(brute_force_aupro(maps, truths, values, 0.3), abs=1e-9)


def test_map_metrics_do_not_depend_on_the_order_cases_arrive_in():
    # A resumed run adds the cases read back from disk after the fresh ones: same bits.
    rng = np.random.default_rng(12)
    maps, truths = random_cases(rng, 12, shape=(16, 16), blobs=2)
    in_order = MapMetrics(chunk_pixels=300)
    for i, (amap, truth) in enumerate(zip(maps, truths, strict=True)):
        in_order.add(amap, truth, int(truth.any()), float(amap.max()), position=i)
    shuffled = MapMetrics(background=True, chunk_pixels=300)
    for i in rng.permutation(len(maps)):
        shuffled.add(maps[i], truths[i], int(truths[i].any()), float(maps[i].max()), position=int(i))
    assert shuffled.result() == in_order.result()
    shuffled.close()


def test_map_metrics_refuse_a_case_twice_or_after_the_result():
    amap, truth = np.zeros((4, 4), np.float32), np.eye(4, dtype=bool)
    acc = MapMetrics()
    acc.add(amap, truth, 1, 0.0, position=0)
    with pytest.raises(BenchError, match="position 0 was added twice"):
        acc.add(amap, truth, 1, 0.0, position=0)
    acc.result()
    with pytest.raises(BenchError, match="after the result"):
        acc.add(amap, truth, 1, 0.0, position=1)
    with pytest.raises(BenchError, match="map shape"):
        MapMetrics().add(np.zeros((3, 3)), truth, 1, 0.0)


# ---------------------------------------------------------------- summary


def test_summarize_names_and_values():
    rng = np.random.default_rng(9)
    maps, truths = random_cases(rng, 10, shape=(16, 16))
    truths[0][:3, :3] = True
    truths[1][:] = False
    labels = [int(t.any()) for t in truths]
    masks = [m >= 0.8 for m in maps]
    masks[1][:] = False  # a normal case with an empty prediction
    scores = [float(m.max()) for m in maps]
    out = summarize(maps, masks, truths, labels, scores)
    assert set(out) == set(METRICS)
    anomalous = [i for i, lab in enumerate(labels) if lab == 1]
    normal = [i for i, lab in enumerate(labels) if lab == 0]
    assert out["dice"] == pytest.approx(np.mean([medpy_dc(masks[i], truths[i]) for i in anomalous]))
    assert out["dice_normal"] == pytest.approx(np.mean([not masks[i].any() for i in normal]))
    assert out["fp_area_normal"] == pytest.approx(np.mean([masks[i].sum() / masks[i].size for i in normal]))
    flat = lambda xs: np.concatenate([x.ravel() for x in xs])  # noqa: E731
    assert out["dice_pooled"] == pytest.approx(medpy_dc(flat(masks), flat(truths)))
    assert out["pixel_auroc"] == pytest.approx(roc_auc_score(flat(truths), flat(maps)))
    assert out["image_auroc"] == pytest.approx(roc_auc_score(labels, scores))
    assert out["aupro"] == pytest.approx(aupro(maps, truths, 0.3))


def test_summarize_is_nan_where_there_is_nothing_to_average():
    maps = [np.zeros((4, 4), np.float32)] * 2
    empty = [np.zeros((4, 4), bool)] * 2
    out = summarize(maps, empty, empty, [0, 0], [0.0, 0.0])
    assert math.isnan(out["dice"]) and math.isnan(out["image_auroc"]) and math.isnan(out["aupro"])
    assert out["dice_normal"] == 1.0 and out["fp_area_normal"] == 0.0
    none = summarize([], [], [], [], [])
    assert all(math.isnan(v) for v in none.values())


def test_summarize_refuses_mismatched_lengths():
    with pytest.raises(BenchError, match="2 maps but 1 labels"):
        summarize([np.zeros((2, 2))] * 2, [np.zeros((2, 2), bool)] * 2, [np.zeros((2, 2), bool)] * 2, [0], [0, 0])


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_has_metadata(name):
    info = METRICS[name]
    assert info.name == name and info.title and info.description
    assert isinstance(info.higher_is_better, bool)


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_pixel_auroc_over_anomalous_images_only_matches_scikit_learn(chunk):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    maps, truths, labels = [], [], []
    for i in range(9):
        truth = np.zeros((12, 10), bool)
        if i % 3:
            truth[2 : 2 + i % 5 + 2, 3:7] = True
        maps.append(np.round(rng.normal(size=truth.shape) + 1.5 * truth, 1).astype(np.float32))  # ties
        truths.append(truth)
        labels.append(int(truth.any()))
    with MapMetrics(chunk_pixels=chunk) as acc:
        for position, (amap, truth, label) in enumerate(zip(maps, truths, labels, strict=True)):
            acc.add(amap, truth, label, float(amap.max()), position)
        result = acc.result()
    anomalous = [i for i, label in enumerate(labels) if label == 1]
    expected = roc_auc_score(
        np.concatenate([truths[i].ravel() for i in anomalous]), np.concatenate([maps[i].ravel() for i in anomalous])
    )
    everything = roc_auc_score(np.concatenate([t.ravel() for t in truths]), np.concatenate([m.ravel() for m in maps]))
    assert result["pixel_auroc_anomalous"] == pytest.approx(expected, abs=1e-12)
    assert result["pixel_auroc"] == pytest.approx(everything, abs=1e-12)
    assert result["pixel_auroc_anomalous"] != pytest.approx(result["pixel_auroc"])
