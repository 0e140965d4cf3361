"""Identity synchronisation on its own (IDSF, ITU FGMV-43 9.4 step 5; issue 17 item 6): the home
gateway finds every change of a linked user's credential and pushes the re-issued credential to
each linked platform, within the scope the user consented to there, without anyone running
``mmmfed identity sync`` (which stays, as "push now").

:class:`IdentityPushWorker`, every ``interval_s`` (0.5 s), in the home gateway process:

1. **Find changes.** For each user under ``<data_dir>/identity/users/`` whose credential or
   links changed since it last looked (``credential.sd-jwt`` and ``links.json``, by size,
   mtime and inode; every user on start), it takes the profile version
   (:meth:`mmmfed.identity.store.IdentityStore.observe_sync`: whatever ``mmmfed identity
   issue`` re-issued, another display name, preferences, a revoked avatar, a changed Right, is
   a new version) and queues the user for each linked platform that holds an older version,
   or another credential (re-issued with the same claims: another user key, a new validity;
   :func:`gateway.identity_sync.link_behind`) (:class:`mmmfed.identity.push_queue.PushQueue`,
   durable, one file per destination).
2. **Push.** Per destination, its queue in order, up to 50 users in one federation transaction
   (issue 18 item 2), one transaction at a time (destinations side by side)
   (:meth:`gateway.identity_sync.IdentitySync.push_queued_batch`: one RE-4 GetNonce for all of
   them, then RE-1 ``SendTransaction`` with a PushIdentityUpdate entry per user, its
   presentation disclosing only the consented claims the credential still holds; the platform
   answers each entry on its own). A push the platform took removes the entry; the platform applies
   a version once (it refuses an older one, ``VERSION_STALE``). A destination that is down
   (UNAVAILABLE, DEADLINE_EXCEEDED) stops its pass and backs off (full jitter, ``base_s``
   doubling to ``cap_s``), so it catches up once it answers again, and so does a home restarted
   with entries left (the queue is in files, and the versions the links record find any user
   it missed). A refusal of one user's push backs off that entry alone (up to 12 times
   ``cap_s``; a newer version of the user retries it at once), so it never holds up the
   destination's other users; a platform that no longer holds the link (``NOT_LINKED``), or
   holds a newer version (``VERSION_STALE``), ends the entry, and so does the link's end at home.

Replicas on Redis sharing the data dir run the passes one at a time: the replica holding the
lease ``identity-push`` (:meth:`mmmfed.store.redis.RedisState.hold_lease`, renewed each pass,
lapsing after :data:`LEASE_S` without one, when another replica takes over); RI-4 ``identity
sync`` pushes at whichever replica it reaches.

Bounds: the queue's (:data:`mmmfed.identity.push_queue.MAX_QUEUED_PER_PEER` users per
destination; a user refused by a full queue is looked at again on the next pass), one push in
flight per destination, each call's own deadline (:func:`mmmfed.rpc.call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.identity_sync import REFUSED_OUTCOME, SYNCED, UNREACHABLE, IdentitySync, link_behind
from gateway.transactions import MAX_ENTRIES
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.backoff import Backoff
from mmmfed.errors import MmmfedError
from mmmfed.identity.push_queue import PushQueue
from mmmfed.identity.store import IdentityStore, credential_digest

log = logging.getLogger(__name__)
FINAL_REFUSALS = frozenset({"NOT_LINKED", "VERSION_STALE", "DID_UNKNOWN"})
"""A platform's refusals that no retry of the same entry can change: the entry goes."""

LEASE_S = 10.0
_Signature = tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


@dataclass
class IdentityPushWorker:
    """Pushes linked users' changed credentials on its own (module docstring)."""

    sync: IdentitySync
    store: IdentityStore
    queue: PushQueue
    interval_s: float = 0.5
    base_s: float = 0.2
    cap_s: float = 5.0
    clock: Callable[[], float] = time.time
    lease: Callable[[], Awaitable[bool]] | None = None
    """For replicas on Redis: True while this replica may run passes (one replica at a time)."""
    _seen: dict[str, _Signature] = field(default_factory=dict)
    _backoff: dict[str, Backoff] = field(default_factory=dict)
    _row_backoff: dict[tuple[str, str], Backoff] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.sync.queue = self.queue  # RI-4 pushes end the entries they deliver

    def _users(self) -> list[str]:
        users = self.store.directory / "users"
        return sorted(p.name for p in users.iterdir() if p.is_dir()) if users.is_dir() else []

    def scan(self) -> int:
        """Step 1 of the module docstring; returns how many (user, platform) entries it queued."""
        now_s = int(self.clock())
        wanted: dict[str, list[tuple[str, int]]] = {}  # per platform: (user, version), queued at the end
        looked: dict[str, _Signature] = {}
        for user in self._users():
            user_dir = self.store.directory / "users" / user
            signature = (_stat(user_dir / "credential.sd-jwt"), _stat(user_dir / "links.json"))
            if self._seen.get(user) == signature:
                continue
            try:
                links = self.store.links(user)
                version, credential = 0, ""
                if links and signature[0] is not None:
                    version = self.store.observe_sync(user).version
                    credential = credential_digest(self.store.credential(user))
            except (MmmfedError, OSError, ValueError) as err:  # a user id or file this worker cannot read
                log.warning("identity push scan skipped a user", extra={"user": user[:80], "cause": str(err)[:200]})
                self._seen[user] = signature
                continue
            for peer, link in sorted(links.items()):
                if link_behind(link, version, credential):
                    wanted.setdefault(peer, []).append((user, version))
            looked[user] = signature
        queued, full = 0, set()
        for peer, pushes in sorted(wanted.items()):  # one write of each platform's queue per pass
            for (user, _), taken in zip(pushes, self.queue.enqueue_all(peer, pushes, now_s=now_s), strict=True):
                if taken:
                    self._row_backoff.pop((peer, user), None)  # a newer version: retry it now
                    queued += 1
                else:
                    full.add(user)  # the queue is full: look again on the next pass
        for user, signature in looked.items():
            if user not in full:
                self._seen[user] = signature
        return queued

    def _waiting(self, peer: str, user: str) -> bool:
        states = (self._backoff.get(peer), self._row_backoff.get((peer, user)))
        return any(state is not None and state.waiting() for state in states)

    async def drain_once(self) -> None:
        """Step 2 of the module docstring: one pass over every destination's queue, the
        destinations side by side (a slow one holds up only itself), each in order."""
        await asyncio.gather(*(self._drain(peer) for peer in self.queue.peers()))

    async def _drain(self, peer: str) -> None:
        """``peer``'s queue in order, :data:`~gateway.transactions.MAX_ENTRIES` users per
        federation transaction, skipping the users backing off; a peer that is down ends it."""
        if self._backoff.get(peer, Backoff()).waiting():
            return
        users = [entry.user for entry in self.queue.entries(peer) if not self._waiting(peer, entry.user)]
        for start in range(0, len(users), MAX_ENTRIES):
            batch = users[start : start + MAX_ENTRIES]
            answers = await self.sync.push_queued_batch(peer, batch)
            down = False
            for user, answer in zip(batch, answers, strict=True):
                down = self._answered(peer, user, answer) or down
            if down:
                return

    def _answered(self, peer: str, user: str, answer: ipb.PeerSync | None) -> bool:
        """Act on one user's push answer (module docstring, 2); True if ``peer`` is down."""
        if answer is None:  # unlinked at home
            self.queue.drop(peer, user)
            return False
        if answer.outcome == SYNCED:
            self._backoff.pop(peer, None)
            self._row_backoff.pop((peer, user), None)
            return False
        log.info(
            "identity push waits",
            extra={"peer": peer, "user": user, "outcome": answer.outcome, "reason": answer.reason},
        )
        if answer.outcome == UNREACHABLE:
            self._backoff.setdefault(peer, Backoff()).failed(self.base_s, self.cap_s)
            return True
        if answer.outcome == REFUSED_OUTCOME and answer.reason in FINAL_REFUSALS:
            self.queue.drop(peer, user)
            return False
        self._row_backoff.setdefault((peer, user), Backoff()).failed(self.base_s, self.cap_s * 12)
        return False

    async def run_once(self) -> bool:
        """One scan and one drain (what :meth:`run` does every ``interval_s``); False (and
        nothing done) while another replica holds the lease."""
        if self.lease is not None and not await self.lease():
            return False
        async with self._lock:
            self.scan()
            await self.drain_once()
        return True

    async def run(self) -> None:
        """:meth:`run_once` every ``interval_s`` until cancelled; a failed pass is logged and the
        next one tries again."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the worker must not stop on one bad pass
                log.warning("identity push pass failed", extra={"cause": f"{type(err).__name__}: {err}"[:300]})
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Start :meth:`run` as a task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="identity push")

    async def stop(self) -> None:
        """Stop the task (idempotent); the queue stays in its files."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
