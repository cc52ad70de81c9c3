"""The claims report's read paths, timed once each in one process on a store (a copy: a viewer
token is written to it): ``GET /api/claims/report`` (filtered too) and ``/claims.json``
through the real app (FastAPI's TestClient: routing, token, JSON), and ``check claims``.
Run it under ``/usr/bin/time -v`` for the process's CPU and peak RSS; ``--only`` keeps one
path so each gets its own peak.

    LEADLINK_DB=sqlite:////tmp/x/l.db .venv/bin/python benchmarks/bench_claims_report.py \
        --only report
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import uuid

from fastapi.testclient import TestClient

from leadlink.clock import utcnow
from leadlink.pipeline.money.claims import check_claims
from leadlink.pipeline.operations import tokens
from leadlink.settings import load_settings
from leadlink.store.db import make_engine
from leadlink.web import create_app

PATHS = {
    "report": "/api/claims/report",
    "report-m1-generated": "/api/claims/report?milestone=M1&status=generated",
    "page": "/claims.json",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=[*PATHS, "check"], default=None)
    args = parser.parse_args()
    settings = load_settings()
    engine = make_engine(settings.db)
    token, _ = tokens.create(engine, role="viewer", name=f"bench-{uuid.uuid4().hex[:8]}",
                             now=utcnow())  # fmt: skip
    out: dict[str, object] = {}
    with TestClient(create_app(settings, engine)) as client:
        for name, path in PATHS.items():
            if args.only not in (None, name):
                continue
            start = time.perf_counter()
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            out[name] = {"s": round(time.perf_counter() - start, 3),
                         "total": response.json()["claims"]["total"]}  # fmt: skip
    if args.only in (None, "check"):
        start = time.perf_counter()
        result = check_claims(engine, settings)
        out["check"] = {"s": round(time.perf_counter() - start, 3), "ok": result.ok}
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
