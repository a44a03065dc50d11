"""Counts against a limit, shared by the portal's web processes."""

from __future__ import annotations

import logging

from limits import RateLimitItem
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from services.common.ratelimit import SweptMemoryStorage, storage_uri

log = logging.getLogger(__name__)


class SharedCounts:
    """What the portal counts against a limit (failed sign-ins, requests from one
    address), in the shared store; while it does not answer, in this process (a limit
    still holds, per process), never a failed page."""

    def __init__(self, storage_url: str) -> None:
        self.shared = MovingWindowRateLimiter(storage_from_string(storage_uri(storage_url)))
        self.local = MovingWindowRateLimiter(SweptMemoryStorage())

    def _either(self, method: str, item: RateLimitItem, *keys: str) -> bool:
        try:
            return getattr(self.shared, method)(item, *keys)
        except Exception as exc:  # any failure of the store: count here instead
            log.warning("counts: the shared store does not answer (%s)", type(exc).__name__)
            return getattr(self.local, method)(item, *keys)

    def allowed(self, item: RateLimitItem, *keys: str) -> bool:
        return self._either("test", item, *keys)

    def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Count one; False when that is beyond the limit."""
        return self._either("hit", item, *keys)
