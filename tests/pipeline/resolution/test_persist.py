"""How decisions are written (pipeline/resolution/persist.py): the evidence a link keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadlink.pipeline.resolution.persist import _with_candidates


@pytest.mark.parametrize(
    ("evidence", "candidates"),
    [
        ('{"rule":"model","score":0.9,"fields":{"phone_eq":true}}', '[{"cid":1,"score":0.9}]'),
        ("{}", "[]"),
        (' { "rule" : "x" } ', '[{"cid":2}]'),  # spaced JSON
        ('{"rule":"found","candidates":[{"cid":3}]}', "[]"),  # already has its candidates
        ({"rule": "founded", "founder": "D1", "candidates": []}, None),  # a dict (founding)
        ({"rule": "x"}, '[{"cid":5}]'),  # a dict without its candidates: not changed in place
        ('{"rule":"x","note":"no \\"candidates\\" here"}', '[{"cid":4}]'),  # the word, no key
    ],
)
def test_link_evidence_keeps_its_candidates_however_it_is_built(
    evidence: Any, candidates: str | None
) -> None:
    before = json.dumps(evidence)
    got = _with_candidates({"evidence": evidence, "candidates": candidates})
    assert json.dumps(evidence) == before
    text = got if isinstance(got, str) else json.dumps(got)
    expected = json.loads(evidence) if isinstance(evidence, str) else dict(evidence)
    expected.setdefault("candidates", json.loads(candidates or "[]"))
    assert json.loads(text) == expected
