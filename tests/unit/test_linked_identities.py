"""Identities linked from other M-Instances at the destination's World (FGMV-43 9.4 step 4,
IDIR-204; instance/linked_identities.py): who may Register them, their Rights by admission, and
that an unlinked one stays gone when the World is rebuilt from Activity Data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instance.database import Database
from instance.linked_identities import LinkedIdentityService
from instance.process_actions import ProcessActionService
from instance.world.actions.identity import LINKED_ACCOUNT_TYPES
from instance.world.itemdocs import item_doc
from instance.world.model import Action, DeonticVerb, ProcessActionRequest
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.errors import InvalidInput, NotFound
from mmmfed.identity.linked import linked_process_id

B = "b.example"
DID = "did:web:a.example:users:alice"


def _service(path: Path) -> tuple[Database, ProcessActionService, LinkedIdentityService]:
    database = Database(path)
    actions = ProcessActionService(B, database=database, resolver=None)
    linked = LinkedIdentityService(database, actions)
    linked.reconcile()
    return database, actions, linked


def _import(linked: LinkedIdentityService, admission: str, **claims: object) -> ipb.ImportIdentityResponse:
    return linked.import_identity(
        ipb.ImportIdentityRequest(
            did=DID, home_m_instance_id="a.example", admission=admission, claims_json=json.dumps(claims).encode()
        )
    )


def test_fgmv43_9_4_step_4_restricted_takes_rights_away_and_arriving_again_replaces_them(tmp_path: Path) -> None:
    database, actions, linked = _service(tmp_path / "m.sqlite3")
    restricted = _import(linked, "restricted", name="Alice")
    pid = linked_process_id(B, DID)
    assert (restricted.process_id, restricted.account_type, restricted.already_registered) == (
        pid,
        "LinkedRestricted",
        False,
    )
    assert not {"Author", "Identify"} & set(restricted.rights) and "MM-Add" in restricted.rights
    full = _import(linked, "admit", name="Alice", age_over_18=True)
    assert (full.process_id, full.account_type, full.already_registered) == (pid, "Linked", True)
    assert {"Author", "Identify"} <= set(full.rights) and "Transact" not in full.rights
    assert actions.world.processes[pid].wallet_id is None  # no currency issued to arrivals
    assert list(full.stored_claims) == ["age_over_18", "name"]
    actions.close()
    database.close()


def test_idir_204_an_unlinked_identity_stays_gone_when_activity_data_is_replayed(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    database, actions, linked = _service(path)
    _import(linked, "admit", name="Alice")
    pid = linked_process_id(B, DID)
    removed = linked.remove(ipb.RemoveIdentityRequest(process_id=pid))
    assert list(removed.deleted_claims) == ["name"] and removed.removed_rights > 0
    with pytest.raises(NotFound) as err:
        linked.remove(ipb.RemoveIdentityRequest(process_id=pid))
    assert err.value.reason == "NOT_LINKED"
    actions.close()
    database.close()

    database, actions, linked = _service(path)  # a restart: the Register is replayed, then reconciled
    assert pid not in actions.world.processes and actions.world.rights_of(pid) == []
    actions.close()
    database.close()


def test_a_linked_identity_is_registered_by_the_resolution_service_only(tmp_path: Path) -> None:
    """The App Registering a ``user/linked-...`` User is InsRights; a human registered here with a
    Linked Account type is IncDQ; malformed imports are LINKED_IDENTITY_MALFORMED."""
    database, actions, linked = _service(tmp_path / "m.sqlite3")
    pid = linked_process_id(B, DID)
    profile = item_doc(
        m_instance_id=B,
        item_id=f"mmm://{B}/profiles/squatter",
        item_type="PPR",
        sub_type="PersonalProfile",
        producer_id=f"mmm://{B}/processes/app",
        time_ms=0,
        fields={"ProcessID": pid, "Personae": []},
    )

    def register(user: str, account_type: str) -> str:
        local = user.removeprefix(f"mmm://{B}/processes/")
        doc = dict(profile, ProcessID=user)
        account = item_doc(
            m_instance_id=B,
            item_id=f"mmm://{B}/accounts/{local}",
            item_type="ACC",
            sub_type="Account",
            producer_id=f"mmm://{B}/processes/app",
            time_ms=0,
            fields={
                "AccountID": f"mmm://{B}/accounts/{local}",
                "ProcessID": user,
                "HumanID": "x",
                "AccountType": account_type,
            },
        )
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.REGISTER,
            f"mmm://{B}/processes/app",
            f"mmm://{B}/processes/registration",
            time_ms=1,
            process_action_id=f"mmm://{B}/pa/{local}-{account_type}",
            items=(doc, account),
        )
        status = actions.decide(request).status
        return status.error.value if status.error is not None else status.kind.value

    assert register(pid, "Linked") == "InsRights"
    assert register(f"mmm://{B}/processes/user/carol", sorted(LINKED_ACCOUNT_TYPES)[0]) == "IncDQ"
    for bad in (
        ipb.ImportIdentityRequest(did=DID, home_m_instance_id="a.example", admission="vip"),
        ipb.ImportIdentityRequest(did="did:web:c.example:users:x", home_m_instance_id="a.example", admission="admit"),
        ipb.ImportIdentityRequest(did=DID, home_m_instance_id="a.example", admission="admit", claims_json=b"[1]"),
    ):
        with pytest.raises(InvalidInput) as err:
            linked.import_identity(bad)
        assert err.value.reason == "LINKED_IDENTITY_MALFORMED"
    assert pid not in actions.world.processes
    actions.close()
    database.close()
