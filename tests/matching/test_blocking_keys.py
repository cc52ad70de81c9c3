"""Blocking keys: every candidate pair (rules or model) shares a key, so a lookup by keys
finds every registry record a query record can be compared with."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from leadlink.matching import blocking, prepare, training
from leadlink.matching import model as probabilistic
from leadlink.matching.engine import term_frequencies
from leadlink.pipeline.resolution.canonical import canonical_frame
from leadlink.synth import generate


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    out = tmp_path_factory.mktemp("synth")
    generate(out, leads=600, seed=11)

    def rows(source: str, start: int) -> list[tuple[str, int, dict[str, str], str | None]]:
        with (out / f"{source}.csv").open(encoding="utf-8") as fh:
            return [(source, start + i, r, f"P{start + i}" if source == "drivers" else None)
                    for i, r in enumerate(csv.DictReader(fh))]  # fmt: skip

    query = [*rows("leads", 0), *rows("scouting", 10_000), *rows("migrations", 20_000)]
    return prepare(canonical_frame(query)), prepare(canonical_frame(rows("drivers", 30_000)))


def _sharing(query: pa.Table, registry: pa.Table) -> set[tuple[int, int]]:
    con = duckdb.connect()
    con.register("qk", blocking.record_keys(query))
    con.register("rk", blocking.record_keys(registry))
    pairs = con.sql("SELECT DISTINCT qk.rid, rk.rid FROM qk JOIN rk USING (key)").fetchall()
    return {(int(a), int(b)) for a, b in pairs}


def test_every_rule_pair_shares_a_key(frames: tuple[pa.Table, pa.Table]) -> None:
    query, registry = frames
    con = blocking.connect()
    assert blocking.build_features(con, query, registry) > 100  # a real workload
    pairs = {(int(a), int(b)) for a, b in con.execute("SELECT rid, cid FROM pairs").fetchall()}
    missed = pairs - _sharing(query, registry)
    assert not missed


def test_every_model_pair_shares_a_key(frames: tuple[pa.Table, pa.Table]) -> None:
    query, registry = frames
    model = training.train(query, registry, max_pairs=2e5)
    scored = probabilistic.score(model.settings, query, registry, threshold=0.0)
    pairs = set(zip(scored.column("rid").to_pylist(), scored.column("cid").to_pylist(),
                    strict=True))  # fmt: skip
    assert len(pairs) > 100
    assert not pairs - _sharing(query, registry)


def test_keys_are_stable_and_typed(frames: tuple[pa.Table, pa.Table]) -> None:
    query, _ = frames
    once, again = blocking.record_keys(query), blocking.record_keys(query)
    assert once.equals(again)
    assert once.schema == pa.schema([("rid", pa.int64()), ("key", pa.int64())])
    # The same phone in two records gives them one shared key, whatever else differs.
    two = prepare(canonical_frame([("leads", 1, {"phone": "987654321"}, None),
                                   ("leads", 2, {"phone": "+51 987 654 321"}, None)]))  # fmt: skip
    keys = blocking.record_keys(two).to_pylist()
    assert {k["key"] for k in keys if k["rid"] == 1} == {k["key"] for k in keys if k["rid"] == 2}


def test_term_frequencies_are_shares_of_non_empty_values() -> None:
    tf = term_frequencies({"given": [("JUAN", 3), ("ROSA", 1)], "city": []})
    assert tf["given"].to_pylist() == [{"given": "JUAN", "tf_given": 0.75},
                                       {"given": "ROSA", "tf_given": 0.25}]  # fmt: skip
    assert tf["city"].num_rows == 0


def test_registered_frequencies_equal_splinks_own(frames: tuple[pa.Table, pa.Table]) -> None:
    """Splink counts frequencies in query + registry; handing it those same counts changes
    nothing, so passing the registry's counts is the only change `match` makes."""
    query, registry = frames
    model = training.train(query, registry, max_pairs=2e5)
    both = pa.concat_tables([blocking.record_terms(query), blocking.record_terms(registry)])
    counts = {c: [(v, n) for v, n in _counts(both, c)] for c in probabilistic.TF_COLUMNS}
    own = probabilistic.score(model.settings, query, registry)
    given = probabilistic.score(model.settings, query, registry, tf=term_frequencies(counts))
    key = ["rid", "cid"]
    assert own.sort_by([(k, "ascending") for k in key]).equals(
        given.sort_by([(k, "ascending") for k in key])
    )


def _counts(table: pa.Table, col: str) -> list[tuple[str, int]]:
    con = duckdb.connect()
    con.register("t", table)
    sql = f"SELECT {col}, count(*) FROM t WHERE {col} IS NOT NULL GROUP BY 1"  # noqa: S608
    return [(v, int(n)) for v, n in con.sql(sql).fetchall()]


def test_empty_frame_has_no_keys() -> None:
    empty = prepare(canonical_frame([]))
    assert blocking.record_keys(empty).num_rows == 0
    assert isinstance(Path(__file__), Path)


def test_keys_computed_in_python_are_the_sql_keys(frames: tuple[pa.Table, pa.Table]) -> None:
    """The online path keys a lead in Python (``few_record_keys``); `match` stored the
    registry's keys with ``record_keys``: a lead must hash to the very keys stored."""
    query, registry = frames
    for frame in (query, registry):
        sql = blocking.record_keys(frame)
        assert sql.num_rows > 1000
        assert blocking.few_record_keys(frame).equals(sql)
    one = query.slice(3, 1)
    assert blocking.few_record_keys(one).equals(blocking.record_keys(one))
    empty = query.slice(0, 0)
    assert blocking.few_record_keys(empty).num_rows == blocking.record_keys(empty).num_rows == 0
