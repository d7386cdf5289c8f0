"""The checkpoints MIAS-SAM can load: the SAM releases and MedSAM, as the plugin declares them.

Official addresses, byte sizes and full SHA-256 digests. The hex in a SAM
file name (``sam_vit_b_01ec64.pth``) is the start of the file's **MD5**, not
of its SHA-256; both are recorded here, and fetching verifies the SHA-256.
``mias-bench weights list`` shows them with ``mias-sam`` as the detector
that declares them; ``mias-bench weights fetch sam_vit_b`` installs one.
"""

from __future__ import annotations

from bench.sdk import Checkpoint

_SAM = "https://dl.fbaipublicfiles.com/segment_anything/"

SAM_CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint(
        name="sam_vit_b",
        file="sam_vit_b_01ec64.pth",
        url=_SAM + "sam_vit_b_01ec64.pth",
        size=375_042_383,
        sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        md5="01ec64d29a2fca3f0661936605ae66f8",
        licence="Apache-2.0",
        variant="vit_b",
        description="Segment Anything ViT-B (Meta); MIAS-SAM's published encoder",
    ),
    Checkpoint(
        name="sam_vit_l",
        file="sam_vit_l_0b3195.pth",
        url=_SAM + "sam_vit_l_0b3195.pth",
        size=1_249_524_607,
        sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        md5="0b3195507c641ddb6910d2bb5adee89c",
        licence="Apache-2.0",
        variant="vit_l",
        description="Segment Anything ViT-L (Meta)",
    ),
    Checkpoint(
        name="sam_vit_h",
        file="sam_vit_h_4b8939.pth",
        url=_SAM + "sam_vit_h_4b8939.pth",
        size=2_564_550_879,
        sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        md5="4b8939a88964f0f4ff5f5b2642c598a6",
        licence="Apache-2.0",
        variant="vit_h",
        description="Segment Anything ViT-H (Meta)",
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
        licence="CC-BY-4.0",
        variant="medsam",
        description="MedSAM ViT-B (Ma et al. 2024, fine-tuned SAM ViT-B)",
    ),
)

#: The checkpoint each SAM variant loads when its config says ``weights: null``.
OFFICIAL_FOR_VARIANT = {"vit_b": "sam_vit_b", "vit_l": "sam_vit_l", "vit_h": "sam_vit_h", "medsam": "medsam_vit_b"}
