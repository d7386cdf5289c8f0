"""A store as mias-bench 0.1 wrote it (schema 0001), with one complete run, upgraded on open."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command

from bench.store import Store
from bench.store.engine import _alembic_config


def legacy_store_with_one_run(path: Path) -> Store:
    """An SQLite store created at revision 0001 with one complete, evaluated run; then opened (upgraded)."""
    old = Store(str(path), upgrade=False)
    with old.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.exec_driver_sql(
            "INSERT INTO runs (run_key, detector, detector_version, plugin_dist, plugin_version, config_json, "
            "config_hash, dataset, collection, modality, data_location, manifest_hash, frame, split, n_cases, "
            "weights, transductive, seed, device, packages_json, run_info_json, status, started_at, finished_at) "
            "VALUES ('old-key', 'intensity-zscore', '1.0', 'mias-bench', '0.1.0', ?, ?, 'planted', 'custom', "
            "'brain', '<memory>', ?, 'paper-256', 'test', 1, NULL, 0, 0, 'cpu', '{}', '{}', 'complete', "
            "'2026-11-01 00:00:00', '2026-11-01 00:01:00')",
            (json.dumps({"grid": 128}), "c" * 64, "m" * 64),
        )
        conn.exec_driver_sql(
            "INSERT INTO evaluations (run_id, protocol, threshold, fitted_on, upper_bound, created_at) "
            "VALUES (1, 'fixed:1', 1.0, 'user', 0, '2026-11-01 00:01:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO case_metrics (evaluation_id, case_id, label, dice, pred_fraction, extras_json) "
            "VALUES (1, 'test/Ungood/000.png', 1, 0.5, 0.1, '{}')"
        )
        conn.exec_driver_sql("INSERT INTO summaries (evaluation_id, metric, value) VALUES (1, 'dice', 0.5)")
    old.close()
    return Store(str(path))
