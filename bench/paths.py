"""Where mias-bench keeps its database, caches and weights.

Each location has an environment variable that overrides it, so tests and
shared installations can point them elsewhere. The prediction cache may also
be a URL (``s3://bucket/prefix`` or anything fsspec reads), so workers on
several machines write predictions where ``publish`` and ``verify`` read them.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

DEFAULT_DB_FILE = "mias-bench.db"


def database_url(explicit: str | None = None) -> str:
    """The store's SQLAlchemy URL: ``--db``, else ``MIAS_BENCH_DB``, else ``./mias-bench.db``.

    A value without ``://`` is a path to an SQLite file.
    """
    value = explicit or os.environ.get("MIAS_BENCH_DB") or DEFAULT_DB_FILE
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def cache_dir() -> Path:
    """Cache root (manifests, prediction caches): ``MIAS_BENCH_CACHE`` or the user cache folder."""
    value = os.environ.get("MIAS_BENCH_CACHE")
    path = Path(value).expanduser() if value else Path(user_cache_dir("mias-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def predictions_root(explicit: str | Path | None = None) -> str:
    """Where runs' predictions are cached: ``explicit`` (``--cache``), else ``MIAS_BENCH_PREDICTIONS``,
    else ``<cache root>/runs``.

    A URL with a scheme (``s3://bucket/prefix``, ``file:///srv/preds``, any fsspec protocol) is returned
    as given, without a trailing slash; a plain path is made absolute.
    """
    value = str(explicit or os.environ.get("MIAS_BENCH_PREDICTIONS") or "")
    if not value:
        return str(cache_dir() / "runs")
    if "://" in value:
        return value.rstrip("/")
    return str(Path(value).expanduser().resolve())


def weights_dir() -> Path:
    """Checkpoint cache: ``MIAS_BENCH_WEIGHTS`` or ``<user cache>/weights``."""
    value = os.environ.get("MIAS_BENCH_WEIGHTS")
    path = Path(value).expanduser() if value else Path(user_cache_dir("mias-bench")) / "weights"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_root(explicit: str | Path | None = None) -> Path | None:
    """Dataset root, absolute: ``--data-root``, else ``MIAS_BENCH_DATA``, else ``None``."""
    value = explicit or os.environ.get("MIAS_BENCH_DATA")
    return Path(value).expanduser().resolve() if value else None
