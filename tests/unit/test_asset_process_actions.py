"""Asset lock, commit and abort as Process Actions (issue 14; FGMV-43 9.2 steps 2 and 7): judged
by the World's one Rights check, answered with their PA Status, recorded as Activity Data in the
same transaction as the asset ledger's write, and rebuilt from the ledger on restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmm_helpers import M, code, pid, register, req

from instance.assets.decisions import TransferDecisions
from instance.assets.ledger import AssetLedger
from instance.assets.states import AssetState, TransferState, TxStatus
from instance.database import Database
from instance.process_actions import ProcessActionService
from instance.world.model import Action
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.errors import FailedPrecondition, InvalidInput, PermissionDenied

CURRENCY = "ACU"
BOB_AT_B = "mmm://b.example/processes/user/bob"
NOW = 1_700_000_000_000


class Instance:
    """One M-Instance's World, asset ledger and transfer decisions over one database."""

    def __init__(self, data_dir: Path) -> None:
        self.database = Database.in_dir(data_dir)
        self.ledger = AssetLedger(self.database, m_instance_id=M, currency_id=CURRENCY)
        self.service = ProcessActionService(M, database=self.database, resolver=None, ledger=self.ledger)
        self.decisions = TransferDecisions(self.ledger, self.service)

    def register_asset(self, owner: str) -> str:
        view = self.ledger.register_asset(apb.RegisterAssetRequest(owner_process_id=owner, format="glTF/2.0-binary"))
        self.service.adopt_asset(view)
        return _asset_id(view)

    def lock(self, asset_id: str, source: str, *, paid: int = 0, transfer_id: str = "urn:t:1") -> apb.AssetTransferView:
        return self.decisions.lock(
            transfer_id=transfer_id,
            request_digest=f"digest-{transfer_id}-{source}-{paid}",
            asset_id=asset_id,
            source_process_id=source,
            destination_process_id=BOB_AT_B,
            exchange=apb.ExchangeRecord(paid={"amount_minor": paid, "currency_id": CURRENCY}),
            expires_at_ms=NOW + 60_000,
            now_ms=NOW,
        )

    def records(self, asset_id: str) -> list[tuple[str, str, str]]:
        found = self.service.activity.query(item_id=asset_id)
        return [(r.action, r.source_id.rsplit("/", 1)[-1], r.error or r.status) for r in found]

    def close(self) -> None:
        self.service.close()
        self.database.close()


def _asset_id(view: apb.AssetView) -> str:
    return str(json.loads(view.asset.item_json)["AssetID"])


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return Instance(tmp_path)


def test_lock_is_the_owners_transact_and_commit_hands_the_rights_over(instance: Instance) -> None:
    alice = register(instance.service.engine, "alice")
    asset_id = instance.register_asset(alice.id)
    world = instance.service.world
    assert world.may(alice.id, Action.TRANSACT, asset_id, NOW)  # the ICapabilities' Right, in the World
    view = instance.lock(asset_id, alice.id)
    assert view.state == TransferState.PENDING
    assert instance.ledger.asset(asset_id).state == AssetState.LOCKED
    assert world.may(world.transfer_service, Action.RIGHTS_MANAGE, asset_id, NOW)
    instance.decisions.commit("urn:t:1", destination_asset_id="mmm://b.example/assets/x", transaction_json=b"{}")
    assert instance.ledger.asset(asset_id).state == AssetState.MIGRATED
    assert not world.may(alice.id, Action.TRANSACT, asset_id, NOW)  # its Rights passed to bob, at b.example
    assert asset_id not in world.items
    assert instance.records(asset_id) == [("Transact", "alice", "Ack"), ("Rights Manage", "transfers", "Ack")]
    instance.close()


def test_abort_ends_the_services_right_and_the_owner_keeps_the_asset(instance: Instance) -> None:
    alice = register(instance.service.engine, "alice")
    asset_id = instance.register_asset(alice.id)
    instance.ledger.fund(alice.id, 500)
    instance.lock(asset_id, alice.id, paid=300)
    assert instance.ledger.balance(alice.id) == 200  # in escrow
    instance.decisions.abort("urn:t:1", tx_status=TxStatus.REJECTED, reason="REFUSED", message="refused")
    world = instance.service.world
    assert instance.ledger.asset(asset_id).state == AssetState.OWNED
    assert instance.ledger.balance(alice.id) == 500  # refunded
    assert not world.may(world.transfer_service, Action.RIGHTS_MANAGE, asset_id, NOW)
    assert world.may(alice.id, Action.TRANSACT, asset_id, NOW)
    instance.decisions.abort("urn:t:1", tx_status=TxStatus.REJECTED, reason="REFUSED", message="again")  # no-op
    assert [a for a, _, _ in instance.records(asset_id)] == ["Transact", "Rights Manage"]
    instance.close()


def test_refused_locks_are_recorded_and_change_nothing(instance: Instance) -> None:
    """InsRights (not the owner), InsValue (the escrow), Clash (locked), IncID (not a Process):
    each raised as the RPC's error, recorded as Activity Data, nothing written to the ledger."""
    alice, carol = register(instance.service.engine, "alice"), register(instance.service.engine, "carol")
    asset_id = instance.register_asset(alice.id)
    instance.ledger.fund(alice.id, 10)
    with pytest.raises(PermissionDenied) as no_right:
        instance.lock(asset_id, carol.id, transfer_id="urn:t:carol")
    assert no_right.value.reason == "NO_TRANSACT_RIGHT" and carol.id in no_right.value.message
    with pytest.raises(FailedPrecondition) as funds:
        instance.lock(asset_id, alice.id, paid=11, transfer_id="urn:t:funds")
    assert funds.value.reason == "INSUFFICIENT_FUNDS"
    with pytest.raises(InvalidInput) as unknown:
        instance.lock(asset_id, pid("user/nobody"), transfer_id="urn:t:nobody")
    assert unknown.value.reason == "BAD_PROCESS_ID"
    instance.lock(asset_id, alice.id)
    with pytest.raises(FailedPrecondition) as locked:
        instance.lock(asset_id, alice.id, transfer_id="urn:t:2")
    assert locked.value.reason == "ASSET_LOCKED"
    statuses = [(a, s) for a, _, s in instance.records(asset_id)]
    assert statuses == [
        ("Transact", "InsRights"),
        ("Transact", "InsValue"),
        ("Transact", "IncID"),
        ("Transact", "Ack"),
        ("Transact", "Clash"),
    ]
    assert [t.transfer_id for t in instance.ledger.snapshot().transfers] == ["urn:t:1"]
    assert instance.ledger.balance(alice.id) == 10
    instance.close()


def test_rights_on_an_asset_change_by_its_transfer_only(instance: Instance) -> None:
    """The owner holds no Rights Manage Right on its Asset (InsRights: its ICapabilities give
    Transact, MM-Add and Author); the Asset Transfer Service cannot settle an Asset no transfer
    locked (InsRights: the lock gives it the Right)."""
    alice = register(instance.service.engine, "alice")
    asset_id = instance.register_asset(alice.id)
    service = instance.service.world.transfer_service
    grant = req(alice.id, alice.id, Action.RIGHTS_MANAGE, nil=asset_id, to=pid("user/carol"))
    assert code(instance.service.decide(grant)) == "InsRights"
    settle = req(service, service, Action.RIGHTS_MANAGE, nil=asset_id, to=BOB_AT_B)
    assert code(instance.service.decide(settle)) == "InsRights"
    instance.close()


def test_restart_adopts_the_ledgers_assets_and_a_locked_one_can_still_be_decided(tmp_path: Path) -> None:
    first = Instance(tmp_path)
    alice = register(first.service.engine, "alice")
    asset_id = first.register_asset(alice.id)
    first.lock(asset_id, alice.id)
    first.close()

    again = Instance(tmp_path)  # replays Activity Data (not the transfer's), adopts the ledger's Assets
    world = again.service.world
    assert world.may(alice.id, Action.TRANSACT, asset_id, NOW)
    assert world.may(world.transfer_service, Action.RIGHTS_MANAGE, asset_id, NOW)
    again.decisions.commit("urn:t:1", destination_asset_id="mmm://b.example/assets/x", transaction_json=b"{}")
    assert again.ledger.transfer("urn:t:1").state == TransferState.COMMITTED
    again.close()
