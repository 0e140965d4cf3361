"""The parts of ``GetStatus`` and ``mmmfed status`` that need no server: migrations in flight are
counted exactly while they run, an ACTIVE agreement past its expiry reads EXPIRED, and only
transfers not terminal yet are "in flight"."""

from __future__ import annotations

import pytest

from gateway.agreements import ACTIVE, REVOKED
from gateway.in_flight import HOME, VISITING, InFlightMigrations
from gateway.status import EXPIRED, NONE, peer_status
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.cli.status_render import instance_part

USER = "mmm://a.example/processes/user/alice"


def test_a_migration_is_in_flight_exactly_while_its_block_runs_however_it_ends() -> None:
    running = InFlightMigrations()
    with running.track(HOME, USER, "b.example") as first:
        first.transfer_id = "urn:uuid:t-1"
        with pytest.raises(RuntimeError), running.track(VISITING, USER, "c.example"):
            assert [m.side for m in running.snapshot()] == [HOME, VISITING]
            raise RuntimeError("the transfer failed")
        (only,) = running.snapshot()
        assert (only.side, only.peer_m_instance_id, only.transfer_id) == (HOME, "b.example", "urn:uuid:t-1")
        only.transfer_id = "changed"  # a copy: the record in flight is not touched
        assert running.snapshot()[0].transfer_id == "urn:uuid:t-1"
    assert running.snapshot() == []


def test_agreement_states_as_status_shows_them() -> None:
    doc = {"AgreementID": "urn:uuid:x", "ValidFromMs": 1_000, "ValidUntilMs": 2_000}
    active = peer_status("b.example", "gw:1", {"Status": ACTIVE, "Document": doc}, "urn:a", now_ms=1_999)
    assert (active.agreement_state, active.valid_until_ms, active.agreement_id) == (ACTIVE, 2_000, "urn:uuid:x")
    expired = peer_status("b.example", "gw:1", {"Status": ACTIVE, "Document": doc}, "", now_ms=2_000)
    assert expired.agreement_state == EXPIRED
    revoked_record = {"Status": REVOKED, "Document": doc, "RevokedAtMs": 1_500, "RevocationReason": "keys lost"}
    revoked = peer_status("b.example", "", revoked_record, "", now_ms=3_000)
    assert (revoked.agreement_state, revoked.revoked_at_ms, revoked.revocation_reason) == (REVOKED, 1_500, "keys lost")
    none = peer_status("b.example", "gw:1", None, "", now_ms=0)
    assert (none.agreement_state, none.agreement_id, none.valid_until_ms) == (NONE, "", 0)


def test_only_transfers_not_terminal_are_in_flight() -> None:
    ledger = apb.Ledger(
        transfers=[
            apb.AssetTransferView(transfer_id="done", state="COMPLETED", terminal=True),
            apb.AssetTransferView(transfer_id="going", state="PENDING", terminal=False, expires_at_ms=9_000),
        ]
    )
    (going,) = instance_part(ledger)["transfers_in_flight"]
    assert (going["transfer_id"], going["state"], going["expires_at_ms"]) == ("going", "PENDING", 9_000)
    assert instance_part(None) == {"transfers_in_flight": None}
