"""Candidate pairs (blocking) and their comparison features, computed set-based in DuckDB.

Never all pairs: a query record meets a registry record only when they share a normalised
phone, a document number, a plate, a driver id, or a name block with the car (first family
name + given name + brand and model). Everything runs in an in-memory DuckDB connection over
Arrow frames: no files, no database of ours.
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from leadlink.matching.model_frame import (
    MODEL_FRAME_SCHEMA,
    PREDICT_BLOCKS,
    TF_COLUMNS,
    model_frame,
)

# Jaro-Winkler similarity at which two name tokens count as the same token (typos allowed).
TOKEN_MATCH = 0.9

MACROS = f"""
CREATE OR REPLACE TEMP MACRO tok_hits(a, b) AS
  list_count(list_filter(a, lambda x:
    list_max(list_transform(b, lambda y: jaro_winkler_similarity(x, y))) >= {TOKEN_MATCH}));
CREATE OR REPLACE TEMP MACRO bag_sim(a, b) AS
  CASE WHEN len(a) = 0 OR len(b) = 0 THEN 0.0
       WHEN len(a) <= len(b) THEN tok_hits(a, b) / greatest(len(a), 2)
       ELSE tok_hits(b, a) / greatest(len(b), 2) END;
CREATE OR REPLACE TEMP MACRO given_in(g, bag) AS
  CASE WHEN g IS NULL OR len(bag) = 0 THEN TRUE
       ELSE list_max(list_transform(bag, lambda y: jaro_winkler_similarity(g, y)))
            >= {TOKEN_MATCH} END;
"""  # noqa: S608 - no values are interpolated, only a module constant

# Pairs sharing at least one blocking key. q = query frame, r = registry frame.
PAIRS_SQL = """
CREATE OR REPLACE TEMP TABLE pairs AS
SELECT DISTINCT rid, cid FROM (
  SELECT q.rid, r.rid AS cid FROM q JOIN r ON q.phone = r.phone
  UNION ALL
  SELECT q.rid, r.rid FROM q JOIN r ON q.plate = r.plate
  UNION ALL
  SELECT q.rid, r.rid FROM q JOIN r ON q.driver_id = r.driver_id
  UNION ALL
  SELECT qi.rid, ri.rid FROM (SELECT rid, unnest(ids) AS k FROM q) qi
    JOIN (SELECT rid, unnest(ids) AS k FROM r) ri ON qi.k = ri.k
  UNION ALL
  SELECT qb.rid, rb.rid FROM (SELECT rid, unnest(blocks) AS k FROM q) qb
    JOIN (SELECT rid, unnest(blocks) AS k FROM r) rb ON qb.k = rb.k
)
"""

# One row per candidate pair with what agreed. Given names that disagree cap the name
# similarity at 0.5: two relatives share family names (and often a phone) but not a given name.
# Between two full names nobody knows which token is the given name, so all must agree.
# ``{pairs}`` / ``{into}``: the (rid, cid) table read and the table made. The rules' pairs make
# ``features``; the pairs only the model's blocking found get theirs from the same SQL
# (``engine.MODEL_FEATURES_SQL``), so a model proposal's evidence is never left at defaults.
_FEATURES = """
CREATE OR REPLACE TEMP TABLE {into} AS
SELECT
  p.rid, p.cid, r.person_key,
  coalesce(q.phone = r.phone, FALSE) AS phone_eq,
  coalesce(list_has_any(q.ids, r.ids), FALSE) AS id_eq,
  len(q.ids) > 0 AND len(r.ids) > 0 AND NOT list_has_any(q.ids, r.ids) AS id_conflict,
  coalesce(q.plate = r.plate, FALSE) AS plate_eq,
  coalesce(q.brand_model = r.brand_model, FALSE) AS brand_model_eq,
  coalesce(q.driver_id = r.driver_id, FALSE) AS driver_id_eq,
  CASE WHEN NOT (given_in(q.given, r.tokens) AND given_in(r.given, q.tokens))
         THEN least(bag_sim(q.tokens, r.tokens), 0.5)
       -- Two full names in unknown order: any token left over may be the given name.
       WHEN q.given IS NULL AND r.given IS NULL AND bag_sim(q.tokens, r.tokens) < 1.0
         THEN least(bag_sim(q.tokens, r.tokens), 0.5)
       ELSE bag_sim(q.tokens, r.tokens) END AS name_sim,
  date_diff('day', q.date, r.date) AS days
FROM {pairs} p JOIN q ON q.rid = p.rid JOIN r ON r.rid = p.cid
"""


def features_sql(pairs: str = "pairs", into: str = "features") -> str:
    """The features of the pairs in table ``pairs`` (rid, cid), as temp table ``into``."""
    # Table names are the engine's own constants, never data.
    return _FEATURES.format(pairs=pairs, into=into)


FEATURES_SQL = features_sql()


def connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB with our macros."""
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    con.execute(MACROS)
    return con


# A dedupe's pairs are symmetric: the features of (a, b) are computed once, for a < b, and
# (b, a) is the same row turned round (the days between the two dates change sign). The name
# similarity of two token bags is taken as symmetric, which it is but for repeated tokens.
MIRROR_SQL = """
INSERT INTO features BY NAME
SELECT f.cid AS rid, f.rid AS cid, r.person_key, f.phone_eq, f.id_eq, f.id_conflict,
  f.plate_eq, f.brand_model_eq, f.driver_id_eq, f.name_sim, -f.days AS days
FROM features f JOIN r ON r.rid = f.rid
"""


def build_features(
    con: duckdb.DuckDBPyConnection,
    query: pa.Table,
    registry: pa.Table,
    *,
    self_join: bool = False,
    mirror: bool = False,
) -> int:
    """Create tables ``pairs`` and ``features`` from prepared frames; return the pair count.

    ``self_join`` (query and registry are one frame) drops each record's pair with itself;
    otherwise a query rid may equal a registry rid (two files numbered independently).
    ``mirror`` (with ``self_join``, for a dedupe) computes each pair's features once and
    writes the other direction from them (MIRROR_SQL): half the comparisons.
    """
    con.register("q", query)
    con.register("r", registry)
    con.execute(PAIRS_SQL)
    if mirror:
        con.execute("DELETE FROM pairs WHERE rid >= cid")
    elif self_join:
        con.execute("DELETE FROM pairs WHERE rid = cid")
    con.execute(FEATURES_SQL)
    if mirror:
        con.execute(MIRROR_SQL)
    row = con.execute("SELECT count(*) FROM features").fetchone()
    return int(row[0]) if row else 0


# -- keys a candidate pair shares (for finding a registry's candidates without loading it) --

# Every way two records become a candidate pair, as a key each record carries: the rules'
# joins (PAIRS_SQL) and the model's blocking rules (PREDICT_BLOCKS). Two records that
# form a pair share at least one key; sharing a key does not make a pair (the right side of a
# lookup may be a superset, never a subset). So one key stands for several joins where that
# is safe: the last 7 phone digits cover the whole phone, every document/licence covers the
# model's first document, the plate covers both plate blocks.
_COVERED = {("phone",), ("phone7",), ("doc",), ("plate",)}

_RULE_KEYS_SQL = """
SELECT rid, 'p7:' || right(phone, 7) AS k FROM src WHERE phone IS NOT NULL
UNION ALL SELECT rid, 'pl:' || plate FROM src WHERE plate IS NOT NULL
UNION ALL SELECT rid, 'di:' || driver_id FROM src WHERE driver_id IS NOT NULL
UNION ALL SELECT rid, 'id:' || k FROM (SELECT rid, unnest(ids) AS k FROM src)
UNION ALL SELECT rid, 'bk:' || k FROM (SELECT rid, unnest(blocks) AS k FROM src)
"""


def _model_keys_sql() -> str:
    parts = []
    for cols in PREDICT_BLOCKS:
        if cols in _COVERED:
            continue
        # Column names are the model module's constants, never data.
        values = " || chr(31) || ".join(f"{c}::VARCHAR" for c in cols)
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        parts.append(
            f"SELECT unique_id AS rid, 'm:{','.join(cols)}:' || {values} AS k "  # noqa: S608
            f"FROM mf WHERE {present}"
        )
    return "\nUNION ALL ".join(parts)


def record_keys(prepared: pa.Table) -> pa.Table:
    """``(rid, key)`` of a prepared frame: the keys above, each hashed to a stable int64.

    The hash is the upper 63 bits of MD5 (stable across DuckDB versions, unlike ``hash()``:
    keys are stored). A collision only adds a record to a lookup's superset.
    """
    con = connect()
    try:
        # An empty frame may lack the prepared columns (a registry nobody loaded yet).
        empty = MODEL_FRAME_SCHEMA.empty_table()
        con.register("mf", model_frame(prepared) if prepared.num_rows else empty)
        con.register("src", prepared)
        sql = f"""
        SELECT DISTINCT rid::BIGINT AS rid, (md5_number_upper(k) >> 1)::BIGINT AS key
        FROM ({_RULE_KEYS_SQL} UNION ALL {_model_keys_sql()}) ORDER BY rid, key
        """  # noqa: S608 - code-built from module constants
        table = con.sql(sql).to_arrow_table()
        return table.cast(pa.schema([("rid", pa.int64()), ("key", pa.int64())]))
    finally:
        con.close()


def few_record_keys(prepared: pa.Table) -> pa.Table:
    """``record_keys`` computed in Python, for a few rows (the online path keys one lead per
    post: a DuckDB query has milliseconds of fixed cost, more under load). The same key texts
    and hash (MD5's first 8 bytes little-endian are ``md5_number_upper``); tested equal."""
    found: set[tuple[int, int]] = set()
    frame = model_frame(prepared).to_pylist() if prepared.num_rows else []
    for row, mf in zip(prepared.to_pylist(), frame, strict=True):
        texts = [f"p7:{row['phone'][-7:]}"] if row["phone"] is not None else []
        texts += [f"{tag}:{row[c]}" for tag, c in (("pl", "plate"), ("di", "driver_id"))
                  if row[c] is not None]  # fmt: skip
        texts += [f"id:{k}" for k in row["ids"] or ()]
        texts += [f"bk:{k}" for k in row["blocks"] or ()]
        for cols in PREDICT_BLOCKS:
            values = [mf[c] for c in cols]
            if cols not in _COVERED and all(v is not None for v in values):
                texts.append(f"m:{','.join(cols)}:" + chr(31).join(str(v) for v in values))
        found.update((row["rid"], _key_hash(text)) for text in texts)
    ordered = sorted(found)
    return pa.table({"rid": pa.array([r for r, _ in ordered], pa.int64()),
                     "key": pa.array([k for _, k in ordered], pa.int64())})  # fmt: skip


def _key_hash(text: str) -> int:
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def record_terms(prepared: pa.Table) -> pa.Table:
    """``(rid, given, family1, family2, brand_model, city)``: the values the model weighs by
    their frequency (model_frame.TF_COLUMNS), so frequencies can be counted in the store."""
    frame = model_frame(prepared)
    return frame.select(["unique_id", *TF_COLUMNS]).rename_columns(["rid", *TF_COLUMNS])
