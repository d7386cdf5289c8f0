"""Trusted runs: code in the identity, platform-decided provenance, run owners, evaluation states, pixel counts.

- ``runs``: ``lineage_key``, ``random_init``, ``provenance``, ``mias_bench_version``,
  ``plugin_commit``, ``seal_salt``, ``weights_files_json`` (every loaded file with
  its digest), owner (``owner``, ``owner_host``, ``owner_pid``, ``heartbeat_at``).
  ``run_key`` is recomputed: it now covers the detector and plugin versions. Runs stored before this revision get
  ``provenance = 'self-reported'`` (their weights and marks came from the plugin).
- ``evaluations``: ``status`` and ``error``, so a failed protocol does not touch its run.
- ``case_predictions``: ``digest`` of the cached prediction file.
- ``case_metrics``: the pixel counts of each case (``intersection``, ``predicted``,
  ``truth_pixels``, ``pixels``), so pooled DICE can be recomputed from per-case values.

Only columns and indexes are added, so SQLite never rebuilds a table here (a
rebuild drops the old table, and with foreign keys on that would cascade into
every evaluation and case row).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The identity as of this revision (frozen here: later code may change bench.provenance).
_IDENTITY = (
    "detector",
    "detector_version",
    "plugin_dist",
    "plugin_version",
    "config_hash",
    "dataset",
    "manifest_hash",
    "frame",
    "split",
    "seed",
)
_LINEAGE = ("detector", "plugin_dist", "config_hash", "dataset", "manifest_hash", "frame", "split", "seed")


def _digest(row, names) -> str:
    return hashlib.sha256(json.dumps({n: row[n] for n in names}, sort_keys=True).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lineage_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("random_init", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("provenance", sa.String(16), nullable=False, server_default="platform"))
        batch.add_column(sa.Column("mias_bench_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("plugin_commit", sa.String(64), nullable=True))
        batch.add_column(sa.Column("seal_salt", sa.String(64), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("owner_host", sa.String(256), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("weights_files_json", sa.Text(), nullable=True))
    op.create_index("ix_runs_lineage_key", "runs", ["lineage_key"])
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="complete"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("case_predictions") as batch:
        batch.add_column(sa.Column("digest", sa.String(64), nullable=True))
    with op.batch_alter_table("case_metrics") as batch:
        for name in ("intersection", "predicted", "truth_pixels", "pixels"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))

    conn = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id", sa.Integer()),
        sa.column("run_key", sa.String()),
        sa.column("lineage_key", sa.String()),
        sa.column("provenance", sa.String()),
        sa.column("random_init", sa.Boolean()),
        sa.column("weights", sa.String()),
        *(sa.column(n) for n in _IDENTITY if n != "detector"),
        sa.column("detector", sa.String()),
    )
    for row in conn.execute(sa.select(runs)).mappings().all():
        conn.execute(
            runs.update()
            .where(runs.c.id == row["id"])
            .values(
                run_key=_digest(row, _IDENTITY),
                lineage_key=_digest(row, _LINEAGE),
                provenance="self-reported",
                random_init=True if row["weights"] == "random-init" else None,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("case_metrics") as batch:
        for name in ("intersection", "predicted", "truth_pixels", "pixels"):
            batch.drop_column(name)
    with op.batch_alter_table("case_predictions") as batch:
        batch.drop_column("digest")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("error")
        batch.drop_column("status")
    op.drop_index("ix_runs_lineage_key", "runs")
    with op.batch_alter_table("runs") as batch:
        for name in (
            "weights_files_json",
            "heartbeat_at",
            "owner_pid",
            "owner_host",
            "owner",
            "seal_salt",
            "plugin_commit",
            "mias_bench_version",
            "provenance",
            "random_init",
            "lineage_key",
        ):
            batch.drop_column(name)
