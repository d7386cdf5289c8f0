"""The result store: SQLAlchemy models, Alembic migrations, and the Store API."""

from bench.store.db import Store
from bench.store.engine import head_revision
from bench.store.models import CaseMetric, CasePrediction, Evaluation, Run, Summary

__all__ = ["CaseMetric", "CasePrediction", "Evaluation", "Run", "Store", "Summary", "head_revision"]
