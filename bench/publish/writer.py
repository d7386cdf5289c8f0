"""``publish``: write ``<out>/<name>/`` from a store, atomically.

Files: ``leaderboard.json``, ``leaderboard.csv``, ``leaderboard.md``,
``cases.csv``, ``index.html``, ``gallery/<group>/*.png`` and, last,
``SHA256SUMS``. Everything is written into a temporary folder beside the
target and swapped in only when complete, so a publish that fails (a kill, a
full disk) leaves the previous publication as it was. Every file except the
JSON is rendered from the board that the JSON and ``cases.csv`` describe
(:func:`render_files`), which is exactly what ``verify`` re-renders.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import __version__
from bench.publish.board import Board, PublishError, collect_board
from bench.publish.digests import DIGESTS, write_digests
from bench.publish.document import board_document, board_from_document, cases_csv, dump_document, read_cases_csv
from bench.publish.folders import swap_in
from bench.publish.gallery import build_gallery
from bench.publish.page import render_page
from bench.publish.ranks import rank_groups
from bench.publish.tables import leaderboard_csv, leaderboard_markdown
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
    if not name or name in {".", ".."} or "/" in name or "\\" in name or name.startswith("."):
        raise PublishError(f"cannot publish {name!r}: expected a dataset or collection name, not a path")
    return name


def render_files(board: Board) -> dict[str, str]:
    """Every text file of a publication, from the board (``published_at`` and gallery included)."""
    return {
        "leaderboard.json": dump_document(board_document(board)),
        "cases.csv": cases_csv(board),
        "leaderboard.csv": leaderboard_csv(board),
        "leaderboard.md": leaderboard_markdown(board),
        "index.html": render_page(board),
    }


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
        OSError: the folder cannot be written (the previous publication is left intact).
    """
    folder = Path(out) / _folder_name(name)
    board = collect_board(store, name)
    result = PublishResult(folder=folder, rows=len(board.rows), groups=len(board.groups))
    result.notes += rank_groups(board)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.publishing-", dir=folder.parent))
    try:
        for group in board.groups:
            group.gallery = build_gallery(store, group, staging, f"{GALLERY}/{group.group_id}", size=gallery_size)
            result.notes += [f"{group.title}: {note}" for note in group.gallery.notes]
        board.published_at = now().astimezone(UTC).replace(microsecond=0).isoformat()
        board.version = __version__
        texts = render_files(_round_trip(board))
        for filename, text in texts.items():
            (staging / filename).write_text(text, encoding="utf-8", newline="\n")
        write_digests(staging)
        swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.files = {
        path.relative_to(folder).as_posix(): path.stat().st_size for path in sorted(folder.rglob("*")) if path.is_file()
    }
    return result


def _round_trip(board: Board) -> Board:
    """The board as a reader rebuilds it from the JSON and ``cases.csv``: render from that, so verify can too."""
    document = board_document(board)
    again = board_from_document(document, read_cases_csv(cases_csv(board)))
    if dump_document(board_document(again)) != dump_document(document):
        raise PublishError("internal error: the leaderboard document does not read back to the same board")
    return again


__all__ = ["DIGESTS", "GALLERY", "PublishResult", "publish", "render_files"]
