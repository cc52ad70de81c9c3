"""`leadlink persons merge|unmerge|split|show`: one person behind two keys (and back), one
person's records split off to a new one, and everything a person holds (its money too)."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state

persons_app = typer.Typer(help="Persons: show one, merge two, undo a merge, split one.",
                          no_args_is_help=True)  # fmt: skip


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container: say so, do not invent one
        return "unknown"


DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would move, and any conflict; write nothing.")
]


@persons_app.command("merge")
@handles_errors
def merge_cmd(
    keep: Annotated[str, typer.Argument(help="Person key to keep")],
    retire: Annotated[str, typer.Argument(help="Person key to retire into it")],
    reason: Annotated[str, typer.Option("--reason", help="Why they are one person")] = "manual",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (audit log)")] = None,
    dry_run: DryRunOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Merge even when their identity numbers differ.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Merge two persons: KEEP survives, RETIRE resolves to it from now on, and every link,
    origin, review item, claim and payment moves with it (nothing is deleted; `persons
    unmerge` undoes it). Refused when their identity numbers (DNI, licence) differ, unless
    --force; --dry-run shows what would move and the conflicts."""
    from leadlink.pipeline.resolution.merge import merge_persons

    result = merge_persons(state.engine(), keep, retire, now=now(), actor=by or _default_actor(),
                           reason=reason, dry_run=dry_run, force=force)  # fmt: skip
    emit(result, lambda r: _print_merge(r, keep, retire), json_out)


def _print_merge(result: dict[str, Any], keep: str, retire: str) -> None:
    if result["status"] == "already_merged":
        console.out.print(f"{keep} and {retire} are already one person: {result['survivor']}")
        return
    _print_conflicts(result["conflicts"])
    title = "merge (dry run: nothing written)" if result["dry_run"] else "merge"
    console.key_values(title, _summary(result))


def _print_conflicts(conflicts: list[dict[str, Any]]) -> None:
    rows = [(c["field"], c["keep"], c["retire"], c["blocks"]) for c in conflicts]
    if rows:
        console.table("conflicts", ["field", "kept person", "retired person", "blocks"], rows)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("survivor", "retired", "links_moved", "origins_moved", "origins_duplicate",
            "review_items_moved", "review_items_superseded", "claims_moved", "claims_rejected",
            "claims_double_paid", "payments_moved", "quarantine_moved", "chain_repointed",
            "run_id", "audit_id")  # fmt: skip
    return {k: result[k] for k in keys}


@persons_app.command("unmerge")
@handles_errors
def unmerge_cmd(
    retired: Annotated[str, typer.Argument(help="The retired person key to bring back")],
    reason: Annotated[str, typer.Option("--reason", help="Why the merge was wrong")] = "manual",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (audit log)")] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Undo a merge: RETIRED is a person again with what the merge moved (rows changed since
    keep their present state). Run `leadlink claims` afterwards to recompute claims."""
    from leadlink.pipeline.resolution.merge import unmerge_persons

    result = unmerge_persons(state.engine(), retired, now=now(), actor=by or _default_actor(),
                             reason=reason, dry_run=dry_run)  # fmt: skip
    title = "unmerge (dry run: nothing written)" if result["dry_run"] else "unmerge"
    emit(result, lambda r: console.key_values(title, {k: v for k, v in r.items()
                                                      if k != "dry_run"}), json_out)  # fmt: skip


@persons_app.command("split")
@handles_errors
def split_cmd(
    key: Annotated[str, typer.Argument(help="The person to split (a key or its start)")],
    record: Annotated[
        list[str],
        typer.Option("--record", help="SOURCE:PK of a record that leaves (repeat for more)."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why they are two people")] = "manual",
    by: Annotated[str | None, typer.Option("--by", help="Who decides (audit log)")] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Split a person: the named records (actively linked to KEY; not all of them) move to a
    new person with their origins, review items, the claims anchored on a moved lead and
    those claims' payments, and quarantine rows. Undo: `persons merge KEY NEW`. Run
    `leadlink claims` afterwards to recompute claims."""
    from leadlink.pipeline.resolution.split import split_person

    result = split_person(state.engine(), key, record, now=now(), actor=by or _default_actor(),
                          reason=reason, dry_run=dry_run)  # fmt: skip
    emit(result, _print_split, json_out)


def _print_split(result: dict[str, Any]) -> None:
    title = "split (dry run: nothing written)" if result["dry_run"] else "split"
    keys = ("person_key", "new_person_key", "records", "links_moved", "origins_moved",
            "review_items_moved", "claims_moved", "payments_moved", "quarantine_moved",
            "run_id", "audit_id")  # fmt: skip
    console.key_values(title, {k: result[k] for k in keys})


@persons_app.command("show")
@handles_errors
def show_cmd(
    key: Annotated[str, typer.Argument(help="Person key (a retired key shows its survivor)")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Trip days listed.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Trip days skipped.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """A person's records, links (active and past), origins and retired keys; its claims
    (with the totals `leadlink claims --person KEY` gives), trips (newest first, paged) and
    the payments of its claims."""
    from leadlink.pipeline.money.person import person_view

    data = person_view(state.engine(), state.settings(), key, now=now(), trips_limit=limit,
                       trips_offset=offset)  # fmt: skip
    emit(data, lambda d: _print_person(d, key), json_out)


def _print_person(data: dict[str, Any], key: str) -> None:
    if data["was_retired"]:
        console.out.print(f"{key} was retired: it resolves to {data['person_key']}")
    retired = ", ".join(data["retired_keys"]) or "-"
    console.key_values(
        "person",
        {
            "person_key": data["person_key"],
            "created_at": data["created_at"],
            "retired_keys": retired,
        },
    )
    console.table("records", ["source", "source_pk", "rule", "score", "merged_from"],
                  [(r["source"], r["source_pk"], r["rule"], r["score"], r["merged_from"])
                   for r in data["records"]])  # fmt: skip
    console.table("links", ["link", "record", "person_key", "rule", "active"],
                  [(k["link_id"], f"{k['source']}/{k['source_pk']}", k["person_key"], k["rule"],
                    "yes" if k["active"] else "no") for k in data["links"]])  # fmt: skip
    console.table("origins", ["origin", "record", "status", "history"],
                  [(o["origin"], f"{o['source']}/{o['source_pk']}", o["status"],
                    ", ".join(h["event"] for h in o["history"]))
                   for o in data["origins"]])  # fmt: skip
    _print_money(data)


def _print_money(data: dict[str, Any]) -> None:
    console.table("claims (S/)", ["milestone", "lead", "status", "amount", "reached",
                                  "window closes", "expires", "payment"],
                  [(c["milestone"], c["lead_id"], c["status"], f"{c['amount']:.2f}",
                    c["reached_on"], c["window_closes"], c["expires_on"], c["payment"])
                   for c in data["claims"]])  # fmt: skip
    totals = data["claim_totals"]
    console.key_values("claim totals (S/)", {
        s: f"{totals['by_status'][s]} / {totals[f'amount_{s}']:.2f}" for s in totals["by_status"]
    })  # fmt: skip
    trips = data["trips"]
    console.key_values("trips", trips["summary"])
    shown = f"trip days {trips['offset'] + 1}-{trips['offset'] + len(trips['items'])} of " \
            f"{trips['total']}, newest first"  # fmt: skip
    console.table(shown, ["day", "driver", "completed trips"],
                  [(t["day"], t["driver_id"], t["completed_trips"]) for t in trips["items"]])
    console.table("payments of its claims (S/)",
                  ["payment", "milestone", "paid", "claimed", "paid on", "method", "claim"],
                  [(p["payment_id"], p["milestone"], f"{p['amount']:.2f}",
                    f"{p['claim_amount']:.2f}", p["paid_at"], p["method"], p["claim_status"])
                   for p in data["payments"]])  # fmt: skip
