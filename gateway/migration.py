"""Avatar migration, FGMV-43 9.1 steps 1-4 (AVIFC: AVTF transfer, AVCF conversion).

Home side (A): export from the instance (RI-1), convert through the bridge when the answer
manifesto routes the Persona's Qualifier via a bridge, stream to the peer gateway (RE-1). Bytes
are streamed through, never stored and forwarded whole. A refusal (AVIR-202) names its reason
and comes with the peer's default avatar (AVIR-001).
Visiting side (B): check the header and the peer's identity, stream through to the instance.

Metrics (issue 6, item 2): ``mmmfed_migration_duration_seconds{side, outcome}`` on both sides,
``mmmfed_transferred_bytes_total{direction}`` for the data streamed to (sent) and from (received) a
peer gateway, and origin and envelope refusals in ``mmmfed_verification_refusals_total{reason}``
(the verifier counts its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc

from gateway.agreements import AVATAR_ACTION
from gateway.avatar_sync import AvatarSyncRelay
from gateway.bridging import choose_route, convert_via_bridge
from gateway.channels import Channels
from gateway.envelope import EnvelopeChecker, make_envelope, new_transfer_id
from gateway.in_flight import HOME, VISITING, InFlightMigrations, Migration
from gateway.negotiation import NegotiationService
from gateway.verification import NOT_REFUSALS, ForeignItemVerifier, refusals_counted
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput, MmmfedError, PermissionDenied, RemoteError
from mmmfed.items import instance_of, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.metrics import RECEIVED, SENT, NodeMetrics
from mmmfed.rpc import call, decode_rpc_error
from mmmfed.streams import RequestPump

log = logging.getLogger(__name__)

# Codes by which a bridge or the peer refuses the avatar itself (AVIR-202), as opposed to
# failures of the request or the network, which are returned as errors.
REFUSAL_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


@dataclass
class _Timer:
    steps: list[tuple[str, float]] = field(default_factory=list)
    _t: float = field(default_factory=time.perf_counter)

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self._t))
        self._t = now


class MigrationService:
    """Both sides of avatar migration for one gateway."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        negotiation: NegotiationService,
        *,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
        envelopes: EnvelopeChecker,
        metrics: NodeMetrics | None = None,
        avatar_sync: AvatarSyncRelay | None = None,
    ) -> None:
        self._avatar_sync = avatar_sync  # AVIR-103: a revisit recovers the roaming avatar
        self._metrics = metrics if metrics is not None else NodeMetrics()
        self._id = m_instance_id
        self._channels = channels
        self._negotiation = negotiation
        self._keys = keys
        self._verifier = verifier
        self._envelopes = envelopes
        self.in_flight = InFlightMigrations()  # what GetStatus reports as running now

    # -- home side (A) -------------------------------------------------------------------
    async def migrate(self, user_process_id: str, peer_id: str) -> gpb.MigrateAvatarResponse:
        """FGMV-43 9.1 steps 1-4 for ``user_process_id`` to ``peer_id``.

        Returns MIGRATED, or REFUSED with the reason (AVIR-202) and the peer's default avatar
        (AVIR-001). Raises FailedPrecondition ``NOT_NEGOTIATED``, NotFound (user, peer) and
        Unavailable/RemoteError for failures that are not refusals of the avatar. Its duration
        counts in ``mmmfed_migration_duration_seconds{side="home"}`` with outcome migrated,
        refused or error.
        """
        started, outcome = time.perf_counter(), "error"
        try:
            with self.in_flight.track(HOME, user_process_id, peer_id) as running:
                response = await self._migrate(user_process_id, peer_id, running)
            outcome = "migrated" if response.outcome == gpb.MIGRATION_OUTCOME_MIGRATED else "refused"
            await self._report(response, user_process_id, peer_id, running.transfer_id or new_transfer_id())
            return response
        finally:
            self._metrics.migration_duration.labels(side="home", outcome=outcome).observe(time.perf_counter() - started)

    async def _migrate(self, user_process_id: str, peer_id: str, running: Migration) -> gpb.MigrateAvatarResponse:
        if instance_of(user_process_id) != self._id:
            raise InvalidInput(f"{user_process_id} is not a User of {self._id}", reason="NOT_HOME_USER")
        peer = self._channels.peer(peer_id)
        answer = await self._negotiation.answer_for(peer_id)
        agreements = self._negotiation.agreements
        await agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)

        async def still_agreed() -> None:  # checked for every chunk: a revocation stops in-flight work
            await agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)

        timer = _Timer()
        export = self._channels.instance().ExportAvatar(ipb.ExportAvatarRequest(user_process_id=user_process_id))
        try:
            first = await export.read()
        except grpc.aio.AioRpcError as err:
            raise decode_rpc_error(err) from err
        if not isinstance(first, itpb.ItemPart) or first.WhichOneof("part") != "envelope":  # or EOF
            raise MmmfedError("instance export did not start with the Persona", reason="EXPORT_FAILED")
        record, key = self._keys.current()
        home = sign_item(parse_item(first.envelope.item_json), key=key, verification_method=self._keys.method(record))
        response = gpb.MigrateAvatarResponse(home_persona=itpb.ItemEnvelope(item_json=home.raw))
        timer.lap("export (9.1 step 1)")
        transfer_id = running.transfer_id = new_transfer_id()
        version = await self._avatar_version(user_process_id)
        if self._avatar_sync is not None:
            recovered = await self._avatar_sync.recover_at(peer_id, user_process_id, home.item_id, version, transfer_id)
            if recovered.held and _made_from(recovered.persona.item_json, home.item_id):  # AVIR-103
                export.cancel()
                timer.lap("roaming avatar recovered at peer (AVIR-103)")
                response.outcome = gpb.MIGRATION_OUTCOME_MIGRATED
                response.route = "recovered"
                response.roaming_user_process_id = recovered.roaming_user_process_id
                response.peer_persona.CopyFrom(recovered.persona)
                response.timings.extend(gpb.StepTiming(step=s, seconds=t) for s, t in timer.steps)
                return response
        try:
            row = choose_route(home, answer)
            chunks = _chunks_of(export)
            report: dict[str, bytes] = {}
            if row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE:
                stub = self._channels.bridge(row.bridge_id)
                bridge_keys = await self._negotiation.bridge_keys(peer_id)
                envelope, chunks = await convert_via_bridge(
                    stub, home, row, answer.virtual_bridge_id, chunks, report, bridge_keys=bridge_keys
                )
                timer.lap("convert via bridge (9.1 step 3)")
                response.route = "via bridge"
            else:
                envelope = itpb.ItemEnvelope(item_json=home.raw)
                response.route = "direct"
            sent = _Counter()
            header = gpb.TransferAvatarHeader(
                transfer_id=transfer_id,
                envelope_json=make_envelope(
                    keys=self._keys, destination=peer_id, transfer_id=transfer_id, item_json=envelope.item_json
                ),
                home_user_process_id=user_process_id,
                persona=envelope,
                home_item_id=home.item_id,
                answer_manifesto_id=answer.manifesto_id,
                avatar_version=version,
            )
            sent_bytes = self._metrics.transferred_bytes.labels(direction=SENT)
            pump = RequestPump(_transfer_stream(header, chunks, sent, still_agreed, sent_bytes.inc))
            result = await call(lambda: pump.result(peer.TransferAvatar(pump.requests())), attempts=1)
            timer.lap("transfer and import at peer (9.1 steps 2, 4)")
        except MmmfedError as err:
            export.cancel()
            if err.code not in REFUSAL_CODES:
                raise  # the request or a node failed: an error, not a refusal of the avatar
            return await self._refused(response, err, user_process_id, peer_id, timer)
        response.outcome = gpb.MIGRATION_OUTCOME_MIGRATED
        response.roaming_user_process_id = result.roaming_user_process_id
        response.peer_persona.CopyFrom(result.persona)
        response.bytes_sent = sent.n
        if "report" in report:
            response.conversion_report_json = report["report"]
        response.timings.extend(gpb.StepTiming(step=s, seconds=t) for s, t in timer.steps)
        return response

    async def _avatar_version(self, user_process_id: str) -> spb.AvatarVersion:
        """The home avatar's current version with its attachments (AVIR-104, AVIR-303), from the instance."""
        instance = self._channels.instance()
        request = spb.GetAvatarHistoryRequest(user_process_id=user_process_id)
        history = await call(lambda: instance.GetAvatarHistory(request, timeout=10.0))
        return history.versions[-1] if history.versions else spb.AvatarVersion()

    async def _report(
        self, response: gpb.MigrateAvatarResponse, user_process_id: str, peer_id: str, transfer_id: str
    ) -> None:
        """RI-1 ``RecordAvatarMigration``: tell the home instance where the avatar went (or why it
        was refused), so ``avatar status`` can say it. A failure to report is logged, not raised:
        the migration itself is done (or refused) at the peer either way."""
        migrated = response.outcome == gpb.MIGRATION_OUTCOME_MIGRATED
        record = ipb.AvatarMigrationRecord(
            transfer_id=transfer_id,
            user_process_id=user_process_id,
            peer_m_instance_id=peer_id,
            outcome="MIGRATED" if migrated else "REFUSED",
            roaming_user_process_id=response.roaming_user_process_id,
            peer_persona_id=_item_id(response.peer_persona.item_json),
            home_persona_id=_item_id(response.home_persona.item_json),
            route=response.route,
            conversion_report_json=response.conversion_report_json,
            refusal_reason=response.refusal_reason,
            refusal_message=response.refusal_message[:1024],
            default_avatar_id=_item_id(response.default_avatar.item_json),
            time_ms=int(time.time() * 1000),
        )
        try:
            await call(lambda: self._channels.instance().RecordAvatarMigration(record, timeout=5.0), attempts=2)
        except RemoteError as err:
            log.warning(
                "migration outcome not recorded at the instance",
                extra={"user_process_id": user_process_id, "peer": peer_id, "reason": err.reason},
            )

    async def _refused(
        self, response: gpb.MigrateAvatarResponse, err: MmmfedError, user_process_id: str, peer_id: str, timer: _Timer
    ) -> gpb.MigrateAvatarResponse:
        """AVIR-202: name the reason; AVIR-001: ask the peer for its default avatar."""
        response.outcome = gpb.MIGRATION_OUTCOME_REFUSED
        response.refusal_reason = err.reason
        response.refusal_message = err.message
        timer.lap("refused (AVIR-202)")
        peer = self._channels.peer(peer_id)
        request = gpb.OfferDefaultAvatarRequest(home_user_process_id=user_process_id, refusal_reason=err.reason)
        try:
            offer = await call(lambda: peer.OfferDefaultAvatar(request))
            # a foreign Item like any other: verified before it is offered to the User
            await self._verifier.verify_persona(offer.persona.item_json, peer_id=peer_id, bridge_keys={})
            response.default_avatar.CopyFrom(offer.persona)
            timer.lap("default avatar offered and verified (AVIR-001)")
        except RemoteError as offer_err:
            if offer_err.reason != "NO_DEFAULT_AVATAR":
                raise
        response.timings.extend(gpb.StepTiming(step=s, seconds=t) for s, t in timer.steps)
        return response

    # -- visiting side (B) ---------------------------------------------------------------
    async def accept_transfer(
        self, header: gpb.TransferAvatarHeader, chunks: AsyncIterator[bytes], peer_id: str
    ) -> gpb.TransferAvatarResponse:
        """RE-1: check the transfer comes from the User's home gateway under a negotiated
        answer and that the Persona verifies (signed by the peer, or by an agreed bridge over the
        peer's signed original: :class:`ForeignItemVerifier`), then stream it through to the
        instance (RI-1 ImportAvatar).

        Raises PermissionDenied ``ORIGIN_MISMATCH`` when the authenticated peer is not the
        User's home, FailedPrecondition ``NOT_NEGOTIATED``; the instance's refusals pass through.
        Its duration counts in ``mmmfed_migration_duration_seconds{side="visiting"}`` with outcome
        migrated, refused (a MmmfedError whose code is not in NOT_REFUSALS) or error.
        """
        started, outcome = time.perf_counter(), "error"
        try:
            with self.in_flight.track(VISITING, header.home_user_process_id, peer_id) as running:
                running.transfer_id = header.transfer_id
                response = await self._accept_transfer(header, chunks, peer_id)
            outcome = "migrated"
            return response
        except MmmfedError as err:
            outcome = "error" if err.code in NOT_REFUSALS else "refused"
            raise
        finally:
            self._metrics.migration_duration.labels(side="visiting", outcome=outcome).observe(
                time.perf_counter() - started
            )

    async def _accept_transfer(
        self, header: gpb.TransferAvatarHeader, chunks: AsyncIterator[bytes], peer_id: str
    ) -> gpb.TransferAvatarResponse:
        with refusals_counted(self._metrics):
            if instance_of(header.home_user_process_id) != peer_id:
                raise PermissionDenied(
                    f"{peer_id} may not transfer avatars of {header.home_user_process_id}", reason="ORIGIN_MISMATCH"
                )
        await self._negotiation.answer_for(peer_id, incoming=True)  # the peer offered to us (9.5)
        agreements = self._negotiation.agreements
        await agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)
        bridge_keys = await self._negotiation.bridge_keys(peer_id, incoming=True)
        await self._verifier.verify_persona(header.persona.item_json, peer_id=peer_id, bridge_keys=bridge_keys)
        with refusals_counted(self._metrics):  # envelope, digest of the exact bytes, replay (GPIR-003)
            await self._envelopes.check(
                header.envelope_json,
                peer_id=peer_id,
                transfer_id=header.transfer_id,
                item_json=header.persona.item_json,
                items=(header.persona.item_json,),  # its proofs dated with the envelope (issue 12 item 4)
            )
        import_header = ipb.ImportAvatarHeader(
            home_user_process_id=header.home_user_process_id,
            home_m_instance_id=peer_id,
            persona=header.persona,
            home_item_id=header.home_item_id,
            transfer_id=header.transfer_id,
            avatar_version=header.avatar_version,
        )

        received_bytes = self._metrics.transferred_bytes.labels(direction=RECEIVED)

        async def requests() -> AsyncIterator[ipb.ImportAvatarRequest]:
            yield ipb.ImportAvatarRequest(header=import_header)
            async for chunk in chunks:
                received_bytes.inc(len(chunk))
                # a revocation stops in-flight work: the instance then drops what it received
                await agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)
                yield ipb.ImportAvatarRequest(chunk=chunk)

        stub = self._channels.instance()
        pump = RequestPump(requests())
        result = await call(lambda: pump.result(stub.ImportAvatar(pump.requests())), attempts=1)
        return gpb.TransferAvatarResponse(
            roaming_user_process_id=result.roaming_user_process_id,
            persona=result.persona,
            bytes_received=result.bytes_received,
        )

    async def offer_default(self, home_user_process_id: str, peer_id: str) -> gpb.OfferDefaultAvatarResponse:
        """AVIR-001: the instance's default avatar for a visitor from ``peer_id``, signed by this
        instance's key (the requesting gateway verifies it like any foreign Item)."""
        if instance_of(home_user_process_id) != peer_id:
            raise PermissionDenied(f"{peer_id} may not ask for {home_user_process_id}", reason="ORIGIN_MISMATCH")
        await self._negotiation.agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)
        stub = self._channels.instance()
        result = await call(
            lambda: stub.GetDefaultAvatar(ipb.GetDefaultAvatarRequest(home_user_process_id=home_user_process_id))
        )
        record, key = self._keys.current()
        signed = sign_item(parse_item(result.persona.item_json), key=key, verification_method=self._keys.method(record))
        return gpb.OfferDefaultAvatarResponse(persona=itpb.ItemEnvelope(item_json=signed.raw))


@dataclass
class _Counter:
    """Bytes sent so far on a stream."""

    n: int = 0


async def _chunks_of(
    export: grpc.aio.UnaryStreamCall[ipb.ExportAvatarRequest, itpb.ItemPart],
) -> AsyncIterator[bytes]:
    while True:
        try:
            part = await export.read()
        except grpc.aio.AioRpcError as err:
            raise decode_rpc_error(err) from err
        if not isinstance(part, itpb.ItemPart):  # grpc.aio.EOF
            return
        if part.WhichOneof("part") != "chunk":
            raise MmmfedError("instance export sent a second envelope", reason="EXPORT_FAILED")
        yield part.chunk


async def _transfer_stream(
    header: gpb.TransferAvatarHeader,
    chunks: AsyncIterator[bytes],
    sent: _Counter,
    check: Callable[[], Awaitable[None]],
    count_bytes: Callable[[int], None],
) -> AsyncIterator[gpb.TransferAvatarRequest]:
    yield gpb.TransferAvatarRequest(header=header)
    async for chunk in chunks:
        await check()
        sent.n += len(chunk)
        count_bytes(len(chunk))
        yield gpb.TransferAvatarRequest(chunk=chunk)


def _made_from(item_json: bytes, home_item_id: str) -> bool:
    """Whether a peer's Persona is the home one or a conversion of it (its SourceItemID): a
    recovered roaming avatar must be (AVIR-103); anything else is transferred again."""
    try:
        item = parse_item(item_json)
    except MmmfedError:
        return False
    return home_item_id in (item.item_id, item.doc.get("SourceItemID"))


def _item_id(item_json: bytes) -> str:
    """The ItemID of an Item's JSON bytes ("" for none or a document without one)."""
    if not item_json:
        return ""
    try:
        return str(parse_item(item_json).item_id)
    except MmmfedError:
        return ""
