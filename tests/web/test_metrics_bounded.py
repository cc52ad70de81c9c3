"""/metrics stays bounded: invented methods and paths never become label values (issue 15)."""

from __future__ import annotations

import random
import string

from fastapi.testclient import TestClient

from leadlink.web.observability import KNOWN_METHODS, method_label

LATENCY = "leadlink_http_request_duration_seconds"


def _latency_series(client: TestClient, headers: dict[str, str]) -> set[str]:
    """The latency histogram's sample lines, without their values: one per time series."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return {
        line.rsplit(" ", 1)[0] for line in response.text.splitlines() if line.startswith(LATENCY)
    }


def _label_sets(series: set[str]) -> set[str]:
    """method/route/status of each series (a histogram has ~14 series per label set)."""
    out = set()
    for line in series:
        labels = line[line.index("{") + 1 : line.rindex("}")]
        out.add(",".join(p for p in labels.split(",") if not p.startswith("le=")))
    return out


def test_invented_methods_and_paths_add_a_fixed_number_of_series(
    client: TestClient, viewer: dict[str, str]
) -> None:
    rng = random.Random(15)
    # Warm up the labels a scrape itself makes (GET /metrics 200).
    _latency_series(client, viewer)
    before = _latency_series(client, viewer)

    def word(n: int) -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))

    for i in range(30):
        method = word(6).upper()
        path = f"/{word(8)}/{i}" if i % 3 else f"/api/persons/{word(10)}"
        client.request(method, path, headers=viewer)
        client.get(f"/{word(12)}/{word(4)}.json")

    after = _latency_series(client, viewer)
    new_label_sets = _label_sets(after - before)
    # At most: OTHER on an unmatched path (404), OTHER on the persons route (405), GET on an
    # unmatched path (404). Before the fix: one label set per invented method and path.
    assert new_label_sets <= {
        'method="OTHER",route="unmatched",status="404"',
        'method="OTHER",route="/api/persons/{person_key}",status="405"',
        'method="GET",route="unmatched",status="404"',
    }
    assert len(after) - len(before) <= 3 * 15


def test_a_matched_route_is_labelled_by_its_template_not_its_path(
    client: TestClient, viewer: dict[str, str]
) -> None:
    client.get("/api/persons/no-such-person-1234", headers=viewer)
    client.get("/static/leadlink.css")
    text = "\n".join(_latency_series(client, viewer))
    assert 'route="/api/persons/{person_key}"' in text
    assert 'route="/static"' in text
    assert "no-such-person-1234" not in text and "leadlink.css" not in text


def test_method_label_keeps_standard_methods_and_folds_the_rest() -> None:
    assert {method_label(m) for m in KNOWN_METHODS} == set(KNOWN_METHODS)
    for invented in ("FOO", "get", "PROPFIND", "", "G E T"):
        assert method_label(invented) == "OTHER"
