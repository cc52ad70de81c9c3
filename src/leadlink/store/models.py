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
from sqlalchemy.orm import Mapped, mapped_column

from leadlink.store.base import NAMING as NAMING
from leadlink.store.base import Base as Base


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
    retired_into: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


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


class CandidatePair(Base):
    """One element of an ``unmatched`` row's candidate list (``position`` in the list), written
    by triggers on ``unmatched`` (migration 0009): the lists indexed by person."""

    __tablename__ = "candidate_pair"

    lead_record_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_key: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    rule: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)


class JobRun(Base):
    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # host:pid:uuid of the process that runs it (store/locks.py new_owner): a ``running`` row
    # whose owner is a dead process of this host is marked ``aborted`` at the next start.
    owner: Mapped[str | None] = mapped_column(String(120), nullable=True)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- matching engine: trained models and the review queue -----------------------------------


class MatchModel(Base):
    """A trained probabilistic model (Splink settings JSON), versioned; runs record its id."""

    __tablename__ = "match_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(20))  # leadlink model format version
    sha256: Mapped[str] = mapped_column(String(64))  # of the canonical settings JSON
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    trained_on: Mapped[dict[str, Any]] = mapped_column(JSON)  # row counts, seed, pairs
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ReviewItem(Base):
    """A review-band pair (record, candidate person) waiting for a human decision.

    One row per pair ever proposed: a rejected pair stays rejected and is never proposed again.
    """

    __tablename__ = "review_item"
    __table_args__ = (
        UniqueConstraint("record_id", "person_key", name="uq_review_item_pair"),
        Index("ix_review_item_status_deadline", "status", "deadline"),
        # The queue's order (store.review_stake): one range of this index per page.
        Index("ix_review_item_stake", "status", text("at_stake DESC"), "deadline", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    person_key: Mapped[str] = mapped_column(ForeignKey("person.person_key"), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    # open | accepted | rejected | superseded (the record got linked some other way)
    status: Mapped[str] = mapped_column(String(12), default="open")
    # The lead's claim deadline (lead date + claim window): the queue is ordered by it.
    deadline: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # Soles the lead could still claim if linked to the person (store.review_stake): kept by
    # the jobs and decisions that change its inputs while the item is open, frozen after.
    at_stake: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- the money loop: recovery, claims, payments, quarantine, alerts, locks --------------------


class RecoveryQueue(Base):
    """One row per KPI-red lead ever enqueued (seeding twice adds nothing)."""

    __tablename__ = "recovery_queue"
    __table_args__ = (Index("ix_recovery_queue_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), unique=True)
    # pending | matched | unmatched | parked (failed 5 times)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # Every attempt ever (numbers the recovery_attempt rows); failures counts the failed ones
    # since the last matched/unmatched outcome, for backoff and parking.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    enqueued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RecoveryAttempt(Base):
    """Every attempt at one queue item: matched / unmatched (reason) / failed (error)."""

    __tablename__ = "recovery_attempt"
    __table_args__ = (UniqueConstraint("queue_id", "attempt", name="uq_recovery_attempt_try"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("recovery_queue.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(12))  # matched | unmatched | failed
    reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    person_key: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class RecoveryDaily(Base):
    """Daily recovery metrics, so the backlog trend can be charted."""

    __tablename__ = "recovery_daily"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    backlog_before: Mapped[int] = mapped_column(Integer)
    backlog_after: Mapped[int] = mapped_column(Integer)
    matched_out: Mapped[int] = mapped_column(Integer)
    new_in: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    top_fail_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ActivityDaily(Base):
    """Daily snapshot of unlinked activity (docs/activity.md), so its growth can be measured:
    KPI drivers, their trips inside the hypothetical claim window and what those would claim."""

    __tablename__ = "activity_daily"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    drivers: Mapped[int] = mapped_column(Integer)
    trips: Mapped[int] = mapped_column(Integer)
    would_claim: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Claim(Base):
    """What the partner can bill: one per (person, milestone)."""

    __tablename__ = "claim"
    __table_args__ = (
        UniqueConstraint("person_key", "milestone", name="uq_claim_person_milestone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_key: Mapped[str] = mapped_column(ForeignKey("person.person_key"), index=True)
    milestone: Mapped[str] = mapped_column(String(4))  # M1 | M5 | M25
    lead_record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    lead_date: Mapped[dt.date] = mapped_column(Date)
    reached_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    amount: Mapped[float] = mapped_column(Float)
    # expected | generated | paid | rejected | expired
    status: Mapped[str] = mapped_column(String(12))
    payment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Payment(Base):
    """A payments record reconciled (or not) to a claim."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), unique=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"), nullable=True)
    person_key: Mapped[str | None] = mapped_column(String(36), nullable=True)
    milestone: Mapped[str] = mapped_column(String(4))
    amount: Mapped[float] = mapped_column(Float)
    paid_at: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # driver_id | name (through the matching engine) | none
    method: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(14))  # reconciled | unreconciled
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Quarantine(Base):
    """A driver record kept out of claims and payments until relinked."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), unique=True)
    person_key: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    quarantined_at: Mapped[dt.datetime] = mapped_column(DateTime)
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    release_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Alert(Base):
    """An operational alert; at most one open alert per (kind, subject)."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "uq_alert_open",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # An operator saw it (migration 0010): it stays open while it holds, shown apart.
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ack_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class JobLock(Base):
    """One job per kind at a time, on SQLite and PostgreSQL alike."""

    __tablename__ = "job_lock"

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))  # host:pid:uuid
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """Bearer tokens, stored hashed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # viewer | operator
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class WebSession(Base):
    """A dashboard login, server side: the signed cookie carries only a random session id, whose
    SHA-256 is the key here. Logout (or revoking the token) sets ``ended_at``; a cookie whose row
    is ended, expired or missing is no session at all."""

    __tablename__ = "web_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


# The money views' summary tables live in their own module; imported here so that every reader
# of ``Base.metadata`` (migrations, the scratch copy, tests) sees them.
from leadlink.store import money_tables as _money_tables  # noqa: E402, F401
