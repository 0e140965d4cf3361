"""The home's durable per-destination queue of identity pushes (IDSF, ITU FGMV-43 9.4 step 5;
issue 17 item 6): which users' re-issued credentials each linked platform still lacks.

One file per destination platform, ``<gateway data_dir>/identity/push-queue/<peer>.json``
(0600): ``{"entries": [{"user": id, "version": n, "queued_s": t}, ...]}``, oldest first. A push
carries the user's *current* credential, so one entry per user suffices: queueing a newer
version of a user already queued raises that entry's version and keeps its place (the order is
the order in which the users first waited). An entry goes once the platform took a push of at
least its version (:meth:`PushQueue.done`); it stays through failures and restarts of either
side (the file is written through a temporary file and ``os.replace``).

Bounds: at most :data:`MAX_QUEUED_PER_PEER` users per destination; :meth:`PushQueue.enqueue`
refuses more (returns False) and the caller finds the user again later, from the version the
link records (``links.json``), so nothing is lost, only delayed. One gateway process writes
the files (its identity push worker and its RI-4 ``SyncIdentity``), on its event loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mmmfed.identity.user_did import check_user_id
from mmmfed.items import check_instance_id

MAX_QUEUED_PER_PEER = 4096


@dataclass(frozen=True)
class QueuedPush:
    """One user whose profile ``version`` (at least) a destination still lacks, queued at
    ``queued_s`` (Unix seconds)."""

    user: str
    version: int
    queued_s: int


def _write(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.replace(tmp, path)


class PushQueue:
    """The per-destination push queues in ``directory`` (module docstring)."""

    def __init__(self, directory: Path, *, max_per_peer: int = MAX_QUEUED_PER_PEER) -> None:
        self.directory = directory
        self.max_per_peer = max_per_peer

    def _file(self, peer: str) -> Path:
        return self.directory / f"{check_instance_id(peer)}.json"

    def peers(self) -> list[str]:
        """The destinations with a queue file, sorted (their queues may be empty)."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def entries(self, peer: str) -> list[QueuedPush]:
        """``peer``'s queue, oldest first (empty if none)."""
        try:
            raw = json.loads(self._file(peer).read_text())
        except FileNotFoundError:
            return []
        return [QueuedPush(str(e["user"]), int(e["version"]), int(e["queued_s"])) for e in raw.get("entries", [])]

    def _save(self, peer: str, entries: list[QueuedPush]) -> None:
        _write(self._file(peer), json.dumps({"entries": [asdict(e) for e in entries]}, indent=2) + "\n")

    def enqueue(self, peer: str, user: str, version: int, *, now_s: int) -> bool:
        """Queue ``user``'s ``version`` for ``peer``; True if it is queued (now or already, at
        this version or a newer one), False if ``peer``'s queue holds :attr:`max_per_peer`
        other users. InvalidInput ``USER_ID_INVALID`` / ``INSTANCE_ID_INVALID`` for bad ids."""
        return self.enqueue_all(peer, [(user, version)], now_s=now_s)[0]

    def enqueue_all(self, peer: str, pushes: Sequence[tuple[str, int]], *, now_s: int) -> list[bool]:
        """:meth:`enqueue` for each (user, version) of ``pushes``, in order, with one write of
        the queue's file (a pass queues many users at once)."""
        for user, _ in pushes:
            check_user_id(user)
        entries = self.entries(peer)
        where = {entry.user: i for i, entry in enumerate(entries)}
        queued, changed = [], False
        for user, version in pushes:
            i = where.get(user)
            if i is not None:
                if entries[i].version < version:
                    entries[i] = QueuedPush(user, version, entries[i].queued_s)
                    changed = True
                queued.append(True)
            elif len(entries) >= self.max_per_peer:
                queued.append(False)
            else:
                where[user] = len(entries)
                entries.append(QueuedPush(user, version, now_s))
                changed = True
                queued.append(True)
        if changed:
            self._save(peer, entries)
        return queued

    def done(self, peer: str, user: str, version: int) -> None:
        """``peer`` took ``user``'s ``version``: the entry goes unless it waits for a newer one."""
        self.done_all(peer, [(user, version)])

    def done_all(self, peer: str, pushes: Sequence[tuple[str, int]]) -> None:
        """:meth:`done` for each (user, version) of ``pushes``, with one write of the file (a
        federation transaction answers up to 50 users' pushes at once)."""
        if not pushes:
            return
        took: dict[str, int] = {}
        for user, version in pushes:
            took[user] = max(version, took.get(user, version))
        entries = self.entries(peer)
        kept = [e for e in entries if e.user not in took or e.version > took[e.user]]
        if len(kept) != len(entries):
            self._save(peer, kept)

    def drop(self, peer: str, user: str) -> None:
        """Forget ``user``'s entry for ``peer`` whatever its version (the link is gone, or the
        platform holds a newer version than any this home would push)."""
        entries = self.entries(peer)
        kept = [e for e in entries if e.user != user]
        if len(kept) != len(entries):
            self._save(peer, kept)
