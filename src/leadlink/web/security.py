"""The console's outer guards, pure ASGI, wrapped around everything else (``app.py``): the
request body cap and slow-body timeout, and the security headers on every response.

They sit outside Starlette's own error middleware, the session cookie, the request log and
every route, so a body is refused before any of those reads it (before authentication too),
and a 500 or a 413 carries the same headers as a page.

- **Body cap.** A declared ``Content-Length`` over ``max_body_bytes`` is answered 413 at once,
  unread (uvicorn stops reading the socket after 64 KiB it holds for the app). A chunked body
  is counted as the app receives it; the chunk that passes the cap ends the request with 413,
  so no more than the cap plus one chunk is ever held. Both close the connection.
- **Slow bodies.** The time the app spends waiting for body bytes is summed; past
  ``body_timeout_seconds`` the request ends with 408 and the connection is closed. Time the
  app spends on other work (a database lock) does not count against the client.
- **Headers.** A strict Content-Security-Policy (nothing inline: the templates carry no
  script, no ``style=`` attribute and no event handler), no framing, ``nosniff``, no
  referrer, ``no-store`` on everything but ``/static``, and HSTS when the request came over
  HTTPS (directly, or from a trusted proxy's ``X-Forwarded-Proto``, see uvicorn's
  ``forwarded_allow_ips``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("leadlink.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'; object-src 'none'")  # fmt: skip
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000")
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """Adds the security headers to every HTTP response (replacing any of the same name)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = list(HEADERS)
        if not str(scope.get("path", "")).startswith(STATIC_PREFIX):
            added.append(NO_STORE)  # pages and JSON are full of names and phones
        if scope.get("scheme") == "https":
            added.append(HSTS)
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyRefused(Exception):
    """Raised from ``receive`` inside the app: the body is over the cap or too slow."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BodyLimit:
    """413 for a body over ``max_bytes``, 408 for one not received within ``timeout`` seconds
    of waiting; JSON ``{"detail": ...}`` like the rest of the API, and the connection closed
    (the rest of the body is never read)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    def _too_large(self) -> BodyRefused:
        return BodyRefused(413, f"request body larger than {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(scope, send, self._too_large())
            return
        state = _Body()
        loop = asyncio.get_running_loop()

        async def guarded_receive() -> Message:
            if state.refused is not None:
                raise state.refused
            if state.done:
                return await receive()  # only http.disconnect is left to wait for
            started = loop.time()
            try:
                budget = max(self.timeout - state.waited, 0.001)
                message = await asyncio.wait_for(receive(), timeout=budget)
            except TimeoutError:
                detail = f"request body not received within {self.timeout:g} seconds"
                state.refused = BodyRefused(408, detail)
                raise state.refused from None
            finally:
                state.waited += loop.time() - started
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > self.max_bytes:
                    state.refused = self._too_large()
                    raise state.refused
                state.done = not message.get("more_body", False)
            else:
                state.done = True
            return message

        async def guarded_send(message: Message) -> None:
            if state.refused is not None and not state.started:
                return  # whatever the app made of the error, the answer is ours
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            # The app's layers may wrap our exception (FastAPI makes a body error a 400, the
            # error middleware a 500): if the body was refused, that is the answer.
            if state.refused is None or state.started:
                raise
        if state.refused is not None and not state.started:
            await _refuse(scope, send, state.refused)


@dataclass
class _Body:
    """One request's body so far: bytes received, seconds spent waiting for them."""

    received: int = 0
    waited: float = 0.0
    done: bool = False
    started: bool = False  # the response has begun: nothing can replace it any more
    refused: BodyRefused | None = None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses a malformed length before we see it
    return None


async def _refuse(scope: Scope, send: Send, refused: BodyRefused) -> None:
    log.warning("request body refused", extra={"method": scope.get("method"),
                "path": scope.get("path"), "status": refused.status})  # fmt: skip
    body = json.dumps({"detail": refused.detail}).encode()
    await send({"type": "http.response.start", "status": refused.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
