"""Issue 15 item 1 against a real `leadlink serve` process: a body over the cap is refused
before it is read or its token checked, a slow body is cut off, and the server's memory does
not grow. Before the cap, three parallel 300 MiB posts with no token took the server from
367 MiB to 3 GiB, and an operator could store a 20 MiB lead."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.web.live_server import Process, serve_process

from leadlink.clock import utcnow
from leadlink.pipeline.operations import tokens
from leadlink.store.models import SourceRecord

CAP = 64 * 1024


@pytest.fixture
def server(db_url: str, engine: Engine) -> Iterator[Process]:
    with serve_process(db_url, max_body_bytes=str(CAP), body_timeout_seconds="1.5") as proc:
        yield proc


def _raw(url: str, head: bytes, body_parts: list[bytes], pause: float = 0.0) -> bytes:
    """Send a request by hand over one socket; the answer's first bytes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def _head(length: int | None, extra: str = "") -> bytes:
    chunked = "Transfer-Encoding: chunked\r\n"
    size = f"Content-Length: {length}\r\n" if length is not None else chunked
    return (f"POST /api/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
            f"{size}\r\n").encode()  # fmt: skip


def test_huge_declared_bodies_without_a_token_are_413_and_cost_no_memory(
    server: Process,
) -> None:
    before = server.rss_kib()
    answers: list[bytes] = []

    def post() -> None:
        # 300 MiB announced, 1 MiB actually sent: the server must answer without waiting.
        answers.append(_raw(server.url, _head(300 * 1024 * 1024), [b"{" + b" " * (1 << 20)]))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(answers) == 3
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"request body larger than" in answer
    assert server.rss_kib() - before < 20 * 1024  # KiB: not a body's worth


def test_a_chunked_body_over_the_cap_is_413_as_soon_as_it_passes(server: Process) -> None:
    chunk = b" " * 16384
    parts = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(40)]  # 640 KiB
    answer = _raw(server.url, _head(None), parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_body_sent_too_slowly_is_408(server: Process) -> None:
    # 100 bytes announced, 10 sent, then silence: the 1.5 s budget runs out.
    started = time.monotonic()
    answer = _raw(server.url, _head(100), [b'{"lead_id"'], pause=4.0)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"not received within" in answer
    assert time.monotonic() - started < 10


def test_an_operators_oversized_lead_is_413_and_nothing_is_stored(
    server: Process, engine: Engine
) -> None:
    token, _ = tokens.create(engine, role="operator", name="big-op", now=utcnow())
    lead = {"lead_id": "L-big", "created_at": "2026-10-01", "first_name": "A" * (CAP + 10)}
    got = httpx.post(f"{server.url}/api/leads", content=json.dumps(lead), timeout=30,
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})  # fmt: skip
    assert got.status_code == 413
    assert got.headers["x-content-type-options"] == "nosniff"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SourceRecord)).scalar_one() == 0
    # A normal one still goes through the same server.
    ok = httpx.post(f"{server.url}/api/leads", timeout=30,
                    json={"lead_id": "L-ok", "created_at": "2026-10-01", "first_name": "Ana"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert ok.status_code in (201, 409), ok.text
