"""Retry pacing for the durable synchronisation queues (content COSF, avatar AVSF, identity IDSF):
full-jitter exponential backoff, as every queue that retries a destination uses it."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass
class Backoff:
    """One destination's (or one queued entry's) retry state: ``failures`` in a row and the
    monotonic time (seconds) before which it is not retried."""

    failures: int = 0
    not_before: float = 0.0

    def failed(self, base_s: float, cap_s: float) -> None:
        """Count a failure and wait a random time in [0, min(``cap_s``, ``base_s`` * 2^failures))
        seconds before the next attempt (full jitter)."""
        delay = random.random() * min(cap_s, base_s * 2.0**self.failures)
        self.failures += 1
        self.not_before = time.monotonic() + delay

    def waiting(self) -> bool:
        """True while the next attempt is not due yet."""
        return self.not_before > time.monotonic()
