"""Durations the worker is given: its own cycle (`--every`) and each database source's."""

from __future__ import annotations

import re

from leadlink.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """`30s`, `15m`, `6h`, `1d` -> seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text.lower())
    if not found or int(found.group(1)) == 0:
        raise UsageError(f"--every takes a positive number and a unit s, m, h or d (e.g. 6h), "
                         f"not {text!r}")  # fmt: skip
    return float(int(found.group(1)) * _UNITS[found.group(2)])
