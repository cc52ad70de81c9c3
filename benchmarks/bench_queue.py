"""The review queue by money at stake (issue 16 item 5) on an existing, matched store.

Reports the queue's measure: open items per 1,000 leads, how many hold money at stake, the
soles they hold, and the share of that money the first 10 % of the queue holds (the queue is
ordered by money at stake, so a reviewer who works its first tenth collects that share); and
what it costs: the full computation of every open item's figure (what `match`, `recover`, the
claims job and the first reader after an ingest pay: written, then once more in a transaction
that is rolled back, where nothing changes), and `leadlink review list`'s service for the
first page, a page across the end of the items with money at stake, and the last page (p50 /
max over --n calls). It writes the figures: copy a store first, never measure the original:

    cp /tmp/d100k/l.db /tmp/stake-100k.db
    .venv/bin/leadlink --db sqlite:////tmp/stake-100k.db init
    .venv/bin/python benchmarks/bench_queue.py --db sqlite:////tmp/stake-100k.db --n 20
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from leadlink.clock import utcnow
from leadlink.pipeline import summaries
from leadlink.pipeline.resolution import review
from leadlink.settings import load_settings
from leadlink.store import queries, review_stake
from leadlink.store.db import make_engine, rehearsal, transaction

PAGE = 50


def timed(fn: Callable[[], Any], n: int) -> dict[str, float]:
    fn()  # warm: caches, the first query plan
    took = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        took.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(took), 1), "max_ms": round(max(took), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    engine = make_engine(args.db)
    settings = load_settings(db=args.db)
    now = utcnow()
    # The figures as this code defines them (what `leadlink refresh` writes): hence a copy.
    began = time.perf_counter()
    summaries.refresh(engine, settings, now, views=["review"])
    stored_s = time.perf_counter() - began
    with rehearsal(engine) as session:  # again, every figure compared, nothing written
        began = time.perf_counter()
        summaries.refresh_in(session, settings, now, views=["review"])
        compute_s = time.perf_counter() - began
    cut = review.stake_cut(settings, now.date())
    with transaction(engine) as session:
        leads = queries.source_count(session, "leads")
        first = review.list_items(engine, settings, limit=1, now=now)
        open_items = first["total"]
        tenth = math.ceil(open_items / 10)
        held = review_stake.top(session, cut, tenth)
    total, staked = first["at_stake"], first["staked"]

    def page(offset: int) -> Callable[[], Any]:
        return lambda: review.list_items(engine, settings, limit=PAGE, offset=offset, now=now)

    across = max(staked - PAGE // 2, 0)
    last = max(open_items - PAGE, 0)
    report = {
        "db": engine.dialect.name,
        "as_of": now.date().isoformat(),
        "leads": leads,
        "open_items": open_items,
        "items_per_1000_leads": round(1000 * open_items / leads, 1) if leads else None,
        "items_with_money": staked,
        "at_stake_soles": total,
        "first_10pct_items": tenth,
        "first_10pct_soles": held,
        "first_10pct_share": round(held / total, 4) if total else None,
        "refresh_all_figures_s": round(stored_s, 2),
        "recompute_all_figures_s": round(compute_s, 2),
        "page_first": timed(page(0), args.n),
        f"page_at_{across}": timed(page(across), args.n),
        f"page_at_{last}": timed(page(last), args.n),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
