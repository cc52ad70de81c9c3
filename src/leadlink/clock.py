"""The one clock: "now" as the store keeps times (naive UTC; the dashboard shows Lima time).

Services take ``now`` as an argument so that tests and reruns control time; only the edges
(CLI, API, worker) and the few places that measure a wait read this clock.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Naive UTC, the way every timestamp is stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
