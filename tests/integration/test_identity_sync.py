"""Identity resolution, linking and synchronisation over real nodes and real mTLS (ITU FGMV-43
9.4 steps 5-7, IDSF; IDIR-101/202/204; issue 17 items 1, 5 and 6): RI-4 operator to its own
gateway, RE-4/RE-5 gateway to gateway.

Shown here: RE-5 resolves a user's DID to their current key (held, or brought later) and refuses
an unknown one; `identity link` leaves at the platform exactly the consented claims."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from rpcassert import refused
from test_identity_migration import ALICE, _cli_json, _home_store, _issue, _linked_files

from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.cli.inprocess import Federation
from mmmfed.config import PeerAddress
from mmmfed.did import DID_KEY_PREFIX, did_key
from mmmfed.identity.user_did import UserKey, user_did
from mmmfed.keys import InstanceKeyStore
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"
NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT


@contextlib.asynccontextmanager
async def _operator_b(fed: Federation) -> AsyncIterator[identity_pb2_grpc.IdentityGatewayAsyncStub]:
    """b.example's operator on its gateway's RI-4 (IdentityGateway), over mTLS."""
    gw = fed.plan.gateway_b
    async with secure_channel(fed.plan.operators[B], PeerAddress(tls_name=gw.tls_name, address=gw.listen)) as ch:
        yield identity_pb2_grpc.IdentityGatewayStub(ch)


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
