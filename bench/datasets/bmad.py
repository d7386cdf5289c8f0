"""BMAD's three segmentation sets (Bao et al., CVPR-W 2024), registered by name.

``bmad-brain`` (``BraTS2021_slice``), ``bmad-liver`` (``hist_DIY``) and
``bmad-resc`` (``RESC``). A root is the dataset's own folder or a parent
holding it under any name it circulates by (the BMAD release, the anomalib
copy's ``Brain`` / ``Liver`` / ``Retina_RESC``, or ``data synth``'s
``brain`` / ``liver`` / ``retina``). Every layout variant is read by the same
rules (:mod:`bench.datasets.layout`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bench.datasets.folder import FolderDataset
from bench.datasets.layout import looks_like_dataset
from bench.datasets.spec import DatasetSpec, SplitCounts
from bench.errors import DatasetError


def resolve_root(root: Path, name: str, folders: tuple[str, ...]) -> Path:
    """The dataset folder: ``root`` itself when it holds split folders, else a known child.

    Raises:
        DatasetError: ``root`` is missing, or neither it nor a known child holds split folders.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset root {root} does not exist (pass --data-root or set MIAS_BENCH_DATA)")
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} is a file, expected a folder")
    if looks_like_dataset(root):
        return root
    children = {p.name.lower(): p for p in sorted(root.iterdir()) if p.is_dir()}
    for folder in folders:
        child = children.get(folder.lower())
        if child is not None and looks_like_dataset(child):
            return child
    found = ", ".join(f"{n}/" for n in sorted(p.name for p in children.values())[:8]) or "no folders"
    known = ", ".join(f"{f}/" for f in folders)
    raise DatasetError(
        f"no {name} tree at {root}: expected train/, valid/ (or val/) and test/ folders there, "
        f"or one of {known} holding them; found {found}"
    )


def open_folder(root: Path, *, name: str, modality: str, folders: tuple[str, ...]) -> FolderDataset:
    """Open a BMAD-layout tree lazily (listing happens on the first ``cases()``).

    Raises:
        DatasetError: the root holds no such tree, or ``data synth`` wrote it for another modality.
    """
    dataset = FolderDataset(name, modality, resolve_root(root, name, folders))
    info = dataset.synthetic_info()
    if info is not None and info.get("modality") not in (None, modality):
        raise DatasetError(
            f"{dataset.root} holds the synthetic {info.get('modality')} set, not {modality}: "
            f"open it with the dataset for {info.get('modality')} (e.g. --data-root {dataset.root.parent})"
        )
    return dataset


def _spec(name: str, modality: str, description: str, folders: tuple[str, ...], **published: SplitCounts):
    opener = partial(open_folder, name=name, modality=modality, folders=folders)
    return DatasetSpec(name, modality, description, opener, published, folders)


BMAD_BRAIN = _spec(
    "bmad-brain",
    "brain",
    "BMAD brain MRI: BraTS2021 axial slices, 240x240, tumour masks",
    ("BraTS2021_slice", "Brain", "brain"),
    train=SplitCounts(normal=7500, anomalous=0),
    valid=SplitCounts(normal=39, anomalous=44),
    test=SplitCounts(normal=640, anomalous=3075),
)
BMAD_LIVER = _spec(
    "bmad-liver",
    "liver",
    "BMAD liver CT: BTCV normals and LiTS lesions (hist_DIY), 512x512, lesion masks",
    ("hist_DIY", "Liver", "liver"),
    train=SplitCounts(normal=1542, anomalous=0),
    valid=SplitCounts(normal=93, anomalous=73),
    test=SplitCounts(normal=833, anomalous=660),
)
BMAD_RESC = _spec(
    "bmad-resc",
    "retina",
    "BMAD retina OCT: RESC B-scans, 512x1024, fluid masks",
    ("RESC", "Retina_RESC", "retina"),
    train=SplitCounts(normal=4297, anomalous=0),
    valid=SplitCounts(total=115),
    test=SplitCounts(normal=1041, anomalous=764),
)

BMAD_SPECS = (BMAD_BRAIN, BMAD_LIVER, BMAD_RESC)
