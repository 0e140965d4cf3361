"""The audit hash chain (LAF, FGMV-43 7.5.3) of a gateway's Redis backend: every replica appends
to ONE chain by compare-and-set (:data:`_APPEND_LUA`; keys and the reasoning in "The chain" of
:mod:`mmmfed.store.redis`), a group commit at a time.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

from mmmfed.audit import (
    GENESIS_HASH,
    SEQ_GAP,
    VERIFIED,
    AuditDraft,
    AuditEntry,
    VerifyResult,
    check_entries_query,
    check_rows,
    check_verify_from,
    entry_from_row,
    entry_row,
)
from mmmfed.errors import DataIntegrityError, Unavailable
from mmmfed.store.group_commit import GroupCommit
from mmmfed.store.redis_client import GatewayRedis, as_text, reachable

MAX_APPEND_ATTEMPTS = 100
VERIFY_PAGE = 1000

_APPEND_LUA = """
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return {0, head} end
local seq = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[2]) ~= seq - 1 then return -1 end
local n = tonumber(ARGV[4])
for i = 1, n do
  local once = ARGV[4 + n + i]
  if once ~= '' and redis.call('HEXISTS', KEYS[3], once) == 1 then return {0, head} end
end
for i = 1, n do
  redis.call('RPUSH', KEYS[2], ARGV[4 + i])
  redis.call('ZADD', KEYS[3 + i], seq + i - 1, tostring(seq + i - 1))
  local once = ARGV[4 + n + i]
  if once ~= '' then redis.call('HSET', KEYS[3], once, seq + i - 1) end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""
"""A batch of entries appended after the head, atomically. KEYS: head, log, the once-key hash,
then the peer index of each entry. ARGV: the head expected ("" when empty), the first new seq,
the new head, the number n of entries, the n rows in order, then their n once keys ("" for
none). Returns 1 (appended), {0, the head now} (the head moved, or a once key was written
meanwhile: build the batch again after that head, without reading it) or -1 (the list and its
head disagree)."""


class RedisAuditLog:
    """:class:`mmmfed.store.SharedAuditLog` (LAF, FGMV-43 7.5.3) on Redis: one hash chain for every replica
    (compare-and-set appends, :mod:`mmmfed.store.redis` docstring). Raises as the sync protocol does, plus
    Unavailable ``STORE_UNAVAILABLE`` / ``STORE_WRITE_NOT_DURABLE`` / ``AUDIT_APPEND_CONTENDED``
    (after :data:`MAX_APPEND_ATTEMPTS` lost races) and DataIntegrityError ``AUDIT_LOG_CORRUPT``."""

    def __init__(self, shared: GatewayRedis) -> None:
        self._r = shared
        self._append_script = shared.client.register_script(_APPEND_LUA)
        self._last_head: bytes | str | None = None  # the head this replica last wrote or read
        self._group = GroupCommit(self._append_batch)  # one batch, one script call, one wait
        self.append = self._group.append
        self.append_all = self._group.append_all
        self._head, self._log = shared.key("audit", "head"), shared.key("audit", "log")
        self._once = shared.key("audit", "once")

    async def _written_once(self, drafts: list[AuditDraft]) -> dict[str, AuditEntry]:
        """The entries already written under the ``once`` keys of ``drafts``."""
        keys = sorted({d.once for d in drafts if d.once})
        if not keys:
            return {}
        async with reachable("audit once keys"):
            self._r.sent("audit read")
            seqs = await self._r.client.hmget(self._once, keys)
            found = {k: int(v) for k, v in zip(keys, seqs, strict=True) if v is not None}
            rows = {}
            for k, seq in found.items():
                self._r.sent("audit read")
                rows[k] = await self._r.client.lindex(self._log, seq - 1)
        return {k: _entry(raw) for k, raw in rows.items()}

    async def _append_batch(self, drafts: list[AuditDraft]) -> list[AuditEntry]:
        """Compare-and-set ``drafts`` after the head. The first attempt trusts the head this
        replica last saw (no read while it is the only writer); a moved head is read again.
        A draft whose ``once`` key is already written is not written again (see the script)."""
        head = self._last_head
        for attempt in range(MAX_APPEND_ATTEMPTS):
            if head is None:
                async with reachable("audit head"):
                    self._r.sent("audit read")
                    head = await self._r.client.get(self._head)
            written = await self._written_once(drafts) if attempt else {}
            seq, prev_hash = _parse_head(head)
            result: list[AuditEntry | None] = []
            entries: list[AuditEntry] = []
            fresh: list[AuditDraft] = []
            for draft in drafts:
                if draft.once in written:
                    result.append(written[draft.once])
                    continue
                if draft.once and any(d.once == draft.once for d in fresh):
                    result.append(None)  # a repeat within the batch: the first one's entry
                    continue
                seq += 1
                entries.append(draft.place(seq, prev_hash))
                fresh.append(draft)
                result.append(entries[-1])
                prev_hash = entries[-1].hash
            if not entries:
                return self._fill_repeats(drafts, result)
            keys = [self._head, self._log, self._once, *(self._r.key("audit", "peer", d.peer_id) for d in fresh)]
            rows = [json.dumps(entry_row(e), separators=(",", ":")) for e in entries]
            new_head = f"{entries[-1].seq} {entries[-1].hash}"
            args = [
                as_text(head) if head is not None else "",
                entries[0].seq,
                new_head,
                len(entries),
                *rows,
                *(d.once for d in fresh),
            ]
            replies, wait = await self._r.durable(
                "audit append", functools.partial(self._append_with, keys=keys, args=args)
            )
            if replies[0] == 1:
                self._r.confirm(wait)
                self._last_head = new_head.encode()
                return self._fill_repeats(drafts, result)
            if replies[0] == -1:
                self._last_head = None
                raise DataIntegrityError(
                    f"audit log {self._log} does not end at its head {as_text(head)!r}", reason="AUDIT_LOG_CORRUPT"
                )
            # another replica appended first: its reply carries the head to build on (b"": none yet)
            lost = replies[0]
            head = (bytes(lost[1]) or None) if isinstance(lost, list) and len(lost) == 2 else None
        self._last_head = None
        raise Unavailable(
            f"{MAX_APPEND_ATTEMPTS} appends in a row lost the race to other replicas", reason="AUDIT_APPEND_CONTENDED"
        )

    def _append_with(self, pipe: Any, *, keys: list[str], args: list[Any]) -> Any:
        """The append script on ``pipe`` (the write :meth:`GatewayRedis.durable` runs)."""
        return self._append_script(keys=keys, args=args, client=pipe)

    @staticmethod
    def _fill_repeats(drafts: list[AuditDraft], result: list[AuditEntry | None]) -> list[AuditEntry]:
        first: dict[str, AuditEntry] = {}
        out = []
        for draft, entry in zip(drafts, result, strict=True):
            entry = entry if entry is not None else first[draft.once]
            if draft.once:
                first.setdefault(draft.once, entry)
            out.append(entry)
        return out

    async def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        check_entries_query(peer_id=peer_id, since_seq=since_seq, limit=limit)
        start = max(0, since_seq)
        async with reachable("audit read"):
            self._r.sent("audit read")
            if peer_id is None:
                rows = await self._r.client.lrange(self._log, start, start + limit - 1)
            else:
                index = self._r.key("audit", "peer", peer_id)
                seqs = await self._r.client.zrangebyscore(index, f"({start}", "+inf", start=0, num=limit)
                async with self._r.client.pipeline(transaction=False) as pipe:
                    for seq in seqs:
                        pipe.lindex(self._log, int(as_text(seq)) - 1)
                    self._r.sent("audit read")
                    rows = await pipe.execute()
        return [_entry(raw) for raw in rows]

    async def head(self) -> AuditEntry | None:
        async with reachable("audit read"):
            self._r.sent("audit read")
            raw = await self._r.client.lindex(self._log, -1)
        return _entry(raw) if raw is not None else None

    async def verify(self, *, from_seq: int = 1) -> VerifyResult:
        check_verify_from(from_seq)
        prev_hash = GENESIS_HASH
        async with reachable("audit read"):
            if from_seq > 1:
                self._r.sent("audit read")
                before = _row(await self._r.client.lindex(self._log, from_seq - 2))
                if before is None:
                    message = f"entry {from_seq - 1}, before from_seq, is missing or unreadable"
                    return VerifyResult(False, SEQ_GAP, from_seq - 1, 0, from_seq - 2, "", message)
                prev_hash = as_text(before[-1])
            checked, first = 0, from_seq
            while True:  # page by page: the list only grows, so pages never disagree
                self._r.sent("audit read")
                page = await self._r.client.lrange(self._log, first - 1, first - 1 + VERIFY_PAGE - 1)
                if not page:
                    return VerifyResult(True, VERIFIED, None, checked, first - 1, prev_hash)
                result = check_rows([_row(raw) for raw in page], first_seq=first, prev_hash=prev_hash)
                if not result.ok:
                    return replace(result, checked=checked + result.checked)
                checked, first, prev_hash = checked + result.checked, result.head_seq + 1, result.head_hash

    async def close(self) -> None:
        await self._group.drain()  # what was queued is written before the connection closes
        await self._r.client.aclose()


def _parse_head(raw: bytes | str | None) -> tuple[int, str]:
    if raw is None:
        return 0, GENESIS_HASH
    seq, _, hash_hex = as_text(raw).partition(" ")
    if not seq.isdigit() or len(hash_hex) != 64:
        raise DataIntegrityError(f"the audit chain head {as_text(raw)!r} is malformed", reason="AUDIT_LOG_CORRUPT")
    return int(seq), hash_hex


def _row(raw: bytes | str | None) -> list[Any] | None:
    """A stored entry as its row, None if it is missing or not a JSON array."""
    if raw is None:
        return None
    try:
        row = json.loads(raw)
    except ValueError:
        return None
    return row if isinstance(row, list) else None


def _entry(raw: bytes | str | None) -> AuditEntry:
    row = _row(raw)
    if row is None or len(row) != 9:
        raise DataIntegrityError("an audit log entry in Redis cannot be read", reason="AUDIT_LOG_CORRUPT")
    return entry_from_row(row)
