"""What an invariant check returns. Services define their own ``check_*`` functions and
return a ``CheckResult``; ``operations.checks`` collects them for `leadlink check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Examples of violations a check reports at most.
LIMIT = 20


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "violations": self.violations,
                "examples": self.examples}  # fmt: skip


def combined(name: str, detail: str, parts: list[tuple[int, list[str]]]) -> CheckResult:
    """One result from several (violations, examples) parts."""
    total = sum(n for n, _ in parts)
    examples = [e for _, ex in parts for e in ex][:LIMIT]
    return CheckResult(name, total == 0, detail, total, examples)
