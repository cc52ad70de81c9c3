"""Schemathesis against the real server: every operation of the served ``/openapi.json``
fuzzed (valid and invalid inputs), on real SQLite and PostgreSQL, as an operator, a viewer
and with no token. Zero server errors, and every answer documented: its status, its content
type and its body's schema.

The schema is the one the server serves (fetched over HTTP with a token), the requests go
over real HTTP to uvicorn (``live_server.serving``), so what is checked is what a client
sees, middleware included. The operator's fuzzing writes to the store: it is the test's own
copy of the API world (``api_world``), thrown away afterwards.

Reproducible and bounded: Hypothesis derandomized (a fixed seed per operation), no example
database, ``MAX_EXAMPLES`` per operation and generation mode.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.web.api_world import pinned_app_fixture, world_db_url  # noqa: F401
from tests.web.conftest import TokenMaker
from tests.web.live_server import serving

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 20


def _fuzz(base_url: str, schema: Any, headers: dict[str, str]) -> list[str]:
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation.as_strategy(generation_mode=mode), f"{operation.label} [{mode.value}]",
                 base_url, session, headers, failures)  # fmt: skip
    return failures


def _run(strategy: Any, label: str, base_url: str, session: requests.Session,
         headers: dict[str, str], failures: list[str]) -> None:  # fmt: skip
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def run(case: Any) -> None:
        try:
            case.call_and_validate(base_url=base_url, session=session, headers=headers,
                                   checks=CHECKS)  # fmt: skip
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(f"{label}: {exc}"[:1500])

    try:
        run()
    except Unsatisfiable:  # no parameter and no body: nothing to make invalid
        assert "[negative]" in label, label


@pytest.mark.parametrize("role", ["operator", "viewer", None])
def test_no_failures(app: FastAPI, make_token: TokenMaker, role: str | None) -> None:
    reader = {"Authorization": f"Bearer {make_token('viewer', 'schema-reader')}"}
    headers = {} if role is None else {"Authorization": f"Bearer {make_token(role, role)}"}
    with serving(app) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers=reader)
        failures = _fuzz(base_url, schema, headers)
    assert not failures, "\n\n".join(failures)
