"""Activity Data: the record of every Process Action an M-Instance decided, performed or refused
(MMM-TEC: "Activity Data (logs) can be collected and be verified").

Tables of the M-Instance's one database (:class:`instance.database.Database`,
``<data_dir>/m-instance.sqlite3``), append-only by convention: one row per decision
with the request and response in their JSON form (``instance/world/codec.py``), and one row per
Item or Process the request names, so records can be asked for by Process (source or
destination), by Item and by time. The rows are also what the engine replays on restart.
:meth:`ActivityLog.to_item` gives a record as an ACD Item.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from instance.database import Database
from instance.world.codec import request_from_json, response_from_json, response_to_json
from instance.world.itemdocs import iso, item_doc, local_part
from instance.world.model import PAStatusKind, ProcessActionRequest, ProcessActionResponse
from instance.world.wire import request_to_proto, response_to_proto
from mmmfed.errors import InvalidInput
from mmmfed.items import instance_or_none
from mmmfed.v22.process_action import request_to_v22, response_to_v22

RESOLUTION_TRIGGER = "resolution"
"""Activity Data ``trigger`` of a request sent to another M-Instance (never replayed here)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS activity (
    seq INTEGER PRIMARY KEY,
    pa_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    action TEXT NOT NULL,
    verb TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    reason TEXT NOT NULL,
    trigger TEXT,
    origin TEXT,
    rules_version TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_ref (seq INTEGER NOT NULL, ref TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_ref_by_ref ON activity_ref(ref, seq);
CREATE INDEX IF NOT EXISTS activity_by_time ON activity(time_ms);
CREATE INDEX IF NOT EXISTS activity_by_pa_id ON activity(pa_id, seq);
CREATE INDEX IF NOT EXISTS activity_by_source ON activity(source, seq);
CREATE INDEX IF NOT EXISTS activity_by_destination ON activity(destination, seq);
"""


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One decided Process Action: ``status`` is Ack, Request or Error (``error`` its code)."""

    seq: int
    process_action_id: str
    time_ms: int
    source_id: str
    destination_id: str
    action: str
    verb: str
    status: str
    error: str | None
    reason: str
    trigger: str | None
    origin: str | None
    rules_version: str
    request: dict[str, Any]
    response: dict[str, Any]


class ActivityLog:
    """Activity Data in ``database`` (the M-Instance's one :class:`~instance.database.Database`),
    or in a database of its own at a path (``":memory:"`` for a throwaway log)."""

    def __init__(self, database: Database | Path | str) -> None:
        self.database = database if isinstance(database, Database) else Database(database)
        self.database.ensure_schema(_SCHEMA)

    def close(self) -> None:
        self.database.close()

    def decision(self, point: str | None = None) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction for a decision: its effects on the durable stores of this database and
        its record (:meth:`append`) commit together. Crash points ``<point>.before/.after``."""
        return self.database.write(point)

    def append(
        self,
        request_json: dict[str, Any],
        request: ProcessActionRequest,
        response: ProcessActionResponse,
        *,
        trigger: str | None,
        origin: str | None,
        rules_version: str,
        refs: list[str],
    ) -> int:
        """Record one decision durably (committed before the response leaves). Returns its seq."""
        status = response.status
        with self.database.write() as db:
            cur = db.execute(
                "INSERT INTO activity (pa_id, time_ms, source, destination, action, verb, status, error, reason,"
                " trigger, origin, rules_version, request, response) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    _text(request.process_action_id),
                    response.time_ms,
                    _text(request.source_id),
                    _text(request.destination_id),
                    _text(request.action),
                    _text(request.verb),
                    status.kind.value,
                    status.error.value if status.error else None,
                    status.reason,
                    trigger,
                    origin,
                    rules_version,
                    json.dumps(request_json, separators=(",", ":"), ensure_ascii=False),
                    json.dumps(_response_json(response), separators=(",", ":"), ensure_ascii=False),
                ),
            )
            seq = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO activity_ref (seq, ref) VALUES (?, ?)",
                [(seq, r) for r in sorted({r for r in refs if isinstance(r, str)})],
            )
        return seq

    def query(
        self,
        *,
        process_id: str | None = None,
        item_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[ActivityRecord]:
        """Records in order, filtered by Process (as source or destination), Item (named by any
        Complement), and time window ``[since_ms, until_ms)``; at most ``limit`` (1..100000)."""
        where: list[str] = []
        args: list[str | int] = []
        if process_id is not None:
            where.append("(source = ? OR destination = ?)")
            args += [process_id, process_id]
        if item_id is not None:
            where.append("seq IN (SELECT seq FROM activity_ref WHERE ref = ?)")
            args.append(item_id)
        if since_ms is not None:
            where.append("time_ms >= ?")
            args.append(since_ms)
        if until_ms is not None:
            where.append("time_ms < ?")
            args.append(until_ms)
        sql = "SELECT * FROM activity" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq LIMIT ?"
        args.append(max(1, min(limit, 100_000)))
        with self.database.read() as db:
            return [_record(row) for row in db.execute(sql, args).fetchall()]

    def first_decision(self, process_action_id: str) -> ActivityRecord | None:
        """The first record of a request decided here under ``process_action_id`` (not one it
        triggered, not one resolved at another M-Instance), or None: what a retry of it must be
        answered with once the engine's memory of recent answers has let it go."""
        with self.database.read() as db:
            row = db.execute(
                "SELECT * FROM activity WHERE pa_id = ? AND trigger IS NULL ORDER BY seq LIMIT 1",
                (process_action_id,),
            ).fetchone()
        return _record(row) if row is not None else None

    def performed(self, process_action_id: str) -> bool:
        """Whether a Process Action under ``process_action_id`` was performed here: an Ack the
        engine decided (not one resolved at another M-Instance) that is not a deferral (a request
        with an If Event, Ack'd until its event; the fired one is recorded with its trigger).
        What an If Event on that ProcessActionID asks once the engine's memory of recent
        performances has let it go (MMM-TEC Process Action If Event)."""
        with self.database.read() as db:
            rows = db.execute(
                "SELECT trigger, request FROM activity WHERE pa_id = ? AND status = ?"
                " AND (trigger IS NULL OR trigger != ?) ORDER BY seq",
                (process_action_id, PAStatusKind.ACK.value, RESOLUTION_TRIGGER),
            ).fetchall()
        for trigger, request in rows:
            if trigger is not None:
                return True
            try:
                if request_from_json(json.loads(request)).if_event is None:
                    return True
            except (InvalidInput, ValueError):
                continue  # a malformed request was refused, never performed
        return False

    def __iter__(self) -> Iterator[ActivityRecord]:
        with self.database.read() as db:
            rows = db.execute("SELECT * FROM activity ORDER BY seq").fetchall()
        for row in rows:
            yield _record(row)

    def __len__(self) -> int:
        with self.database.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM activity").fetchone()[0])

    @staticmethod
    def to_item(record: ActivityRecord, m_instance_id: str) -> dict[str, Any]:
        """The record as an ACD Item (``mmmfed/schemas/ACD.json``)."""
        targets = [c.get("ItemID") or c.get("ProcessID") for c in record.request.get("RQComplements", [])]
        fields: dict[str, Any] = {
            "ProcessActionID": record.process_action_id,
            "Time": iso(record.time_ms),
            "SourceProcessID": record.source_id,
            "DestinationProcessID": record.destination_id,
            "Action": record.action,
            "DeonticVerb": record.verb,
            "Targets": [t for t in targets if t][:16],
            "PAStatus": record.response["PAStatus"],
            "RulesVersionID": record.rules_version,
        }
        if record.trigger is not None:
            fields["Trigger"] = record.trigger
        fields.update(_v22_pair(record, m_instance_id))
        return item_doc(
            m_instance_id=m_instance_id,
            item_id=f"mmm://{m_instance_id}/activity/{local_part(record.process_action_id)}-{record.seq}",
            item_type="ACD",
            sub_type="ActivityData",
            producer_id=record.destination_id,
            time_ms=record.time_ms,
            fields=fields,
        )


def _text(value: object) -> str:
    """A field of a request as text: an enum's value, a string as it is, anything else (a malformed
    request's field) as a short repr, so that refused requests are recorded too."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, str):
        return value
    return repr(value)[:256]


def _response_json(response: ProcessActionResponse) -> dict[str, Any]:
    out = response_to_json(response)
    if response.decided_by:
        out["DecidedBy"] = response.decided_by  # a request resolved at another M-Instance
    return out


def _v22_pair(record: ActivityRecord, m_instance_id: str) -> dict[str, Any]:
    """``{"ProcessAction": <request>, "ProcessActionResponse": <response>}``, both
    ``MMM4_V22_ProcessAction`` s (the request's is the ``Action`` of its ``AnyProcessAction``
    Request), or ``{}`` for a record of a request too malformed to have a V2.2 form."""
    try:
        request = request_from_json(record.request)
        response = response_from_json(record.response)
        source_instance = instance_or_none(request.source_id) or m_instance_id
        decided_by = record.response.get("DecidedBy") or m_instance_id
        any_pa = request_to_v22(request_to_proto(request, m_instance_id=source_instance))
        return {
            "ProcessAction": any_pa["ProcessAction"][0]["Request"]["Action"],
            "ProcessActionResponse": response_to_v22(
                response_to_proto(response, m_instance_id=decided_by), action=request.action.value
            ),
        }
    except (InvalidInput, KeyError, TypeError, ValueError):
        return {}


def _record(row: tuple[Any, ...]) -> ActivityRecord:
    (
        seq,
        pa_id,
        time_ms,
        source,
        destination,
        action,
        verb,
        status,
        error,
        reason,
        trigger,
        origin,
        rules_version,
        request,
        response,
    ) = row
    return ActivityRecord(
        seq,
        pa_id,
        time_ms,
        source,
        destination,
        action,
        verb,
        status,
        error,
        reason,
        trigger,
        origin,
        rules_version,
        json.loads(request),
        json.loads(response),
    )
