"""Known checkpoints and the ones a user registered: names, files, addresses, digests.

The four known checkpoints are the SAM releases and MedSAM, with their
official addresses, byte sizes and full SHA-256 digests. The hex in a SAM
file name (``sam_vit_b_01ec64.pth``) is the start of the file's **MD5**, not
its SHA-256; both are recorded here, and fetching verifies the SHA-256.

Checkpoints registered with ``mias-bench weights add`` live in
``<weights dir>/registry.json`` beside the files, together with the digest
of every file the cache has verified (so a load need not re-hash an
unchanged file).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import UnknownNameError, WeightsError
from bench.names import suggest
from bench.paths import weights_dir

REGISTRY_FILE = "registry.json"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint the cache knows by name.

    Attributes:
        name: what users type, e.g. ``sam_vit_b``.
        file: file name inside the weights cache.
        url: official address (``None`` for a file registered from disk).
        size: bytes, when known.
        sha256: full hex digest, or a hex prefix; ``None`` when unknown.
        md5: full hex MD5 when known (informational; SAM file names carry its start).
        variant: the ``sam_variant`` whose architecture the weights fit.
        origin: ``"known"`` (shipped with mias-bench) or ``"added"`` (registered by a user).
        description: one line for listings.
    """

    name: str
    file: str
    url: str | None = None
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    variant: str | None = None
    origin: str = "known"
    description: str = ""

    def matches(self, digest: str) -> bool:
        """Whether a full SHA-256 hex digest agrees with the expected one (or its prefix)."""
        return self.sha256 is None or digest.lower().startswith(self.sha256.lower())


_SAM = "https://dl.fbaipublicfiles.com/segment_anything/"

KNOWN_CHECKPOINTS: dict[str, Checkpoint] = {
    ck.name: ck
    for ck in (
        Checkpoint(
            name="sam_vit_b",
            file="sam_vit_b_01ec64.pth",
            url=_SAM + "sam_vit_b_01ec64.pth",
            size=375_042_383,
            sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
            md5="01ec64d29a2fca3f0661936605ae66f8",
            variant="vit_b",
            description="Segment Anything ViT-B (Meta, Apache-2.0); MIAS-SAM's published encoder",
        ),
        Checkpoint(
            name="sam_vit_l",
            file="sam_vit_l_0b3195.pth",
            url=_SAM + "sam_vit_l_0b3195.pth",
            size=1_249_524_607,
            sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
            md5="0b3195507c641ddb6910d2bb5adee89c",
            variant="vit_l",
            description="Segment Anything ViT-L (Meta, Apache-2.0)",
        ),
        Checkpoint(
            name="sam_vit_h",
            file="sam_vit_h_4b8939.pth",
            url=_SAM + "sam_vit_h_4b8939.pth",
            size=2_564_550_879,
            sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
            md5="4b8939a88964f0f4ff5f5b2642c598a6",
            variant="vit_h",
            description="Segment Anything ViT-H (Meta, Apache-2.0)",
        ),
        Checkpoint(
            name="medsam_vit_b",
            file="medsam_vit_b.pth",
            # The MedSAM README links a Google Drive folder; this Zenodo record
            # holds the same file (same MD5) at an address a plain HTTP client can fetch.
            url="https://zenodo.org/records/10689643/files/medsam_vit_b.pth",
            size=375_049_145,
            sha256="34b34b78c1d18cb8c6bf84cf9c00e135d6d6c965699f3c0e31ef1bc9dcb5be74",
            md5="3bb6db55bd0c9ca30b61248bca72f8d6",
            variant="medsam",
            description="MedSAM ViT-B (Ma et al. 2024, fine-tuned SAM ViT-B; weights CC-BY-4.0)",
        ),
    )
}

#: The checkpoint each SAM variant loads when its config says ``weights: null``.
OFFICIAL_FOR_VARIANT = {"vit_b": "sam_vit_b", "vit_l": "sam_vit_l", "vit_h": "sam_vit_h", "medsam": "medsam_vit_b"}


def registry_path() -> Path:
    return weights_dir() / REGISTRY_FILE


def read_registry() -> dict[str, Any]:
    """The cache's bookkeeping: ``{"added": {name: {...}}, "verified": {file: {...}}}``."""
    path = registry_path()
    if not path.exists():
        return {"added": {}, "verified": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights registry {path} is unreadable ({exc}); fix or delete it") from None
    data.setdefault("added", {})
    data.setdefault("verified", {})
    return data


def write_registry(data: dict[str, Any]) -> None:
    """Write the registry atomically (temporary file, then rename)."""
    path = registry_path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def added_checkpoints() -> dict[str, Checkpoint]:
    """Checkpoints registered from local files with ``mias-bench weights add``."""
    out = {}
    for name, entry in read_registry()["added"].items():
        out[name] = Checkpoint(
            name=name,
            file=entry["file"],
            url=None,
            size=entry.get("size"),
            sha256=entry.get("sha256"),
            variant=entry.get("variant"),
            origin="added",
            description=f"added from {entry.get('source', '?')}",
        )
    return out


def list_checkpoints() -> list[Checkpoint]:
    """Known checkpoints first, then added ones, each group sorted by name."""
    added = added_checkpoints()
    return [KNOWN_CHECKPOINTS[n] for n in sorted(KNOWN_CHECKPOINTS)] + [
        added[n] for n in sorted(added) if n not in KNOWN_CHECKPOINTS
    ]


def get_checkpoint(name: str) -> Checkpoint:
    """The checkpoint called ``name``; an unknown name suggests close matches."""
    if name in KNOWN_CHECKPOINTS:
        return KNOWN_CHECKPOINTS[name]
    added = added_checkpoints()
    if name in added:
        return added[name]
    known = sorted({*KNOWN_CHECKPOINTS, *added})
    raise UnknownNameError(
        f"unknown checkpoint {name!r}{suggest(name, known)} (known: {', '.join(known)}); "
        f"register a local file with `mias-bench weights add PATH --name {name}`"
    )


def as_dict(ck: Checkpoint) -> dict[str, Any]:
    return asdict(ck)
