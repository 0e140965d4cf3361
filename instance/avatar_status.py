"""Where the avatars of an M-Instance's Users are (FGMV-43 9.1): the outcomes of their migrations as
the home gateway reports them (RI-1 ``RecordAvatarMigration``), kept in the M-Instance's one
database, and the User summaries ``mmmfed avatar list|status`` show (the World's Users and
Personae beside those records).

The World decides who the Users are and which Personae they hold; this module only remembers
what happened to an avatar after it left (migrated there, or refused with the reason and the
default avatar offered), which the home M-Instance does not otherwise learn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from instance.database import Database
from instance.world.model import ProcessType
from instance.world.world import World
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.errors import InvalidInput, NotFound
from mmmfed.items import instance_or_none

_SCHEMA = """
CREATE TABLE IF NOT EXISTS avatar_migrations (
    transfer_id TEXT PRIMARY KEY, user_process_id TEXT NOT NULL, peer TEXT NOT NULL,
    time_ms INTEGER NOT NULL, record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS avatar_migrations_by_user ON avatar_migrations (user_process_id, time_ms);
"""
OUTCOMES = frozenset({"MIGRATED", "REFUSED"})
MAX_RECORD_BYTES = 256 * 1024


class AvatarMigrations:
    """The migration records of one M-Instance's Users, in ``database``."""

    def __init__(
        self, database: Database, world: World, *, linked_home: Callable[[str], str | None] | None = None
    ) -> None:
        self._database = database
        self._world = world
        self._linked_home = linked_home  # the home M-Instance of a linked identity (FGMV-43 9.4 step 4)
        database.ensure_schema(_SCHEMA)

    def record(self, rec: ipb.AvatarMigrationRecord) -> ipb.AvatarMigrationRecord:
        """Keep one outcome (once per ``transfer_id``: a repeated report returns the first).
        InvalidInput ``RECORD_MALFORMED``: no transfer id, an outcome other than MIGRATED or
        REFUSED, a User not of this M-Instance, or a record over 256 KiB."""
        m_instance_id = self._world.m_instance_id
        if (
            not rec.transfer_id
            or len(rec.transfer_id) > 256
            or rec.outcome not in OUTCOMES
            or instance_or_none(rec.user_process_id) != m_instance_id
            or not rec.peer_m_instance_id
            or rec.ByteSize() > MAX_RECORD_BYTES
        ):
            raise InvalidInput(
                f"a migration record names its transfer, a User of {m_instance_id}, the peer and MIGRATED or "
                "REFUSED (at most 256 KiB)",
                reason="RECORD_MALFORMED",
            )
        with self._database.write() as db:
            db.execute(
                "INSERT INTO avatar_migrations VALUES (?, ?, ?, ?, ?) ON CONFLICT(transfer_id) DO NOTHING",
                (rec.transfer_id, rec.user_process_id, rec.peer_m_instance_id, rec.time_ms, rec.SerializeToString()),
            )
            sql = "SELECT record FROM avatar_migrations WHERE transfer_id = ?"
            row = db.execute(sql, (rec.transfer_id,)).fetchone()
        return ipb.AvatarMigrationRecord.FromString(bytes(row[0]))

    def of(self, user_process_id: str) -> list[ipb.AvatarMigrationRecord]:
        """Every migration of the User's avatar, oldest first."""
        with self._database.read() as db:
            rows = db.execute(
                "SELECT record FROM avatar_migrations WHERE user_process_id = ? ORDER BY time_ms, transfer_id",
                (user_process_id,),
            ).fetchall()
        return [ipb.AvatarMigrationRecord.FromString(bytes(r[0])) for r in rows]

    # -- what the CLI shows ----------------------------------------------------------------
    def users(self) -> ipb.ListUsersResponse:
        """Every User Process of the World (home and registered roaming), by ProcessID."""
        world = self._world
        users = sorted(pid for pid, p in world.processes.items() if p.type is ProcessType.USER)
        return ipb.ListUsersResponse(users=[self._summary(pid) for pid in users])

    def status(self, user_process_id: str) -> ipb.AvatarStatus:
        """One User with its Personae and migrations; NotFound ``USER_NOT_FOUND``."""
        process = self._world.processes.get(user_process_id)
        if process is None or process.type is not ProcessType.USER:
            raise NotFound(f"no User {user_process_id[:256]!r} at {self._world.m_instance_id}", reason="USER_NOT_FOUND")
        return ipb.AvatarStatus(
            user=self._summary(user_process_id),
            persona_ids=list(self._world.personae.get(user_process_id, [])),
            migrations=self.of(user_process_id),
        )

    def _summary(self, user_process_id: str) -> ipb.UserSummary:
        world = self._world
        home = instance_or_none(user_process_id) or ""
        personae = world.personae.get(user_process_id) or []
        current = personae[-1] if personae else ""
        persona_format = str((world.items.get(current) or {}).get("ItemQualifier", {}).get("Format", ""))
        kind = "home" if home == world.m_instance_id else "registered roaming"
        linked_home = self._linked_home(user_process_id) if self._linked_home is not None else None
        if linked_home is not None:
            kind, home = "linked identity", linked_home
        return ipb.UserSummary(
            process_id=user_process_id,
            kind=kind,
            home_m_instance_id=home,
            persona_id=current,
            persona_format=persona_format,
            last_migrations=_last_by_peer(self.of(user_process_id)),
        )


def _last_by_peer(records: Iterable[ipb.AvatarMigrationRecord]) -> list[ipb.AvatarMigrationRecord]:
    last: dict[str, ipb.AvatarMigrationRecord] = {}
    for rec in records:
        last.pop(rec.peer_m_instance_id, None)
        last[rec.peer_m_instance_id] = rec
    return list(last.values())
