"""explain, export links, evaluate: read-only views of what `match` decided."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Engine

from leadlink.errors import BadInputError, NotFoundError
from leadlink.matching import rule_named
from leadlink.pipeline.csv_cells import csv_writer, safe_cell
from leadlink.sources import IDENTITY_SOURCES
from leadlink.store import listing, queries
from leadlink.store.db import transaction


def explain(engine: Engine, source: str, source_pk: str) -> dict[str, Any]:
    """Why this record is linked (or not): rule, evidence, candidates, the person's records."""
    with transaction(engine) as session:
        rec = queries.record(session, source, source_pk)
        if rec is None:
            raise NotFoundError("no record {source}/{pk}", code="record_unknown",
                                source=source, pk=source_pk)
        out: dict[str, Any] = {"source": source, "source_pk": source_pk, "data": rec.data}
        link = queries.active_link(session, rec.id)
        um = queries.unmatched(session, rec.id)
        candidates: list[dict[str, Any]] = []
        if link is not None:
            label = rule_label(link.rule)
            out["status"] = "linked"
            out["link"] = {
                "person_key": link.person_key, "rule": link.rule, "rule_label": label,
                "score": link.score, "confidence": link.confidence, "evidence": link.evidence,
                "run_id": link.run_id,
            }  # fmt: skip
            out["person_records"] = queries.person_records(session, link.person_key)
            out["origins"] = queries.person_origins(session, link.person_key)
            candidates = list(link.evidence.get("candidates") or [])
        elif um is not None:
            out["status"] = "unmatched"
            out["unmatched"] = {"reason": um.reason, "message": um.message, "band": um.band,
                                "run_id": um.run_id}  # fmt: skip
            candidates = list(um.candidates)
            # A review-band verdict's proposals keep their evidence (model: match weights).
            out["review_items"] = queries.review_items(session, rec.id)
        else:
            out["status"] = "pending"
        names = queries.records_by_id(session, [c["cid"] for c in candidates if c.get("cid")])
        out["candidates"] = [
            {**c, "record": "/".join(names.get(c.get("cid") or -1, ("?", "?")))} for c in candidates
        ]
    return out


def explain_lead(engine: Engine, lead_id: str) -> dict[str, Any]:
    """One lead as ``GET /api/leads/{lead_id}`` answers it and its page shows it: DESIGN's
    shape (``lead_id, person_key, decision, rule, score, reason``) plus ``status``, ``band``,
    ``lead_date``, ``lead`` (its fields), ``person`` (its key and records), ``origin`` (the one
    this lead gave its person), ``origins`` and ``explanation`` (``explain``). NotFoundError if
    there is no such lead."""
    explanation = explain(engine, "leads", lead_id)
    _, rows = listing.leads(engine, listing.LeadFilter(lead_id=lead_id), listing.Window(1, 0))
    row = rows[0]
    origins: list[dict[str, Any]] = explanation.get("origins", [])
    own = [o for o in origins if o["source"] == "leads" and o["source_pk"] == lead_id]
    person = row["person_key"]
    return {
        "lead_id": lead_id,
        "person_key": person,
        "decision": row["decision"],
        "rule": row["rule"],
        "score": row["score"],
        "reason": row["reason"],
        "band": row["band"],
        "status": row["status"],
        "lead_date": row["lead_date"],
        "lead": explanation["data"],
        "person": None
        if person is None
        else {"person_key": person, "records": explanation.get("person_records", [])},
        "origin": own[0] if own else None,
        "origins": origins,
        "explanation": explanation,
    }


# Links that no rule of rules.py made.
OTHER_LABELS = {
    "model": "probabilistic model (Fellegi-Sunter): see the match weights",
    "review_accept": "accepted by a person from the review queue",
    "new_person": "founded a new person (no earlier person matched)",
}


def rule_label(rule: str) -> str:
    """The human label of a rule (or of an engine outcome that is not a rule)."""
    try:
        return rule_named(rule).label
    except KeyError:
        return OTHER_LABELS.get(rule, rule)


EXPORT_HEADER = ("source", "source_pk", "person_key", "rule", "score", "confidence")


def export_links(engine: Engine, out: Path) -> int:
    """Write every active link, sorted; a rerun writes a byte-identical file. A text cell a
    spreadsheet would run as a formula is written as text (``csv_cells.safe_cell``)."""
    with transaction(engine) as session:
        rows = queries.export_links(session)
    buf = io.StringIO()
    writer = csv_writer(buf)
    writer.writerow(EXPORT_HEADER)
    for source, pk, key, rule, score, conf in rows:
        # Text cells may come from data (a lead id is whatever the source file said).
        cells = (safe_cell(source), safe_cell(pk), safe_cell(key), safe_cell(rule))
        writer.writerow((*cells, f"{score:.4f}", safe_cell(conf)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(buf.getvalue(), encoding="utf-8")
    return len(rows)


PAIR_SQL = """
WITH j AS (
  SELECT t.source, t.entity_id, coalesce(a.person_key, 'solo:' || t.source || ':' || t.source_pk)
         AS person_key
  FROM truth t JOIN assigned a ON a.source = t.source AND a.source_pk = t.source_pk
  WHERE t.source IN (SELECT unnest($sources))
),
g AS (
  SELECT entity_id, person_key, count(*) FILTER (WHERE source = $left) AS l,
         count(*) FILTER (WHERE source = $right) AS r, count(*) AS n
  FROM j GROUP BY entity_id, person_key
)
SELECT
  (SELECT sum(CASE WHEN $same THEN n * (n - 1) / 2 ELSE l * r END) FROM g) AS tp,
  (SELECT sum(CASE WHEN $same THEN n * (n - 1) / 2 ELSE l * r END) FROM
     (SELECT entity_id, sum(l) AS l, sum(r) AS r, sum(n) AS n FROM g GROUP BY entity_id)) AS truth,
  (SELECT sum(CASE WHEN $same THEN n * (n - 1) / 2 ELSE l * r END) FROM
     (SELECT person_key, sum(l) AS l, sum(r) AS r, sum(n) AS n FROM g GROUP BY person_key)) AS pred
"""


def _read_truth(path: Path) -> pa.Table:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"source", "source_pk", "entity_id"} - set(reader.fieldnames or [])
            if missing:
                raise BadInputError(str(path), f"missing column(s) {sorted(missing)}", line=1)
            rows = [(r["source"], r["source_pk"], r["entity_id"]) for r in reader]
    except FileNotFoundError as exc:
        raise BadInputError(str(path), "file not found") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(str(path), "not UTF-8 text") from exc
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    return pa.table({"source": cols[0], "source_pk": cols[1], "entity_id": cols[2]},
                    schema=pa.schema([("source", pa.string()), ("source_pk", pa.string()),
                                      ("entity_id", pa.string())]))  # fmt: skip


def evaluate(engine: Engine, truth_path: Path) -> dict[str, Any]:
    """Pairwise precision, recall and F1 against ground truth: lead-driver and all sources."""
    truth = _read_truth(truth_path)
    with transaction(engine) as session:
        rows = queries.assignments(session, list(IDENTITY_SOURCES))
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    assigned = pa.table({"source": pa.array(cols[0], pa.string()),
                         "source_pk": pa.array(cols[1], pa.string()),
                         "person_key": pa.array(cols[2], pa.string())})  # fmt: skip
    con = duckdb.connect(":memory:")
    try:
        con.register("truth", truth)
        con.register("assigned", assigned)
        result = {
            "lead_driver": _scores(con, ["leads", "drivers"], "leads", "drivers", same=False),
            "all_sources": _scores(con, list(IDENTITY_SOURCES), "", "", same=True),
            "records": {"truth": truth.num_rows, "assessed": assigned.num_rows},
        }
    finally:
        con.close()
    return result


def _scores(
    con: duckdb.DuckDBPyConnection, sources: list[str], left: str, right: str, *, same: bool
) -> dict[str, float | int]:
    row = con.execute(
        PAIR_SQL, {"sources": sources, "left": left, "right": right, "same": same}
    ).fetchone()
    tp, truth, pred = (int(v or 0) for v in (row or (0, 0, 0)))
    precision = tp / pred if pred else 1.0
    recall = tp / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_pairs": truth, "predicted_pairs": pred, "correct_pairs": tp}  # fmt: skip
