"""``publish``: write ``<out>/<name>/`` from a store.

Files: ``leaderboard.md``, ``leaderboard.csv``, ``leaderboard.json``,
``cases.csv``, ``index.html`` and ``gallery/<group>/*.png``. Everything is
a function of the store alone except ``published_at`` in the JSON, so
publishing the same store again gives a clean diff. The ``gallery/``
folder is rewritten on every publish.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import __version__
from bench.publish.board import PublishError, collect_board
from bench.publish.gallery import GroupGallery, build_gallery
from bench.publish.page import render_page
from bench.publish.ranks import rank_groups
from bench.publish.schema import board_document, dump_document
from bench.publish.tables import cases_csv, leaderboard_csv, leaderboard_markdown
from bench.store import Store

GALLERY = "gallery"


@dataclass
class PublishResult:
    """What a publish wrote: the folder, each file with its size in bytes, and notes for the reader."""

    folder: Path
    files: dict[str, int] = field(default_factory=dict)  # path relative to folder -> bytes
    rows: int = 0
    groups: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "files": dict(self.files),
            "rows": self.rows,
            "groups": self.groups,
            "notes": list(self.notes),
        }


def _folder_name(name: str) -> str:
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise PublishError(f"cannot publish {name!r}: expected a dataset or collection name, not a path")
    return name


def publish(
    store: Store,
    name: str,
    out: str | Path = "leaderboards",
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    gallery_size: int = 128,
) -> PublishResult:
    """Publish the leaderboard of dataset or collection ``name`` to ``out/name/``.

    Raises:
        PublishError: nothing of that name is stored, or the name is not a plain name.
    """
    folder = Path(out) / _folder_name(name)
    board = collect_board(store, name)
    result = PublishResult(folder=folder, rows=len(board.rows), groups=len(board.groups))
    result.notes += rank_groups(store, board)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / GALLERY, ignore_errors=True)
    galleries: dict[str, GroupGallery] = {}
    for group in board.groups:
        gallery = build_gallery(store, group, folder, f"{GALLERY}/{group.group_id}", size=gallery_size)
        galleries[group.group_id] = gallery
        result.notes += [f"{group.title}: {note}" for note in gallery.notes]
    published_at = now().astimezone(UTC).replace(microsecond=0).isoformat()
    texts = {
        "leaderboard.json": dump_document(board_document(board, published_at=published_at, version=__version__)),
        "leaderboard.csv": leaderboard_csv(board),
        "cases.csv": cases_csv(board),
        "leaderboard.md": leaderboard_markdown(board),
        "index.html": render_page(board, galleries),
    }
    for filename, text in texts.items():
        (folder / filename).write_text(text, encoding="utf-8", newline="\n")
    result.files = {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (path.name in texts or path.is_relative_to(folder / GALLERY))
    }
    return result
