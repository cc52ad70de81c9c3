"""`leadlink review list|accept|reject`: the review band, decided by a person, audited."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state

review_app = typer.Typer(
    help="The review band: pairs the engine will not link alone, decided by a person.",
    no_args_is_help=True,
)

NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (kept with the decision).")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who decides (default: the operating-system user).")
]


def _actor(by: str | None) -> str:
    return by if by is not None else getpass.getuser()


@review_app.command("list")
@handles_errors
def list_cmd(
    status: Annotated[
        str, typer.Option(help="open, accepted, rejected, superseded or all.")
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, help="How many items to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many items first.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """The queue: most money at stake first, then nearest claim deadline, then id.

    The open queue's S/ at stake (what each lead could still claim if linked) and its total
    are shown; ``--json`` gives the items and ``at_stake``, the total."""
    from leadlink.pipeline.resolution.review import list_items

    data = list_items(state.engine(), state.settings(), status=status, limit=limit,
                      offset=offset, now=now())  # fmt: skip
    emit(data, lambda d: _print_items(d, status), json_out)


def _print_items(data: dict[str, Any], status: str) -> None:
    console.table(
        f"review items ({status}): {len(data['items'])} of {data['total']}, most at stake first"
        f" · open queue S/ {data['at_stake']:,.2f} at stake in {data['staked']} items",
        ["id", "record", "candidate person", "rule / score", "S/ at stake", "deadline"],
        [(i["id"], _record(i["record"]), _person(i["person"]),
          f"{i['rule']}\n{i['score']:.2f}", _stake(i["at_stake"]), _deadline(i))
         for i in data["items"]],
    )  # fmt: skip
    fresh = data.get("summary_table")
    if fresh and fresh["lagging"]:
        console.err.print("note: a job that changes the figures ran without finishing since "
                          f"they were computed ({fresh['refreshed_at']}): they may lag behind "
                          "the data until the next job or `leadlink refresh`")


def _stake(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _record(record: dict[str, Any]) -> str:
    return f"{record['source']}/{record['source_pk']}\n{_who(record)}"


def _deadline(item: dict[str, Any]) -> str:
    if item["deadline"] is None:
        return "-"
    return f"{item['deadline']}\n{item['days_left']} days left"


def _who(summary: dict[str, Any]) -> str:
    parts = [summary.get("name") or "?", summary.get("phone"), summary.get("car")]
    return " · ".join(p for p in parts if p)


def _person(person: dict[str, Any]) -> str:
    shown = [f"{r['source']}/{r['source_pk']}: {_who(r)}" for r in person["shown"]]
    more = person["records"] - len(shown)
    return "\n".join([person["person_key"][:8], *shown] + ([f"+{more} more"] if more else []))


@review_app.command("accept")
@handles_errors
def accept_cmd(
    item_id: Annotated[int, typer.Argument(help="Review item id (from `review list`).")],
    note: NoteOpt = None,
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Link the record to the proposed person (link + origin + audit, one transaction)."""
    from leadlink.pipeline.resolution.review import accept

    data = accept(state.engine(), state.settings(), item_id, actor=_actor(by), note=note,
                  now=now())  # fmt: skip
    emit(data, lambda d: _print_accepted(d, item_id), json_out)


def _print_accepted(data: dict[str, Any], item_id: int) -> None:
    link = data["link"]
    console.key_values(f"review item {item_id} accepted", {
        "record": link["record"], "person_key": link["person_key"], "rule": link["rule"],
        "score": link["score"], "origin_id": data["origin_id"],
        "decided_by": data["item"]["decided_by"], "other items superseded": data["superseded"],
    })  # fmt: skip


@review_app.command("reject")
@handles_errors
def reject_cmd(
    item_id: Annotated[int, typer.Argument(help="Review item id (from `review list`).")],
    note: NoteOpt = None,
    by: ByOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Reject the pair for good: it is never proposed again; the record stays unmatched."""
    from leadlink.pipeline.resolution.review import reject

    data = reject(state.engine(), state.settings(), item_id, actor=_actor(by), note=note,
                  now=now())  # fmt: skip
    emit(data, lambda d: _print_rejected(d, item_id), json_out)


def _print_rejected(data: dict[str, Any], item_id: int) -> None:
    item = data["item"]
    console.key_values(f"review item {item_id} rejected", {
        "record": f"{item['record']['source']}/{item['record']['source_pk']}",
        "person_key": item["person_key"], "decided_by": item["decided_by"], "note": item["note"],
    })  # fmt: skip
