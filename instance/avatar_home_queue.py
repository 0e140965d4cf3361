"""The durable per-destination queue of roaming changes going home (FGMV-43 9.1 steps 5-6, AVSF;
issue 16 item 6).

At the M-Instance a User is visiting, a change of appearance (``mmmfed avatar wear``) goes to
the User's home through this M-Instance's gateway (RI-1 ``SyncAvatarHome``, then RE-1
``SyncAvatar``). :meth:`AvatarHomeQueue.submit` sends it at once when nothing waits for that
home: home's answer (the change PENDING there) is returned and the change recorded SENT and
worn; home's refusal (``NOT_VISITING``...) passes through and nothing changes here. When home
(or this M-Instance's gateway) cannot answer (UNAVAILABLE, DEADLINE_EXCEEDED), or changes for
that home wait already, the change is kept in ``avatar_home_queue`` in the M-Instance's database,
in the same write that records it QUEUED and lets the roaming avatar wear it, and the answer is
the change in state QUEUED.

:meth:`AvatarHomeQueue.drain_once` (every ``interval_s``, 0.5 s, on its own from :meth:`start`)
sends each home's rows in order, one at a time; a home that is down backs off (full jitter,
``base_s`` doubling to ``cap_s``) and stops its pass, so later changes never overtake earlier
ones; a row goes once home accepted it (recorded SENT) or refused it (recorded REFUSED, logged:
it would be refused again). The queue is in the database, so a change made while home was down
reaches it after either node restarts. Home keeps each change once by its change id, so a row
sent again after a lost answer changes nothing there (at least once, applied once). At most
:data:`MAX_QUEUED_PER_USER` changes wait per User (ResourceExhausted ``HOME_QUEUE_FULL``).

Why not :class:`instance.content.sync.ContentSyncWorker` itself: it drains contents' rows by
(peer, content) through RI-3 and keeps nothing but ids; a roaming change is a message of its own
(with its activity records) that must be delivered as it was made, in the order made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import grpc

from instance.avatar_sync import AvatarSync, HomeSync
from instance.database import Database
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.backoff import Backoff
from mmmfed.errors import MmmfedError, NotFound, RemoteError, TooLarge
from mmmfed.items import instance_or_none

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS avatar_home_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, home TEXT NOT NULL, user_process_id TEXT NOT NULL,
    change_id TEXT NOT NULL UNIQUE, record BLOB NOT NULL, queued_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS avatar_home_queue_by_home ON avatar_home_queue (home, seq);
"""
HOME_DOWN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""What says home (or this M-Instance's gateway) cannot answer now, not a refusal."""
MAX_QUEUED_PER_USER = 16


@dataclass
class AvatarHomeQueue:
    """Sends ``sync``'s roaming changes home through ``send`` (RI-1 SyncAvatarHome), queueing
    them in ``database`` while home cannot answer (module docstring)."""

    database: Database
    sync: AvatarSync
    send: HomeSync
    interval_s: float = 0.5
    base_s: float = 0.2
    cap_s: float = 5.0
    _backoff: dict[str, Backoff] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.database.ensure_schema(_SCHEMA)

    def queued(self) -> list[spb.RoamingChange]:
        """The changes waiting, in queue order (every home)."""
        with self.database.read() as db:
            rows = db.execute("SELECT record FROM avatar_home_queue ORDER BY seq").fetchall()
        return [spb.RoamingChange.FromString(bytes(r[0])) for r in rows]

    def _waiting_for(self, home: str) -> bool:
        with self.database.read() as db:
            row = db.execute("SELECT 1 FROM avatar_home_queue WHERE home = ? LIMIT 1", (home,)).fetchone()
        return row is not None

    def _enqueue(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """One write: the row, and the change recorded QUEUED and worn here."""
        home = instance_or_none(change.home_user_process_id) or ""
        with self.database.write() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM avatar_home_queue WHERE user_process_id = ?", (change.home_user_process_id,)
            ).fetchone()
            if count >= MAX_QUEUED_PER_USER:
                raise TooLarge(
                    f"{count} changes of {change.home_user_process_id[:256]} wait for {home} already;"
                    " try again once it answers",
                    reason="HOME_QUEUE_FULL",
                    metadata={"limit": str(MAX_QUEUED_PER_USER)},
                )
            queued = self.sync.record_queued(change)
            db.execute(
                "INSERT INTO avatar_home_queue (home, user_process_id, change_id, record, queued_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (home, change.home_user_process_id, change.change_id, change.SerializeToString(), _now_ms()),
            )
        return queued

    async def submit(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """Send ``change`` home now, or queue it (module docstring). Returns home's answer
        (PENDING there) or the change QUEUED here. Raises home's or the gateway's refusal
        (nothing changes here), ResourceExhausted ``HOME_QUEUE_FULL``."""
        home = instance_or_none(change.home_user_process_id) or ""
        async with self._lock:
            backoff = self._backoff.get(home)
            if not self._waiting_for(home) and not (backoff is not None and backoff.waiting()):
                try:
                    accepted = await self.send(change)
                except MmmfedError as err:
                    if not _home_down(err):
                        raise
                    self._backoff.setdefault(home, Backoff()).failed(self.base_s, self.cap_s)
                    log.info("roaming change queued", extra={"home": home, "reason": err.reason})
                else:
                    self._backoff.pop(home, None)
                    self.sync.record_sent(change)
                    return accepted
            return self._enqueue(change)

    async def drain_once(self) -> int:
        """One pass: each home not backing off, its rows in order until one cannot be sent.
        Returns how many rows went (accepted or refused by home)."""
        async with self._lock:
            done = 0
            with self.database.read() as db:
                rows = db.execute("SELECT seq, home, record FROM avatar_home_queue ORDER BY seq").fetchall()
            stopped: set[str] = set()
            for seq, home, record in rows:
                backoff = self._backoff.get(home)
                if home in stopped or (backoff is not None and backoff.waiting()):
                    continue
                change = spb.RoamingChange.FromString(bytes(record))
                try:
                    await self.send(change)
                except MmmfedError as err:
                    if _home_down(err):
                        self._backoff.setdefault(home, Backoff()).failed(self.base_s, self.cap_s)
                        stopped.add(home)
                        continue
                    log.warning(
                        "home refused a queued roaming change",
                        extra={"home": home, "change_id": change.change_id, "reason": err.reason},
                    )
                    self._settle(seq, change, sent=False)
                else:
                    self._backoff.pop(home, None)
                    self._settle(seq, change, sent=True)
                done += 1
            return done

    def _settle(self, seq: int, change: spb.RoamingChange, *, sent: bool) -> None:
        """One write: the row goes, the change recorded SENT or REFUSED (a visit that ended
        meanwhile has no roaming avatar to record it on: the row goes all the same)."""
        with self.database.write() as db:
            with contextlib.suppress(NotFound):  # ROAMING_AVATAR_NOT_FOUND
                if sent:
                    self.sync.record_sent(change, wear=False)
                else:
                    self.sync.record_refused(change)
            db.execute("DELETE FROM avatar_home_queue WHERE seq = ?", (seq,))

    async def run(self) -> None:
        """Drain the queue every ``interval_s`` until cancelled."""
        while True:
            try:
                await self.drain_once()
            except MmmfedError as err:  # this M-Instance's own store failed: log, try again later
                log.warning("avatar home queue pass failed", extra={"reason": err.reason})
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Start :meth:`run` as a task (idempotent): what was queued before a stop goes now."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stop the task (idempotent); the queue stays in the database."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _home_down(err: MmmfedError) -> bool:
    return isinstance(err, RemoteError) and err.code in HOME_DOWN


def _now_ms() -> int:
    return int(time.time() * 1000)
