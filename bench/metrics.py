"""Pure metric functions: DICE, pixel and image AUROC, AUPRO, and their summary.

Inputs are per-case lists: anomaly maps (float, H x W, larger is more
anomalous), predicted masks and ground truths (bool, H x W). Cases may differ
in size; pooled metrics flatten every case and concatenate. A metric that has
nothing to average, or only one class to rank, is NaN.

The pixel metrics sort the normal pixels in chunks (while the cases are
still arriving, when the runner feeds :class:`MapMetrics`) and place the
distinct lesion values among them with ``searchsorted``: exact, with no loop
over thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from bench.errors import BenchError

__all__ = [
    "METRICS",
    "RECOMPUTABLE",
    "MapMetrics",
    "MaskCounts",
    "MetricInfo",
    "aupro",
    "dice",
    "image_auroc",
    "pixel_auroc",
    "pooled_dice",
    "summarize",
]

#: 8-connectivity for the regions of AUPRO (diagonal neighbours join a region).
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class MetricInfo:
    """What a leaderboard needs to show and sort one metric."""

    name: str
    title: str
    higher_is_better: bool
    description: str


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("dice", "DICE", True, "mean per-image DICE over anomalous cases (the paper's DICE)"),
        MetricInfo(
            "dice_normal",
            "DICE normal",
            True,
            "mean DICE over normal cases: the share of normal images with an empty prediction",
        ),
        MetricInfo(
            "fp_area_normal",
            "FP area normal",
            False,
            "mean fraction of pixels predicted anomalous on normal images",
        ),
        MetricInfo("dice_pooled", "DICE pooled", True, "DICE over the pixels of all cases pooled"),
        MetricInfo("pixel_auroc", "pixel AUROC", True, "ROC AUC of anomaly-map values over all pixels of all cases"),
        MetricInfo(
            "pixel_auroc_anomalous",
            "P-AUROC anomalous",
            True,
            "ROC AUC of anomaly-map values over the pixels of anomalous test images only (the MIAS-SAM paper's "
            "printed 'Pro Auroc')",
        ),
        MetricInfo("image_auroc", "image AUROC", True, "ROC AUC of the image-level scores against the case labels"),
        MetricInfo(
            "aupro",
            "AUPRO@0.3",
            True,
            "area under the per-region-overlap curve up to FPR 0.3, divided by 0.3",
        ),
    )
}


#: Summary metrics that the published per-case values determine (``verify`` recomputes them without a
#: store): mask metrics from each case's pixel counts, image AUROC from each case's score and label.
#: Pixel AUROC and AUPRO need the anomaly maps: only a store's prediction cache or a re-run can check them.
RECOMPUTABLE = ("dice", "dice_normal", "fp_area_normal", "dice_pooled", "image_auroc")


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """DICE of one case: ``2 |P & T| / (|P| + |T|)``.

    Args:
        pred: bool, H x W, the predicted mask.
        truth: bool, H x W, the ground truth.

    Returns:
        A value in [0, 1]. Both masks empty gives 1.0 (nothing to find,
        nothing found); exactly one empty gives 0.0.
    """
    return MaskCounts.of(pred, truth).dice


def pooled_dice(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """DICE over the pixels of all cases pooled (same both-empty rule as :func:`dice`).

    Args:
        preds, truths: per case, bool, H x W (sizes may differ between cases).
    """
    _same_length(preds, truths, "preds", "truths")
    return _pooled_dice([MaskCounts.of(p, t) for p, t in zip(preds, truths, strict=True)])


def pixel_auroc(maps: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """ROC AUC of map values over all pixels of all cases (ties count one half).

    Args:
        maps: per case, float, H x W.
        truths: per case, bool, H x W.

    Returns:
        The AUROC, or NaN when the pooled pixels hold only one class.
    """
    return _pool(maps, truths).pixel_auroc()


def image_auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """ROC AUC of image-level scores (ties count one half).

    Args:
        scores: one number per case, larger is more anomalous.
        labels: one per case, 0 normal, 1 anomalous.

    Returns:
        The AUROC, or NaN when all labels are the same.
    """
    _same_length(scores, labels, "scores", "labels")
    labels_arr = np.asarray(labels)
    if labels_arr.size and not np.isin(labels_arr, (0, 1)).all():
        raise BenchError(f"image labels must be 0 (normal) or 1 (anomalous), found {sorted(set(labels_arr.tolist()))}")
    scores_arr = np.asarray(scores, dtype=np.float64)
    return _auroc(np.sort(scores_arr[labels_arr == 0]), scores_arr[labels_arr == 1])


def aupro(maps: Sequence[np.ndarray], truths: Sequence[np.ndarray], fpr_limit: float = 0.3) -> float:
    """Normalised area under the per-region-overlap (PRO) curve, as in MVTec AD and BMAD.

    The regions are the 8-connected components of each truth. At a threshold
    ``t`` (pixels ``>= t`` predicted), PRO is the mean over all regions of all
    cases of the fraction of the region predicted, and FPR is the number of
    normal pixels predicted over all normal pixels (pooled over cases, lesion
    images included). PRO is integrated over FPR from 0 to ``fpr_limit``
    (trapezoids, interpolating at the limit) and divided by ``fpr_limit``.
    The curve is exact: every distinct map value is a threshold (grid-based
    implementations approximate it).

    Args:
        maps: per case, float, H x W.
        truths: per case, bool, H x W.
        fpr_limit: in (0, 1].

    Returns:
        A value in [0, 1], or NaN when there is no region or no normal pixel.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise BenchError(f"aupro: fpr_limit must be in (0, 1], got {fpr_limit}")
    return _pool(maps, truths).aupro(fpr_limit)


def summarize(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    labels: Sequence[int],
    scores: Sequence[float],
) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one scoring of a test split.

    Args:
        maps: per case, float, H x W, the anomaly maps.
        masks: per case, bool, H x W, the predicted masks.
        truths: per case, bool, H x W, the ground truths (empty on normal cases).
        labels: per case, 0 normal, 1 anomalous.
        scores: per case, the image-level score.

    Returns:
        ``{name: value}`` with exactly the keys of :data:`METRICS`; NaN for a
        metric with no case to average.
    """
    n = len(maps)
    for name, seq in (("masks", masks), ("truths", truths), ("labels", labels), ("scores", scores)):
        if len(seq) != n:
            raise BenchError(f"summarize: {n} maps but {len(seq)} {name}; expected one per case")
    return {**mask_metrics(masks, truths, labels), **map_metrics(maps, truths, labels, scores)}


def mask_metrics(masks: Sequence[np.ndarray], truths: Sequence[np.ndarray], labels: Sequence[int]) -> dict[str, float]:
    """The metrics that depend on the predicted masks (and so on the threshold)."""
    n = len(masks)
    for name, seq in (("truths", truths), ("labels", labels)):
        if len(seq) != n:
            raise BenchError(f"summarize: {n} masks but {len(seq)} {name}; expected one per case")
    return mask_metrics_from_counts([MaskCounts.of(m, t) for m, t in zip(masks, truths, strict=True)], labels)


@dataclass(frozen=True)
class MaskCounts:
    """What every mask metric of one case is computed from: pixel counts."""

    intersection: int
    predicted: int
    true: int
    pixels: int

    @classmethod
    def of(cls, pred: np.ndarray, truth: np.ndarray) -> MaskCounts:
        pred, truth = _pair(pred, truth)
        inter = int(np.count_nonzero(pred & truth))
        return cls(inter, int(np.count_nonzero(pred)), int(np.count_nonzero(truth)), pred.size)

    @property
    def dice(self) -> float:
        return _dice_from_counts(self.intersection, self.predicted, self.true)


def mask_metrics_from_counts(counts: Sequence[MaskCounts], labels: Sequence[int]) -> dict[str, float]:
    """:func:`mask_metrics` from each case's :class:`MaskCounts` (the runner counts each mask once)."""
    _same_length(counts, labels, "cases", "labels")
    anomalous = [c.dice for c, lab in zip(counts, labels, strict=True) if lab == 1]
    normal = [c for c, lab in zip(counts, labels, strict=True) if lab == 0]
    return {
        "dice": _mean(anomalous),
        "dice_normal": _mean([c.dice for c in normal]),
        "fp_area_normal": _mean([c.predicted / c.pixels if c.pixels else 0.0 for c in normal]),
        "dice_pooled": _pooled_dice(counts) if counts else math.nan,
    }


def _pooled_dice(counts: Sequence[MaskCounts]) -> float:
    return _dice_from_counts(
        sum(c.intersection for c in counts), sum(c.predicted for c in counts), sum(c.true for c in counts)
    )


def map_metrics(
    maps: Sequence[np.ndarray], truths: Sequence[np.ndarray], labels: Sequence[int], scores: Sequence[float]
) -> dict[str, float]:
    """The threshold-free metrics: computed once per run, shared by every protocol."""
    n = len(maps)
    for name, seq in (("truths", truths), ("labels", labels), ("scores", scores)):
        if len(seq) != n:
            raise BenchError(f"summarize: {n} maps but {len(seq)} {name}; expected one per case")
    with MapMetrics() as acc:
        for amap, truth, label, score in zip(maps, truths, labels, scores, strict=True):
            acc.add(amap, truth, label, score)
        return acc.result()


#: Normal pixels are sorted in chunks of about this many values (a few MiB: cache-friendly, and
#: a chunk can be sorted while the next cases are still being predicted).
CHUNK_PIXELS = 1 << 20


class MapMetrics:
    """The threshold-free metrics of one test split, fed one case at a time.

    Pixel AUROC and AUPRO both need, for every distinct lesion-pixel value
    ``v``, how many normal pixels are below ``v`` and how many equal it. The
    normal pixels are therefore sorted in chunks as cases arrive (on a
    background thread when ``background`` is true: numpy releases the GIL
    while sorting) and each chunk is queried with ``searchsorted`` at the
    end. Nothing is binned: the result is exact, and does not depend on the
    order in which cases are added when each has its ``position``.

    Use as a context manager, or call :meth:`close`, so the thread ends.
    """

    def __init__(self, background: bool = False, chunk_pixels: int = CHUNK_PIXELS):
        if chunk_pixels < 1:
            raise BenchError(f"chunk_pixels must be at least 1, got {chunk_pixels}")
        self._chunk = chunk_pixels
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixel-sort") if background else None
        # Normal pixels, kept apart by the label of their case: pixels of normal cases (0), and the
        # non-lesion pixels of anomalous cases (1); pixel AUROC pools both, the anomalous-only variant uses 1.
        self._pending: dict[int, list[np.ndarray]] = {0: [], 1: []}
        self._pending_size = {0: 0, 1: 0}
        self._chunks: dict[int, list[Future | np.ndarray]] = {0: [], 1: []}
        self._cases: dict[int, tuple[np.ndarray, np.ndarray, int, float]] = {}
        self._n_normal = {0: 0, 1: 0}
        self._counts: dict[int, tuple[np.ndarray, ...]] | None = None

    def __enter__(self) -> MapMetrics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def add(self, amap: np.ndarray, truth: np.ndarray, label: int, score: float, position: int | None = None) -> None:
        """One case: its anomaly map, truth, label and image score.

        Args:
            position: the case's place in the split (defaults to the order of
                adding); lesion pixels are pooled in this order.
        """
        if self._counts is not None:
            raise BenchError("MapMetrics: a case was added after the result was computed")
        amap, truth = _pair(amap, truth, first="map")
        position = len(self._cases) if position is None else position
        if position in self._cases:
            raise BenchError(f"MapMetrics: case position {position} was added twice")
        normal = amap[~truth]
        side = 1 if int(label) == 1 else 0
        if normal.size:
            self._pending[side].append(normal)
            self._pending_size[side] += normal.size
            self._n_normal[side] += normal.size
            if self._pending_size[side] >= self._chunk:
                self._flush(side)
        lesion = amap[truth]
        weights = np.empty(0)
        if lesion.size:
            # Each region's pixels share weight 1 / (region size): PRO averages regions, not pixels.
            labelled, _ = ndimage.label(truth, structure=_EIGHT_CONNECTED)
            ids = labelled[truth]
            weights = 1.0 / np.bincount(ids)[ids]
        self._cases[position] = (lesion, weights, int(label), float(score))

    def result(self) -> dict[str, float]:
        """``pixel_auroc``, ``pixel_auroc_anomalous``, ``image_auroc`` and ``aupro`` (FPR limit 0.3)."""
        ordered = [self._cases[k] for k in sorted(self._cases)]
        labels, scores = [c[2] for c in ordered], [c[3] for c in ordered]
        return {
            "pixel_auroc": self.pixel_auroc(),
            "pixel_auroc_anomalous": self.pixel_auroc(anomalous_only=True),
            "image_auroc": image_auroc(scores, labels),
            "aupro": self.aupro(),
        }

    def pixel_auroc(self, anomalous_only: bool = False) -> float:
        """Pixel AUROC over every case, or (``anomalous_only``) over the pixels of anomalous cases only."""
        counts = self._count(anomalous_only)
        if counts is None:
            return math.nan
        _, multiplicity, below, not_above, _ = counts
        n_neg = self._n_normal[1] if anomalous_only else self._n_normal[0] + self._n_normal[1]
        n_pos = int(multiplicity.sum())
        # Mann-Whitney: each lesion pixel counts the normals below it, and half of those equal to it.
        doubled = int(np.dot(multiplicity, below + not_above))
        return doubled / (2.0 * n_neg * n_pos)

    def aupro(self, fpr_limit: float = 0.3) -> float:
        """Normalised area under the PRO curve up to ``fpr_limit`` (see :func:`aupro`)."""
        if not 0.0 < fpr_limit <= 1.0:
            raise BenchError(f"aupro: fpr_limit must be in (0, 1], got {fpr_limit}")
        counts = self._count()
        if counts is None:
            return math.nan
        _, _, below, not_above, weight = counts
        n_neg = self._n_normal[0] + self._n_normal[1]
        # Thresholds are the distinct lesion values, largest first; at threshold v the
        # pixels >= v are predicted. Between two lesion values only normal pixels enter
        # (a horizontal step); at a lesion value, its tied pixels enter together (diagonal).
        pro = np.cumsum(weight[::-1])
        pro /= pro[-1]
        fp_above = n_neg - not_above[::-1]
        fp_at = n_neg - below[::-1]
        fpr = np.concatenate(([0.0], np.column_stack((fp_above, fp_at)).ravel() / n_neg, [1.0]))
        pro_curve = np.concatenate(([0.0], np.column_stack((np.r_[0.0, pro[:-1]], pro)).ravel(), [1.0]))
        return _partial_area(fpr, pro_curve, fpr_limit) / fpr_limit

    def _flush(self, side: int) -> None:
        if not self._pending[side]:
            return
        values = np.concatenate(self._pending[side])
        self._pending[side], self._pending_size[side] = [], 0
        self._chunks[side].append(self._executor.submit(np.sort, values) if self._executor else np.sort(values))

    def _count(self, anomalous_only: bool = False) -> tuple[np.ndarray, ...] | None:
        """Distinct lesion values, their multiplicity, normals below / not above each, PRO weight of each.

        With ``anomalous_only``, the normals counted are those of anomalous cases only.
        """
        if self._counts is None:
            self._flush(0)
            self._flush(1)
            ordered = [self._cases[k] for k in sorted(self._cases)]
            lesion = np.concatenate([c[0] for c in ordered]) if ordered else np.empty(0)
            self._counts = {}
            if lesion.size:
                weights = np.concatenate([c[1] for c in ordered])
                values, inverse, multiplicity = np.unique(lesion, return_inverse=True, return_counts=True)
                weight = np.bincount(inverse.ravel(), weights=weights, minlength=values.size)
                per_side = {}
                for side in (0, 1):
                    below = np.zeros(values.size, np.int64)
                    not_above = np.zeros(values.size, np.int64)
                    for chunk in self._chunks[side]:
                        chunk = chunk.result() if isinstance(chunk, Future) else chunk
                        below += np.searchsorted(chunk, values, side="left")
                        not_above += np.searchsorted(chunk, values, side="right")
                    per_side[side] = (below, not_above)
                multiplicity = multiplicity.astype(np.int64)
                below = per_side[0][0] + per_side[1][0]
                not_above = per_side[0][1] + per_side[1][1]
                if self._n_normal[0] + self._n_normal[1]:
                    self._counts[0] = (values, multiplicity, below, not_above, weight)
                if self._n_normal[1]:
                    self._counts[1] = (values, multiplicity, *per_side[1], weight)
            self._chunks = {0: [], 1: []}
        return self._counts.get(1 if anomalous_only else 0)


def _pool(maps: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> MapMetrics:
    _same_length(maps, truths, "maps", "truths")
    with MapMetrics() as acc:
        for amap, truth in zip(maps, truths, strict=True):
            acc.add(amap, truth, 0, 0.0)
        return acc


def _auroc(negatives_sorted: np.ndarray, positives: np.ndarray) -> float:
    """Mann-Whitney AUC: P(positive > negative) + P(equal) / 2."""
    n_neg, n_pos = negatives_sorted.size, positives.size
    if n_neg == 0 or n_pos == 0:
        return math.nan
    positives = np.sort(positives)  # sorted queries make searchsorted cache-friendly
    below = np.searchsorted(negatives_sorted, positives, side="left").astype(np.int64)
    not_above = np.searchsorted(negatives_sorted, positives, side="right").astype(np.int64)
    # Integer sums are exact; halves are kept as a doubled count.
    doubled = int(below.sum()) + int(not_above.sum())
    return doubled / (2.0 * n_neg * n_pos)


def _partial_area(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under the polyline (x non-decreasing) from x[0] to ``limit``."""
    inside = int(np.searchsorted(x, limit, side="right"))
    xs, ys = x[:inside], y[:inside]
    if xs[-1] < limit and inside < x.size:
        x0, x1, y0, y1 = x[inside - 1], x[inside], y[inside - 1], y[inside]
        xs = np.append(xs, limit)
        ys = np.append(ys, y0 + (y1 - y0) * (limit - x0) / (x1 - x0))
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))


def _dice_from_counts(inter: int, n_pred: int, n_true: int) -> float:
    if n_pred + n_true == 0:
        return 1.0
    return 2.0 * inter / (n_pred + n_true)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _pair(a: np.ndarray, truth: np.ndarray, first: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    a, truth = np.asarray(a), np.asarray(truth, dtype=bool)
    if a.shape != truth.shape:
        raise BenchError(f"{first} shape {a.shape} does not match truth shape {truth.shape}")
    return (a.astype(bool, copy=False) if first == "pred" else a), truth


def _same_length(a: Sequence, b: Sequence, a_name: str, b_name: str) -> None:
    if len(a) != len(b):
        raise BenchError(f"{len(a)} {a_name} but {len(b)} {b_name}; expected one per case")
