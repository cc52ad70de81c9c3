"""Find leads (and the persons behind them) from one search box: a lead id, a phone, a DNI or
other document, a plate or a name (docs/dashboard.md, "Search").

The query is read every way it can be (``probes``): as a record id in each identity source,
and through the same normalisers and blocking keys ``match`` stores for every record it
prepares (``matching.blocking.record_keys``), so ``987 654 321``, ``+51987654321`` and
``0051987654321`` are one phone. Every lookup is an index range (``store/search.py``): a
record id through ``source_record``'s unique ``(source, source_pk)``, the rest through
``record_key``. A key is a hash shared by a superset (the phone's key is its last 7 digits), so
every record found by a key is checked against the query on its own normalised values.

Then the persons of what was found, and their leads: a DNI is a driver's, never a lead's, so a
lead is found by DNI through the driver linked to its person.

Limits: a record is found by a key only once ``match`` has prepared it (a lead ingested and not
matched yet is found by its id only); a name is found only whole (a given name and both family
names, in either order: ``JUAN QUISPE MAMANI`` or ``QUISPE MAMANI JUAN``), for records that keep
family names apart (leads, drivers), exactly after normalisation (accents, case and particles
do not matter, a typo does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from leadlink.errors import UsageError
from leadlink.matching import normalise as norm
from leadlink.matching import prepare
from leadlink.matching.blocking import record_keys
from leadlink.matching.frames import canonical_from_rows
from leadlink.matching.model_frame import model_frame
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.pipeline.resolution.review import summary
from leadlink.sources import IDENTITY_SOURCES
from leadlink.store import search as search_store
from leadlink.store.db import transaction

MIN_LENGTH = 3
MAX_LENGTH = 100
# Records read per lookup, and results answered: a query is a few people, not a report.
MAX_HITS = 200
MAX_RESULTS = 50
# What a query may be read as, in the order results say why they were found.
KINDS = ("id", "phone", "document", "plate", "name", "person")
_SURROGATES = re.compile("[\ud800-\udfff]")


def probes(query: str) -> dict[str, Any]:
    """What ``query`` is read as: kind -> normalised value (a name: its readings as
    ``[given, family1, family2]``); only the kinds it can be."""
    text = query.strip()
    out: dict[str, Any] = {"id": text}
    if (phone := norm.phone(text)) is not None:
        out["phone"] = phone
    doc = None if text.startswith("+") else norm.id_key(text)  # +51…: a phone, not a document
    if doc is not None and any(c.isdigit() for c in doc):
        out["document"] = doc
    plate = norm.plate(text)
    if plate is not None and any(c.isdigit() for c in plate) and len(plate) <= 10:
        out["plate"] = plate
    tokens = norm.name_tokens(text)
    if len(tokens) >= 3:
        # Given name first ("JUAN CARLOS QUISPE MAMANI") or family names first.
        readings = [[tokens[0], tokens[-2], tokens[-1]], [tokens[2], tokens[0], tokens[1]]]
        out["name"] = [r for i, r in enumerate(readings) if r not in readings[:i]]
    return out


def _canonical(kind: str, value: Any) -> list[dict[str, Any]]:
    if kind == "phone":
        return [{"phone": value}]
    if kind == "document":
        return [{"document": value}]
    if kind == "plate":
        return [{"plate": value}]
    if kind == "name":
        return [{"first_name": g, "last_name": f"{f1} {f2}"} for g, f1, f2 in value]
    return []


def query_keys(read: dict[str, Any]) -> list[int]:
    """The blocking keys a record matching ``read`` carries (``record_keys`` of the query
    written as records: one per phone, document, plate and reading of a name)."""
    rows = [row for kind, value in read.items() for row in _canonical(kind, value)]
    if not rows:
        return []
    frame = prepare(canonical_from_rows([{"rid": i, **r} for i, r in enumerate(rows)]))
    return sorted(set(record_keys(frame).column("key").to_pylist()))


def _matched(read: dict[str, Any], rows: Sequence[dict[str, Any]]) -> dict[int, list[str]]:
    """Record id -> the kinds of ``read`` its own normalised values agree with."""
    if not rows:
        return {}
    frame = prepare(canonical_frame((r["source"], r["id"], r["data"], None) for r in rows))
    names = model_frame(frame)
    cols = {c: frame.column(c).to_pylist() for c in ("rid", "phone", "ids", "plate")}
    given, f1, f2 = (names.column(c).to_pylist() for c in ("given", "family1", "family2"))
    out: dict[int, list[str]] = {}
    for i, rid in enumerate(cols["rid"]):
        kinds = [k for k, ok in (
            ("phone", cols["phone"][i] is not None and cols["phone"][i] == read.get("phone")),
            ("document", read.get("document") in (cols["ids"][i] or [])),
            ("plate", cols["plate"][i] is not None and cols["plate"][i] == read.get("plate")),
            ("name", [given[i], f1[i], f2[i]] in read.get("name", [])),
        ) if ok]  # fmt: skip
        out[rid] = kinds
    return out


def search(engine: Engine, query: str | None) -> dict[str, Any]:
    """``{"query", "read_as", "items", "total", "persons", "truncated"}``: the records found
    (leads first, newest first), each with why (``matched_on``), its state and person; the
    leads of the persons found ride along with ``matched_on: ["person"]`` and ``via``."""
    text = (query or "").strip()
    if len(text) < MIN_LENGTH:
        raise UsageError("search needs at least {n} characters: a lead id, a phone, a DNI, a "
                         "plate or a full name", code="search_too_short", n=MIN_LENGTH)  # fmt: skip
    if len(text) > MAX_LENGTH:
        raise UsageError("search takes at most {n} characters", code="search_too_long",
                         n=MAX_LENGTH)
    if "\x00" in text or _SURROGATES.search(text):
        # No PostgreSQL text holds them: refused here, not a database error.
        raise UsageError("search takes valid text: no NUL character, no lone surrogate",
                         code="search_bad_text")
    read = probes(text)
    keys = query_keys(read)
    with transaction(engine) as session:
        by_id = search_store.by_source_pk(session, IDENTITY_SOURCES, text)
        by_key = search_store.sharing_keys(session, keys, limit=MAX_HITS)
        found = search_store.records(session, sorted(set(by_id) | set(by_key)))
        why = _matched(read, found)
        for r in found:
            r["matched_on"] = (["id"] if r["id"] in by_id else []) + why.get(r["id"], [])
        hits = [r for r in found if r["matched_on"]]
        persons = sorted({r["person_key"] for r in hits if r["person_key"]})
        known = {r["id"] for r in hits}
        more = [i for i in search_store.leads_of(session, persons, limit=MAX_HITS)
                if i not in known]  # fmt: skip
        extra = search_store.records(session, more)
    via = {r["person_key"]: f"{r['source']}/{r['source_pk']}" for r in reversed(hits)}
    for r in extra:
        r["matched_on"], r["via"] = ["person"], via.get(r["person_key"])
    items = _ordered(hits + extra)
    truncated = len(by_key) >= MAX_HITS or len(more) >= MAX_HITS or len(items) > MAX_RESULTS
    return {
        "query": text,
        "read_as": {k: v for k, v in read.items() if k != "id"},
        "items": [_item(r) for r in items[:MAX_RESULTS]],
        "total": len(items),
        "persons": persons,
        "truncated": truncated,
    }


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leads first, what the query itself matched before what its persons brought, newest
    first, then by source and id (stable sorts, last key first)."""
    out = sorted(rows, key=lambda r: (r["source"], r["source_pk"]))
    out.sort(key=lambda r: r["date"] or "", reverse=True)
    out.sort(key=lambda r: (r["source"] != "leads", r["matched_on"] == ["person"]))
    return out


def _item(row: dict[str, Any]) -> dict[str, Any]:
    about = summary(row["data"] or {})
    return {
        "source": row["source"],
        "source_pk": row["source_pk"],
        "name": about["name"],
        "phone": about["phone"],
        "plate": about["plate"],
        "date": row["date"],
        "status": row["status"],
        "person_key": row["person_key"],
        "rule": row["rule"],
        "reason": row["reason"],
        "band": row["band"],
        "matched_on": row["matched_on"],
        "via": row.get("via"),
    }
