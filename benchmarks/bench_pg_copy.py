"""COPY vs executemany for the rows `match` writes on PostgreSQL (links, in chunks of 5,000).

    .venv/bin/python benchmarks/bench_pg_copy.py postgresql+psycopg://postgres@HOST:PORT/postgres

Creates (and leaves) a database ``copybench`` on that server, inserts 60,000 records and
persons, then writes 60,000 links twice each way: ``session.execute(insert(Link), rows)``
(SQLAlchemy's batched INSERT ... VALUES) and ``store.resolution._insert`` (COPY on PostgreSQL).
"""

import datetime as dt
import sys
import time

from sqlalchemy import create_engine, insert, text

from leadlink.store import resolution
from leadlink.store.db import make_engine, migrate, transaction
from leadlink.store.models import Link, Person, SourceRecord

admin = create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    c.execute(text("DROP DATABASE IF EXISTS copybench WITH (FORCE)"))
    c.execute(text("CREATE DATABASE copybench"))
eng = make_engine(sys.argv[1].rsplit("/", 1)[0] + "/copybench")
migrate(eng)
now = dt.datetime(2026, 11, 1)
N = 60000
CH = 5000
with transaction(eng) as s:
    s.execute(
        insert(SourceRecord),
        [
            {
                "source": "leads",
                "source_pk": str(i),
                "data": {"a": "b"},
                "content_hash": "x",
                "ingested_at": now,
                "updated_at": now,
            }
            for i in range(N)
        ],
    )
    s.execute(
        insert(Person), [{"person_key": f"p{i}", "created_at": now, "run_id": 1} for i in range(N)]
    )
ids = [r[0] for r in eng.connect().execute(text("SELECT id FROM source_record ORDER BY id"))]
ev = {
    "rule": "phone_exact",
    "score": 0.95,
    "candidate": 123,
    "fields": {"phone_eq": True, "name_sim": 0.93},
    "candidates": [{"person_key": "p1", "cid": 1, "rule": "phone_exact", "score": 0.95}],
}


def rows(part, rid0):
    return [
        {
            "record_id": i,
            "person_key": f"p{k}",
            "rule": "phone_exact",
            "score": 0.95,
            "confidence": "high",
            "evidence": ev,
            "run_id": 1,
            "active": True,
            "created_at": now,
        }
        for k, i in enumerate(part, rid0)
    ]


def run(label, fn):
    with eng.begin() as c:
        c.execute(text("DELETE FROM link"))
    t = time.perf_counter()
    for start in range(0, N, CH):
        with transaction(eng) as s:
            fn(s, rows(ids[start : start + CH], start))
    print(f"{label}: {N} links in {time.perf_counter() - t:.2f} s", flush=True)


for _ in range(2):
    run("executemany", lambda s, r: s.execute(insert(Link), r))
    run("COPY", lambda s, r: resolution._insert(s, Link, r))
