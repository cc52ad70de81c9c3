"""`leadlink check`: the invariants of DESIGN.md, each a function returning what broke."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadlink import clock
from leadlink.pipeline import summaries
from leadlink.pipeline.checking import CheckResult, combined
from leadlink.pipeline.money.claims import check_claims
from leadlink.pipeline.money.origins import check_origin_status
from leadlink.pipeline.money.quarantine import check_quarantine
from leadlink.pipeline.money.recovery import check_drain
from leadlink.pipeline.resolution.merge import check_persons
from leadlink.pipeline.resolution.review import check_review
from leadlink.settings import Settings
from leadlink.store import activity_view, backlog_view, funnel_view, review_stake, snapshot
from leadlink.store import checks as checks_store
from leadlink.store.db import current_revision, heads, transaction


def check_origins(engine: Engine, _: Settings) -> CheckResult:
    """A linked lead (scouting, migration) has its origin, and every origin its history."""
    with transaction(engine) as session:
        parts = [
            checks_store.links_without_origin(session),
            checks_store.origins_without_history(session),
        ]
    return combined("origins", "every linked origin record has an origin, journaled", parts)


def check_links(engine: Engine, _: Settings) -> CheckResult:
    """At most one active link per record; never linked and unmatched at once; no empty person."""
    with transaction(engine) as session:
        parts = [
            checks_store.records_with_two_active_links(session),
            checks_store.linked_and_unmatched(session),
            checks_store.persons_without_records(session),
        ]
    return combined("links", "one active link per record, persons all have records", parts)


def check_unmatched(engine: Engine, _: Settings) -> CheckResult:
    """Every unmatched record has a reason from the list; an ERROR has its message; the
    candidate pairs index holds exactly the unmatched rows' candidate lists."""
    with transaction(engine) as session:
        parts = [checks_store.bad_unmatched(session),
                 checks_store.candidate_pairs_out_of_step(session)]  # fmt: skip
    return combined("unmatched", "every unmatched record has a valid reason and its candidate "
                    "pairs indexed", parts)  # fmt: skip


def check_source_pk(engine: Engine, _: Settings) -> CheckResult:
    """Every source_pk follows the one formula DESIGN.md gives for its source (in SQL: the
    store is never read into Python)."""
    with transaction(engine) as session:
        n, bad, examples = checks_store.keys_off_formula(session)
    shown = [f"{source}/{pk}: key does not follow the {source} formula" for source, pk in examples]
    return CheckResult("source-pk", bad == 0, f"{n} keys checked", bad, shown)


def check_heads(engine: Engine, _: Settings) -> CheckResult:
    """One migration head, and the database is at it."""
    found = heads(engine)
    rev = current_revision(engine)
    problems = []
    if len(found) != 1:
        problems.append(f"{len(found)} migration heads: {', '.join(found)}")
    if rev not in found:
        problems.append(f"database at {rev}, head is {', '.join(found)}")
    return CheckResult("heads", not problems, f"head {', '.join(found)}, database at {rev}",
                       len(problems), problems)  # fmt: skip


def check_idempotent(engine: Engine, settings: Settings) -> CheckResult:
    """Rerunning `match` changes nothing, proved on a scratch copy of the store (never the
    store itself: a check is read-only). The copy settles pending records once, then reruns
    and is compared table by table."""
    from leadlink.pipeline.resolution.resolve import match

    now = clock.utcnow()
    with snapshot.scratch_copy(engine) as copy:
        first = match(copy, settings, now=now)
        with transaction(copy) as session:
            before = checks_store.fingerprint(session)
        rerun = match(copy, settings, now=now)
        with transaction(copy) as session:
            after = checks_store.fingerprint(session)
    changed = [f"{k}: {before[k]} -> {after[k]}" for k in before if before[k] != after[k]]
    if rerun.processed:
        changed.append(f"the rerun processed {rerun.processed} records")
    settled = f"; {first.processed} pending records settled first" if first.processed else ""
    return CheckResult("idempotent", not changed,
                       f"match rerun on a scratch copy, compared table by table{settled}",
                       len(changed), changed)  # fmt: skip


def check_summaries(engine: Engine, settings: Settings) -> CheckResult:
    """The money views' summary tables hold what their definitions compute from the store now
    (docs/summaries.md). A view never computed, or computed under other settings or (activity)
    for another day, is not compared: its next reader computes it."""
    now = clock.utcnow()
    parts: list[tuple[int, list[str]]] = []
    notes = []
    with transaction(engine) as session:
        unusable = summaries.stale_views(session, settings, now)
        lagging = [v for v, f in summaries.freshness(session).items() if f["lagging"]]
        for view in summaries.VIEWS:
            if view in unusable:
                notes.append(f"{view} not computed for these settings and day")
                continue
            found = _summary_differences(session, settings, now, view)
            parts.append((len(found), [f"{view}: {x}" for x in found]))
    if lagging:
        notes.append(f"a writer job ran without finishing since {', '.join(lagging)} was computed")
    detail = "summary tables equal their definitions"
    return combined("summaries", "; ".join([detail, *notes]), parts)


def _summary_differences(
    session: Session, settings: Settings, now: dt.datetime, view: str
) -> list[str]:
    if view == "backlog":
        return backlog_view.differences(session, summaries.segment_rules(settings, now))
    if view == "review":
        return review_stake.differences(session, settings.claim_window_days,
                                        summaries.claim_ladder(settings))  # fmt: skip
    if view == "funnel":
        return funnel_view.differences(session, now.date(), settings.claim_window_days,
                                       summaries.claim_ladder(settings))  # fmt: skip
    return activity_view.differences(session, now.date(), settings.claim_window_days,
                                     summaries.claim_ladder(settings))  # fmt: skip


CHECKS: dict[str, Callable[[Engine, Settings], CheckResult]] = {
    "heads": check_heads,
    "source-pk": check_source_pk,
    "links": check_links,
    "origins": check_origins,
    "unmatched": check_unmatched,
    "idempotent": check_idempotent,
    "drain": check_drain,
    "persons": check_persons,
    "origin-status": check_origin_status,
    "review": check_review,
    "quarantine": check_quarantine,
    "claims": check_claims,
    "summaries": check_summaries,
}


def run_checks(engine: Engine, settings: Settings, names: list[str]) -> list[CheckResult]:
    return [CHECKS[name](engine, settings) for name in names]
