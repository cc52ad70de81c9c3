"""Failed dashboard logins, throttled per client address with the ``limits`` library.

A moving window (``login_rate_limit``, e.g. ``5/minute``): each failed login from an address
is one hit; once the window is full, further logins from that address are answered 429 with
``Retry-After`` until the oldest failure leaves the window. A successful login is not counted
(and does not clear earlier failures). The counts live in this server process's memory: each
process (each ``leadlink serve``) counts on its own, and a restart forgets them. The address
is the connection's, or the one a trusted proxy forwards (uvicorn's ``forwarded_allow_ips``).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from leadlink.errors import ConfigError


class LoginThrottle:
    def __init__(self, rate: str) -> None:
        try:
            self.limit: RateLimitItem = parse(rate)
        except ValueError as exc:
            raise ConfigError(f"invalid LEADLINK_LOGIN_RATE_LIMIT {rate!r}: {exc}") from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        if self._limiter.test(self.limit, "login", address):
            return None
        reset = self._limiter.get_window_stats(self.limit, "login", address).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, address: str) -> None:
        self._limiter.hit(self.limit, "login", address)
