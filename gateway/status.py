"""What a gateway holds now, for its own M-Instance and operators (RI-5 ``GetStatus``, ``mmmfed
status``): the platform manifesto registered with it (FGMV-43 9.5 step 1, MPMF), each peer with
its trust agreement's state and validity, each bridge (probed) with the virtual bridges
negotiations set up on it (MBMF), the avatar migrations running in this process (9.1) and the
audit log's head (LAF, 7.5.3).

It only reads: the shared state (manifestos, agreements), the audit head, memory (migrations)
and one ``Bridge.GetManifesto`` per configured bridge, at most :data:`BRIDGE_PROBE_TIMEOUT_S`
each, all at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import grpc

from gateway.agreements import ACTIVE, AgreementBook
from gateway.channels import Channels
from gateway.in_flight import InFlightMigrations
from gateway.negotiation import NegotiationService
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.rpc import decode_rpc_error
from mmmfed.store import SharedAuditLog

BRIDGE_PROBE_TIMEOUT_S = 2.0
NONE, EXPIRED = "NONE", "EXPIRED"


def _now_ms() -> int:
    return int(time.time() * 1000)


def peer_status(
    peer_id: str, address: str, record: dict[str, Any] | None, answer_id: str, *, now_ms: int
) -> gpb.PeerStatus:
    """One peer's row from its agreement record (``{"Status", "Document", ...}`` or None): the
    state is the record's, EXPIRED for an ACTIVE one at or past ``ValidUntilMs``, NONE without one."""
    out = gpb.PeerStatus(m_instance_id=peer_id, address=address, agreement_state=NONE, answer_manifesto_id=answer_id)
    if record is None:
        return out
    doc = record["Document"]
    until = int(doc.get("ValidUntilMs", 0))
    state = str(record["Status"])
    out.agreement_state = EXPIRED if state == ACTIVE and now_ms >= until else state
    out.agreement_id = str(doc.get("AgreementID", ""))
    out.valid_from_ms = int(doc.get("ValidFromMs", 0))
    out.valid_until_ms = until
    out.revoked_at_ms = int(record.get("RevokedAtMs", 0))
    out.revocation_reason = str(record.get("RevocationReason", ""))
    return out


class GatewayStatusService:
    """Builds the ``GatewayStatus`` of one gateway from the parts of it that hold each fact."""

    def __init__(
        self,
        m_instance_id: str,
        *,
        negotiation: NegotiationService,
        agreements: AgreementBook,
        channels: Channels,
        migrations: InFlightMigrations,
        audit: SharedAuditLog,
    ) -> None:
        self._id = m_instance_id
        self._negotiation = negotiation
        self._agreements = agreements
        self._channels = channels
        self._migrations = migrations
        self._audit = audit

    async def status(self) -> gpb.GatewayStatus:
        """The gateway's status now (see the module docstring)."""
        records = await self._agreements.all()
        negotiated = await self._negotiation.negotiated()
        now = _now_ms()
        peers = [
            peer_status(
                peer,
                self._channels.peers[peer].address if peer in self._channels.peers else "",
                records.get(peer),
                negotiated[peer][0].manifesto_id if peer in negotiated else "",
                now_ms=now,
            )
            for peer in sorted(self._channels.peers.keys() | records.keys())
        ]
        virtual: dict[str, list[gpb.VirtualBridgeStatus]] = defaultdict(list)
        for peer, (_, offer_v) in negotiated.items():
            if offer_v.virtual_bridge_id:
                virtual[offer_v.issuer_id].append(
                    gpb.VirtualBridgeStatus(virtual_bridge_id=offer_v.virtual_bridge_id, peer_m_instance_id=peer)
                )
        head = await self._audit.head()
        return gpb.GatewayStatus(
            m_instance_id=self._id,
            manifesto_id=await self._negotiation.registered_id(),
            peers=peers,
            bridges=await self._bridges(virtual),
            migrations=[
                gpb.MigrationInFlight(
                    side=m.side,
                    user_process_id=m.user_process_id,
                    peer_m_instance_id=m.peer_m_instance_id,
                    transfer_id=m.transfer_id,
                    started_ms=m.started_ms,
                )
                for m in self._migrations.snapshot()
            ],
            audit_head_seq=head.seq if head is not None else 0,
            audit_head_hash=head.hash if head is not None else "",
            time_ms=_now_ms(),
        )

    async def _bridges(self, virtual: dict[str, list[gpb.VirtualBridgeStatus]]) -> list[gpb.BridgeStatus]:
        """Every configured bridge, probed at once, and every other bridge a virtual bridge names."""
        configured = sorted(self._channels.bridges)
        async with asyncio.TaskGroup() as group:
            probes = [group.create_task(self._probe(bridge_id)) for bridge_id in configured]
        out = [probe.result() for probe in probes]
        for bridge_id in sorted(virtual.keys() - set(configured)):
            out.append(gpb.BridgeStatus(bridge_id=bridge_id, configured=False))
        for row in out:
            row.virtual_bridges.extend(virtual.get(row.bridge_id, []))
        return out

    async def _probe(self, bridge_id: str) -> gpb.BridgeStatus:
        """``bridge_id`` reachable (its manifesto V answered), or the reason it is not."""
        row = gpb.BridgeStatus(bridge_id=bridge_id, address=self._channels.bridges[bridge_id].address, configured=True)
        stub = self._channels.bridge(bridge_id)
        try:
            await stub.GetManifesto(bpb.GetBridgeManifestoRequest(), timeout=BRIDGE_PROBE_TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            refused = decode_rpc_error(err)
            row.reason, row.message = refused.reason, refused.message
            return row
        row.reachable = True
        return row
