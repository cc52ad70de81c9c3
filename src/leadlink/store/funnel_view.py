"""The lead funnel's summary tables, the summaries view ``funnel`` (docs/summaries.md; the
funnel's definition is ``store.claim_windows.funnel_rows``, docs/claims.md "Funnel").

``funnel_person`` holds one row per person with a lead (its stage, leads and money) and one per
lead with no person (NO_IDENTITY); ``funnel_stage`` the same summed per stage, every stage with
its row. The funnel reads the five rows of ``funnel_stage``.

A full refresh rewrites both. A decision's touch rewrites the ``funnel_person`` rows of the
persons and leads it involves and moves ``funnel_stage`` by the difference of their old and new
rows (one ``UPDATE`` run for the changed stages), so a review decision costs a few persons'
rows at any size. Per-person rows are what makes that possible: a touch could not otherwise
know which stage a person left.

The stages depend on today (a window's trips count up to today), so the view is computed for
a day (``money_refresh.as_of``) and recomputed by the first reader of another day.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Insert, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from leadlink.store.claim_windows import funnel_rows, funnel_stages, stage_totals
from leadlink.store.models import Link
from leadlink.store.money_tables import FUNNEL_STATUSES, FunnelPerson, FunnelStage, table_of
from leadlink.store.scopes import PERSONS, RECORDS

STAGES = ("NO_IDENTITY", "NO_DRIVER", "NO_TRIPS_14D", "TRIPS_NO_CLAIM", "OK")
FIGURES = ("leads", "persons", "amount", *FUNNEL_STATUSES)
COLUMNS = ("key", "stage", *FIGURES)
TOLERANCE = 0.005  # soles: figures are compared to the céntimo
SAMPLE = 5
Ladder = Sequence[tuple[str, int, float]]


def refresh(
    session: Session,
    today: dt.date,
    window_days: int,
    ladder: Ladder,
    *,
    persons: Collection[str] | None = None,
    leads: Collection[int] = (),
) -> int:
    """Everything when ``persons`` is None (returns the ``funnel_person`` rows stored); else
    the rows of ``persons``, of the persons ever linked to ``leads`` and of those of ``leads``
    with no person (returns the keys rewritten)."""
    if persons is None:
        session.execute(delete(FunnelStage))
        session.execute(delete(FunnelPerson))
        rows = funnel_rows(today, window_days, ladder, FUNNEL_STATUSES)
        session.execute(insert(table_of(FunnelPerson)).from_select(list(COLUMNS), rows))
        _insert_totals(session)
        return int(session.scalar(select(func.count()).select_from(FunnelPerson)) or 0)
    ids = sorted(leads)
    # A lead's old person counts too: a decision that moved the lead took it from that person.
    query = select(Link.person_key).where(Link.record_id.in_(ids))
    linked = list(session.scalars(query)) if ids else []
    who = sorted(set(persons) | set(linked))
    keys = [*who, *(f"#{i}" for i in ids)]
    if not keys:
        return 0
    before = _sums(session, keys)
    session.execute(delete(FunnelPerson).where(FunnelPerson.key.in_(keys)))
    stmt = _scoped_insert(today, window_days, tuple(ladder))
    session.execute(stmt, {PERSONS: who, RECORDS: ids})
    after = _sums(session, keys)
    deltas = []
    for stage in STAGES:
        old, new = before.get(stage), after.get(stage)
        if old == new:
            continue
        zero = (0,) * len(FIGURES)
        diff = [n - o for n, o in zip(new or zero, old or zero, strict=True)]
        deltas.append({"s": stage, **{f"d_{f}": d for f, d in zip(FIGURES, diff, strict=True)}})
    if deltas:
        t = table_of(FunnelStage)
        moved = {f: t.c[f] + bindparam(f"d_{f}") for f in FIGURES}
        session.execute(update(t).where(t.c.stage == bindparam("s")).values(**moved), deltas)
    return len(keys)


@functools.lru_cache(maxsize=8)
def _scoped_insert(today: dt.date, window_days: int, ladder: tuple[tuple[str, int, float], ...]
                   ) -> Insert:  # fmt: skip
    """The insert of some persons' and leads' rows, built once per day and configuration (a
    decision's touch runs it with its own; building it costs more than running it)."""
    rows = funnel_rows(today, window_days, ladder, FUNNEL_STATUSES, persons=("",), records=())
    return insert(table_of(FunnelPerson)).from_select(list(COLUMNS), rows)


def _sums(session: Session, keys: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """stage -> the figures of the ``funnel_person`` rows of ``keys`` summed."""
    p = FunnelPerson
    query = (
        select(p.stage, *(func.sum(getattr(p, f)) for f in FIGURES))
        .where(p.key.in_(keys))
        .group_by(p.stage)
    )
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


def _insert_totals(session: Session) -> None:
    p = FunnelPerson
    query = select(p.stage, *(func.sum(getattr(p, f)) for f in FIGURES)).group_by(p.stage)
    session.execute(insert(table_of(FunnelStage)).from_select(["stage", *FIGURES], query))
    present = set(session.scalars(select(FunnelStage.stage)))
    missing = [{"stage": s, **dict.fromkeys(FIGURES, 0)} for s in STAGES if s not in present]
    if missing:
        session.execute(insert(table_of(FunnelStage)), missing)


def stored(session: Session) -> dict[str, Any]:
    """The stored funnel, in ``claim_windows.funnel_stages``' shape (five indexed rows)."""
    t = FunnelStage
    query = select(t.stage, *(getattr(t, f) for f in FIGURES)).order_by(t.stage)
    return stage_totals(session.execute(query), FUNNEL_STATUSES)


def differences(session: Session, today: dt.date, window_days: int, ladder: Ladder) -> list[str]:
    """How the stored funnel differs from ``funnel_stages`` computed live now (empty when
    equal): the invariant ``check summaries`` reads. The per-person rows are compared too (at
    most ``SAMPLE`` named): a wrong one would spoil the totals at the next touch."""
    live = funnel_stages(session, today, window_days, ladder, FUNNEL_STATUSES)
    have = stored(session)
    out = _row_differences(session, today, window_days, ladder)
    for stage in STAGES:
        want, got = live["stages"].get(stage, (0, 0, 0.0)), have["stages"].get(stage, (0, 0, 0.0))
        for name, w, g in zip(("leads", "persons", "amount"), want, got, strict=True):
            if abs(w - g) > TOLERANCE:
                out.append(f"funnel_stage {stage}: {name} {g} but {w}")
    for status in FUNNEL_STATUSES:
        w, g = live["ok_by_status"].get(status, 0.0), have["ok_by_status"].get(status, 0.0)
        if abs(w - g) > TOLERANCE:
            out.append(f"funnel_stage OK: {status} {g} but {w}")
    return out


def _row_differences(
    session: Session, today: dt.date, window_days: int, ladder: Ladder
) -> list[str]:
    """The live rows with no equal stored row (looked up by key: the primary key), and a count
    that differs: keys are unique on both sides, so together they say the two sets are equal."""
    live = funnel_rows(today, window_days, ladder, FUNNEL_STATUSES).subquery("live")
    p = FunnelPerson
    same = [p.key == live.c.key, p.stage == live.c.stage, p.leads == live.c.leads,
            p.persons == live.c.persons,
            *(func.abs(getattr(p, f) - live.c[f]) <= TOLERANCE
              for f in ("amount", *FUNNEL_STATUSES))]  # fmt: skip
    missing = session.scalars(
        select(live.c.key).where(~exists().where(*same)).order_by(live.c.key).limit(SAMPLE)
    ).all()
    out = [f"funnel_person {k}: stored row missing or different" for k in missing]
    n_live = session.scalar(select(func.count()).select_from(live))
    n_stored = session.scalar(select(func.count()).select_from(p))
    if n_live != n_stored:
        out.append(f"funnel_person: {n_stored} rows but {n_live}")
    return out
