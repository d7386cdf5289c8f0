"""Reading a BMAD-style folder tree: which PNG is an image or a mask, of which split and class.

Folder names are read as tokens, case-insensitively and in any order, so
every layout in circulation parses with one rule set:

- a **split**: ``train``, ``valid`` / ``val`` / ``validation``, ``test``;
- a **class**: ``good`` (normal) or ``Ungood`` (anomalous);
- a **role**: ``img`` (images) or ``label`` / ``anomaly_mask`` / ``mask`` /
  ``ground_truth`` / ``<split>_label`` (masks).

RESC's ``Val/val/good`` repeats the split (the inner one is the image role),
hist_DIY puts the role before the class, BraTS the class before the role.
Images and masks are paired by file stem within a (split, class). Listing
only stats files; nothing is decoded.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SPLIT_TOKENS = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "test": "test",
    "testing": "test",
}
CLASS_TOKENS = {"good": 0, "normal": 0, "ungood": 1, "abnormal": 1}
IMAGE_TOKENS = {"img", "imgs", "image", "images"}
MASK_TOKENS = {"label", "labels", "anomaly_mask", "anomaly_masks", "mask", "masks", "ground_truth", "gt"}
_SPLIT_MASK_RE = re.compile(r"^(train|training|valid|val|validation|test|testing)_(label|labels|mask|masks|gt)$")
_MASK_STEM_SUFFIXES = ("_mask", "_label", "_gt")
#: Files that a tree may hold beside its PNGs without a warning.
QUIET_FILES = {"mias-bench-synthetic.json", "readme.md", "readme.txt", "license", "license.txt"}
EXPECTED_FOLDERS = (
    "a split (train, valid/val, test), a class (good, Ungood) "
    "or an image/mask folder (img, label, anomaly_mask, <split>_label)"
)


@dataclass(frozen=True)
class FileEntry:
    """One PNG in the tree. ``relpath`` uses forward slashes, relative to the dataset root."""

    relpath: str
    split: str
    label: int
    role: str  # "image" or "mask"
    size: int
    mtime_ns: int

    @property
    def stem(self) -> str:
        return self.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0]

    @property
    def folder(self) -> str:
        return self.relpath.rsplit("/", 1)[0] + "/" if "/" in self.relpath else "./"


@dataclass(frozen=True)
class Pair:
    """An image and its mask (``None`` for a normal case without one)."""

    image: FileEntry
    mask: FileEntry | None


@dataclass(frozen=True)
class Problem:
    """Something wrong with a tree, naming the file or folder and what was expected."""

    severity: str  # "error" or "warning"
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class TreeScan:
    """Everything a listing found: classified files, image/mask pairs and problems."""

    root: Path
    files: list[FileEntry] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(frozen=True)
class _DirState:
    split: str | None = None
    label: int | None = None
    role: str | None = None
    error: str | None = None


def _enter(state: _DirState, name: str, relpath: str) -> _DirState:
    """The state of folder ``name`` inside a folder in ``state``."""
    if state.error:
        return state
    token = name.lower()
    split = label = role = None
    if token in SPLIT_TOKENS:
        split = SPLIT_TOKENS[token]
        if state.split == split and state.role is None:
            role = "image"  # RESC: Val/val/good, the inner split folder holds images
    elif token in CLASS_TOKENS:
        label = CLASS_TOKENS[token]
    elif token in IMAGE_TOKENS:
        role = "image"
    elif token in MASK_TOKENS:
        role = "mask"
    elif match := _SPLIT_MASK_RE.match(token):
        split, role = SPLIT_TOKENS[match.group(1)], "mask"
    else:
        return _DirState(error=f"unexpected folder `{relpath}/`: expected {EXPECTED_FOLDERS}")
    if split is not None and state.split not in (None, split):
        return _DirState(error=f"folder `{relpath}/` names split {split!r} inside split {state.split!r}")
    if label is not None and state.label is not None and label != state.label:
        return _DirState(error=f"folder `{relpath}/` names a class inside another class")
    if role is not None and state.role not in (None, role):
        return _DirState(error=f"folder `{relpath}/` mixes image and mask folders")
    return _DirState(
        split=split or state.split,
        label=state.label if label is None else label,
        role=role or state.role,
    )


def _skip(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _walk(root: Path, scan: TreeScan) -> None:
    """List every folder under ``root`` once, following symlinks but never around a loop."""
    root_stat = os.stat(root)
    stack: list[tuple[str, str, _DirState, dict[tuple[int, int], str]]] = [
        (str(root), "", _DirState(), {(root_stat.st_dev, root_stat.st_ino): ""})
    ]
    while stack:
        path, rel, state, ancestors = stack.pop()
        pngs: list[tuple[str, os.stat_result]] = []
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            scan.problems.append(Problem("error", rel or ".", f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if _skip(entry.name):
                continue
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            is_png = entry.name.lower().endswith(".png")
            try:
                st = entry.stat()  # follows symlinks
            except OSError as exc:
                scan.problems.append(_unreachable(entry, child_rel, exc, is_png))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    back = f"`{ancestors[key]}/`" if ancestors[key] else "the dataset root"
                    message = f"symlink loop: this folder leads back to {back}; not followed"
                    scan.problems.append(Problem("error", child_rel, message))
                    continue
                child_state = _enter(state, entry.name, child_rel)
                stack.append((entry.path, child_rel, child_state, {**ancestors, key: child_rel}))
            elif is_png:
                pngs.append((child_rel, st))
            elif entry.name.lower() not in QUIET_FILES:
                scan.problems.append(Problem("warning", child_rel, "not a PNG file; ignored"))
        if pngs:
            _classify_folder(rel, state, pngs, scan)


def _unreachable(entry: os.DirEntry, rel: str, exc: OSError, is_png: bool) -> Problem:
    """The problem for an entry whose target cannot be reached: a broken symlink, a loop, or no permission."""
    if exc.errno == errno.ELOOP:
        return Problem("error", rel, "symlink loop: it resolves to itself through other links; not followed")
    if entry.is_symlink() and isinstance(exc, FileNotFoundError):
        target = os.readlink(entry.path)
        severity, outcome = ("error", "") if is_png else ("warning", "; ignored")
        return Problem(severity, rel, f"broken symlink: its target {target} does not exist{outcome}")
    return Problem("error", rel, f"cannot read: {exc.strerror or exc}")


def _classify_folder(rel: str, state: _DirState, pngs: list[tuple[str, os.stat_result]], scan: TreeScan) -> None:
    first = pngs[0][0]
    more = f" (and {len(pngs) - 1} more PNG files there)" if len(pngs) > 1 else ""
    if state.error:
        scan.problems.append(Problem("error", first, state.error + more))
        return
    if state.split is None:
        where = f"`{rel}/`" if rel else "the dataset root"
        message = f"PNG files in {where} are not under a split folder: expected train/, valid/ (or val/) or test/"
        scan.problems.append(Problem("error", first, message + more))
        return
    label = state.label
    if label is None:
        if state.split != "train":
            message = f"not under a class folder: expected `{rel}/good/` or `{rel}/Ungood/`"
            scan.problems.append(Problem("error", first, message + more))
            return
        label = 0  # a bare train/ folder holds normal images
    role = state.role or "image"
    for relpath, st in pngs:
        scan.files.append(FileEntry(relpath, state.split, label, role, st.st_size, st.st_mtime_ns))


def _mask_key(entry: FileEntry, image_stems: set[str]) -> str:
    stem = entry.stem
    if stem in image_stems:
        return stem
    for suffix in _MASK_STEM_SUFFIXES:
        if stem.endswith(suffix) and stem[: -len(suffix)] in image_stems:
            return stem[: -len(suffix)]
    return stem


def _pair(scan: TreeScan) -> None:
    groups: dict[tuple[str, int], dict[str, list[FileEntry]]] = defaultdict(lambda: {"image": [], "mask": []})
    for entry in scan.files:
        groups[(entry.split, entry.label)][entry.role].append(entry)
    for (split, label), group in sorted(groups.items()):
        class_name = "Ungood" if label else "good"
        images: dict[str, FileEntry] = {}
        for image in group["image"]:
            if image.stem in images:
                other = images[image.stem].relpath
                message = f"two images with stem {image.stem!r} in {split}/{class_name}: `{other}` and this one"
                scan.problems.append(Problem("error", image.relpath, message))
                continue
            images[image.stem] = image
        image_folders = sorted({i.folder for i in images.values()})
        mask_folders = sorted({m.folder for m in group["mask"]})
        masks: dict[str, FileEntry] = {}
        stems = set(images)
        for mask in group["mask"]:
            key = _mask_key(mask, stems)
            if key not in images:
                where = ", ".join(f"`{f}`" for f in image_folders) or f"an image folder of {split}/{class_name}"
                message = f"mask without an image: expected `{key}.png` under {where}, found none"
                scan.problems.append(Problem("error", mask.relpath, message))
            elif key in masks:
                message = f"second mask for `{images[key].relpath}` (first: `{masks[key].relpath}`)"
                scan.problems.append(Problem("error", mask.relpath, message))
            else:
                masks[key] = mask
        for stem, image in images.items():
            mask = masks.get(stem)
            if label == 1 and mask is None:
                where = ", ".join(f"`{f}`" for f in mask_folders) or "a mask folder (label/, anomaly_mask/, *_label/)"
                message = f"expected a mask for this anomalous image under {where}, found none"
                scan.problems.append(Problem("error", image.relpath, message))
                continue
            if label == 1 and split == "train":
                message = "anomalous image in the training split (BMAD trains on normal images only)"
                scan.problems.append(Problem("warning", image.relpath, message))
            scan.pairs.append(Pair(image, mask))
    scan.pairs.sort(key=lambda p: p.image.relpath)


def scan_tree(root: Path) -> TreeScan:
    """Classify every PNG under ``root`` (a dataset folder) and pair images with masks.

    Never raises for a malformed tree: problems are returned, each naming the
    file and what was expected. Only stats files.
    """
    scan = TreeScan(root=root)
    _walk(root, scan)
    scan.files.sort(key=lambda e: e.relpath)
    if not scan.files and not scan.errors:
        message = "no PNG images found: expected train/good/*.png and valid|test/{good,Ungood} folders"
        scan.problems.append(Problem("error", ".", message))
    _pair(scan)
    return scan


def looks_like_dataset(folder: Path) -> bool:
    """True when ``folder`` holds a split or class folder (train, val, test, good, Ungood; any case)."""
    try:
        return any(p.is_dir() and p.name.lower() in {*SPLIT_TOKENS, *CLASS_TOKENS} for p in folder.iterdir())
    except OSError:
        return False
