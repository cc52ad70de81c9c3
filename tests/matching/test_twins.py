"""Each rule, the decision and the model pair's guard are one expression rendered two ways:
DuckDB SQL for the batch (``engine``) and Python for the online path (``single``). Every case
runs through both, at, just under and just over each threshold, and both must give the
expected result."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from leadlink.matching import blocking, engine, single
from leadlink.matching.outcome import MODEL_CONFIDENCE, Bands, Guard, model_cap, model_score
from leadlink.matching.rules import RULES, first_rule

Row = dict[str, Any]

FEATURES_SCHEMA = pa.schema(
    [("rid", pa.int64()), ("cid", pa.int64()), ("person_key", pa.string()),
     ("phone_eq", pa.bool_()), ("id_eq", pa.bool_()), ("id_conflict", pa.bool_()),
     ("plate_eq", pa.bool_()), ("brand_model_eq", pa.bool_()), ("driver_id_eq", pa.bool_()),
     ("name_sim", pa.float64()), ("days", pa.int64())]
)  # fmt: skip
NOTHING: Row = {"rid": 1, "cid": 10, "person_key": "P1", "phone_eq": False, "id_eq": False,
                "id_conflict": False, "plate_eq": False, "brand_model_eq": False,
                "driver_id_eq": False, "name_sim": 0.0, "days": None}  # fmt: skip
UNDER = 1e-9  # just under / over a threshold


def pair(**features: Any) -> Row:
    return {**NOTHING, **features}


PLATE = {"plate_eq": True, "name_sim": 0.8}
CAR = {"brand_model_eq": True, "name_sim": 0.95}
RULE_CASES: list[tuple[str, Row, str]] = [
    ("nothing agrees", pair(), "weak"),
    ("driver id", pair(driver_id_eq=True), "driver_id_exact"),
    ("document, name under 0.5", pair(id_eq=True, name_sim=0.5 - UNDER), "weak"),
    ("document, name at 0.5", pair(id_eq=True, name_sim=0.5), "document_exact"),
    ("document, name over 0.5", pair(id_eq=True, name_sim=0.5 + UNDER), "document_exact"),
    ("phone, name under 0.6", pair(phone_eq=True, name_sim=0.6 - UNDER), "weak"),
    ("phone, name at 0.6", pair(phone_eq=True, name_sim=0.6), "phone_exact"),
    ("phone, name over 0.6", pair(phone_eq=True, name_sim=0.6 + UNDER), "phone_exact"),
    ("phone, documents disagree", pair(phone_eq=True, name_sim=1.0, id_conflict=True),
     "conflict"),
    ("phone, documents agree", pair(phone_eq=True, id_eq=True, name_sim=0.55),
     "document_exact"),
    ("plate, name under 0.75", pair(plate_eq=True, name_sim=0.75 - UNDER, days=0), "weak"),
    ("plate, name at 0.75", pair(plate_eq=True, name_sim=0.75, days=0), "plate_name"),
    ("plate, name over 0.75", pair(plate_eq=True, name_sim=0.75 + UNDER, days=0), "plate_name"),
    ("plate, 91 days before", pair(**PLATE, days=-91), "weak"),
    ("plate, 90 days before", pair(**PLATE, days=-90), "plate_name"),
    ("plate, 89 days before", pair(**PLATE, days=-89), "plate_name"),
    ("plate, 29 days after", pair(**PLATE, days=29), "plate_name"),
    ("plate, 30 days after", pair(**PLATE, days=30), "plate_name"),
    ("plate, 31 days after", pair(**PLATE, days=31), "weak"),
    ("plate, no date", pair(**PLATE, days=None), "weak"),
    ("plate, documents disagree", pair(**PLATE, days=0, id_conflict=True), "conflict"),
    ("car, name under 0.9", pair(brand_model_eq=True, name_sim=0.9 - UNDER, days=0), "weak"),
    ("car, name at 0.9", pair(brand_model_eq=True, name_sim=0.9, days=0), "brand_model_name"),
    ("car, name over 0.9", pair(brand_model_eq=True, name_sim=0.9 + UNDER, days=0),
     "brand_model_name"),
    ("car, 31 days before", pair(**CAR, days=-31), "weak"),
    ("car, 30 days before", pair(**CAR, days=-30), "brand_model_name"),
    ("car, 29 days before", pair(**CAR, days=-29), "brand_model_name"),
    ("car, 6 days after", pair(**CAR, days=6), "brand_model_name"),
    ("car, 7 days after", pair(**CAR, days=7), "brand_model_name"),
    ("car, 8 days after", pair(**CAR, days=8), "weak"),
    ("car, no date", pair(**CAR, days=None), "weak"),
    # A car is no strong key: documents that disagree make it weak, not a conflict.
    ("car, documents disagree", pair(**CAR, days=0, id_conflict=True), "weak"),
    ("everything agrees", pair(phone_eq=True, id_eq=True, plate_eq=True, brand_model_eq=True,
                               driver_id_eq=True, name_sim=1.0, days=0), "driver_id_exact"),
]  # fmt: skip


def batch_scored(pairs: list[Row]) -> list[Row]:
    """engine._scored_sql on a features table of exactly these pairs."""
    con = blocking.connect()
    try:
        con.register("features", pa.Table.from_pylist(pairs, schema=FEATURES_SCHEMA))
        con.execute(engine._scored_sql(RULES))
        return con.sql("SELECT * FROM scored ORDER BY cid").to_arrow_table().to_pylist()
    finally:
        con.close()


@pytest.mark.parametrize(("features", "expected"), [(f, e) for _, f, e in RULE_CASES],
                         ids=[c for c, _, _ in RULE_CASES])  # fmt: skip
def test_each_rule_renders_and_evaluates_alike(features: Row, expected: str) -> None:
    (sql,) = batch_scored([features])
    python = single.score_pair(features, RULES)
    assert sql["rule"] == python["rule"] == first_rule(RULES).eval(features) == expected
    # DuckDB adds the literals as exact decimals, Python as floats: the last bit may differ.
    assert sql["score"] == pytest.approx(python["score"], abs=1e-12)
    assert sql["confidence"] == python["confidence"]
    con = duckdb.connect()
    con.register("f", pa.Table.from_pylist([features], schema=FEATURES_SCHEMA))
    for rule in RULES:
        sql_holds = f"SELECT coalesce({rule.sql}, FALSE) FROM f"  # noqa: S608 - our rules
        (holds,) = con.execute(sql_holds).fetchone() or (None,)
        assert holds == rule.holds(features), rule.name


def test_extra_support_is_summed_alike() -> None:
    """Every mix of agreeing support fields, against every rule: same scores both ways."""
    pairs = []
    for cid in range(64):
        bits = [bool(cid >> i & 1) for i in range(6)]
        pairs.append(pair(cid=cid, phone_eq=bits[0], id_eq=bits[1], plate_eq=bits[2],
                          brand_model_eq=bits[3], id_conflict=bits[4],
                          name_sim=0.95 if bits[5] else 0.7, days=0))  # fmt: skip
    for sql in batch_scored(pairs):
        python = single.score_pair(sql, RULES)
        assert (sql["rule"], sql["confidence"]) == (python["rule"], python["confidence"])
        assert sql["score"] == pytest.approx(python["score"], abs=1e-12)


# -- the decision: reason, band, ranking --

QUERY_SCHEMA = pa.schema(
    [("rid", pa.int64()), ("phone", pa.string()), ("ids", pa.list_(pa.string())),
     ("plate", pa.string()), ("driver_id", pa.string()), ("tokens", pa.list_(pa.string()))]
)  # fmt: skip
USABLE: Row = {"rid": 1, "phone": "600000000", "ids": [], "plate": None, "driver_id": None,
               "tokens": ["ana"]}  # fmt: skip
UNUSABLE: Row = {"rid": 1, "phone": None, "ids": [], "plate": None, "driver_id": None,
                 "tokens": ["ana"]}  # fmt: skip
SCORED_COLUMNS = ("score", "rule", "confidence", "waterfall")


def scored(person_key: str, cid: int, score: float, rule: str = "weak") -> Row:
    return pair(person_key=person_key, cid=cid) | {
        "score": score, "rule": rule, "confidence": "low", "waterfall": None,
    }  # fmt: skip


def batch_decision(query: Row, pairs: list[Row], bands: Bands) -> Row:
    """engine.DECIDE_SQL + RESULT_SQL on a ``scored`` table of exactly these pairs."""
    schema = FEATURES_SCHEMA.append(pa.field("score", pa.float64())).append(
        pa.field("rule", pa.string())).append(pa.field("confidence", pa.string())).append(
        pa.field("waterfall", pa.string()))  # fmt: skip
    con = blocking.connect()
    try:
        con.register("q", pa.Table.from_pylist([query], schema=QUERY_SCHEMA))
        con.register("scored", pa.Table.from_pylist(pairs, schema=schema))
        con.execute(engine.DECIDE_SQL, bands.params())
        (row,) = con.sql(engine.RESULT_SQL, params={"review": bands.review}).to_arrow_table()\
            .to_pylist()  # fmt: skip
        return dict(row)
    finally:
        con.close()


B = Bands(accept=0.75, review=0.5, margin=0.25)  # a margin of exact binary fractions
DECISION_CASES: list[tuple[str, Row, list[Row], Bands, tuple[Any, ...]]] = [
    ("nothing to match on", UNUSABLE, [], B, (None, "MISSING_IDENTIFIERS", "reject")),
    ("no candidate", USABLE, [], B, (None, "NO_CANDIDATES", "reject")),
    ("at accept", USABLE, [scored("P1", 10, 0.75)], B, ("P1", None, "accept")),
    ("under accept", USABLE, [scored("P1", 10, 0.75 - UNDER)], B,
     ("P1", "WEAK_MATCH_ONLY", "review")),
    ("at review", USABLE, [scored("P1", 10, 0.5)], B, ("P1", "WEAK_MATCH_ONLY", "review")),
    ("under review", USABLE, [scored("P1", 10, 0.5 - UNDER)], B,
     ("P1", "WEAK_MATCH_ONLY", "reject")),
    ("margin exactly kept", USABLE, [scored("P1", 10, 1.0), scored("P2", 11, 0.75)], B,
     ("P1", None, "accept")),
    ("margin just missed", USABLE, [scored("P1", 10, 1.0), scored("P2", 11, 0.75 + UNDER)], B,
     ("P1", "MULTIPLE_CANDIDATES", "review")),
    ("margin just kept", USABLE, [scored("P1", 10, 1.0), scored("P2", 11, 0.75 - UNDER)], B,
     ("P1", None, "accept")),
    ("close runner-up under review", USABLE,
     [scored("P1", 10, 0.5 - UNDER), scored("P2", 11, 0.45)], B,
     ("P1", "WEAK_MATCH_ONLY", "reject")),
    ("a tie of two persons: the smaller key ranks first", USABLE,
     [scored("P2", 10, 0.9), scored("P1", 11, 0.9)], Bands(),
     ("P1", "MULTIPLE_CANDIDATES", "review")),
    ("the best is a conflict", USABLE, [scored("P1", 10, 0.2, "conflict")], B,
     ("P1", "CONFLICTING_EVIDENCE", "reject")),
    ("a conflicting runner-up under review", USABLE,
     [scored("P1", 10, 0.3), scored("P2", 11, 0.2, "conflict")], Bands(),
     ("P1", "CONFLICTING_EVIDENCE", "reject")),
    ("a conflicting runner-up in review", USABLE,
     [scored("P1", 10, 0.6, "brand_model_name"), scored("P2", 11, 0.2, "conflict")], Bands(),
     ("P1", "WEAK_MATCH_ONLY", "review")),
    ("a conflicting runner-up under a link", USABLE,
     [scored("P1", 10, 0.95, "phone_exact"), scored("P2", 11, 0.2, "conflict")], Bands(),
     ("P1", None, "accept")),
]  # fmt: skip


@pytest.mark.parametrize(("query", "pairs", "bands", "expected"),
                         [c[1:] for c in DECISION_CASES], ids=[c[0] for c in DECISION_CASES])
def test_reasons_and_bands_alike(
    query: Row, pairs: list[Row], bands: Bands, expected: tuple[Any, ...]
) -> None:  # fmt: skip
    sql = batch_decision(query, pairs, bands)
    python = dict(single.decide(query, pairs, bands))
    assert (sql["person_key"], sql["reason"], sql["band"]) == expected
    assert python.pop("message") is None
    for key in ("evidence", "candidates"):
        assert json.loads(sql.pop(key)) == json.loads(python.pop(key))
    assert sql == python


def test_ranking_on_ties_alike() -> None:
    """Best pair per person (ties to the smaller cid), persons by score then key, top three."""
    pairs = [scored("P3", 30, 0.6), scored("P3", 21, 0.6), scored("P1", 40, 0.6),
             scored("P2", 12, 0.5), scored("P2", 11, 0.6), scored("P4", 5, 0.6),
             scored("P1", 41, 0.4)]  # fmt: skip
    for order in (pairs, pairs[::-1], pairs[3:] + pairs[:3]):
        sql = batch_decision(USABLE, order, Bands())
        python = single.decide(USABLE, order, Bands())
        expected = [("P1", 40), ("P2", 11), ("P3", 21)]
        for decided in (sql, python):
            top3 = [(c["person_key"], c["cid"]) for c in json.loads(decided["candidates"])]
            assert top3 == expected
            assert (decided["person_key"], decided["cid"]) == ("P1", 40)


@pytest.mark.parametrize(
    "query",
    [UNUSABLE, USABLE, {**UNUSABLE, "ids": ["X1"]}, {**UNUSABLE, "plate": "1234ABC"},
     {**UNUSABLE, "driver_id": "D1"}, {**UNUSABLE, "tokens": ["ana", "ruiz"]},
     {**UNUSABLE, "tokens": []}],
)  # fmt: skip
def test_what_makes_a_record_usable_alike(query: Row) -> None:
    assert batch_decision(query, [], B)["reason"] == single.decide(query, [], B)["reason"]


# -- a model pair: guard, cap and confidence --

GUARD = Guard(((("given",), ("family1",), ("phone", "doc")),))


def waterfall(**levels: int) -> dict[str, Any]:
    return {name: {"level": level, "weight": 0.0} for name, level in levels.items()}


def batch_model_pair(probability: float, wf: dict[str, Any], bands: Bands) -> tuple[Any, ...]:
    con = duckdb.connect()
    try:
        con.register("m", pa.table({"probability": [probability], "waterfall": [json.dumps(wf)]}))
        sql = (f"SELECT {model_score(GUARD).sql('m.')}, {MODEL_CONFIDENCE.sql('m.')} "  # noqa: S608
               "FROM m")  # fmt: skip
        params = {"cap": model_cap(bands), "accept": bands.accept}
        return con.execute(sql, params).fetchone() or ()
    finally:
        con.close()


MODEL_CASES: list[tuple[str, float, dict[str, Any], tuple[Any, ...]]] = [
    ("guarded, certain", 0.995, waterfall(given=3, family1=3, phone=2), (0.995, "high")),
    ("guarded, at 0.99", 0.99, waterfall(given=3, family1=3, doc=1), (0.99, "high")),
    ("guarded, under 0.99", 0.99 - UNDER, waterfall(given=3, family1=3, doc=1),
     (0.99 - UNDER, "medium")),
    ("guarded, at accept", 0.75, waterfall(given=1, family1=1, phone=1), (0.75, "medium")),
    ("guarded, under accept", 0.75 - UNDER, waterfall(given=1, family1=1, phone=1),
     (0.75 - UNDER, "low")),
    ("names alone: capped", 0.995, waterfall(given=3, family1=3, phone=0),
     (model_cap(Bands()), "high")),
    ("a level missing: capped", 0.995, waterfall(given=3, phone=3), (model_cap(Bands()), "high")),
    ("a null level: capped", 0.995, waterfall(given=3, family1=-1, phone=3),
     (model_cap(Bands()), "high")),
    ("under the cap stays", 0.3, waterfall(given=0), (0.3, "low")),
]  # fmt: skip


@pytest.mark.parametrize(("probability", "wf", "expected"), [c[1:] for c in MODEL_CASES],
                         ids=[c[0] for c in MODEL_CASES])  # fmt: skip
def test_model_pairs_alike(
    probability: float, wf: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    bands = Bands()
    params = {**bands.params(), "cap": model_cap(bands)}
    row = {"probability": probability, "waterfall": wf}
    python = (model_score(GUARD).eval(row, params), MODEL_CONFIDENCE.eval(row, params))
    assert batch_model_pair(probability, wf, bands) == python == expected
    assert GUARD.holds(wf) == (python[0] == probability and probability > model_cap(bands))\
        or probability <= model_cap(bands)  # fmt: skip


def test_a_guard_without_comparisons_always_holds() -> None:
    guard = Guard.of({"comparisons": []})
    (holds,) = duckdb.connect().execute(f"SELECT {guard.sql()}").fetchone() or (None,)
    assert holds is True and guard.holds({})
