"""Store backends: an SQLite file, and a database on the session's PostgreSQL server.

The server itself (``postgres_url``, ``fresh_postgres_url``) is started by
``tests/support/postgres_server.py``, shared with the grid tests.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("fresh_postgres_url")
