"""`leadlink activity`: drivers with completed trips whose person has no lead and no origin, the
money the partner may be owed and cannot claim (docs/activity.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state


@handles_errors
def activity_cmd(
    limit: Annotated[int, typer.Option("--limit", min=0, help="Drivers listed.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Drivers skipped.")] = 0,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="Days of trend, today included.")
    ] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Unlinked activity: drivers riding with no lead and no origin, and what they would claim."""
    from leadlink.pipeline.money.activity import unlinked_activity

    data = unlinked_activity(state.engine(), state.settings(), now=now(), limit=limit,
                             offset=offset, days=days)  # fmt: skip
    emit(data, _print_activity, json_out)


def _print_activity(data: dict[str, Any]) -> None:
    s = data["summary"]
    console.key_values(f"unlinked activity as of {data['as_of']}", {
        "drivers": s["drivers"], "with a candidate lead": s["with_candidates"],
        "riding since": s["since"], "trips": s["trips"],
        f"trips inside the {data['claim_window_days']}-day window": s["trips_in_window"],
        "trips outside it": s["trips_outside_window"],
        "S/ would claim": f"{s['would_claim']:.2f}",
    })  # fmt: skip
    first = data["offset"] + 1 if data["drivers"] else 0
    last = data["offset"] + len(data["drivers"])
    console.table(
        f"drivers {first}-{last} of {data['total']} (most S/ first)",
        ["driver", "name", "since", "trips", "in", "out", "S/"],
        [(r["driver_id"], r["name"], r["first_trip"], r["trips"], r["trips_in_window"],
          r["trips_outside_window"], f"{r['would_claim']:.2f}") for r in data["drivers"]],
    )  # fmt: skip
    console.table(
        "their claim windows [from, to) and candidate leads",
        ["driver", "anchored on", "window", "candidate leads"],
        [(r["driver_id"], r["anchor"], f"{r['window_from']} to {r['window_to']}",
          [_candidate(c) for c in r["candidates"]]) for r in data["drivers"]],
    )  # fmt: skip
    busy = [d for d in data["trend"]["days"] if d["drivers"] or d["snapshot"]]
    console.table(
        f"last {len(data['trend']['days'])} days (days with trips or a snapshot)",
        ["day", "drivers riding", "trips", "snapshot drivers", "snapshot S/"],
        [(d["day"], d["drivers"], d["trips"],
          d["snapshot"]["drivers"] if d["snapshot"] else None,
          f"{d['snapshot']['would_claim']:.2f}" if d["snapshot"] else None) for d in busy],
    )  # fmt: skip


def _candidate(c: dict[str, Any]) -> str:
    return f"{c['lead_id']} ({c['rule']} {c['score']:.2f})"
