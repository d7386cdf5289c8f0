"""The result store: SQLAlchemy models, Alembic migrations, and the Store API."""

from bench.store.db import Store
from bench.store.engine import head_revision
from bench.store.models import CaseMetric, CasePrediction, Evaluation, Run, Summary
from bench.store.owners import Claim, Holder, Owner, OwnershipLost

__all__ = [
    "Claim",
    "Holder",
    "Owner",
    "OwnershipLost",
    "CaseMetric",
    "CasePrediction",
    "Evaluation",
    "Run",
    "Store",
    "Summary",
    "head_revision",
]
