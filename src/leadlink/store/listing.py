"""The API's lists of identity data: leads, persons and unmatched records, filtered, counted and
paged in the database.

Every filter is a SQLAlchemy expression with bound parameters (text filters go through LIKE
with ``autoescape``, so ``%``, ``_`` and quotes in a search are literal characters); sort orders
come from a fixed dict keyed by the caller's choice, never from the query string itself.
Each function reads in one transaction of its own and returns ``(total, rows)``: the number
of rows the filters match, and the page of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from leadlink.store.db import transaction
from leadlink.store.gap import GapCutoffs, gap_query
from leadlink.store.models import Link, Person, ReviewItem, SourceRecord, Unmatched

NAME_FIELDS = ("first_name", "middle_name", "last_name", "driver_name")
PHONE_FIELDS = ("phone", "driver_phone")
DOCUMENT_FIELDS = ("document", "license", "driver_license")
# Separators people type inside phone numbers and documents; stripped before comparing.
SEPARATORS = (" ", "-", ".", "+", "(", ")", "/")
MAX_TERMS = 8


@dataclass(frozen=True)
class Window:
    """One page: ``limit`` rows after skipping ``offset``."""

    limit: int
    offset: int


def iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def field(name: str) -> ColumnElement[str]:
    """A text field of a record's ``data`` (JSON), '' when absent."""
    return func.coalesce(SourceRecord.data[name].as_string(), literal(""))


def _joined(names: Sequence[str]) -> ColumnElement[str]:
    out = field(names[0])
    for name in names[1:]:
        out = out + literal(" ") + field(name)
    return out


def _stripped(expr: ColumnElement[str]) -> ColumnElement[str]:
    for sep in SEPARATORS:
        expr = func.replace(expr, sep, "")
    return expr


def words_in(expr: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """Every word of ``text`` occurs in ``expr``, case-insensitively, in any order."""
    words = text.lower().split()[:MAX_TERMS] or [""]
    return and_(*(func.lower(expr).contains(w, autoescape=True) for w in words))


def page_of(
    session: Session, query: Select[*tuple[Any, ...]], order: Sequence[Any], window: Window
) -> tuple[int, list[dict[str, Any]]]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(*order).limit(window.limit).offset(window.offset))
    return int(total), [dict(r._mapping) for r in rows]


def sort_order(orders: Mapping[str, Sequence[Any]], key: str) -> Sequence[Any]:
    """The ORDER BY of a whitelisted key. The API validates the choice, so an unknown key is a
    caller's bug: it fails loudly rather than sorting some other way."""
    if key not in orders:
        raise ValueError(f"unknown sort {key!r}; one of {', '.join(orders)}")
    return orders[key]


# --- leads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    status: str | None = None
    reason: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None
    lead_id: str | None = None


def record_status() -> ColumnElement[Any]:
    """A record's state over ``SourceRecord`` outer-joined to its active ``Link`` and its
    ``Unmatched``: linked, review (an open review item), unmatched, or pending."""
    open_review = exists().where(
        ReviewItem.record_id == SourceRecord.id, ReviewItem.status == "open"
    )
    return case(
        (Link.id.is_not(None), literal("linked")),
        (open_review, literal("review")),
        (Unmatched.id.is_not(None), literal("unmatched")),
        else_=literal("pending"),
    )


def _lead_query() -> Select[Any]:
    status = record_status()
    return (
        select(
            SourceRecord.id.label("record_id"),
            SourceRecord.source_pk.label("lead_id"),
            SourceRecord.event_date.label("lead_date"),
            _joined(NAME_FIELDS[:3]).label("name"),
            field("phone").label("phone"),
            status.label("status"),
            Link.person_key,
            Link.rule,
            Link.score,
            Link.confidence,
            Unmatched.reason,
            Unmatched.band,
            Unmatched.message,
            Unmatched.candidates,
        )  # fmt: skip
        .select_from(SourceRecord)
        .outerjoin(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .outerjoin(Unmatched, Unmatched.record_id == SourceRecord.id)
        .where(SourceRecord.source == "leads")
    )


def leads(
    engine: Engine, filters: LeadFilter, window: Window, sort: str = "-lead_date"
) -> tuple[int, list[dict[str, Any]]]:
    """Leads with their state: linked (person, rule, score), or the unmatched reason."""
    sub = _lead_query().subquery()
    query = select(sub)
    f = filters
    if f.status is not None:
        query = query.where(sub.c.status == f.status)
    if f.reason is not None:
        query = query.where(sub.c.reason == f.reason)
    if f.date_from is not None:
        query = query.where(sub.c.lead_date >= f.date_from)
    if f.date_to is not None:
        query = query.where(sub.c.lead_date <= f.date_to)
    if f.lead_id is not None:
        query = query.where(sub.c.lead_id == f.lead_id)
    if f.q:
        query = query.where(
            or_(
                func.lower(sub.c.lead_id).startswith(f.q.strip().lower(), autoescape=True),
                words_in(sub.c.name, f.q),
            )
        )
    orders = {
        "-lead_date": (sub.c.lead_date.desc().nulls_last(), sub.c.lead_id),
        "lead_date": (sub.c.lead_date.asc().nulls_last(), sub.c.lead_id),
        "lead_id": (sub.c.lead_id,),
        "-lead_id": (sub.c.lead_id.desc(),),
    }
    with transaction(engine) as session:
        total, rows = page_of(session, query, sort_order(orders, sort), window)
    for r in rows:
        r["lead_date"] = iso(r["lead_date"])
        r["name"] = " ".join(r["name"].split())
        r["decision"] = _decision(r["status"])
        candidates = r.pop("candidates") or []
        if r["status"] != "linked" and candidates:  # the best candidate's, as online answers
            r["rule"], r["score"] = candidates[0].get("rule"), candidates[0].get("score")
    return total, rows


def _decision(status: str) -> str:
    """The online path's word for the state (POST /api/leads answers link or unmatched)."""
    return {"linked": "link", "review": "unmatched", "unmatched": "unmatched"}.get(
        status, "pending"
    )


# --- persons ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFilter:
    key: str | None = None
    name: str | None = None
    phone: str | None = None
    document: str | None = None


def _has_record(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The person has an actively linked record meeting the conditions."""
    return exists().where(
        Link.person_key == Person.person_key,
        Link.active,
        SourceRecord.id == Link.record_id,
        *conditions,
    )


def persons(
    engine: Engine, filters: PersonFilter, window: Window, sort: str = "person_key"
) -> tuple[int, list[dict[str, Any]]]:
    """Live persons (retired keys left out) with a summary of their records.

    ``phone`` compares digits only (separators stripped on both sides, a contained match);
    ``document`` is an exact match on letters and digits over document and licence fields.
    """
    query = select(Person.person_key, Person.created_at).where(Person.retired_into.is_(None))
    f = filters
    if f.key:
        query = query.where(Person.person_key.startswith(f.key.strip().lower(), autoescape=True))
    if f.name:
        query = query.where(_has_record(words_in(_joined(NAME_FIELDS), f.name)))
    if f.phone:
        query = query.where(_has_record(or_(
            *(_stripped(field(p)).contains(f.phone, autoescape=True) for p in PHONE_FIELDS)
        )))  # fmt: skip
    if f.document:
        query = query.where(_has_record(or_(
            *(func.upper(_stripped(field(d))) == f.document for d in DOCUMENT_FIELDS)
        )))  # fmt: skip
    orders = {
        "person_key": (Person.person_key,),
        "-created_at": (Person.created_at.desc(), Person.person_key),
        "created_at": (Person.created_at, Person.person_key),
    }
    with transaction(engine) as session:
        total, rows = page_of(session, query, sort_order(orders, sort), window)
        records = person_records(session, [r["person_key"] for r in rows])
    for r in rows:
        r["created_at"] = r["created_at"].isoformat()
        mine = records.get(r["person_key"], [])
        r["records"] = len(mine)
        r["sources"] = {s: sum(1 for x in mine if x["source"] == s)
                        for s in sorted({x["source"] for x in mine})}  # fmt: skip
        r["record_list"] = mine
    return total, rows


def person_records(session: Session, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """person_key -> its actively linked records (data, date and link), in one query."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    if not keys:
        return out
    rows = session.execute(
        select(Link.person_key, SourceRecord.source, SourceRecord.source_pk, SourceRecord.data,
               SourceRecord.event_date, Link.id, Link.rule, Link.score, Link.confidence,
               Link.evidence, Link.run_id, Link.created_at)
        .join(SourceRecord, SourceRecord.id == Link.record_id)
        .where(Link.active, Link.person_key.in_(list(keys)))
        .order_by(Link.person_key, SourceRecord.source, SourceRecord.source_pk)
    )  # fmt: skip
    for key, source, pk, data, day, link_id, rule, score, conf, evidence, run_id, at in rows:
        out[key].append({
            "source": source, "source_pk": pk, "data": data, "event_date": iso(day),
            "link": {"link_id": link_id, "rule": rule, "score": score, "confidence": conf,
                     "evidence": evidence, "run_id": run_id, "created_at": at.isoformat()},
        })  # fmt: skip
    return out


def linked_records(engine: Engine, person_key: str) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return person_records(session, [person_key])[person_key]


# --- unmatched ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmatchedFilter:
    reason: str | None = None
    source: str | None = None
    risk: str | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None


def unmatched(
    engine: Engine, filters: UnmatchedFilter, cutoffs: GapCutoffs, today: dt.date, window: Window,
    sort: str = "-age",
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """Records the engine could not link, with their age and, for leads, the gap risk.

    The risk is gap analysis's own (``store.gap.gap_query``), joined in: it exists for leads
    only, so a risk filter keeps only leads.
    """
    gap = gap_query(cutoffs).subquery()
    query = (
        select(
            SourceRecord.id.label("record_id"),
            SourceRecord.source,
            SourceRecord.source_pk,
            SourceRecord.event_date,
            Unmatched.reason,
            Unmatched.message,
            Unmatched.band,
            Unmatched.candidates,
            Unmatched.run_id,
            Unmatched.updated_at,
            gap.c.risk,
        )  # fmt: skip
        .join(SourceRecord, SourceRecord.id == Unmatched.record_id)
        .outerjoin(gap, gap.c.record_id == SourceRecord.id)
    )
    f = filters
    if f.reason is not None:
        query = query.where(Unmatched.reason == f.reason)
    if f.source is not None:
        query = query.where(SourceRecord.source == f.source)
    if f.risk is not None:
        query = query.where(gap.c.risk == f.risk)
    if f.min_age_days is not None:
        query = query.where(SourceRecord.event_date <= today - dt.timedelta(days=f.min_age_days))
    if f.max_age_days is not None:
        query = query.where(SourceRecord.event_date >= today - dt.timedelta(days=f.max_age_days))
    orders = {
        "-age": (SourceRecord.event_date.asc().nulls_last(), SourceRecord.id),
        "age": (SourceRecord.event_date.desc().nulls_last(), SourceRecord.id),
        "-updated_at": (Unmatched.updated_at.desc(), SourceRecord.id),
        "source": (SourceRecord.source, SourceRecord.source_pk),
    }
    with transaction(engine) as session:
        total, rows = page_of(session, query, sort_order(orders, sort), window)
    for r in rows:
        day: dt.date | None = r["event_date"]
        r["age_days"] = None if day is None else (today - day).days
        r["event_date"] = iso(day)
        r["updated_at"] = r["updated_at"].isoformat()
    return total, rows
