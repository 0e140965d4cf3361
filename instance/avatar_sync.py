"""Avatars that come home (FGMV-43 9.1 steps 5-7, AVSF; AVIR-102, AVIR-103, AVIR-104, AVIR-301-304).

At home: the versions of each User's avatar (its Persona and the Items attached to it:
accessories and outfits), and the roaming changes received from the M-Instance the avatar is
visiting, PENDING until the User keeps them (a new version, parent and visit recorded) or
discards them (never a version), per visit (AVIR-102).
At the visited M-Instance: the roaming avatar per home User (the version it came as, its
attachments now, the visit), kept for a revisit (AVIR-103), and the changes made during a visit.

Everything lives in the M-Instance's one database. Every peer-controlled input is bounded:
attachments per avatar, activity records and bytes per change, pending changes per User.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Protocol

from instance.avatar_status import AvatarMigrations
from instance.database import Database
from instance.world.activity import ActivityLog, ActivityRecord
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.errors import AlreadyExists, FailedPrecondition, InvalidInput, MmmfedError, NotFound, TooLarge
from mmmfed.items import Item, instance_or_none

_SCHEMA = """
CREATE TABLE IF NOT EXISTS avatar_versions (
    user_process_id TEXT NOT NULL, version INTEGER NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (user_process_id, version));
CREATE TABLE IF NOT EXISTS roaming_changes (
    change_id TEXT PRIMARY KEY, user_process_id TEXT NOT NULL, visit_id TEXT NOT NULL,
    state TEXT NOT NULL, time_ms INTEGER NOT NULL, record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS roaming_changes_by_user ON roaming_changes (user_process_id, time_ms);
CREATE TABLE IF NOT EXISTS roaming_avatars (
    user_process_id TEXT PRIMARY KEY, home_item_id TEXT NOT NULL, version INTEGER NOT NULL,
    visit_id TEXT NOT NULL, persona_id TEXT NOT NULL, record BLOB NOT NULL, visit_since_ms INTEGER NOT NULL);
"""

SLOTS = frozenset({"outfit", "accessory"})
MAX_ATTACHMENTS = 16  # per avatar version and per change
MAX_ACTIVITY_RECORDS = 64  # activity records carried by one change
MAX_ACTIVITY_RECORD_BYTES = 8 * 1024
MAX_CHANGE_BYTES = 256 * 1024  # one RoamingChange on the wire
MAX_PENDING_PER_USER = 16
PENDING, KEPT, DISCARDED, SENT = "PENDING", "KEPT", "DISCARDED", "SENT"
QUEUED, REFUSED = "QUEUED", "REFUSED"
"""At the visited M-Instance: a change waiting in the queue for its home (home down), and one its
home refused once dequeued (:mod:`instance.avatar_home_queue`)."""

ItemLookup = Callable[[str], Item]


class HomeSync(Protocol):
    """What sends a roaming change home and records it here: the durable queue towards this
    instance's gateway (RI-1 SyncAvatarHome; :class:`instance.avatar_home_queue.AvatarHomeQueue`)."""

    async def __call__(self, change: spb.RoamingChange) -> spb.RoamingChange: ...


def attachment_of(item: Item, slot: str) -> spb.AvatarAttachment:
    """The attachment record of ``item`` in ``slot``: its ItemID, Qualifier (canonical JSON) and
    data digest (AVIR-104, AVIR-303)."""
    qualifier = json.dumps(item.qualifier, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return spb.AvatarAttachment(
        item_id=item.item_id, slot=slot, qualifier_json=qualifier, digest=item.data.sha256 if item.data else ""
    )


def check_change(change: spb.RoamingChange) -> None:
    """Bounds and shape of a peer's roaming change. InvalidInput ``ROAMING_CHANGE_MALFORMED``;
    TooLarge ``ROAMING_CHANGE_TOO_LARGE`` (over 256 KiB, 16 attachments, 64 activity
    records of 8 KiB each); InvalidInput ``ROAMING_CHANGE_MALFORMED`` also for an activity record
    that is not an ACD Item or a Qualifier that is not a JSON object."""
    if change.ByteSize() > MAX_CHANGE_BYTES or len(change.attachments) > MAX_ATTACHMENTS:
        raise TooLarge(
            f"a roaming change is at most {MAX_CHANGE_BYTES} bytes with {MAX_ATTACHMENTS} attachments",
            reason="ROAMING_CHANGE_TOO_LARGE",
        )
    if len(change.activity_json) > MAX_ACTIVITY_RECORDS or any(
        len(r) > MAX_ACTIVITY_RECORD_BYTES for r in change.activity_json
    ):
        raise TooLarge(
            f"a roaming change carries at most {MAX_ACTIVITY_RECORDS} activity records of "
            f"{MAX_ACTIVITY_RECORD_BYTES} bytes",
            reason="ROAMING_CHANGE_TOO_LARGE",
        )
    if not all(_is_acd(r) for r in change.activity_json) or not all(
        _is_json_object(a.qualifier_json) for a in change.attachments if a.qualifier_json
    ):
        raise InvalidInput(
            "a roaming change's activity records are ACD Items and its Qualifiers JSON objects",
            reason="ROAMING_CHANGE_MALFORMED",
        )
    if (
        not change.change_id.startswith("urn:uuid:")
        or len(change.change_id) > 64
        or not change.visit_id
        or len(change.visit_id) > 256
        or any(a.slot not in SLOTS or not a.item_id or len(a.item_id) > 512 for a in change.attachments)
    ):
        raise InvalidInput(
            "a roaming change names its change (urn:uuid), its visit and attachments each with an ItemID and "
            "slot outfit or accessory",
            reason="ROAMING_CHANGE_MALFORMED",
        )


class AvatarSync:
    """Avatar versions and roaming changes of one M-Instance, in ``database``.

    ``lookup(item_id)`` returns an Item this M-Instance holds (NotFound ``ITEM_NOT_FOUND``);
    ``persona_of(user)`` the User's current Persona; ``migrations`` says where home avatars went;
    ``wear(user, persona_id)`` decides a home wear in the World (None: no decision, as in unit tests
    of the store alone).
    """

    def __init__(
        self,
        database: Database,
        m_instance_id: str,
        *,
        lookup: ItemLookup,
        persona_of: Callable[[str], Item],
        migrations: AvatarMigrations,
        activity: ActivityLog,
        wear: Callable[[str, str], MmmfedError | None] | None = None,
    ) -> None:
        self._database = database
        self._id = m_instance_id
        self._lookup = lookup
        self._persona_of = persona_of
        self._migrations = migrations
        self._activity = activity
        self._wear = wear  # a home wear decided as a World Process Action (instance/avatar_wear.py)
        database.ensure_schema(_SCHEMA)

    # -- home: versions ----------------------------------------------------------------------
    def history(self, user_process_id: str) -> spb.AvatarHistory:
        """A home User's versions (oldest first; the first made from its current Persona when
        none is recorded yet) and the roaming changes received for it. NotFound
        ``USER_NOT_FOUND``; InvalidInput ``NOT_HOME_USER``."""
        self._head(user_process_id)
        with self._database.read() as db:
            versions = db.execute(
                "SELECT record FROM avatar_versions WHERE user_process_id = ? ORDER BY version", (user_process_id,)
            ).fetchall()
            changes = db.execute(
                "SELECT record FROM roaming_changes WHERE user_process_id = ? ORDER BY time_ms, change_id",
                (user_process_id,),
            ).fetchall()
        return spb.AvatarHistory(
            user_process_id=user_process_id,
            versions=[spb.AvatarVersion.FromString(bytes(r[0])) for r in versions],
            changes=[spb.RoamingChange.FromString(bytes(r[0])) for r in changes],
        )

    def head(self, user_process_id: str) -> spb.AvatarVersion:
        """The current version of a home User's avatar (made as version 1 on first use)."""
        return self._head(user_process_id)

    def _head(self, user_process_id: str) -> spb.AvatarVersion:
        if instance_or_none(user_process_id) != self._id:
            raise InvalidInput(f"{user_process_id[:256]!r} is not a User of {self._id}", reason="NOT_HOME_USER")
        persona = self._persona_of(user_process_id)  # NotFound USER_NOT_FOUND / PERSONA_NOT_FOUND
        with self._database.write() as db:
            row = db.execute(
                "SELECT record FROM avatar_versions WHERE user_process_id = ? ORDER BY version DESC LIMIT 1",
                (user_process_id,),
            ).fetchone()
            if row is not None:
                head = spb.AvatarVersion.FromString(bytes(row[0]))
                if head.persona_id == persona.item_id:
                    return head
                # a new Persona (registered again): a version of it, wearing what the last wore
                return self._new_version(db, user_process_id, head.attachments, persona_id=persona.item_id)
            first = spb.AvatarVersion(version=1, persona_id=persona.item_id, time_ms=_now_ms())
            db.execute("INSERT INTO avatar_versions VALUES (?, 1, ?)", (user_process_id, first.SerializeToString()))
            return first

    def _new_version(
        self, db: sqlite3.Connection, user_process_id: str, attachments: Iterable[spb.AvatarAttachment], **visit: str
    ) -> spb.AvatarVersion:
        """Write the version after the User's current one (in ``db``'s transaction)."""
        row = db.execute(
            "SELECT record FROM avatar_versions WHERE user_process_id = ? ORDER BY version DESC LIMIT 1",
            (user_process_id,),
        ).fetchone()
        head = spb.AvatarVersion.FromString(bytes(row[0]))  # _head made the first one
        fields = {"persona_id": head.persona_id, **visit}  # a kept change's visit, or a new Persona
        version = spb.AvatarVersion(
            version=head.version + 1,
            parent_version=head.version,
            attachments=list(attachments),
            time_ms=_now_ms(),
            **fields,
        )
        db.execute(
            "INSERT INTO avatar_versions VALUES (?, ?, ?)",
            (user_process_id, version.version, version.SerializeToString()),
        )
        return version

    # -- both sides: a change of appearance ----------------------------------------------
    def change(self, request: spb.ChangeAppearanceRequest) -> spb.ChangeAppearanceResponse:
        """AVIR-303 (and AVIR-301 when roaming): attach and detach Items held here. For a home User
        a new version, once the World decided it as the User's Modify of its Persona
        (:mod:`instance.avatar_wear`; PermissionDenied ``InsRights``, recorded, no version); for a
        roaming User a roaming change of its current visit, to be recorded here by the caller's
        queue (:mod:`instance.avatar_home_queue`: SENT or QUEUED). InvalidInput ``ATTACHMENT_SLOT_UNKNOWN``, NotFound
        ``ITEM_NOT_FOUND`` / ``ROAMING_AVATAR_NOT_FOUND``, TooLarge
        ``TOO_MANY_ATTACHMENTS`` (over 16)."""
        user = request.user_process_id
        home = instance_or_none(user) == self._id
        current = list(self._head(user).attachments) if home else list(self._roaming(user)[1].attachments)
        attachments = _apply(current, request, self._lookup)
        if home:
            with self._database.write() as db:  # the World's decision and the version: one write
                refusal = self._wear(user, self._head(user).persona_id) if self._wear is not None else None
                if refusal is None:
                    return spb.ChangeAppearanceResponse(version=self._new_version(db, user, attachments))
            raise refusal  # InsRights...: the refusal is Activity Data, no version
        visit_id, roaming = self._roaming(user)
        records = self._activity_of(user)
        activity = [
            data
            for data in (
                json.dumps(ActivityLog.to_item(r, self._id), separators=(",", ":"), ensure_ascii=False).encode()
                for r in records
            )
            if len(data) <= MAX_ACTIVITY_RECORD_BYTES
        ]
        change = spb.RoamingChange(
            change_id=f"urn:uuid:{uuid.uuid4()}",
            home_user_process_id=user,
            visited_m_instance_id=self._id,
            visit_id=visit_id,
            base_version=roaming.version,
            attachments=attachments,
            activity_json=activity,
            time_ms=_now_ms(),
            state=PENDING,
        )
        while change.ByteSize() > MAX_CHANGE_BYTES and change.activity_json:  # oldest records first out
            del change.activity_json[0]
        return spb.ChangeAppearanceResponse(change=change)

    async def change_and_sync(
        self, request: spb.ChangeAppearanceRequest, home: HomeSync | None
    ) -> spb.ChangeAppearanceResponse:
        """:meth:`change`, then for a roaming User ``home`` sends the change home (FGMV-43 9.1
        steps 5-6) and records it here: worn and SENT once home accepted it, or worn and QUEUED
        while home cannot answer (it goes later, in order). The home's refusal passes through and
        nothing changes here. FailedPrecondition ``NO_GATEWAY`` for a roaming User of an instance
        without a gateway."""
        response = self.change(request)
        if not response.HasField("change"):
            return response
        if home is None:
            raise FailedPrecondition("this M-Instance has no gateway to reach the avatar's home", reason="NO_GATEWAY")
        return spb.ChangeAppearanceResponse(change=await home(response.change))

    def _activity_of(self, user_process_id: str) -> list[ActivityRecord]:
        """7.1.3: the activity records here of the roaming Process (as source or destination)
        since the visit began or its last change went home, and those naming its roaming Persona
        (its Register on arrival, for one); the newest 64."""
        with self._database.read() as db:
            row = db.execute(
                "SELECT persona_id, visit_id, visit_since_ms FROM roaming_avatars WHERE user_process_id = ?",
                (user_process_id,),
            ).fetchone()
            if row is None:
                return []
            (sent_ms,) = db.execute(
                "SELECT MAX(time_ms) FROM roaming_changes WHERE user_process_id = ? AND visit_id = ?"
                " AND state IN (?, ?)",
                (user_process_id, row[1], SENT, QUEUED),
            ).fetchone()
        since_ms = max(int(row[2]), int(sent_ms or 0))
        window = 100_000  # the query's own cap; each Process's records since one visit's last change
        by_seq = {r.seq: r for r in self._activity.query(process_id=user_process_id, since_ms=since_ms, limit=window)}
        by_seq.update((r.seq, r) for r in self._activity.query(item_id=str(row[0]), limit=MAX_ACTIVITY_RECORDS))
        return [by_seq[k] for k in sorted(by_seq)][-MAX_ACTIVITY_RECORDS:]

    def record_sent(self, change: spb.RoamingChange, *, wear: bool = True) -> None:
        """At the visited M-Instance: the change reached home; the roaming avatar now wears it
        (``wear=False``: it wore it when queued, and may wear a later change since)."""
        self._record(change, SENT, wear=wear)

    def record_queued(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """At the visited M-Instance: home cannot answer now; the roaming avatar wears the change
        at once and it is recorded QUEUED (the caller's queue sends it later). Returns it so."""
        return self._record(change, QUEUED, wear=True)

    def record_refused(self, change: spb.RoamingChange) -> None:
        """At the visited M-Instance: home refused a queued change (it stays worn here)."""
        self._record(change, REFUSED, wear=False)

    def _record(self, change: spb.RoamingChange, state: str, *, wear: bool) -> spb.RoamingChange:
        user = change.home_user_process_id
        visit_id, roaming = self._roaming(user)
        worn = spb.AvatarVersion()
        worn.CopyFrom(roaming)
        del worn.attachments[:]
        worn.attachments.extend(change.attachments)
        recorded = spb.RoamingChange()
        recorded.CopyFrom(change)
        recorded.state = state
        with self._database.write() as db:
            if wear:
                db.execute(
                    "UPDATE roaming_avatars SET record = ? WHERE user_process_id = ?",
                    (worn.SerializeToString(), user),
                )
            db.execute(
                "INSERT INTO roaming_changes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(change_id)"
                " DO UPDATE SET state = excluded.state, record = excluded.record",
                (recorded.change_id, user, visit_id, state, recorded.time_ms, recorded.SerializeToString()),
            )
        return recorded

    # -- home: roaming changes (9.1 step 7, AVIR-102) --------------------------------------
    def receive(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """Keep a peer's roaming change PENDING (once per change_id). FailedPrecondition
        ``NOT_VISITING`` unless the User's avatar last migrated to ``visited_m_instance_id`` in
        the visit named; AlreadyExists ``CHANGE_ID_TAKEN`` for another User's or peer's change
        id; TooLarge ``TOO_MANY_PENDING_CHANGES`` (over 16 pending)."""
        check_change(change)
        user = change.home_user_process_id
        self._head(user)
        migrated = [r for r in self._migrations.of(user) if r.outcome == "MIGRATED"]
        last = migrated[-1] if migrated else None
        visiting = last is not None and last.peer_m_instance_id == change.visited_m_instance_id
        if last is None or not visiting or last.transfer_id != change.visit_id:
            raise FailedPrecondition(
                f"the avatar of {user} is not visiting {change.visited_m_instance_id} in that visit",
                reason="NOT_VISITING",
                metadata={"visiting": last.peer_m_instance_id if last else ""},
            )
        pending = spb.RoamingChange()
        pending.CopyFrom(change)
        pending.state, pending.kept_as_version = PENDING, 0
        with self._database.write() as db:
            row = db.execute("SELECT record FROM roaming_changes WHERE change_id = ?", (change.change_id,)).fetchone()
            if row is not None:  # a repeated request: the first answer, to the same peer only
                first = spb.RoamingChange.FromString(bytes(row[0]))
                if (first.home_user_process_id, first.visited_m_instance_id) != (user, change.visited_m_instance_id):
                    raise AlreadyExists("that change id is taken", reason="CHANGE_ID_TAKEN")
                return first
            (count,) = db.execute(
                "SELECT COUNT(*) FROM roaming_changes WHERE user_process_id = ? AND state = ?", (user, PENDING)
            ).fetchone()
            if count >= MAX_PENDING_PER_USER:
                raise TooLarge(
                    f"{user} has {count} pending roaming changes: keep or discard them first",
                    reason="TOO_MANY_PENDING_CHANGES",
                )
            db.execute(  # ordered by when it arrived here, not by the peer's clock
                "INSERT INTO roaming_changes VALUES (?, ?, ?, ?, ?, ?)",
                (pending.change_id, user, pending.visit_id, PENDING, _now_ms(), pending.SerializeToString()),
            )
        return pending

    def decide(self, request: spb.DecideRoamingChangesRequest) -> spb.AvatarHistory:
        """AVIR-102, per visit: keep (a new version from the visit's last pending change, with its
        parent, visit and change recorded) or discard (none becomes a version). FailedPrecondition
        ``NO_PENDING_CHANGE``."""
        user = request.user_process_id
        self._head(user)
        with self._database.read() as db:
            rows = db.execute(
                "SELECT record FROM roaming_changes WHERE user_process_id = ? AND state = ? "
                "ORDER BY time_ms, change_id",
                (user, PENDING),
            ).fetchall()
        pending = [spb.RoamingChange.FromString(bytes(r[0])) for r in rows]
        visit_id = request.visit_id or (pending[-1].visit_id if pending else "")
        of_visit = [c for c in pending if c.visit_id == visit_id]
        if not of_visit:
            raise FailedPrecondition(
                f"no pending roaming change of {user}" + (f" in visit {visit_id[:256]}" if request.visit_id else ""),
                reason="NO_PENDING_CHANGE",
            )
        with self._database.write() as db:  # the version and the decision commit together
            kept = 0
            if request.keep:
                last = of_visit[-1]
                kept = self._new_version(
                    db,
                    user,
                    last.attachments,
                    visited_m_instance_id=last.visited_m_instance_id,
                    visit_id=last.visit_id,
                    change_id=last.change_id,
                ).version
            for c in of_visit:
                c.state, c.kept_as_version = (KEPT, kept) if request.keep else (DISCARDED, 0)
                db.execute(
                    "UPDATE roaming_changes SET state = ?, record = ? WHERE change_id = ?",
                    (c.state, c.SerializeToString(), c.change_id),
                )
        return self.history(user)

    # -- visited side: the roaming avatar (AVIR-103) ----------------------------------------
    def keep_roaming(
        self, user_process_id: str, home_item_id: str, visit_id: str, persona: Item, version: spb.AvatarVersion
    ) -> None:
        """After an import: the roaming avatar of ``user_process_id`` is ``persona`` made from
        ``version`` of the home avatar (attachments at most 16; more are dropped), in visit
        ``visit_id``."""
        kept = spb.AvatarVersion()
        kept.CopyFrom(version)
        del kept.attachments[MAX_ATTACHMENTS:]
        with self._database.write() as db:
            db.execute(
                "INSERT INTO roaming_avatars VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_process_id) DO UPDATE SET "
                "home_item_id = excluded.home_item_id, version = excluded.version, visit_id = excluded.visit_id, "
                "persona_id = excluded.persona_id, record = excluded.record, visit_since_ms = excluded.visit_since_ms",
                (
                    user_process_id,
                    home_item_id,
                    kept.version,
                    visit_id,
                    persona.item_id,
                    kept.SerializeToString(),
                    _now_ms(),
                ),
            )

    def recover(self, request: spb.RecoverRoamingAvatarRequest) -> spb.RecoverRoamingAvatarResponse:
        """AVIR-103: the roaming avatar of a revisiting User when it was made from the same home
        Persona (``held`` false otherwise). Held, it now wears the home's current version (its
        attachments, at most 16) and the visit becomes ``visit_id``: changes discarded at home do
        not come back."""
        user = request.home_user_process_id
        with self._database.read() as db:
            row = db.execute(
                "SELECT home_item_id, persona_id FROM roaming_avatars WHERE user_process_id = ?", (user,)
            ).fetchone()
        if row is None or row[0] != request.home_item_id or not request.visit_id or len(request.visit_id) > 256:
            return spb.RecoverRoamingAvatarResponse(held=False)
        try:
            persona = self._lookup(str(row[1]))
        except NotFound:
            return spb.RecoverRoamingAvatarResponse(held=False)
        self.keep_roaming(user, request.home_item_id, request.visit_id, persona, request.avatar_version)
        return spb.RecoverRoamingAvatarResponse(
            held=True, roaming_user_process_id=user, persona=itpb.ItemEnvelope(item_json=persona.raw)
        )

    def _roaming(self, user_process_id: str) -> tuple[str, spb.AvatarVersion]:
        with self._database.read() as db:
            row = db.execute(
                "SELECT visit_id, record FROM roaming_avatars WHERE user_process_id = ?", (user_process_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no roaming avatar of {user_process_id[:256]!r} here", reason="ROAMING_AVATAR_NOT_FOUND")
        return str(row[0]), spb.AvatarVersion.FromString(bytes(row[1]))


def _apply(
    current: list[spb.AvatarAttachment], request: spb.ChangeAppearanceRequest, lookup: ItemLookup
) -> list[spb.AvatarAttachment]:
    detach = set(request.detach_item_ids)
    result = [a for a in current if a.item_id not in detach]
    for ref in request.attach:
        if ref.slot not in SLOTS:
            raise InvalidInput(
                f"attachment slot {ref.slot[:64]!r} is not one of outfit, accessory", reason="ATTACHMENT_SLOT_UNKNOWN"
            )
        item = lookup(ref.item_id)
        result = [a for a in result if a.item_id != ref.item_id and not (ref.slot == "outfit" == a.slot)]
        result.append(attachment_of(item, ref.slot))
    if len(result) > MAX_ATTACHMENTS:
        raise TooLarge(f"an avatar has at most {MAX_ATTACHMENTS} attachments", reason="TOO_MANY_ATTACHMENTS")
    return result


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        return False


def _is_acd(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("ItemType") == "ACD"


def _now_ms() -> int:
    return int(time.time() * 1000)
