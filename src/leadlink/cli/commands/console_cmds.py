"""`leadlink token create|list|revoke` and `leadlink serve`: the operations console."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadlink.cli import console
from leadlink.cli.kit import JsonOpt, emit, handles_errors, now, state

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_HEADER_BYTES = 16 * 1024
KEEP_ALIVE_SECONDS = 5
LIMIT_CONCURRENCY = 256

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


@token_app.command("create")
@handles_errors
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer (read) or operator (read and act)")],
    name: Annotated[str | None, typer.Option("--name", help="Unique; the audit actor")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token and print it ONCE: only its hash is stored."""
    from leadlink.pipeline.operations.tokens import create

    token, row = create(state.engine(), role=role, name=name, now=now())
    emit({**row, "token": token}, _print_created, json_out)


def _print_created(data: dict[str, Any]) -> None:
    console.key_values("token", {"name": data["name"], "role": data["role"]})
    console.out.print(data["token"], highlight=False, markup=False, soft_wrap=True)
    console.err.print("Keep it now: it is not stored and cannot be shown again.")


@token_app.command("list")
@handles_errors
def token_list(json_out: JsonOpt = False) -> None:
    """Every token: name, role, created, last used, revoked (never the token itself)."""
    from leadlink.pipeline.operations.tokens import list_tokens

    emit(list_tokens(state.engine()), _print_tokens, json_out)


def _print_tokens(rows: list[dict[str, Any]]) -> None:
    console.table("tokens", ["name", "role", "created", "last used", "revoked"],
                  [(r["name"], r["role"], r["created_at"], r["last_used_at"] or "",
                    r["revoked_at"] or "") for r in rows])  # fmt: skip


@token_app.command("revoke")
@handles_errors
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name")], json_out: JsonOpt = False
) -> None:
    """Revoke a token: its API calls and dashboard sessions stop at once."""
    from leadlink.pipeline.operations.tokens import revoke

    emit(revoke(state.engine(), name, now=now()),
         lambda r: console.out.print(f"revoked {r['name']} ({r['role']}) at {r['revoked_at']}"),
         json_out)  # fmt: skip


@handles_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
) -> None:
    """Serve the JSON API (/api, schema at /openapi.json) and the dashboard (/) with uvicorn."""
    import uvicorn

    from leadlink.web import create_app
    from leadlink.web.observability import configure_logging

    configure_logging()
    settings = state.settings()
    web_app = create_app(settings, state.engine())
    console.err.print(f"leadlink console on http://{host}:{port}/ (API schema at /openapi.json)")
    if settings.session_https_only and host not in LOOPBACK:
        console.err.print("The dashboard's session cookie is Secure: browsers keep it only over "
                          "HTTPS (serve behind a TLS proxy), or set "
                          "LEADLINK_SESSION_HTTPS_ONLY=false on a trusted network.")  # fmt: skip
    # uvicorn's own limits, beside the app's body cap and slow-body timeout (web/security.py):
    # request line and headers at most 16 KiB, idle keep-alive connections closed after 5 s,
    # and past LIMIT_CONCURRENCY open connections or requests new ones get 503 at once.
    uvicorn.run(web_app, host=host, port=port, log_level="warning", access_log=False,
                http="h11", h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                timeout_keep_alive=KEEP_ALIVE_SECONDS, limit_concurrency=LIMIT_CONCURRENCY,
                timeout_graceful_shutdown=10)  # fmt: skip
