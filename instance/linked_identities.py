"""Identities linked from other M-Instances, at the destination M-Instance (ITU FGMV-43 9.4 step
4; IDIR-204; issue 17 items 4-5): the identity the gateway verified and admitted becomes a User
Process of this M-Instance, linked to its home DID, with the Rights its admission gives, and
holding the disclosed claims; unlinking deletes all of it.

Import (RI-1 ``ImportIdentity``, this M-Instance's gateway only): the Resolution Service (the local
counterpart of Processes of other M-Instances) asks the Registration Service to Register the User
``mmm://<here>/processes/user/linked-<20 hex of SHA-256 of the DID>``
(:func:`mmmfed.identity.linked.linked_process_id`) with a Personal Profile and an Account whose type
is the admission's: ``admit`` -> ``Linked`` (a registered User's Internal Rights, no Wallet),
``restricted`` -> ``LinkedRestricted`` (presence and placement only: no Author, Post, Modify,
MM-Send, Rights Manage or Transact), as the Rules in force list them (``instance/world/seed.py``).
So a restricted Process is refused ``InsRights`` by the engine on what a full one may do. The
Register request (Activity Data, replayed on start) names only the ProcessID and the Account type:
no DID, no claim. The DID and the disclosed claims are kept in the table ``linked_identity`` of
the M-Instance's database (``m-instance.sqlite3``), one row per Process. The same DID again is the
same Process: its Rights become those of its admission now, its claims the ones disclosed now.

Remove (RI-1 ``RemoveIdentity``, IDIR-204): the row is deleted (SQLite ``secure_delete`` on, and
the write-ahead log checkpointed, so the claims' bytes do not stay in the file either), and the
Process, its Device, every Right they hold and their PRC, ACC and PPR Items leave the World.

On start, after Activity Data is replayed, a linked Process without a row (it was unlinked) is
removed again (:meth:`LinkedIdentityService.reconcile`).

Bounds: at most :data:`MAX_LINKED_PER_HOME` identities per home M-Instance (ResourceExhausted
``LINKED_IDENTITIES_FULL``), claims at most :data:`MAX_CLAIMS_BYTES` of JSON
(``LINKED_IDENTITY_MALFORMED``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from instance.database import Database
from instance.process_actions import ProcessActionService
from instance.world.actions.identity import LINKED_PREFIX, linked_profile_id, unregister_linked
from instance.world.itemdocs import item_doc
from instance.world.model import Action, DeonticVerb, ProcessActionRequest, ProcessActionResponse
from instance.world.seed import LINKED_ACCOUNT, LINKED_RESTRICTED_ACCOUNT
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.errors import InvalidInput, NotFound, TooLarge
from mmmfed.identity.linked import linked_process_id
from mmmfed.identity.reputation import ADMIT, RESTRICTED
from mmmfed.items import check_instance_id, new_id

MAX_LINKED_PER_HOME = 100_000
MAX_CLAIMS_BYTES = 256 * 1024
MAX_DID_CHARS = 512
ACCOUNT_OF_ADMISSION = {ADMIT: LINKED_ACCOUNT, RESTRICTED: LINKED_RESTRICTED_ACCOUNT}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS linked_identity (
    process_id TEXT PRIMARY KEY,
    home TEXT NOT NULL,
    did TEXT NOT NULL,
    admission TEXT NOT NULL,
    claims TEXT NOT NULL,
    linked_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS linked_identity_by_home ON linked_identity(home);
"""


@dataclass(frozen=True, slots=True)
class LinkedRow:
    """One linked identity held here (module docstring)."""

    process_id: str
    home: str
    did: str
    admission: str
    claims: Mapping[str, Any]
    linked_at_ms: int


class LinkedIdentityService:
    """The linked identities of one M-Instance (module docstring), over its World and database."""

    def __init__(self, database: Database, process_actions: ProcessActionService) -> None:
        self._db = database
        self._pa = process_actions
        self._id = process_actions.m_instance_id
        database.ensure_schema("PRAGMA secure_delete = ON;" + _SCHEMA)

    # -- reading ---------------------------------------------------------------------------
    def get(self, process_id: str) -> LinkedRow | None:
        """The linked identity whose Process here is ``process_id``, or None."""
        with self._db.read() as db:
            row = db.execute(
                "SELECT process_id, home, did, admission, claims, linked_at_ms FROM linked_identity"
                " WHERE process_id = ?",
                (process_id,),
            ).fetchone()
        if row is None:
            return None
        return LinkedRow(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def _count(self, home: str) -> int:
        with self._db.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM linked_identity WHERE home = ?", (home,)).fetchone()[0])

    def process_ids(self) -> set[str]:
        """Every linked Process held here."""
        with self._db.read() as db:
            return {r[0] for r in db.execute("SELECT process_id FROM linked_identity")}

    # -- import (FGMV-43 9.4 step 4) --------------------------------------------------------
    def import_identity(self, request: ipb.ImportIdentityRequest) -> ipb.ImportIdentityResponse:
        """Make ``request.did`` a User Process here with the Rights of its admission (module
        docstring). InvalidInput ``LINKED_IDENTITY_MALFORMED`` (DID, home, admission or claims),
        ``REGISTRATION_REFUSED`` (metadata ``pa_status``) if the World refuses the Register;
        TooLarge ``LINKED_IDENTITIES_FULL``. Call on the event loop's thread."""
        home, did, claims = self._checked(request)
        account_type = ACCOUNT_OF_ADMISSION[request.admission]
        process_id = linked_process_id(self._id, did)
        before = self.get(process_id)
        if before is None and self._count(home) >= MAX_LINKED_PER_HOME:
            raise TooLarge(
                f"{self._id} holds {MAX_LINKED_PER_HOME} identities from {home}; none more is linked",
                reason="LINKED_IDENTITIES_FULL",
            )
        status = self._register(process_id, account_type).status
        if not status.is_ack:
            code = status.error.value if status.error is not None else status.kind.value
            raise InvalidInput(
                f"Register of linked identity {process_id} refused ({code}): {status.reason}",
                reason="REGISTRATION_REFUSED",
                metadata={"pa_status": code},
            )
        now_ms = int(time.time() * 1000)
        with self._db.write() as db:
            db.execute(
                "INSERT INTO linked_identity (process_id, home, did, admission, claims, linked_at_ms)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(process_id) DO UPDATE SET"
                " admission = excluded.admission, claims = excluded.claims",
                (process_id, home, did, request.admission, json.dumps(claims, sort_keys=True), now_ms),
            )
        world = self._pa.world
        actions = sorted({r.action.value for r in world.rights_of(process_id) if r.verb is DeonticVerb.MAY})
        return ipb.ImportIdentityResponse(
            process_id=process_id,
            account_type=account_type,
            rights=actions,
            stored_claims=sorted(claims),
            already_registered=before is not None,
        )

    def _checked(self, request: ipb.ImportIdentityRequest) -> tuple[str, str, dict[str, Any]]:
        try:
            home = check_instance_id(request.home_m_instance_id)
        except InvalidInput as err:
            raise InvalidInput(f"home M-Instance: {err.message}", reason="LINKED_IDENTITY_MALFORMED") from err
        did = request.did
        if not did.startswith(f"did:web:{home}:users:") or len(did) > MAX_DID_CHARS or home == self._id:
            raise InvalidInput(
                f"{did[:256]!r} is not a user DID of {home} (did:web:{home}:users:<id>)",
                reason="LINKED_IDENTITY_MALFORMED",
            )
        if request.admission not in ACCOUNT_OF_ADMISSION:
            raise InvalidInput(
                f"admission {request.admission[:50]!r} is not {ADMIT} or {RESTRICTED}",
                reason="LINKED_IDENTITY_MALFORMED",
            )
        if len(request.claims_json) > MAX_CLAIMS_BYTES:
            raise InvalidInput(
                f"disclosed claims are at most {MAX_CLAIMS_BYTES} bytes of JSON", reason="LINKED_IDENTITY_MALFORMED"
            )
        try:
            claims = json.loads(request.claims_json or b"{}")
        except ValueError as err:
            raise InvalidInput(f"disclosed claims are not JSON: {err}", reason="LINKED_IDENTITY_MALFORMED") from err
        if not isinstance(claims, dict):
            raise InvalidInput("disclosed claims are a JSON object", reason="LINKED_IDENTITY_MALFORMED")
        return home, did, claims

    def _register(self, process_id: str, account_type: str) -> ProcessActionResponse:
        """The World's Register of the linked User: the Resolution Service asks, with a Personal
        Profile and an Account naming only the ProcessID and the Account type."""
        world = self._pa.world
        human_id = process_id.removeprefix(world.id("processes", ""))
        now_ms = int(time.time() * 1000)
        resolution, registration = (world.id("processes", n) for n in ("resolution", "registration"))
        profile = item_doc(
            m_instance_id=self._id,
            item_id=linked_profile_id(world, process_id),
            item_type="PPR",
            sub_type="PersonalProfile",
            producer_id=registration,
            time_ms=now_ms,
            fields={"ProcessID": process_id, "Personae": []},
        )
        account = item_doc(
            m_instance_id=self._id,
            item_id=world.id("accounts", human_id),
            item_type="ACC",
            sub_type="Account",
            producer_id=registration,
            time_ms=now_ms,
            fields={
                "AccountID": world.id("accounts", human_id),
                "ProcessID": process_id,
                "HumanID": human_id.rsplit("/", 1)[-1],
                "AccountType": account_type,
            },
        )
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.REGISTER,
            resolution,
            registration,
            time_ms=now_ms,
            process_action_id=new_id(self._id, "process-actions"),
            items=(profile, account),
        )
        return self._pa.decide(request)

    # -- remove (IDIR-204) -----------------------------------------------------------------
    def remove(self, request: ipb.RemoveIdentityRequest) -> ipb.RemoveIdentityResponse:
        """Delete the linked identity ``request.process_id`` here: its row (claims and DID), the
        Process, its Device, their Rights and Items (module docstring). NotFound ``NOT_LINKED``."""
        process_id = request.process_id
        row = self.get(process_id) if process_id.startswith(self._pa.world.id("processes", LINKED_PREFIX)) else None
        if row is None:
            raise NotFound(f"{self._id} holds no linked identity {process_id[:256]}", reason="NOT_LINKED")
        with self._db.write() as db:
            db.execute("DELETE FROM linked_identity WHERE process_id = ?", (process_id,))
        self._db.checkpoint()
        removed = unregister_linked(self._pa.world, process_id)
        return ipb.RemoveIdentityResponse(
            process_id=process_id, deleted_claims=sorted(row.claims), removed_rights=removed
        )

    def reconcile(self) -> int:
        """After Activity Data is replayed: remove again every linked Process whose identity was
        unlinked (it has no row). Returns how many."""
        world = self._pa.world
        held = self.process_ids()
        prefix = world.id("processes", LINKED_PREFIX)
        gone = [p for p in world.processes if p.startswith(prefix) and not p.endswith("-device") and p not in held]
        for process_id in gone:
            unregister_linked(world, process_id)
        return len(gone)


__all__ = ["LinkedIdentityService", "LinkedRow"]
