"""SQLAlchemy 2 models. Table names are the contract (DESIGN.md); columns are ours."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


Base.metadata.naming_convention = NAMING


class SourceRecord(Base):
    """One row of a source. ``data`` holds every column of the file, as text."""

    __tablename__ = "source_record"
    __table_args__ = (UniqueConstraint("source", "source_pk", name="uq_source_record_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20), index=True)
    source_pk: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    event_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Person(Base):
    __tablename__ = "person"

    person_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set when a merge retires this key; it then resolves to the survivor.
    retired_into: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Link(Base):
    """record -> person. At most one active link per record (partial unique index)."""

    __tablename__ = "link"
    __table_args__ = (
        Index(
            "uq_link_active_record",
            "record_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    person_key: Mapped[str] = mapped_column(ForeignKey("person.person_key"), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[str] = mapped_column(String(10))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Origin(Base):
    """Why a person entered the funnel: one per (person, origin record), never overwritten."""

    __tablename__ = "origin"
    __table_args__ = (UniqueConstraint("person_key", "record_id", name="uq_origin_person_record"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_key: Mapped[str] = mapped_column(ForeignKey("person.person_key"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    origin: Mapped[str] = mapped_column(String(30))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("link.id"), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(20), default="system")
    status: Mapped[str] = mapped_column(String(30), default="resolved_auto")
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class OriginHistory(Base):
    """Append-only journal of every change to an origin."""

    __tablename__ = "origin_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("origin.id"), index=True)
    event: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Unmatched(Base):
    """Current state of a record the engine could not link: one row per record."""

    __tablename__ = "unmatched"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(30), index=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    candidates: Mapped[list[Any]] = mapped_column(JSON)
    band: Mapped[str] = mapped_column(String(10), default="reject")
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class JobRun(Base):
    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
