"""Content migration through the MIFM (ITU FGMV-43 9.3 steps 1-4, COIFC): the gateway's part,
RI-3 towards its own M-Instance and RE-3 towards a peer's gateway.

Home side (:meth:`ContentRelay.send`, steps 1-2): the own M-Instance asks for a content by id
only; the gateway checks the trust agreement covers contents (Action ``Post`` on ``ITM`` Items,
:data:`gateway.agreements.CONTENT_ACTION`), reads the content from its M-Instance (RI-3
ExportContent: it signs only what its own M-Instance holds, never what a caller hands it, and
only contents whose home is this M-Instance), refuses a licence that grants no redistribution
(FAILED_PRECONDITION ``LICENCE_FORBIDS``, COIR-103: :mod:`mmmfed.content.licence`) and a content
the peer's manifesto does not accept (``CONTENT_NOT_ACCEPTED``, ``CONTENT_TOO_LARGE``:
:mod:`mmmfed.content.acceptance`) before any byte leaves, signs the Item with the M-Instance
key, and streams the header (the signed Item and an envelope binding origin, destination,
transfer id and the Item's bytes) and then every part's bytes in chunks to the peer's gateway
(RE-3 TransferContent).

Receiving side (:meth:`ContentRelay.receive`, steps 3-4): the caller is the origin (mTLS) and
the content's Item and owner are of it, the agreement is active, the Item's proof verifies (the
verification pipeline of foreign Items), the envelope too, and the content is within this
gateway's limits (:func:`mmmfed.content.transfer.check_limits`) and is what its own manifesto
accepts (:mod:`mmmfed.content.acceptance`); then the bytes are streamed
through to the M-Instance (RI-3 ImportContent) while each part's size and sha-256 are checked
(a part that does not match stops the stream before its bytes go on). The instance stores all or
nothing. Both sides audit the outcome (``ACCEPTED`` / ``REFUSED``, rpc ``SendContent`` or
``TransferContent``).

A content the peer's manifesto accepts only converted travels through the bridge of the
negotiated row for its Qualifier (COCF, COIR-204/205: :mod:`gateway.content_bridging`): the home
side sends the bridge's converted Item (signed by the bridge over this gateway's proof) and its
parts instead, and says so in the answer (``route``, ``source_item_id``, ``bridge_id``,
``conversion_report_json``); the receiving side verifies the bridge's proof with the keys of the
negotiation's offer V and that the conversion kept licence, metadata and Rights.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.agreements import CONTENT_ACTION, CONTENT_TYPE
from gateway.channels import Channels
from gateway.content_bridging import DIRECT, VIA_BRIDGE, ContentBridge, check_kept
from gateway.envelope import EnvelopeChecker, make_envelope, new_transfer_id
from gateway.negotiation import NegotiationService
from gateway.verification import ForeignItemVerifier, refusals_counted
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.audit import ACCEPTED, REFUSED
from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import check_parts, is_content, parts_of
from mmmfed.content.licence import require_redistributable
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.transfer import MAX_CONTENT_BYTES, MAX_CONTENT_PARTS, PartsChecker, check_limits, part_bytes
from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied
from mmmfed.items import instance_or_none, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.metrics import RECEIVED, SENT, NodeMetrics
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog
from mmmfed.streams import RequestPump


class ContentRelay:
    """Both sides of content migration for one gateway (see the module docstring).
    ``max_bytes`` / ``max_parts``: the largest content this gateway accepts from a peer."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        negotiation: NegotiationService,
        *,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
        envelopes: EnvelopeChecker,
        audit: SharedAuditLog,
        metrics: NodeMetrics,
        max_bytes: int = MAX_CONTENT_BYTES,
        max_parts: int = MAX_CONTENT_PARTS,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._negotiation = negotiation
        self._agreements = negotiation.agreements
        self._keys = keys
        self._verifier = verifier
        self._envelopes = envelopes
        self._audit = audit
        self._metrics = metrics
        self.max_bytes = max_bytes
        self.max_parts = max_parts
        self.bridging = ContentBridge(channels, negotiation)  # contents the peer accepts only converted (COCF)

    async def _agreed(self, peer: str) -> None:
        await self._agreements.require_active(peer, item_type=CONTENT_TYPE, action=CONTENT_ACTION)

    # -- home side ------------------------------------------------------------------------
    async def send(self, content_id: str, peer: str) -> cpb.ContentTransferResponse:
        """FGMV-43 9.3 steps 1-2 for the content ``content_id`` of this M-Instance, to ``peer``.

        Raises InvalidInput ``BAD_PEER`` (this M-Instance itself), NotFound ``UNKNOWN_PEER`` /
        ``CONTENT_NOT_FOUND``, FailedPrecondition (agreement: ``NO_AGREEMENT``,
        ``OUT_OF_AGREEMENT``...; ``NOT_HOME_CONTENT`` for a content that migrated here from
        elsewhere; ``LICENCE_FORBIDS``), and the peer's refusals with their reasons. Audited."""
        try:
            result = await self._send(content_id, peer)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "SendContent", "message": err.message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer, subject=content_id[:256], reason=err.reason, details=details
            )
            raise
        details = {"rpc": "SendContent", "bytes": result.bytes, "already_held": result.already_held}
        if result.route == VIA_BRIDGE:
            details.update(
                route=result.route,
                bridge=result.bridge_id,
                converted_item=_item_id(result.content.item.item_json),
            )
        await self._audit.append(ACCEPTED, peer_id=peer, subject=content_id, details=details)
        return result

    async def _send(self, content_id: str, peer: str) -> cpb.ContentTransferResponse:
        if peer == self._id:
            raise InvalidInput("a content migrates to another M-Instance", reason="BAD_PEER")
        stub = self._channels.peer(peer)
        await self._agreed(peer)
        request = cpb.ExportContentRequest(content_id=content_id)
        exporter = self._channels.content_exchange()
        exported: cpb.GetContentResponse = await call(lambda: exporter.ExportContent(request))
        item = parse_item(exported.content.item.item_json)
        if not is_content(item.doc) or instance_or_none(item.item_id) != self._id:
            raise FailedPrecondition(
                f"content {content_id[:256]} is not a content of {self._id}: only its home migrates it",
                reason="NOT_HOME_CONTENT",
            )
        metadata = ContentMetadata.from_descr(item.doc.get("DescrMetadata") or {})
        require_redistributable(metadata.licence, content_id=content_id, peer=peer)  # before any byte leaves
        accepted_there = ContentAcceptance.of(await self._negotiation.peer_policies(peer))
        row = None if accepted_there.fits(item.qualifier) else await self.bridging.route(peer, item.qualifier)
        if row is None:  # as it is, or not at all
            accepted_there.require(
                item.qualifier, parts_of(item.doc), where=peer, no_bridge="no bridge of the negotiation converts it"
            )
        package = ContentPackage(tuple(ContentPart.of(p.path, p.data, p.media_type) for p in exported.parts))
        check_parts(item.doc, package)
        record, key = self._keys.current()
        home = sign_item(item, key=key, verification_method=self._keys.method(record))
        signed = home.raw
        converted = None
        if row is not None:  # FGMV-43 9.3 with 9.5 step 9: through the bridge's Conversion Service (COCF)
            converted = await self.bridging.convert(home, package, row, peer)
            accepted_there.require(converted.item.qualifier, parts_of(converted.item.doc), where=peer)
            signed, package = converted.item.raw, converted.package
        transfer_id = new_transfer_id()
        header = cpb.ContentTransferHeader(
            transfer_id=transfer_id,
            envelope_json=make_envelope(keys=self._keys, destination=peer, transfer_id=transfer_id, item_json=signed),
            item=itpb.ItemEnvelope(item_json=signed),
            owner_process_id=exported.content.owner_process_id,
        )
        sent = self._metrics.transferred_bytes.labels(direction=SENT)

        async def requests() -> AsyncIterator[cpb.ContentTransferRequest]:
            yield cpb.ContentTransferRequest(header=header)
            for chunk in part_bytes(package):
                await self._agreed(peer)  # a revocation stops the migration in flight
                sent.inc(len(chunk))
                yield cpb.ContentTransferRequest(chunk=chunk)

        pump = RequestPump(requests())
        result: cpb.ContentTransferResponse = await call(
            lambda: pump.result(stub.TransferContent(pump.requests())), attempts=1
        )
        result.peer_m_instance_id = peer
        result.route = DIRECT
        if converted is not None:
            result.route, result.source_item_id, result.bridge_id = VIA_BRIDGE, home.item_id, converted.bridge_id
            result.conversion_report_json = converted.report_json()
        return result

    # -- receiving side -------------------------------------------------------------------
    async def receive(
        self, header: cpb.ContentTransferHeader, chunks: AsyncIterator[bytes], peer: str
    ) -> cpb.ContentTransferResponse:
        """FGMV-43 9.3 steps 3-4 for a content from ``peer`` (the authenticated caller).

        Raises PermissionDenied ``ORIGIN_MISMATCH`` and the verification pipeline's refusals,
        FailedPrecondition (agreement), InvalidInput ``NOT_CONTENT``, TooLarge
        ``CONTENT_TOO_LARGE``, DataIntegrityError ``SIZE_MISMATCH`` / ``DIGEST_MISMATCH``, and the
        instance's refusals. Audited; a refusal stores nothing."""
        try:
            result = await self._receive(header, chunks, peer)
        except MmmfedError as err:
            details: dict[str, object] = {
                "rpc": "TransferContent",
                "transfer_id": header.transfer_id[:256],
                "message": err.message[:500],
            }
            await self._audit.append(
                REFUSED, peer_id=peer, subject=header.transfer_id[:256], reason=err.reason, details=details
            )
            raise
        details = {"rpc": "TransferContent", "transfer_id": header.transfer_id, "bytes": result.bytes}
        await self._audit.append(ACCEPTED, peer_id=peer, subject=_item_id(header.item.item_json), details=details)
        return result

    async def _receive(
        self, header: cpb.ContentTransferHeader, chunks: AsyncIterator[bytes], peer: str
    ) -> cpb.ContentTransferResponse:
        with refusals_counted(self._metrics):
            if instance_or_none(header.owner_process_id) != peer:
                raise PermissionDenied(
                    f"{peer} may not migrate contents of {header.owner_process_id[:256]}", reason="ORIGIN_MISMATCH"
                )
        await self._agreed(peer)
        bridge_keys = await self._negotiation.bridge_keys(peer, incoming=True)  # a content converted on the way
        item = await self._verifier.verify_persona(header.item.item_json, peer_id=peer, bridge_keys=bridge_keys)
        if not is_content(item.doc):
            raise InvalidInput(f"{item.item_id[:256]} is not a content's Item", reason="NOT_CONTENT")
        if "SourceItem" in item.doc:
            check_kept(item)  # licence, metadata and Rights as at home (COIR-102/103/302)
        with refusals_counted(self._metrics):  # envelope, digest of the exact bytes, replay
            await self._envelopes.check(
                header.envelope_json,
                peer_id=peer,
                transfer_id=header.transfer_id,
                item_json=header.item.item_json,
                items=(header.item.item_json,),
            )
        refs = parts_of(item.doc)
        check_limits(refs, max_bytes=self.max_bytes, max_parts=self.max_parts)
        accepted_here = ContentAcceptance.of(dict((await self._negotiation.platform()).policies))
        accepted_here.require(item.qualifier, refs, where=self._id)  # as its manifesto publishes it
        checker = PartsChecker(refs)
        inward = cpb.ContentTransferHeader()
        inward.CopyFrom(header)
        inward.origin_m_instance_id = peer
        received = self._metrics.transferred_bytes.labels(direction=RECEIVED)

        async def requests() -> AsyncIterator[cpb.ContentTransferRequest]:
            yield cpb.ContentTransferRequest(header=inward)
            async for chunk in checker.follow(chunks):
                received.inc(len(chunk))
                await self._agreed(peer)
                yield cpb.ContentTransferRequest(chunk=chunk)

        stub = self._channels.content_exchange()
        pump = RequestPump(requests())
        result: cpb.ContentTransferResponse = await call(
            lambda: pump.result(stub.ImportContent(pump.requests())), attempts=1
        )
        return result


def _item_id(item_json: bytes) -> str:
    """The ItemID of an Item's bytes, for the audit log ("" when they are not an Item)."""
    try:
        return parse_item(item_json).item_id[:256]
    except MmmfedError:
        return ""
