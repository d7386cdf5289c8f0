"""SQLAlchemy 2.0 models of the result store.

A :class:`Run` is one detector version, config, dataset manifest, frame and
seed (its identity, :class:`bench.provenance.Provenance`); its test
predictions are computed once, and its ``status`` is the state of those
predictions. Each :class:`Evaluation` scores them under one threshold
protocol, with per-case rows and summary rows hanging off it, and has a
status of its own: a protocol that fails leaves the run and its other
evaluations as they were. A run being executed has an owner (a token, host
and process id, with a heartbeat) so two processes never write it at once.
Schema changes go through Alembic migrations in ``bench/store/migrations``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    lineage_key: Mapped[str | None] = mapped_column(String(64), index=True)
    detector: Mapped[str] = mapped_column(String(128), index=True)
    detector_version: Mapped[str] = mapped_column(String(64))
    plugin_dist: Mapped[str | None] = mapped_column(String(128))
    plugin_version: Mapped[str | None] = mapped_column(String(64))
    preset: Mapped[str | None] = mapped_column(String(64))
    config_json: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    collection: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(64))
    data_location: Mapped[str] = mapped_column(Text)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    frame: Mapped[str] = mapped_column(String(32))
    split: Mapped[str] = mapped_column(String(16), default="test")
    n_cases: Mapped[int] = mapped_column(Integer)
    weights: Mapped[str | None] = mapped_column(String(256))
    weights_sha256: Mapped[str | None] = mapped_column(String(64))  # see bench.provenance.Provenance
    weights_files_json: Mapped[str | None] = mapped_column(Text)
    random_init: Mapped[bool | None] = mapped_column(Boolean)  # None: not established
    transductive: Mapped[bool] = mapped_column(Boolean, default=False)
    provenance: Mapped[str] = mapped_column(String(16), default="platform")
    seed: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64))
    packages_json: Mapped[str] = mapped_column(Text)
    mias_bench_version: Mapped[str | None] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))  # of the installed mias-bench
    plugin_commit: Mapped[str | None] = mapped_column(String(64))
    run_info_json: Mapped[str] = mapped_column(Text, default="{}")
    seal_salt: Mapped[str | None] = mapped_column(String(64))
    # running | interrupted | failed | complete: the state of the run's predictions
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    owner_host: Mapped[str | None] = mapped_column(String(256))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    fit_seconds: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    predictions: Mapped[list[CasePrediction]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )
    evaluations: Mapped[list[Evaluation]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class CasePrediction(Base):
    """One test case predicted in a run: the resume point, with its timing."""

    __tablename__ = "case_predictions"
    __table_args__ = (UniqueConstraint("run_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(String(512))
    label: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the cached prediction file

    run: Mapped[Run] = relationship(back_populates="predictions")


class Evaluation(Base):
    """A run's predictions scored under one threshold protocol."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("run_id", "protocol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float | None] = mapped_column(Float)
    fitted_on: Mapped[str | None] = mapped_column(String(32))
    upper_bound: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="complete")  # complete | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    run: Mapped[Run] = relationship(back_populates="evaluations")
    cases: Mapped[list[CaseMetric]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", passive_deletes=True
    )
    summaries: Mapped[list[Summary]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", passive_deletes=True
    )


class CaseMetric(Base):
    """Per-case metrics of one evaluation (the unit of paired comparisons)."""

    __tablename__ = "case_metrics"
    __table_args__ = (UniqueConstraint("evaluation_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(String(512))
    label: Mapped[int] = mapped_column(Integer)
    dice: Mapped[float] = mapped_column(Float)
    pred_fraction: Mapped[float] = mapped_column(Float)
    # The pixel counts every mask metric of the case comes from (pooled DICE too); None in old stores.
    intersection: Mapped[int | None] = mapped_column(Integer)
    predicted: Mapped[int | None] = mapped_column(Integer)
    truth_pixels: Mapped[int | None] = mapped_column(Integer)
    pixels: Mapped[int | None] = mapped_column(Integer)
    extras_json: Mapped[str] = mapped_column(Text, default="{}")

    evaluation: Mapped[Evaluation] = relationship(back_populates="cases")


class Summary(Base):
    """One named metric of one evaluation (NaN stored as NULL)."""

    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("evaluation_id", "metric"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)

    evaluation: Mapped[Evaluation] = relationship(back_populates="summaries")
