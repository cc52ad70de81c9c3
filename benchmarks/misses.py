"""Where the lead↔driver misses are: every true (lead, driver) pair of a matched store, by what
the engine did with the lead and by the generator's hard case it falls in (issue 16 item 6:
"find where the misses are, by reason and by the generator's hard case, before changing rules").

Usage (from the repository root), on a store `leadlink demo` (or bench_scale) built and matched:

    .venv/bin/python benchmarks/misses.py --db sqlite:////tmp/r100k/l.db --data /tmp/r100k/data

What the lead got, for each true pair (truth.csv: lead and driver of one entity):

- ``linked``: the lead's active link is the driver's person (a hit);
- ``linked_elsewhere``: linked to another person (a false link, and a miss);
- ``review_right`` / ``review_other``: unlinked, an open review item on the driver's person /
  only on others;
- ``unmatched:<REASON>``: unlinked and not in review, the engine's reason.

The hard cases are read off the two rows as the engine normalises them (leadlink.matching.
normalise), the generator's own noise (leadlink.synth): the lead's phone missing, or not the
driver's by one digit (a typo) or by more (a driver who changed phone); the plate missing or
not the driver's; the given name or first family name not the driver's (typos, nicknames,
folded names); a homonym (another driver with the same whole name); the phone or plate
shared by another driver (relatives, fleet cars). A pair is counted once per case it has, and
once under "none of these" if it has none. Prints Markdown; `--json` writes the raw counts.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import lead_driver_truth  # noqa: E402  (benchmarks/common.py)
from rapidfuzz.distance import Levenshtein  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from leadlink.matching import normalise  # noqa: E402

CASES = ("phone_missing", "phone_one_off", "phone_other", "plate_missing", "plate_differs",
         "given_differs", "family_differs", "homonym", "phone_shared", "plate_shared")  # fmt: skip


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row[next(iter(row))]: row for row in csv.DictReader(fh)}


def _keys(row: dict[str, str]) -> dict[str, Any]:
    person = normalise.person_name(row.get("first_name"), row.get("last_name"))
    return {"phone": normalise.phone(row.get("phone")), "plate": normalise.plate(row.get("plate")),
            "given": person.given[:1], "family": person.family[:1],
            "name": (person.given, person.family)}  # fmt: skip


def _store(url: str) -> tuple[dict[tuple[str, str], str], dict[str, tuple[str, str]],
                              dict[str, set[str]]]:  # fmt: skip
    engine = create_engine(url)
    with engine.connect() as con:
        links = {(s, pk): key for s, pk, key in con.execute(text(
            "SELECT r.source, r.source_pk, l.person_key FROM link l JOIN source_record r "
            "ON r.id = l.record_id WHERE l.active AND r.source IN ('leads', 'drivers')"))}
        unmatched = {pk: (reason, band) for pk, reason, band in con.execute(text(
            "SELECT r.source_pk, u.reason, u.band FROM unmatched u JOIN source_record r "
            "ON r.id = u.record_id WHERE r.source = 'leads'"))}
        review: dict[str, set[str]] = {}
        for pk, key in con.execute(text(
                "SELECT r.source_pk, i.person_key FROM review_item i JOIN source_record r "
                "ON r.id = i.record_id WHERE i.status = 'open' AND r.source = 'leads'")):
            review.setdefault(pk, set()).add(key)
    engine.dispose()
    return links, unmatched, review  # fmt: skip


def analyse(url: str, data: Path) -> dict[str, Any]:
    truth = lead_driver_truth(data / "truth.csv")
    leads = {pk: _keys(r) for pk, r in _rows(data / "leads.csv").items()}
    drivers = {pk: _keys(r) for pk, r in _rows(data / "drivers.csv").items()}
    links, unmatched, review = _store(url)
    by_name = Counter(d["name"] for d in drivers.values())
    by_phone = Counter(d["phone"] for d in drivers.values() if d["phone"])
    by_plate = Counter(d["plate"] for d in drivers.values() if d["plate"])
    outcomes: Counter[str] = Counter()
    cases: Counter[tuple[str, str]] = Counter()
    for lead_id, driver_id in truth:
        lead, drv = leads[lead_id], drivers[driver_id]
        person = links.get(("drivers", driver_id))
        got = links.get(("leads", lead_id))
        if got is not None:
            outcome = "linked" if got == person else "linked_elsewhere"
        elif lead_id in review:
            outcome = "review_right" if person in review[lead_id] else "review_other"
        else:
            outcome = f"unmatched:{unmatched.get(lead_id, ('NONE', ''))[0]}"
        outcomes[outcome] += 1
        has = {
            "phone_missing": lead["phone"] is None,
            "phone_one_off": lead["phone"] is not None and drv["phone"] is not None
            and Levenshtein.distance(lead["phone"], drv["phone"]) == 1,
            "phone_other": lead["phone"] is not None and lead["phone"] != drv["phone"]
            and (drv["phone"] is None or Levenshtein.distance(lead["phone"], drv["phone"]) > 1),
            "plate_missing": lead["plate"] is None,
            "plate_differs": lead["plate"] is not None and lead["plate"] != drv["plate"],
            "given_differs": lead["given"] != drv["given"],
            "family_differs": lead["family"] != drv["family"],
            "homonym": by_name[drv["name"]] > 1,
            "phone_shared": bool(drv["phone"]) and by_phone[drv["phone"]] > 1,
            "plate_shared": bool(drv["plate"]) and by_plate[drv["plate"]] > 1,
        }
        named = [c for c in CASES if has[c]] or ["none of these"]
        for case in named:
            cases[(case, outcome)] += 1
    hits = outcomes["linked"]
    linked_leads = sum(1 for (s, _), _k in links.items() if s == "leads")
    return {"true_pairs": len(truth), "hits": hits, "recall": hits / len(truth),
            "linked_leads": linked_leads, "leads": len(leads),
            "open_review_leads": len(review), "outcomes": dict(outcomes),
            "cases": {f"{c}|{o}": n for (c, o), n in sorted(cases.items())}}  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    outcomes: dict[str, int] = result["outcomes"]
    order = sorted(outcomes, key=lambda o: (o != "linked", -outcomes[o]))
    lines = [
        f"True lead↔driver pairs: {result['true_pairs']:,}; hits {result['hits']:,} "
        f"(recall {result['recall']:.4f}); leads with an open review item: "
        f"{result['open_review_leads']:,} of {result['leads']:,} "
        f"({100 * result['open_review_leads'] / result['leads']:.2f} %).",
        "",
        "| what the lead got | pairs | share |",
        "|---|---:|---:|",
        *(f"| {o} | {outcomes[o]:,} | {outcomes[o] / result['true_pairs']:.2%} |" for o in order),
        "",
        "Misses by hard case (a pair in several cases counts in each):",
        "",
        "| hard case | pairs | hit | " + " | ".join(o for o in order if o != "linked") + " |",
        "|---|---:|---:|" + "---:|" * (len(order) - 1),
    ]
    cases: dict[str, int] = result["cases"]
    for case in (*CASES, "none of these"):
        row = {o: cases.get(f"{case}|{o}", 0) for o in order}
        total = sum(row.values())
        if total:
            lines.append(f"| {case} | {total:,} | {row['linked'] / total:.1%} | "
                         + " | ".join(f"{row[o]:,}" for o in order if o != "linked") + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the matched store's URL")
    parser.add_argument("--data", type=Path, required=True, help="its data dir (truth.csv ...)")
    parser.add_argument("--json", type=Path, help="also write the raw counts here")
    args = parser.parse_args(argv)
    result = analyse(args.db, args.data)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
