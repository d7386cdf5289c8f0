"""Alembic environment: the store hands over its own connection."""

from __future__ import annotations

from alembic import context

from bench.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes one
    raise RuntimeError("bench migrations run through bench.store.Store, which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
