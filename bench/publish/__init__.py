"""Published leaderboards: ``mias-bench publish`` writes them, ``mias-bench verify`` checks them."""

from bench.publish.board import Board, CaseRow, Group, PublishedRow, PublishError, collect_board, row_id
from bench.publish.schema import SCHEMA, SCHEMA_VERSION, board_document, load_document
from bench.publish.writer import PublishResult, publish

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Board",
    "CaseRow",
    "Group",
    "PublishError",
    "PublishResult",
    "PublishedRow",
    "board_document",
    "collect_board",
    "load_document",
    "publish",
    "row_id",
]
