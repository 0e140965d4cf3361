"""Resolution of Process Actions between M-Instances (MMM-TEC Resolution; RI-1 out, RE-1 in).

A Process of this M-Instance asks a Process of a peer: this gateway (:meth:`ResolutionService.send`)
checks the active trust agreement covers Process Actions (Item type PAC, Action Resolve), signs
each Item the request carries with the instance key, and forwards the request to the peer's
gateway. There (:meth:`ResolutionService.receive`) the gateway checks the origin is the mTLS
peer's M-Instance, the agreement, and every carried Item through the verification pipeline
(strict JSON, schema, local Rules, origin, proofs by the peer's keys), then hands the request to
its M-Instance with the origin set. The M-Instance applies its own Rules and Rights; its
response and PA Status travel back unchanged. Both gateways audit each request with its outcome.

A refused request is an answer (a PA Status Error), not a gRPC error; gRPC errors mean the
request could not be delivered or was not allowed across the agreement.
"""

from __future__ import annotations

from gateway.agreements import PROCESS_ACTION_TYPE, RESOLVE_ACTION, AgreementBook
from gateway.channels import Channels
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.audit import ACCEPTED, REFUSED
from mmmfed.errors import InvalidInput, MmmfedError, PermissionDenied
from mmmfed.items import instance_or_none, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

MAX_CARRIED_ITEMS = 32


def status_name(response: papb.ProcessActionResponse) -> str:
    which = response.pa_status.WhichOneof("status")
    if which == "error":
        return papb.PAErrorCode.Name(response.pa_status.error.code).removeprefix("PA_ERROR_CODE_")
    return (which or "none").upper()


def _instance(identifier: str, field: str) -> str:
    found = instance_or_none(identifier)
    if found is None:
        raise InvalidInput(f"{field} {identifier[:256]!r} is not an mmm:// id", reason="PROCESS_ACTION_MALFORMED")
    return found


class ResolutionService:
    """Sends and receives Process Actions across trust agreements (see the module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        *,
        channels: Channels,
        agreements: AgreementBook,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
        audit: SharedAuditLog,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._keys = keys
        self._verifier = verifier
        self._audit = audit

    async def send(self, request: papb.ProcessActionRequest) -> papb.ProcessActionResponse:
        """RI-1: forward ``request`` of a local Process to the destination's M-Instance.

        Raises InvalidInput ``PROCESS_ACTION_MALFORMED`` (ids, a local destination, too many or
        unparsable Items), FailedPrecondition (no active agreement covering PAC / Resolve),
        NotFound ``UNKNOWN_PEER``, or the peer's error."""
        if _instance(request.source_process_id, "source_process_id") != self._id:
            raise InvalidInput(
                f"the source {request.source_process_id} is not a Process of {self._id}",
                reason="PROCESS_ACTION_MALFORMED",
            )
        peer = _instance(request.destination_process_id, "destination_process_id")
        if peer == self._id:
            raise InvalidInput(
                "the destination is a Process of this M-Instance: no Resolution needed",
                reason="PROCESS_ACTION_MALFORMED",
            )
        if len(request.items_json) > MAX_CARRIED_ITEMS:
            raise InvalidInput(
                f"a request carries at most {MAX_CARRIED_ITEMS} Items", reason="PROCESS_ACTION_MALFORMED"
            )
        try:
            await self._agreements.require_active(peer, item_type=PROCESS_ACTION_TYPE, action=RESOLVE_ACTION)
            record, key = self._keys.current()
            method = self._keys.method(record)
            signed = [sign_item(parse_item(raw), key=key, verification_method=method).raw for raw in request.items_json]
            outgoing = papb.ProcessActionRequest()
            outgoing.CopyFrom(request)
            del outgoing.items_json[:]
            outgoing.items_json.extend(signed)
            stub = self._channels.peer(peer)
            response: papb.ProcessActionResponse = await call(lambda: stub.ForwardProcessAction(outgoing))
        except MmmfedError as err:  # refused here (agreement, keys, Items) or by the peer: audited either way
            await self._audit.append(
                REFUSED,
                peer_id=peer,
                subject=request.process_action_id,
                reason=err.reason,
                details={"direction": "out", "action": request.action},
            )
            raise
        await self._audit.append(
            ACCEPTED,
            peer_id=peer,
            subject=request.process_action_id,
            details={"direction": "out", "action": request.action, "pa_status": status_name(response)},
        )
        return response

    async def receive(self, request: papb.ProcessActionRequest, peer: str) -> papb.ProcessActionResponse:
        """RE-1: decide ``request`` from ``peer`` (the mTLS-authenticated peer M-Instance).

        Raises as :meth:`check_received`; nothing reaches the M-Instance then. Audited either way."""
        try:
            await self.check_received(request, peer)
        except MmmfedError as err:
            await self._audit.append(
                REFUSED,
                peer_id=peer,
                subject=request.process_action_id,
                reason=err.reason,
                details={"direction": "in", "action": request.action},
            )
            raise
        response = await self.decide(request, peer)
        await self._audit.append(
            ACCEPTED,
            peer_id=peer,
            subject=request.process_action_id,
            details={"direction": "in", "action": request.action, "pa_status": status_name(response)},
        )
        return response

    async def check_received(self, request: papb.ProcessActionRequest, peer: str, *, agreement: bool = True) -> None:
        """RE-1 checks of a request from ``peer``: PermissionDenied ``ORIGIN_MISMATCH`` (the
        source is not the peer's), InvalidInput ``PROCESS_ACTION_MALFORMED``, FailedPrecondition
        (the agreement; ``agreement=False`` when the caller checked it, as a federation
        transaction does once), or the verification pipeline's refusal of a carried Item
        (ForeignItemRefused, InvalidInput). Used per request and per transaction entry."""
        if _instance(request.source_process_id, "source_process_id") != peer:
            raise PermissionDenied(
                f"{request.source_process_id} is not a Process of {peer}, the calling gateway's",
                reason="ORIGIN_MISMATCH",
            )
        if _instance(request.destination_process_id, "destination_process_id") != self._id:
            raise InvalidInput(
                f"{request.destination_process_id} is not a Process of {self._id}",
                reason="PROCESS_ACTION_MALFORMED",
            )
        if len(request.items_json) > MAX_CARRIED_ITEMS:
            raise InvalidInput(
                f"a request carries at most {MAX_CARRIED_ITEMS} Items", reason="PROCESS_ACTION_MALFORMED"
            )
        if agreement:
            await self._agreements.require_active(peer, item_type=PROCESS_ACTION_TYPE, action=RESOLVE_ACTION)
        for raw in request.items_json:
            await self._verifier.verify_persona(raw, peer_id=peer, bridge_keys={})

    async def decide(self, request: papb.ProcessActionRequest, peer: str) -> papb.ProcessActionResponse:
        """Hand a checked request to this M-Instance with its origin set (Instance.Act)."""
        stub = self._channels.instance()
        response: papb.ProcessActionResponse = await call(
            lambda: stub.Act(ipb.ActRequest(request=request, origin_m_instance_id=peer))
        )
        return response
