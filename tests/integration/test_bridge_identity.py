"""Bridges with a stable, proven identity, over real nodes (issue 12 item 5): the bridge keeps
its key and virtual bridges across a restart, its manifesto V is signed and checked, and its
certificate must bind the did:key that signs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from rpcassert import refused
from sample_assets import GODETTE, VRM1, needs_samples

from bridge.identity import bridge_key
from bridge.node import BridgeNode
from certs import CertificateAuthority, NodeRole, issue_node, write_private
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.bridge_identity import sign_bridge_manifesto
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import BRIDGE, plan
from mmmfed.errors import FailedPrecondition, RemoteError
from mmmfed.items import proof_time
from mmmfed.keyfile import write_key_files
from mmmfed.proofs import SigningKey
from mmmfed.tls import secure_channel

pytestmark = needs_samples
B = "b.example"


async def restart_bridge(fed: Federation, **changes: Any) -> BridgeNode:
    """Stop the bridge node and start a new one with the same config (``changes`` applied)."""
    await fed.nodes["bridge"].stop()
    node = BridgeNode(fed.plan.bridge.model_copy(update=changes))
    fed.nodes["bridge"] = node
    await node.start()
    return node


def signer_of(item_json: bytes) -> str:
    """The verificationMethod of an Item's (single) proof."""
    return str(json.loads(item_json)["proof"]["verificationMethod"])


async def remote_error(call: Any) -> RemoteError:
    with pytest.raises(RemoteError) as caught:
        await call
    return caught.value


async def test_virtual_bridge_survives_bridge_restart(federation: Federation) -> None:
    """After the bridge restarts with the same config, an avatar migrates through the virtual bridge
    negotiated before (no new negotiation), converted and signed by the same did:key as before."""
    fed = federation
    negotiated = await fed.at_a.negotiate(B)
    bridge_method = negotiated.offer_v.keys[0].verification_method
    first = await fed.at_a.migrate((await fed.at_a.register_human("godette", GODETTE)).user_process_id, B)
    assert first.outcome == gpb.MIGRATION_OUTCOME_MIGRATED and first.route == "via bridge", first.refusal_message
    assert signer_of(first.peer_persona.item_json) == bridge_method

    await restart_bridge(fed)
    user = (await fed.at_a.register_human("vrm1", VRM1)).user_process_id
    second = await fed.at_a.migrate(user, B)

    assert second.outcome == gpb.MIGRATION_OUTCOME_MIGRATED and second.route == "via bridge", second.refusal_message
    assert signer_of(second.peer_persona.item_json) == bridge_method
    assert bridge_method.startswith(bridge_key(fed.plan.bridge.data_dir).did)


async def test_bridge_with_a_new_key_is_refused_at_home(federation: Federation, tmp_path: Path) -> None:
    """A bridge restarted with another signing key (its certificate still binding the old one)
    keeps its virtual bridges, but the home gateway refuses what it converts
    (BRIDGE_IDENTITY_MISMATCH) before sending anything, and a new negotiation is refused too."""
    fed = federation
    await fed.at_a.negotiate(B)
    other = tmp_path / "other-key.pem"
    write_key_files(other, SigningKey.generate(), created=proof_time())
    await restart_bridge(fed, signing_key=other)
    user = (await fed.at_a.register_human("godette", GODETTE)).user_process_id

    err = await remote_error(fed.at_a.migrate(user, B))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "BRIDGE_IDENTITY_MISMATCH"), err.message
    assert fed.nodes["instance-b"].store.find_items(item_type="PRC", owner_id=user) == []
    err = await remote_error(fed.at_a.negotiate(B))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "BRIDGE_IDENTITY_MISMATCH"), err.message


@pytest.mark.parametrize("tamper", ["unsigned", "conversion_added"])
async def test_unsigned_or_tampered_bridge_manifesto_is_refused(
    federation: Federation, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    """A bridge serving manifesto V without its signature, or with a field changed after signing,
    is refused at negotiation (PERMISSION_DENIED BRIDGE_MANIFESTO_SIGNATURE_INVALID); nothing is
    negotiated."""
    fed = federation
    service = fed.nodes["bridge"].service
    genuine = service.manifesto

    def served() -> mpb.Manifesto:
        manifesto = genuine()
        if tamper == "unsigned":
            manifesto.ClearField("signed_json")
        else:
            manifesto.conversions.add().CopyFrom(manifesto.conversions[0])
            manifesto.conversions[-1].drops[:] = []
        return manifesto

    monkeypatch.setattr(service, "manifesto", served)
    err = await remote_error(fed.at_a.negotiate(B))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "BRIDGE_MANIFESTO_SIGNATURE_INVALID")
    with pytest.raises(FailedPrecondition, match="NOT_NEGOTIATED") as caught:
        await fed.nodes["gateway-a"].negotiation.answer_for(B)
    assert caught.value.reason == "NOT_NEGOTIATED"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param("vb_id_changed", "BRIDGE_MANIFESTO_SIGNATURE_INVALID", id="field_changed"),
        pytest.param("resigned_by_origin", "BRIDGE_IDENTITY_MISMATCH", id="signed_by_another_key"),
    ],
)
async def test_tampered_offer_v_relayed_to_the_peer_is_refused(
    federation: Federation, tamper: str, reason: str
) -> None:
    """Gateway a relays offer V to b (OfferManifestos, 9.5 step 5); b refuses one a changed, or
    one signed by a key other than the bridge certificate's (so a could slip in Items it
    converted itself), PERMISSION_DENIED, and keeps the offer V negotiated before."""
    fed = federation
    negotiated = await fed.at_a.negotiate(B)
    offer_v = mpb.Manifesto()
    offer_v.CopyFrom(negotiated.offer_v)
    if tamper == "vb_id_changed":
        offer_v.virtual_bridge_id = "urn:uuid:00000000-0000-0000-0000-000000000000"
    else:
        cert = offer_v.certificate_pem
        offer_v = sign_bridge_manifesto(offer_v, key=SigningKey.generate(), certificate_pem=cert, created=proof_time())
    request = gpb.OfferManifestosRequest(offer_a=negotiated.offer_a, offer_v=offer_v)
    async with secure_channel(fed.plan.gateway_a.tls, peer(fed.plan.gateway_b)) as channel:
        call = gateway_pb2_grpc.FederationStub(channel).OfferManifestos(request, timeout=30)
        await refused(call, grpc.StatusCode.PERMISSION_DENIED, reason, BRIDGE)
    kept = await fed.nodes["gateway-b"].negotiation.bridge_keys("a.example", incoming=True)
    assert list(kept) == [negotiated.offer_v.keys[0].verification_method]


def _reissue(fed_plan: Any, tmp_path: Path, bridge_uris: Sequence[str]) -> None:
    """Replace the bridge's certificate by one its own CA issues with ``bridge_uris`` as its
    further URI subjectAltNames."""
    ca = CertificateAuthority.load(fed_plan.pki[BRIDGE])
    issued = issue_node(ca.cert, ca.key, BRIDGE, NodeRole.BRIDGE, extra_uris=list(bridge_uris))
    write_private(fed_plan.bridge.tls.key, issued.key_pem)
    fed_plan.bridge.tls.cert.write_bytes(issued.cert_pem)


@pytest.mark.parametrize(
    "uris",
    [pytest.param([], id="no_did_key_san"), pytest.param(["other"], id="another_did_key")],
)
async def test_bridge_certificate_not_binding_its_key_is_refused(tmp_path: Path, uris: list[str]) -> None:
    """A bridge whose certificate carries no did:key SAN, or another key's, is refused at
    negotiation (PERMISSION_DENIED BRIDGE_IDENTITY_MISMATCH), though its TLS is valid."""
    p = plan(tmp_path)
    _reissue(p, tmp_path, [SigningKey.generate().did for _ in uris])
    fed = await Federation(p).start()
    try:
        err = await remote_error(fed.at_a.negotiate(B))
        assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "BRIDGE_IDENTITY_MISMATCH"), err.message
        assert "did:key" in err.message
    finally:
        await fed.stop()


async def test_peer_not_trusting_the_bridge_answers_its_rows_unsupported(tmp_path: Path) -> None:
    """b.example, with no bridge configured, cannot check the bridge's certificate: it answers
    the bridged rows UNSUPPORTED and keeps no bridge key, so no Item that bridge converted is
    accepted; the direct rows are still accepted."""
    p = plan(tmp_path)
    p = dataclasses.replace(p, gateway_b=p.gateway_b.model_copy(update={"bridges": {}}))
    fed = await Federation(p).start()
    try:
        negotiated = await fed.at_a.negotiate(B)
        routes = {row.route for row in negotiated.answer.negotiated}
        assert mpb.FEATURE_ROUTE_VIA_BRIDGE not in routes and mpb.FEATURE_ROUTE_DIRECT in routes
        assert await fed.nodes["gateway-b"].negotiation.bridge_keys("a.example", incoming=True) == {}
    finally:
        await fed.stop()
