"""The real app served by uvicorn on a free localhost port: in a thread of the test process
(``serving``), for the tests that need real HTTP and real concurrency (TestClient runs one
request at a time), or as its own ``leadlink serve`` process (``serve_process``), for the
tests that watch the server's memory or its limits as deployed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI, name: str = "uvicorn-tests") -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the live server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@dataclass(frozen=True)
class Process:
    url: str
    pid: int

    def rss_kib(self) -> int:
        """The server's resident memory now (VmRSS, KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for process {self.pid}")


@contextmanager
def serve_process(db_url: str, **settings: str) -> Iterator[Process]:
    """``leadlink --db DB_URL serve`` in its own process, with LEADLINK_<NAME> settings from
    ``settings`` (``max_body_bytes="2048"``); stopped with SIGTERM when the block ends."""
    port = free_port()
    env = {**os.environ, **{f"LEADLINK_{k.upper()}": v for k, v in settings.items()}}
    env.setdefault("LEADLINK_SECRET_KEY", "process-test-secret-0123456789")
    command = [str(Path(sys.executable).with_name("leadlink")), "--db", db_url, "serve",
               "--port", str(port)]  # fmt: skip
    # The log goes to a file: a pipe nobody reads would stop the server once full.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"leadlink serve exited with {proc.returncode}: {log.read()!r}")
            try:
                httpx.get(url + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"leadlink serve did not answer on {url}")
                time.sleep(0.1)
        yield Process(url, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
