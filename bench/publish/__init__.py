"""Published leaderboards: ``mias-bench publish`` writes them, ``mias-bench verify`` checks them."""

from bench.publish.board import Board, CaseRow, Group, PublishedRow, PublishError, collect_board, row_id
from bench.publish.document import SCHEMA, SCHEMA_VERSION, board_document, board_from_document, load_document
from bench.publish.verify import VerifyReport, open_store, verify_publication
from bench.publish.writer import PublishResult, publish, render_files

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Board",
    "CaseRow",
    "Group",
    "PublishError",
    "PublishResult",
    "PublishedRow",
    "VerifyReport",
    "board_document",
    "board_from_document",
    "collect_board",
    "load_document",
    "open_store",
    "publish",
    "render_files",
    "row_id",
    "verify_publication",
]
