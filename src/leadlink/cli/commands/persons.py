"""`leadlink persons merge|unmerge|show`: one person behind two keys (and back), and everything a
person holds."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state

persons_app = typer.Typer(help="Persons: show one, merge two, undo a merge.",
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


@persons_app.command("show")
@handles_errors
def show_cmd(
    key: Annotated[str, typer.Argument(help="Person key (a retired key shows its survivor)")],
    json_out: JsonOpt = False,
) -> None:
    """A person's records, links (active and past), origins and retired keys."""
    from leadlink.pipeline.resolution.merge import show_person

    emit(show_person(state.engine(), key), lambda d: _print_person(d, key), json_out)


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
