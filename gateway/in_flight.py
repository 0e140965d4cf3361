"""The avatar migrations (FGMV-43 9.1) a gateway process is running now, for ``GetStatus``.

Held in memory by the process that runs them: a migration is one call (home side
``MigrateAvatar``, visiting side ``TransferAvatar``) and ends with it, so there is nothing to
recover after a restart. Replicas on Redis each answer for their own.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

HOME, VISITING = "home", "visiting"


@dataclass
class Migration:
    """One migration in flight: ``side`` (HOME or VISITING), the User at its home M-Instance, the
    other M-Instance, its transfer id once it has one, and when it started (Unix ms)."""

    side: str
    user_process_id: str
    peer_m_instance_id: str
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    transfer_id: str = ""


class InFlightMigrations:
    """The migrations running now; :meth:`track` adds one for the span of a ``with`` block."""

    def __init__(self) -> None:
        self._running: dict[int, Migration] = {}
        self._ids = itertools.count()

    @contextlib.contextmanager
    def track(self, side: str, user_process_id: str, peer_m_instance_id: str) -> Iterator[Migration]:
        """Count ``user_process_id``'s migration as in flight until the block ends (however it
        ends); the block may set the yielded record's ``transfer_id``."""
        key = next(self._ids)
        record = self._running[key] = Migration(side, user_process_id, peer_m_instance_id)
        try:
            yield record
        finally:
            del self._running[key]

    def snapshot(self) -> list[Migration]:
        """The migrations running now, oldest first (copies)."""
        return [
            Migration(m.side, m.user_process_id, m.peer_m_instance_id, m.started_ms, m.transfer_id)
            for m in sorted(self._running.values(), key=lambda m: m.started_ms)
        ]
