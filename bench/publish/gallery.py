"""The gallery: a few test cases of each group with the truth and every row's mask, as small PNGs.

Images come from the run's dataset (its stored ``data_location``, checked
against the group's manifest) put into the run's evaluation frame; masks
are rebuilt from the run's prediction cache (the configured one: a local
folder or a URL such as ``s3://bucket/prefix``, see
:func:`bench.paths.predictions_root`): the detector's own mask under
protocol ``mask``, else ``anomaly_map >= threshold``. Each rebuilt mask is
checked against the stored per-case DICE. Whatever cannot be rebuilt here
(no data, no cache, a cache that no longer matches) is left out with a note;
the gallery never stops a publish.

Files: ``<case>-image-<frame>.png`` (8-bit grey), ``<case>-truth-<frame>.png``
and ``<case>-<row>.png`` (two-colour palette, transparent background, laid
over the image by the page), each at most ``size`` pixels on its longest side.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from PIL import Image

from bench.contract import LabelledCase
from bench.datasets.base import CaseRef
from bench.datasets.registry import open_dataset
from bench.errors import BenchError
from bench.frame import get_frame
from bench.metrics import dice
from bench.prediction_cache import PredictionCache
from bench.publish.board import GalleryCase, GalleryImage, Group, GroupGallery, PublishedRow
from bench.store import Run, Store
from bench.thresholds import apply_threshold

TRUTH_COLOUR = (0, 200, 80)
MASK_COLOUR = (230, 30, 30)
_LOAD_ERRORS = (BenchError, OSError, ValueError, KeyError)


def choose_cases(group: Group, n_anomalous: int = 3, n_normal: int = 1) -> list[tuple[str, int]]:
    """(case id, label) of the cases to show: anomalous cases spanning the range of mean DICE
    over the group's rows (hardest, middle, easiest), then the first normal cases by id."""
    common = set.intersection(*({c.case_id for c in r.cases} for r in group.rows))
    scores: dict[str, list[float]] = {}
    labels: dict[str, int] = {}
    for published in group.rows:
        for case in published.cases:
            if case.case_id in common:
                labels[case.case_id] = case.label
                scores.setdefault(case.case_id, []).append(case.dice)
    anomalous = sorted((float(np.mean(scores[c])), c) for c in common if labels[c] == 1)
    picks: list[tuple[str, int]] = []
    if anomalous and n_anomalous:
        count = min(n_anomalous, len(anomalous))
        positions = sorted({round(i * (len(anomalous) - 1) / max(count - 1, 1)) for i in range(count)})
        picks += [(anomalous[p][1], 1) for p in positions]
    picks += [(c, 0) for c in sorted(c for c in common if labels[c] == 0)[:n_normal]]
    return picks


def _display_size(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """(width, height) with the longest side ``size`` (never enlarged)."""
    h, w = shape
    scale = min(1.0, size / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _write_grey(path: Path, image: np.ndarray, size: int) -> tuple[int, int]:
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    shown = Image.fromarray(pixels, mode="L").resize(_display_size(pixels.shape, size), Image.BILINEAR)
    shown.save(path, optimize=True)
    return shown.size


def _write_mask(path: Path, mask: np.ndarray, colour: tuple[int, int, int], size: int) -> tuple[int, int]:
    as_u8 = np.asarray(mask, dtype=np.uint8) * np.uint8(255)
    # Box-filter then majority: a downsized mask keeps the shape of the full-size one.
    small = np.asarray(Image.fromarray(as_u8, mode="L").resize(_display_size(as_u8.shape, size), Image.BOX)) >= 128
    shown = Image.fromarray(small.astype(np.uint8), mode="P")
    shown.putpalette([0, 0, 0, *colour])
    shown.save(path, optimize=True, transparency=0, bits=1)
    return shown.size


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _open_refs(group: Group, runs: dict[int, Run]) -> tuple[dict[str, CaseRef] | None, str | None]:
    """Test refs by id from the first stored data location that still holds the group's manifest."""
    problems = []
    for location in sorted({r.data_location for r in runs.values()}):
        try:
            dataset = open_dataset(group.dataset, location)
            if dataset.manifest_hash() != group.manifest_hash:
                problems.append("the data found no longer matches the manifest")
                continue
            return {ref.id: ref for ref in dataset.cases("test")}, None
        except _LOAD_ERRORS as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
    return None, "; ".join(problems) or "no stored data location"


def _rebuild_mask(published: PublishedRow, cache: PredictionCache, case_id: str) -> np.ndarray | None:
    prediction = cache.load(case_id)
    if published.row.protocol == "mask":
        return prediction.mask
    if published.row.threshold is None:
        return None
    return apply_threshold(prediction.anomaly_map, published.row.threshold)


def build_gallery(
    store: Store,
    group: Group,
    out: Path,
    folder: str,
    *,
    n_anomalous: int = 3,
    n_normal: int = 1,
    size: int = 128,
) -> GroupGallery:
    """Write the gallery PNGs of ``group`` under ``out / folder`` and say what they show.

    Args:
        out: the published folder; paths in the result are relative to it.
        folder: sub-folder for this group's files, e.g. ``gallery/brain-bmad-brain-88bc3bd01af4``.
        size: longest side of every PNG, in pixels.
    """
    gallery = GroupGallery()
    runs = {p.row.run_id: store.get_run(p.row.run_id) for p in group.rows}
    runs = {k: v for k, v in runs.items() if v is not None}
    refs, problem = _open_refs(group, runs)
    if refs is None:
        gallery.notes.append(f"No gallery: the test images of {group.dataset} are not available here ({problem}).")
        return gallery
    target = out / folder
    target.mkdir(parents=True, exist_ok=True)
    picks = [(c, label) for c, label in choose_cases(group, n_anomalous, n_normal) if c in refs]
    frames = sorted({runs[p.row.run_id].frame for p in group.rows if p.row.run_id in runs})
    framed: dict[tuple[str, str], LabelledCase] = {}
    for index, (case_id, label) in enumerate(picks):
        shown = GalleryCase(case_id, label)
        try:
            case = refs[case_id].load()
            for frame in frames:
                framed[case_id, frame] = fc = get_frame(frame).apply(case)
                name = f"{folder}/{index}-image-{_safe(frame)}.png"
                shown.images[frame] = GalleryImage(name, *_write_grey(out / name, fc.image, size))
                name = f"{folder}/{index}-truth-{_safe(frame)}.png"
                shown.truths[frame] = GalleryImage(name, *_write_mask(out / name, fc.truth(), TRUTH_COLOUR, size))
        except _LOAD_ERRORS as exc:
            gallery.notes.append(f"Case {case_id} could not be read ({type(exc).__name__}: {exc}); left out.")
            continue
        gallery.cases.append(shown)
    for published in group.rows:
        _draw_row(published, runs.get(published.row.run_id), gallery, framed, out, folder, size)
    return gallery


def _cached(cache: PredictionCache, case_id: str) -> bool:
    try:
        return cache.has(case_id)
    except Exception:  # an unreachable remote cache: the case is left out, the publish goes on
        return False


def _draw_row(published, run, gallery, framed, out, folder, size) -> None:
    label = f"{published.row.method} (run {published.row.run_id})"
    try:
        # The configured cache: a local folder or a URL (s3://...) that workers elsewhere wrote to.
        cache = PredictionCache(run.run_key) if run is not None else None
        found = cache is not None and cache.exists()
    except (BenchError, OSError) as exc:
        gallery.notes.append(f"{label}: the prediction cache cannot be read ({exc}); its masks are left out.")
        return
    if not found:
        gallery.notes.append(f"{label}: no cached predictions on this machine; its masks are left out.")
        return
    gallery.frames[published.row_id] = run.frame
    stored = {c.case_id: c.dice for c in published.cases}
    for index, shown in enumerate(gallery.cases):
        case = framed.get((shown.case_id, run.frame))
        if case is None or not _cached(cache, shown.case_id):
            gallery.notes.append(f"{label}: no cached prediction of {shown.case_id}; left out.")
            continue
        try:
            mask = _rebuild_mask(published, cache, shown.case_id)
        except _LOAD_ERRORS as exc:
            gallery.notes.append(f"{label}: cached prediction of {shown.case_id} unreadable ({exc}); left out.")
            continue
        truth = case.truth()
        if mask is None or mask.shape != truth.shape:
            gallery.notes.append(f"{label}: no mask of the frame's size for {shown.case_id}; left out.")
            continue
        if shown.case_id in stored and not math.isclose(dice(mask, truth), stored[shown.case_id], abs_tol=1e-9):
            gallery.notes.append(
                f"{label}: the cached prediction of {shown.case_id} does not reproduce its stored DICE; left out."
            )
            continue
        name = f"{folder}/{index}-{_safe(published.row_id)}.png"
        shown.masks[published.row_id] = GalleryImage(name, *_write_mask(out / name, mask, MASK_COLOUR, size))
        shown.dice[published.row_id] = stored.get(shown.case_id, math.nan)
