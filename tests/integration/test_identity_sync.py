"""Identity resolution, linking and synchronisation over real nodes and real mTLS (ITU FGMV-43
9.4 steps 5-7, IDSF; IDIR-101/202/204; issue 17 items 1, 5 and 6): RI-4 operator to its own
gateway, RE-4/RE-5 gateway to gateway.

Shown here: RE-5 resolves a user's DID to their current key (held, or brought later) and refuses
an unknown one; `identity link` leaves at the platform exactly the consented claims; a profile
change at home reaches the linked platform, only within the consented scope, versioned; a change
made at the platform reaches home only when the user accepts it; a concurrent change of one field
is a conflict shown on both sides until the user chooses a value; pushes outside the scope or
older than the version held are refused and store nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from cliproc import mmmfed_in_thread as mmmfed
from rpcassert import refused
from test_identity_migration import ALICE, _cli_json, _home_store, _issue, _linked_files, _migrate, _operator

from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.cli.inprocess import Federation
from mmmfed.config import PeerAddress
from mmmfed.did import DID_KEY_PREFIX, did_key
from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.credential import Issuer, issue_credential
from mmmfed.identity.linked import LinkedIdentities
from mmmfed.identity.presentation import present
from mmmfed.identity.sdjwt import parse_disclosure
from mmmfed.identity.user_did import UserKey, user_did
from mmmfed.keys import InstanceKeyStore
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"
NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
DENIED, FAILED = grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION
BORN = dt.date(1990, 5, 17)


def _issue_profile(fed: Federation, user: str, **fields: Any) -> None:
    """(Re-)issue ``user`` at a.example a credential of the profile ``fields`` (as `mmmfed
    identity issue` does), born 1990-05-17, bound to the key held for them."""
    record, key = InstanceKeyStore(fed.plan.gateway_a.data_dir / "keys", A).current()
    store = _home_store(fed)
    did = user_did(A, user)
    holder = store.user_key(user, did=did, created="2026-01-01T00:00:00Z")
    credential = issue_credential(
        IdentityProfile(birthdate=BORN, **fields),
        issuer=Issuer(A, record, key),
        subject_did=did,
        holder=holder,
        status=store.allocate(),
        issued_at_s=int(time.time()),
    )
    store.save_credential(user, credential)


def _home_claims(fed: Federation, user: str) -> dict[str, Any]:
    """The claims of ``user``'s current credential at home."""
    return {d.name: d.value for d in map(parse_disclosure, _home_store(fed).credential(user).disclosures)}


def _at_b(fed: Federation) -> LinkedIdentities:
    return LinkedIdentities(fed.plan.gateway_b.data_dir / "identity" / "linked", B)


def _sync(stub: Any, process_id: str, **fields: str) -> Any:
    return stub.SyncIdentity(ipb.SyncIdentityRequest(process_id=process_id, **fields))


@contextlib.asynccontextmanager
async def _operator_b(fed: Federation) -> AsyncIterator[identity_pb2_grpc.IdentityGatewayAsyncStub]:
    """b.example's operator on its gateway's RI-4 (IdentityGateway), over mTLS."""
    gw = fed.plan.gateway_b
    async with secure_channel(fed.plan.operators[B], PeerAddress(tls_name=gw.tls_name, address=gw.listen)) as ch:
        yield identity_pb2_grpc.IdentityGatewayStub(ch)


async def _only_on_sync(fed: Federation) -> None:
    """Stop a.example's identity push worker (gateway/identity_push.py): its changes reach b only
    by `identity sync`, so a test can hold one back (a change "not yet pushed") or count pushes."""
    await fed.nodes["gateway-a"].identity_push.stop()


def _multibase(key: bytes) -> str:
    return did_key(key).removeprefix(DID_KEY_PREFIX)


def _keys_of(answer: Any) -> list[str]:
    return [m["publicKeyMultibase"] for m in json.loads(answer.document_json)["verificationMethod"]]


async def test_re5_resolves_a_user_did_to_the_current_key_and_refuses_unknown_dids(negotiated: Federation) -> None:
    """b's gateway resolves alice's DID at a over RE-5: the document's #key-1 is the key held for
    her; after she brings her own key, it is that one. a's own DID gives its key set. An unknown
    user, a DID of another M-Instance and a malformed DID are refused with their reasons."""
    _issue(negotiated, "alice", name="Alice", years=30)
    did = user_did(A, "alice")
    store = _home_store(negotiated)
    held = store.public_key("alice")
    assert held is not None
    re5 = negotiated.nodes["gateway-b"].channels.identity_peer(A)  # b's gateway, its own certificate
    answer = await re5.ResolveDid(ipb.ResolveDidRequest(did=did))
    document = json.loads(answer.document_json)
    assert (answer.did, answer.resolved_by, document["id"]) == (did, A, did)
    assert _keys_of(answer) == [_multibase(held.public_key)]
    assert document["authentication"] == [f"{did}#key-1"]

    own = UserKey.generate()
    store.bring_own_key("alice", UserKey.bring_own(own.jwk))
    async with _operator_b(negotiated) as at_b:  # RI-4 at b, which asks a over RE-5
        answer = await at_b.ResolveDid(ipb.ResolveDidRequest(did=did))
        assert answer.resolved_by == A and _keys_of(answer) == [_multibase(own.public_key)]
        instance = await at_b.ResolveDid(ipb.ResolveDidRequest(did=f"did:web:{A}"))
        records = InstanceKeyStore(negotiated.plan.gateway_a.data_dir / "keys", A).records()
        assert _keys_of(instance) == [_multibase(r.public_key) for r in records]
        await refused(at_b.ResolveDid(ipb.ResolveDidRequest(did=user_did(A, "nobody"))), NOT_FOUND, "DID_UNKNOWN")
        await refused(at_b.ResolveDid(ipb.ResolveDidRequest(did="did:web:c.example")), NOT_FOUND, "UNKNOWN_PEER")
        await refused(at_b.ResolveDid(ipb.ResolveDidRequest(did="did:key:z6Mk")), INVALID, "DID_INVALID")
    await refused(re5.ResolveDid(ipb.ResolveDidRequest(did=user_did(B, "bob"))), NOT_FOUND, "DID_UNKNOWN")


async def test_cli_identity_link_leaves_exactly_the_consented_claims_and_resolve_shows_the_key(
    negotiated: Federation, tmp_path: Path
) -> None:
    """`identity link --to b.example --disclose name,age_over_18`: b's store holds exactly those
    two claims (none of her birthdate, languages, avatars); `identity resolve` at b shows her
    current key from a; a malformed DID exits 2 with its reason."""
    _issue(negotiated, "alice", name="Alice Liddell", years=30)
    config_a = tmp_path / "gateway-a.json"
    config_a.write_text(negotiated.plan.gateway_a.model_dump_json())
    config_b = tmp_path / "gateway-b.json"
    config_b.write_text(negotiated.plan.gateway_b.model_dump_json())
    op_a = ["--config", str(config_a), "--cert", str(negotiated.plan.operators[A].cert)]
    op_a += ["--key", str(negotiated.plan.operators[A].key)]
    op_b = ["--config", str(config_b), "--cert", str(negotiated.plan.operators[B].cert)]
    op_b += ["--key", str(negotiated.plan.operators[B].key)]
    code, linked = await _cli_json("identity", "link", ALICE, "--to", B, "--disclose", "name,age_over_18", *op_a)
    assert code == 0, linked
    assert linked["stored_claims"] == ["age_over_18", "name"]
    (only,) = _linked_files(negotiated)
    assert json.loads(only.read_text())["claims"] == {"name": "Alice Liddell", "age_over_18": True}

    did = user_did(A, "alice")
    code, resolved = await _cli_json("identity", "resolve", did, *op_b)
    assert code == 0, resolved
    held = _home_store(negotiated).public_key("alice")
    assert held is not None and resolved["resolved_by"] == A
    assert [m["publicKeyMultibase"] for m in resolved["document"]["verificationMethod"]] == [
        _multibase(held.public_key)
    ]
    code, err = await _cli_json("identity", "resolve", user_did(A, "nobody"), *op_b)
    assert (code, err["error"]) == (2, "DID_UNKNOWN")
    code, err = await _cli_json("identity", "resolve", "did:web:a.example:users:", *op_b)
    assert (code, err["error"]) == (2, "DID_INVALID")


async def test_idsf_a_change_at_home_reaches_the_linked_platform_only_within_the_consented_scope(
    negotiated: Federation,
) -> None:
    """alice linked b with name, age_over_18 and avatars. At home her display name changes, her
    avatar is revoked and her languages change: `sync` pushes version 2 to b, which now holds the
    new name, no avatars (gone from the credential) and still no languages (never consented to
    b). A sync with nothing changed stays at version 2."""
    await _only_on_sync(negotiated)  # the pushes counted below are the two syncs'
    _issue_profile(negotiated, "alice", name="Alice", languages=("fr-FR",), avatars=(f"mmm://{A}/items/av1",))
    did = user_did(A, "alice")
    async with _operator(negotiated) as home:
        linked = await _migrate(home, ALICE, "name", "age_over_18", "avatars")
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.version == 1 and record.scope == ["age_over_18", "avatars", "name"]

        _issue_profile(negotiated, "alice", name="Alice Liddell", languages=("de-DE", "en"))
        pushed = await _sync(home, ALICE)
        assert pushed.version == 2
        (peer,) = pushed.peers
        assert (peer.peer_m_instance_id, peer.outcome, peer.version) == (B, "SYNCED", 2)
        assert list(peer.claims) == ["age_over_18", "name"]
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.process_id == linked.peer_process_id
        assert record.claims == {"name": "Alice Liddell", "age_over_18": True} and record.version == 2
        held = negotiated.nodes["instance-b"].linked_identities.get(record.process_id)  # b's M-Instance too
        assert held is not None and held.claims == {"name": "Alice Liddell", "age_over_18": True}
        seen = b"".join(p.read_bytes() for p in _linked_files(negotiated))
        for never in (b"de-DE", b"fr-FR", b"av1", b"birthdate", BORN.isoformat().encode()):
            assert never not in seen, never
        assert _home_store(negotiated).links("alice")[B]["version"] == 2

        again = await _sync(home, ALICE)
        assert again.version == 2 and [p.outcome for p in again.peers] == ["SYNCED"]
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    assert [e.event for e in audit if (e.details or {}).get("rpc") == "PushIdentityUpdate"] == ["ACCEPTED"] * 2


async def test_idsf_a_change_made_at_the_platform_reaches_home_only_when_the_user_accepts(
    negotiated: Federation,
) -> None:
    """At b, alice sets reduced motion: the home keeps the offer PENDING and her credential keeps
    full motion until she accepts; accepting re-issues it (version 2) and b, pushed, holds the new
    value and no open change. A display name she sets at b and rejects at home never reaches the
    credential, and b drops the change when told."""
    _issue_profile(negotiated, "alice", name="Alice", comfort={"motion": "full"})
    did = user_did(A, "alice")
    async with _operator(negotiated) as home, _operator_b(negotiated) as at_b:
        linked = await _migrate(home, ALICE, "name", "age_over_18", "comfort")
        offered = await _sync(at_b, linked.peer_process_id, set_field="comfort", set_value_json='{"motion": "reduced"}')
        (change,) = offered.changes
        assert (change.field, change.status, change.base_version) == ("comfort", "PENDING", 1)
        assert _home_claims(negotiated, "alice")["comfort"] == {"motion": "full"}  # not applied yet

        listed = await _sync(home, ALICE)
        assert [(c.change_id, c.status, c.peer_m_instance_id) for c in listed.changes] == [
            (change.change_id, "PENDING", B)
        ]
        assert listed.version == 1 and _home_claims(negotiated, "alice")["comfort"] == {"motion": "full"}

        accepted = await _sync(home, ALICE, accept=change.change_id)
        assert [(c.change_id, c.status) for c in accepted.changes] == [(change.change_id, "ACCEPTED")]
        assert accepted.version == 2 and [p.outcome for p in accepted.peers] == ["SYNCED"]
        assert _home_claims(negotiated, "alice")["comfort"] == {"motion": "reduced"}
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.claims["comfort"] == {"motion": "reduced"} and record.roaming == {}
        assert list((await _sync(home, ALICE)).changes) == []  # settled, and b was told

        renamed = await _sync(at_b, linked.peer_process_id, set_field="name", set_value_json='"Al"')
        (rename,) = renamed.changes
        rejected = await _sync(home, ALICE, reject=rename.change_id)
        assert [(c.change_id, c.status) for c in rejected.changes] == [(rename.change_id, "REJECTED")]
        assert _home_claims(negotiated, "alice")["name"] == "Alice" and rejected.version == 2
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.claims["name"] == "Alice" and record.roaming == {}

        await refused(_sync(home, ALICE, accept=rename.change_id), NOT_FOUND, "CHANGE_UNKNOWN")
        await refused(
            _sync(at_b, linked.peer_process_id, set_field="birthdate", set_value_json='"2010-01-01"'),
            INVALID,
            "FIELD_NOT_ROAMABLE",
        )
        await refused(
            _sync(at_b, linked.peer_process_id, set_field="comfort", set_value_json="[1]"), INVALID, "VALUE_INVALID"
        )
        await refused(_sync(at_b, linked.peer_process_id, accept=rename.change_id), INVALID, "SYNC_ARGUMENTS")
        await refused(_sync(at_b, f"mmm://{B}/processes/user/linked-0000"), NOT_FOUND, "NOT_LINKED")

        await _sync(at_b, linked.peer_process_id, set_field="languages", set_value_json='["en"]')
        assert [c.field for c in _home_store(negotiated).sync_state("alice").changes.values()] == ["languages"]
        await home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B))
        assert _home_store(negotiated).sync_state("alice").changes == {}  # the platform's offers went with the link


async def test_idsf_a_concurrent_change_of_one_field_is_a_conflict_shown_on_both_sides_until_the_user_chooses(
    negotiated: Federation, tmp_path: Path
) -> None:
    """The home changes alice's comfort (version 2) while b, still at version 1, offers another
    comfort: a CONFLICT, listed by `identity sync --json` at home and at b with both values; a
    push does not settle it. She chooses b's value with `--accept`: the credential holds it
    (version 3), b holds it and no conflict is left on either side."""
    await _only_on_sync(negotiated)  # the home's change must still be unpushed when b offers its own
    _issue_profile(negotiated, "alice", name="Alice", comfort={"motion": "full"})
    did = user_did(A, "alice")
    config_a = tmp_path / "gateway-a.json"
    config_a.write_text(negotiated.plan.gateway_a.model_dump_json())
    config_b = tmp_path / "gateway-b.json"
    config_b.write_text(negotiated.plan.gateway_b.model_dump_json())
    op_a = ["--config", str(config_a), "--cert", str(negotiated.plan.operators[A].cert)]
    op_a += ["--key", str(negotiated.plan.operators[A].key)]
    op_b = ["--config", str(config_b), "--cert", str(negotiated.plan.operators[B].cert)]
    op_b += ["--key", str(negotiated.plan.operators[B].key)]
    code, linked = await _cli_json(
        "identity", "link", ALICE, "--to", B, "--disclose", "name,age_over_18,comfort", *op_a
    )
    assert code == 0, linked
    linked_process = linked["peer_process_id"]

    _issue_profile(negotiated, "alice", name="Alice", comfort={"motion": "teleport"})  # at home, not yet pushed
    code, at_b = await _cli_json("identity", "sync", linked_process, "--set", 'comfort={"motion": "reduced"}', *op_b)
    assert code == 0, at_b
    (conflict,) = at_b["conflicts"]
    assert (conflict["field"], conflict["value"], conflict["base_version"]) == ("comfort", {"motion": "reduced"}, 1)
    assert conflict["home_value"] == {"motion": "teleport"}

    code, at_home = await _cli_json("identity", "sync", ALICE, *op_a)
    assert code == 0, at_home
    assert at_home["version"] == 2 and [p["outcome"] for p in at_home["peers"]] == ["SYNCED"]
    assert [(c["change_id"], c["status"], c["value"]) for c in at_home["conflicts"]] == [
        (conflict["change_id"], "CONFLICT", {"motion": "reduced"})
    ]
    record = _at_b(negotiated).get(A, did)
    assert record is not None and record.claims["comfort"] == {"motion": "teleport"} and record.version == 2
    assert record.roaming[conflict["change_id"]]["status"] == "CONFLICT"  # still there: not silently lost
    code, at_b = await _cli_json("identity", "sync", linked_process, *op_b)
    assert code == 0 and [c["change_id"] for c in at_b["conflicts"]] == [conflict["change_id"]], at_b
    plain = await mmmfed("identity", "sync", ALICE, *op_a)
    assert (
        plain.returncode == 0 and "CONFLICT" in plain.stdout and '"teleport"' not in plain.stdout.split("home has")[0]
    )

    code, shown = await _cli_json("identity", "show", ALICE, "--config", str(config_a))
    assert code == 0 and shown["open_changes"] == [conflict["change_id"]], shown
    assert (shown["version"], shown["links"][B]["version"]) == (2, 2)

    code, chosen = await _cli_json("identity", "sync", ALICE, "--accept", conflict["change_id"], *op_a)
    assert code == 0, chosen
    assert chosen["version"] == 3 and chosen["conflicts"] == []
    assert _home_claims(negotiated, "alice")["comfort"] == {"motion": "reduced"}
    record = _at_b(negotiated).get(A, did)
    assert record is not None and record.claims["comfort"] == {"motion": "reduced"} and record.roaming == {}
    code, at_b = await _cli_json("identity", "sync", linked_process, *op_b)
    assert code == 0 and at_b["changes"] == [] and at_b["version"] == 3, at_b
    code, err = await _cli_json("identity", "sync", ALICE, "--set", "comfort", *op_a)
    assert (code, err["error"]) == (2, "SYNC_ARGUMENTS")


async def test_idsf_a_push_outside_the_scope_or_older_than_held_is_refused_and_stores_nothing(
    negotiated: Federation,
) -> None:
    """a's gateway pushing languages to b, which alice consented only name and age_over_18 to:
    SCOPE_EXCEEDED; a version older than the one b holds: VERSION_STALE; a DID not linked there:
    NOT_LINKED. b's link is unchanged."""
    _issue_profile(negotiated, "alice", name="Alice", languages=("fr-FR",))
    did = user_did(A, "alice")
    async with _operator(negotiated) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
        _issue_profile(negotiated, "alice", name="Alice L.", languages=("fr-FR",))
        assert (await _sync(home, ALICE)).version == 2
    before = _at_b(negotiated).get(A, did)
    stub = negotiated.nodes["gateway-a"].channels.identity_peer(B)
    store = _home_store(negotiated)

    async def pushed(version: int, *claims: str, to: str = did) -> Any:
        nonce = await stub.GetNonce(ipb.GetIdentityNonceRequest())
        shown = present(
            store.credential("alice"),
            disclose=claims,
            audience=B,
            nonce=nonce.nonce,
            holder_key=store.held_key("alice"),
            iat_s=int(time.time()),
        )
        sent = ipb.PushIdentityUpdateRequest(did=to, presentation=shown.serialize(), version=version)
        return await stub.PushIdentityUpdate(sent)

    await refused(pushed(3, "name", "age_over_18", "languages"), DENIED, "SCOPE_EXCEEDED", "languages")
    await refused(pushed(1, "name", "age_over_18"), FAILED, "VERSION_STALE")
    await refused(pushed(3, "name", to=user_did(A, "nobody")), NOT_FOUND, "NOT_LINKED")
    assert _at_b(negotiated).get(A, did) == before
    await refused(
        stub.OfferIdentityChange(ipb.OfferIdentityChangeRequest(did=did, change_id="x" * 12, field="name")),
        NOT_FOUND,
        "DID_UNKNOWN",
    )


def _new_held_key(fed: Federation, user: str) -> UserKey:
    """Replace the key a.example holds for ``user`` with a new one (as a key change at home)."""
    user_dir = _home_store(fed).directory / "users" / user
    for name in ("key.pem", "key.pub.json"):
        (user_dir / name).unlink()
    key = UserKey.generate()
    key.export(user_dir / "key.pem", did=user_did(A, user), created="2026-02-01T00:00:00Z")
    return key


async def test_idsf_a_new_user_key_is_taken_only_when_the_homes_did_document_lists_it(negotiated: Federation) -> None:
    """The home gives alice a new key and re-issues her credential: b, pushed, resolves her DID
    over RE-5, finds the new key listed and takes it. A credential bound to a key the home's
    document no longer lists is refused HOLDER_KEY_MISMATCH and b keeps the key it had."""
    await _only_on_sync(negotiated)  # the credential bound to the third key is pushed by hand below
    _issue_profile(negotiated, "alice", name="Alice")
    did = user_did(A, "alice")
    async with _operator(negotiated) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
        second = _new_held_key(negotiated, "alice")
        _issue_profile(negotiated, "alice", name="Alice")
        pushed = await _sync(home, ALICE)
        assert [p.outcome for p in pushed.peers] == ["SYNCED"]
    record = _at_b(negotiated).get(A, did)
    assert record is not None and record.holder_jwk == second.jwk

    third = _new_held_key(negotiated, "alice")
    _issue_profile(negotiated, "alice", name="Alice B.")  # bound to the third key
    store = _home_store(negotiated)
    credential = store.credential("alice")
    _new_held_key(negotiated, "alice")  # the home's document lists a fourth key now
    stub = negotiated.nodes["gateway-a"].channels.identity_peer(B)
    nonce = await stub.GetNonce(ipb.GetIdentityNonceRequest())
    assert third.signing_key is not None
    shown = present(
        credential,
        disclose=["name", "age_over_18"],
        audience=B,
        nonce=nonce.nonce,
        holder_key=third.signing_key,
        iat_s=int(time.time()),
    )
    sent = ipb.PushIdentityUpdateRequest(did=did, presentation=shown.serialize(), version=9)
    await refused(stub.PushIdentityUpdate(sent), DENIED, "HOLDER_KEY_MISMATCH")
    after = _at_b(negotiated).get(A, did)
    assert after == record


async def test_idsf_a_home_change_after_a_pending_offer_makes_it_a_conflict_without_leaking_the_home_value(
    negotiated: Federation,
) -> None:
    """b offers a comfort alice set there (PENDING); then the home changes her comfort too: the
    next sync shows the offer as a CONFLICT on both sides. comfort is outside b's consented scope
    (name, age_over_18), so b is never told the home's value. Rejecting keeps the home's."""
    _issue_profile(negotiated, "alice", name="Alice", comfort={"motion": "full"})
    did = user_did(A, "alice")
    async with _operator(negotiated) as home, _operator_b(negotiated) as at_b:
        linked = await _migrate(home, ALICE, "name", "age_over_18")
        offered = await _sync(at_b, linked.peer_process_id, set_field="comfort", set_value_json='{"motion": "reduced"}')
        (change,) = offered.changes
        assert change.status == "PENDING"
        _issue_profile(negotiated, "alice", name="Alice", comfort={"motion": "teleport"})
        pushed = await _sync(home, ALICE)
        assert [(c.change_id, c.status) for c in pushed.changes] == [(change.change_id, "CONFLICT")]
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.roaming[change.change_id]["status"] == "CONFLICT"
        assert record.roaming[change.change_id]["home_value"] is None and "comfort" not in record.claims
        assert b"teleport" not in b"".join(p.read_bytes() for p in _linked_files(negotiated))
        listed = await _sync(at_b, linked.peer_process_id)
        assert [(c.status, c.home_value_json) for c in listed.changes] == [("CONFLICT", "")]

        await _sync(home, ALICE, reject=change.change_id)
        assert _home_claims(negotiated, "alice")["comfort"] == {"motion": "teleport"}
        record = _at_b(negotiated).get(A, did)
        assert record is not None and record.roaming == {}
