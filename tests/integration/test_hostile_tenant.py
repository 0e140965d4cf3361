"""The hostile-tenant holes of issue 12, tried as a partner's operator would, over real mTLS with
three trust domains: a.example, b.example (the partner) and c.example (a domain no one federates
with). Each test names the hole it closes and checks that nothing changed.

The other holes have their own suites: unjournalled offers, exchange mismatches and transfers
that always end (test_asset_authority.py), backdated proofs by a compromised key
(test_backdated_proofs.py), texture bombs and a second node on a used port or data dir
(test_limits.py), a truncated or rewritten audit tail (test_cli_audit_checkpoint.py), bridges'
identity (test_bridge_identity.py), CA rotation (test_trust_domains.py); the whole matrix of
roles is test_authorization_table.py.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from rpcassert import refused

from certs import NodeRole, init_trust_domain
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A, B
from mmmfed.config import TlsConfig
from mmmfed.tls import secure_channel

C = "c.example"
ALICE = f"mmm://{A}/processes/user/alice"
TIMEOUT_S = 10.0


@pytest.fixture
def agreed(negotiated: Federation) -> Federation:
    """The loopback federation with an ACTIVE trust agreement between a.example and b.example
    (Negotiate concludes it: the shared ``negotiated`` fixture)."""
    return negotiated


def _c_operator(tmp_path: Path) -> TlsConfig:
    ca = init_trust_domain(tmp_path / "c-pki", C, {f"operator.{C}": "operator", f"gateway.{C}": "gateway"})
    return TlsConfig(
        ca_cert=ca.directory / "ca.pem", cert=ca.directory / f"operator.{C}.pem", key=ca.directory / f"operator.{C}.key"
    )


async def test_partner_operator_cannot_mint_or_read_wallets_at_our_instance(agreed: Federation) -> None:
    """Hole: b's operator called FundWallet at a's instance (minting 10^15) and GetLedger. Now
    a's instance holds only its own CA: the handshake fails (UNAVAILABLE) and no Wallet changes."""
    p, fed = agreed.plan, agreed
    async with secure_channel(p.operators[B], peer(p.instance_a)) as channel:
        stub = instance_pb2_grpc.InstanceStub(channel)
        fund = stub.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=10**15), timeout=TIMEOUT_S)
        await refused(fund, grpc.StatusCode.UNAVAILABLE, None)
        await refused(stub.GetLedger(apb.GetLedgerRequest(), timeout=TIMEOUT_S), grpc.StatusCode.UNAVAILABLE, None)
    assert fed.at_a is not None
    wallet = await fed.at_a.instance.GetWallet(apb.GetWalletRequest(holder_process_id=ALICE), timeout=TIMEOUT_S)
    assert wallet.balance.amount_minor == 0
    ledger = await fed.at_a.instance.GetLedger(apb.GetLedgerRequest(), timeout=TIMEOUT_S)
    assert all(w.balance.amount_minor == 0 for w in ledger.wallets if w.holder == ALICE)


async def test_partner_operator_cannot_revoke_our_agreement_at_our_gateway(agreed: Federation) -> None:
    """Hole: b's operator revoked a's agreement through a's gateway. Now b's certificate is known
    at a's gateway only as b's (for its gateway): RevokeAgreement and every other RI method answer
    PERMISSION_DENIED PEER_NOT_ALLOWED, naming b's trust domain, and the agreement stays ACTIVE."""
    p, fed = agreed.plan, agreed
    async with secure_channel(p.operators[B], peer(p.gateway_a)) as channel:
        stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
        revoke = stub.RevokeAgreement(gpb.RevokePeerAgreementRequest(peer_m_instance_id=B, reason="x"), timeout=10)
        err = await refused(revoke, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED", B)
        offer = stub.SendAssetOffer(apb.AssetOffer(), timeout=TIMEOUT_S)
        await refused(offer, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
    assert "operator/operator.b.example" in (err.details() or "")
    record = await fed.nodes["gateway-a"].agreements.record(B)
    assert record is not None and record["Status"] == "ACTIVE"


async def test_partner_gateway_reaches_only_re_methods(agreed: Federation) -> None:
    """b's gateway certificate, trusted at a's gateway for b's gateway, cannot call RI methods
    (SendAssetDecision, Resolve, Negotiate): PERMISSION_DENIED, nothing signed or sent."""
    p = agreed.plan
    async with secure_channel(p.gateway_b.tls, peer(p.gateway_a)) as channel:
        stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
        decision = stub.SendAssetDecision(apb.AssetDecision(), timeout=TIMEOUT_S)
        await refused(decision, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
        negotiate = stub.Negotiate(gpb.NegotiateRequest(peer_m_instance_id=B), timeout=TIMEOUT_S)
        await refused(negotiate, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")


async def test_a_third_domain_cannot_make_our_gateway_sign_anything(agreed: Federation, tmp_path: Path) -> None:
    """c.example, a trust domain neither side federates with, never completes a handshake with
    a's gateway, instance or the bridge: nothing is signed, stored or answered."""
    p = agreed.plan
    stranger = _c_operator(tmp_path)
    for target in (p.gateway_a, p.instance_a, p.bridge):
        async with secure_channel(stranger, peer(target)) as channel:
            stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
            await refused(stub.SendAssetOffer(apb.AssetOffer(), timeout=TIMEOUT_S), grpc.StatusCode.UNAVAILABLE, None)


async def test_a_peer_ca_cannot_issue_our_names(agreed: Federation, tmp_path: Path) -> None:
    """b's CA issuing ``gateway.a.example`` or ``operator.a.example`` gets nothing at a's nodes:
    a's instance refuses the handshake, a's gateway refuses every RI and RE method (a peer's CA
    vouches only for that peer's gateway, under its configured name)."""
    p = agreed.plan
    from certs import CertificateAuthority

    b_ca = CertificateAuthority.load(p.pki[B])
    out = tmp_path / "forged"
    for name, role in ((f"operator.{A}", NodeRole.OPERATOR), (f"gateway.{A}", NodeRole.GATEWAY)):
        b_ca.issue_files(name, role, out, valid_days=1, extra_uris=[])
        forged = TlsConfig(ca_cert=p.pki[B] / "ca.pem", cert=out / f"{name}.pem", key=out / f"{name}.key")
        async with secure_channel(forged, peer(p.instance_a)) as channel:
            call = instance_pb2_grpc.InstanceStub(channel).GetLedger(apb.GetLedgerRequest(), timeout=TIMEOUT_S)
            await refused(call, grpc.StatusCode.UNAVAILABLE, None)
        async with secure_channel(forged, peer(p.gateway_a)) as channel:
            ri = gateway_pb2_grpc.PlatformGatewayStub(channel).Negotiate(
                gpb.NegotiateRequest(peer_m_instance_id=B), timeout=TIMEOUT_S
            )
            await refused(ri, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
            re = gateway_pb2_grpc.FederationStub(channel).GetKeys(gpb.GetKeysRequest(), timeout=TIMEOUT_S)
            await refused(re, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
