"""Queries that look for invariant violations. Each returns offending examples (empty = ok)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from leadlink.matching import Reason
from leadlink.sources import ORIGIN_OF_SOURCE, SOURCES, SourceSpec
from leadlink.store.json_sql import json_elements, member
from leadlink.store.models import (
    CandidatePair,
    Link,
    Origin,
    OriginHistory,
    Person,
    SourceRecord,
    Unmatched,
)

LIMIT = 20


def links_without_origin(session: Session) -> tuple[int, list[str]]:
    has_origin = exists().where(
        and_(Origin.person_key == Link.person_key, Origin.record_id == Link.record_id)
    )
    base = (
        select(SourceRecord.source, SourceRecord.source_pk)
        .join(Link, and_(Link.record_id == SourceRecord.id, Link.active))
        .where(SourceRecord.source.in_(list(ORIGIN_OF_SOURCE)), ~has_origin)
    )
    return _count_and_examples(session, base, "linked without origin")


def origins_without_history(session: Session) -> tuple[int, list[str]]:
    journaled = exists().where(OriginHistory.origin_id == Origin.id)
    base = select(Origin.person_key, Origin.record_id).where(~journaled)
    return _count_and_examples(session, base, "origin not journaled")


def persons_without_records(session: Session) -> tuple[int, list[str]]:
    has_link = exists().where(and_(Link.person_key == Person.person_key, Link.active))
    base = select(Person.person_key, Person.run_id).where(~has_link, Person.retired_into.is_(None))
    return _count_and_examples(session, base, "person with no record")


def records_with_two_active_links(session: Session) -> tuple[int, list[str]]:
    base = (
        select(Link.record_id, func.count())
        .where(Link.active)
        .group_by(Link.record_id)
        .having(func.count() > 1)
    )
    return _count_and_examples(session, base, "active links")


def linked_and_unmatched(session: Session) -> tuple[int, list[str]]:
    base = select(Unmatched.record_id, Unmatched.reason).join(
        Link, and_(Link.record_id == Unmatched.record_id, Link.active)
    )
    return _count_and_examples(session, base, "linked yet unmatched")


def bad_unmatched(session: Session) -> tuple[int, list[str]]:
    reasons = [r.value for r in Reason]
    base = select(Unmatched.record_id, Unmatched.reason).where(
        (~Unmatched.reason.in_(reasons))
        | (
            (Unmatched.reason == Reason.ERROR.value)
            & ((Unmatched.message.is_(None)) | (Unmatched.message == ""))
        )
    )
    return _count_and_examples(session, base, "unmatched without a valid reason/message")


def candidate_pairs_out_of_step(session: Session) -> tuple[int, list[str]]:
    """Pairs (lead record, person, rule) in ``candidate_pair`` and not in the ``unmatched``
    lists or the other way round, and a lead whose list and pairs differ in number: the
    triggers of migration 0009 keep the two equal."""
    element = json_elements(Unmatched.candidates).table_valued("value").alias("candidate")
    listed = (
        select(Unmatched.record_id.label("lead"), member(element.c.value, "person_key"),
               member(element.c.value, "rule"))
        .select_from(Unmatched)
        .join(element, true())
    )  # fmt: skip
    pair = CandidatePair
    stored = select(pair.lead_record_id.label("lead"), pair.person_key, pair.rule)
    # Each list element counts +1 and each stored pair -1: a lead whose sum is not 0 differs
    # in number (a duplicate the set differences above cannot see).
    signed = union_all(
        select(listed.subquery().c.lead, literal(1).label("n")),
        select(stored.subquery().c.lead, literal(-1).label("n")),
    ).subquery("signed")
    uneven = (
        select(signed.c.lead, literal("count"), literal(None))
        .group_by(signed.c.lead)
        .having(func.sum(signed.c.n) != 0)
    )
    # Each difference wrapped as a subquery: SQLite takes no parenthesised compound SELECT.
    only = [select(q.subquery()) for q in (listed.except_(stored), stored.except_(listed))]
    base = union_all(*only, uneven)
    return _count_and_examples(session, base, "candidate pair out of step with unmatched")


class is_hex16(FunctionElement[bool]):  # noqa: N801 - reads as the SQL it renders
    """Sixteen lowercase hex digits (a hashed key: ``SourceSpec.source_pk``)."""

    type = Boolean()
    inherit_cache = True
    name = "is_hex16"


@compiles(is_hex16, "sqlite")
def _is_hex16_sqlite(element: is_hex16, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = list(element.clauses)
    key = compiler.process(text, **kw)
    # GLOB is case-sensitive, so [^0-9a-f] also refuses uppercase digits.
    return f"(length({key}) = 16 AND {key} NOT GLOB '*[^0-9a-f]*')"


@compiles(is_hex16, "postgresql")
def _is_hex16_postgresql(element: is_hex16, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = list(element.clauses)
    return f"({compiler.process(text, **kw)} ~ '^[0-9a-f]{{16}}$')"


def _key_follows(spec: SourceSpec) -> ColumnElement[bool]:
    """``source_pk`` is what ``spec.source_pk`` makes of the stored values: the optional key
    when present, else the key columns joined by ``|``, else (a hash) sixteen hex digits."""
    r = SourceRecord

    def value(column: str) -> ColumnElement[str]:
        return func.coalesce(func.trim(r.data[column].as_string(), type_=String), literal(""))

    follows: ColumnElement[bool]
    if spec.key_columns:
        joined = value(spec.key_columns[0])
        for column in spec.key_columns[1:]:
            joined = joined + literal("|") + value(column)
        follows = r.source_pk == joined
    else:
        follows = is_hex16(r.source_pk)
    if spec.optional_key:
        given = value(spec.optional_key)
        follows = case((given != literal(""), r.source_pk == given), else_=follows)
    return follows


def keys_off_formula(session: Session) -> tuple[int, int, list[tuple[str, str]]]:
    """(records, records whose ``source_pk`` does not follow its source's formula, the first
    ``LIMIT`` of those as (source, key)): one scan in SQL, whatever the store's size."""
    r = SourceRecord
    off = or_(
        r.source_pk == literal(""),
        r.source.not_in(list(SOURCES)),
        *(and_(r.source == name, not_(_key_follows(spec))) for name, spec in SOURCES.items()),
    )
    n = session.scalar(select(func.count()).select_from(r)) or 0
    bad = session.scalar(select(func.count()).select_from(r).where(off)) or 0
    examples = session.execute(
        select(r.source, r.source_pk).where(off).order_by(r.id).limit(LIMIT)
    ).all()
    return int(n), int(bad), [(str(s), str(pk)) for s, pk in examples]


def fingerprint(session: Session) -> dict[str, Any]:
    """A summary of everything `match` writes, to compare before and after a rerun."""
    return {
        "person": session.scalar(select(func.count()).select_from(Person)),
        "link": session.scalar(select(func.count()).select_from(Link)),
        "active_link": session.scalar(select(func.count()).select_from(Link).where(Link.active)),
        "origin": session.scalar(select(func.count()).select_from(Origin)),
        "origin_history": session.scalar(select(func.count()).select_from(OriginHistory)),
        "unmatched": session.scalar(select(func.count()).select_from(Unmatched)),
        "max_link_id": session.scalar(select(func.max(Link.id))),
        "max_origin_id": session.scalar(select(func.max(Origin.id))),
        "unmatched_by_reason": dict(
            (r[0], r[1])
            for r in session.execute(
                select(Unmatched.reason, func.count()).group_by(Unmatched.reason)
            )
        ),
    }


def _count_and_examples(session: Session, base: Any, what: str) -> tuple[int, list[str]]:
    sub = base.subquery()
    n = session.scalar(select(func.count()).select_from(sub)) or 0
    examples = [
        f"{what}: " + ", ".join(str(v) for v in row) for row in session.execute(base.limit(LIMIT))
    ]
    return int(n), examples
