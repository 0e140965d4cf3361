"""Content synchronisation through the MIFM (ITU FGMV-43 9.3 steps 5-7, COSF): the gateway's
part, RI-3 towards its own M-Instance and RE-3 towards a linked peer's gateway.

Versions are content-addressed (:mod:`mmmfed.content.versions`): a side sends the other the
versions it lacks, named by the ids each holds, and the receiver applies each once by id, so
an exchange repeated after a lost answer changes nothing (at least once, applied once).

Asking side (:meth:`ContentVersionSync.sync_with`, RI-3 ``SyncContentWithPeer`` from the own
M-Instance, which queues and retries it): the agreement covers contents; the ids held here
(RI-3 ``ExportVersions``, refused ``NOT_LINKED`` for a peer the content is not linked with);
then RE-3 ``ExchangeContentVersions`` with those ids pulls the peer's versions this side lacks
(applied here, RI-3 ``ApplyVersions``), and again with the versions the peer lacks pushes them
(its answer brings any version it made meanwhile, e.g. a merge). Every message carries at most
:data:`MAX_SYNC_BYTES` of parts (``more`` says another follows).

Every message either side sends is signed by its gateway over what its own M-Instance exported
(:mod:`gateway.version_signing`), and every message either side receives is checked against the
peer's keys before its M-Instance applies anything (PERMISSION_DENIED ``ENVELOPE_MISSING``,
``ENVELOPE_MISMATCH`` for a version changed after signing, ``SIGNATURE_INVALID``, ``KEY_*``).

Answering side (:meth:`ContentVersionSync.exchange`): the caller is the peer (mTLS), the
agreement is active, each version's id is its record's digest and its parts those it lists
(DATA_LOSS ``VERSION_ID_MISMATCH`` / ``DIGEST_MISMATCH``), the message is signed by the
peer's gateway, at most :data:`MAX_SYNC_VERSIONS`
per message, each within this gateway's limits and what its manifesto accepts (as a migration:
``CONTENT_TOO_LARGE``, ``CONTENT_NOT_ACCEPTED``), and so are the versions it pulls; the
M-Instance checks the link (``NOT_LINKED``), the parents, the kind and licence, and applies
them; the answer is the versions the caller lacks. Both sides audit the outcome (rpc
``ExchangeContentVersions``).

A content the bridge converted on its migration (COCF) shares its home's version graph: the
messages name it by the home's ItemID, and :attr:`ContentVersionSync.conversion`
(:mod:`gateway.content_version_bridging`) converts, on every message to the peer, the versions
its manifesto accepts only converted, and verifies the converted versions a peer sends.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.agreements import CONTENT_ACTION, CONTENT_TYPE
from gateway.channels import Channels
from gateway.content_version_bridging import VersionConversion
from gateway.envelope import EnvelopeChecker
from gateway.negotiation import NegotiationService
from gateway.outbox import Outbox, refusal_of
from gateway.transactions import NOT_TAKEN
from gateway.version_signing import check_signed, sign_versions
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.audit import ACCEPTED, REFUSED
from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import parts_of
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.transfer import check_limits
from mmmfed.content.versions import ContentVersion, check_package
from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

MAX_SYNC_BYTES = 8 * 1024 * 1024
MAX_ENTRY_BYTES = 256 * 1024
"""A content message in a federation transaction, and its answer there, are at most this big:
fifty answers fit the 16 MiB a gRPC message may hold (:data:`mmmfed.tls.MAX_MESSAGE_BYTES`)."""
MAX_SYNC_VERSIONS = 256
MAX_ROUNDS = 1024


class Limits(Protocol):
    """The largest content this gateway accepts from a peer (:class:`gateway.contents.ContentRelay`)."""

    max_bytes: int
    max_parts: int


def check_versions(message: cpb.ContentVersions) -> list[ContentVersion]:
    """Each version a message carries is what its id says (module docstring); InvalidInput
    ``TOO_MANY_VERSIONS`` past :data:`MAX_SYNC_VERSIONS` or ``VERSION_MALFORMED``."""
    if len(message.versions) > MAX_SYNC_VERSIONS or len(message.known_ids) > 64 * MAX_SYNC_VERSIONS:
        raise InvalidInput(f"a message carries at most {MAX_SYNC_VERSIONS} versions", reason="TOO_MANY_VERSIONS")
    versions = []
    for data in message.versions:
        version = ContentVersion.from_record(data.record_json, version_id=data.version_id)
        if version.content_id != message.content_id:
            raise InvalidInput(f"version {data.version_id[:12]} is of another content", reason="VERSION_MALFORMED")
        if data.converted_item.item_json:  # its parts are the converted Item's: VersionConversion.incoming
            versions.append(version)
            continue
        media = {p.path: p.media_type for p in version.parts}
        check_package(
            version, ContentPackage(tuple(ContentPart.of(p.path, p.data, media.get(p.path, "")) for p in data.parts))
        )
        versions.append(version)
    return versions


class ContentVersionSync:
    """Both sides of content synchronisation for one gateway (see the module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        negotiation: NegotiationService,
        *,
        audit: SharedAuditLog,
        limits: Limits,
        keys: InstanceKeyStore,
        envelopes: EnvelopeChecker,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._negotiation = negotiation
        self._agreements = negotiation.agreements
        self._audit = audit
        self._limits = limits
        self._keys = keys
        self._envelopes = envelopes
        self.conversion: VersionConversion | None = None  # converted contents' versions (COCF)
        self.outbox: Outbox | None = None  # the synchronisation channels' transaction lanes (set by the node)
        self._by_single_calls: set[str] = set()  # peers that take no content entries in transactions

    async def _receivable(self, message: cpb.ContentVersions, peer: str) -> None:
        """Versions from ``peer``: each what its id says, the message signed by ``peer``'s
        gateway for this one (:mod:`gateway.version_signing`: ``ENVELOPE_*``, ``SIGNATURE_INVALID``,
        ``KEY_*``, ``REPLAYED``), within this gateway's limits (``CONTENT_TOO_LARGE``) and what
        its own manifesto accepts (``CONTENT_NOT_ACCEPTED``), as for a migration
        (:mod:`gateway.contents`); a converted one as it is held here (its Item's proofs checked
        by :class:`~gateway.content_version_bridging.VersionConversion`)."""
        versions = check_versions(message)
        await check_signed(message, versions, envelopes=self._envelopes, peer_id=peer)
        if not versions:
            return
        if self.conversion is not None:
            converted = await self.conversion.incoming(message, peer)
        elif any(data.converted_item.item_json for data in message.versions):
            raise InvalidInput("this gateway takes no converted versions", reason="VERSION_MALFORMED")
        else:
            converted = {}
        accepted_here = ContentAcceptance.of(dict((await self._negotiation.platform()).policies))
        for version in versions:
            held = converted.get(version.version_id)
            qualifier, parts = (
                (held.qualifier, parts_of(held.doc)) if held is not None else (version.qualifier, version.parts)
            )
            check_limits(parts, max_bytes=self._limits.max_bytes, max_parts=self._limits.max_parts)
            accepted_here.require(qualifier, parts, where=self._id)

    async def _outgoing(self, message: cpb.ContentVersions, peer: str) -> cpb.ContentVersions:
        """``message`` for ``peer`` with the versions it accepts only converted, converted."""
        if self.conversion is not None:
            await self.conversion.outgoing(message, peer)
        return message

    async def _agreed(self, peer: str) -> None:
        await self._agreements.require_active(peer, item_type=CONTENT_TYPE, action=CONTENT_ACTION)

    async def _apply(self, content_id: str, peer: str, message: cpb.ContentVersions) -> int:
        if not message.versions:
            return 0
        instance = self._channels.content_exchange()
        request = cpb.ApplyVersionsRequest(
            content_id=content_id, origin_m_instance_id=peer, versions=list(message.versions)
        )
        applied: cpb.ApplyVersionsResponse = await call(lambda: instance.ApplyVersions(request))
        return len(applied.applied_ids)

    async def _export(
        self, content_id: str, peer: str, known: list[str], *, ids_only: bool, max_bytes: int = MAX_SYNC_BYTES
    ) -> cpb.ContentVersions:
        instance = self._channels.content_exchange()
        request = cpb.ExportVersionsRequest(
            content_id=content_id, peer_m_instance_id=peer, known_ids=known, max_bytes=max_bytes, ids_only=ids_only
        )
        exported: cpb.ContentVersions = await call(lambda: instance.ExportVersions(request))
        return exported

    # -- asking side ----------------------------------------------------------------------
    async def sync_with(self, content_id: str, peer: str) -> cpb.SyncedPeer:
        """Pull then push the versions of ``content_id`` with ``peer`` (module docstring).

        Raises NotFound ``UNKNOWN_PEER`` / ``CONTENT_NOT_FOUND``, FailedPrecondition (agreement),
        PermissionDenied ``NOT_LINKED``, the peer's refusals, Unavailable while it is down. Audited."""
        try:
            result = await self._sync_with(content_id, peer)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "ExchangeContentVersions", "message": err.message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer, subject=content_id[:256], reason=err.reason, details=details
            )
            raise
        details = {"rpc": "ExchangeContentVersions", "sent": result.sent, "received": result.received}
        await self._audit.append(ACCEPTED, peer_id=peer, subject=content_id, details=details)
        return result

    async def _sync_with(self, content_id: str, peer: str) -> cpb.SyncedPeer:
        stub = self._channels.peer(peer)
        direct = False  # the next message goes by RE-3 itself (the peer's next versions are too large)

        async def exchange(message: cpb.ContentVersions) -> cpb.ContentVersions:
            nonlocal direct
            signed = sign_versions(message, keys=self._keys, destination=peer)  # what our M-Instance exported
            answer = await self._send(peer, stub, signed, direct=direct)
            await self._receivable(answer, peer)
            direct = answer.more and not answer.versions
            return answer

        await self._agreed(peer)
        mine = await self._export(content_id, peer, [], ids_only=True)
        content_id = mine.content_id or content_id  # the home's ItemID for a content converted here
        received = sent = 0

        async def pull(known: list[str]) -> list[str]:
            """Ask for the versions ``peer`` holds beyond ``known`` (ours) until it has no more;
            the ids it holds."""
            nonlocal received
            theirs = cpb.ContentVersions()
            for _ in range(MAX_ROUNDS):
                theirs = await exchange(cpb.ContentVersions(content_id=content_id, known_ids=known))
                received += await self._apply(content_id, peer, theirs)
                if not theirs.more:
                    break
                if theirs.versions:  # what we hold now (unchanged when nothing came)
                    known = list((await self._export(content_id, peer, [], ids_only=True)).known_ids)
            return list(theirs.known_ids)

        theirs_known = await pull(list(mine.known_ids))
        more = False
        for _ in range(MAX_ROUNDS):  # push
            out = await self._outgoing(await self._export(content_id, peer, theirs_known, ids_only=False), peer)
            if not out.versions:
                break
            push = cpb.ContentVersions(
                content_id=content_id, known_ids=list(out.known_ids), versions=list(out.versions)
            )
            answer: cpb.ContentVersions = await exchange(push)
            sent += len(out.versions)
            received += await self._apply(content_id, peer, answer)
            theirs_known, more = list(answer.known_ids), answer.more
        if more:  # the peer holds more than its answers carried (e.g. a merge it made meanwhile)
            await pull(list((await self._export(content_id, peer, [], ids_only=True)).known_ids))
        return cpb.SyncedPeer(peer_m_instance_id=peer, sent=sent, received=received)

    async def _send(self, peer: str, stub: Any, signed: cpb.ContentVersions, *, direct: bool) -> cpb.ContentVersions:
        """``signed`` to ``peer`` and its answer: in a federation transaction (:attr:`outbox`) when
        it is at most :data:`MAX_ENTRY_BYTES`, else (or ``direct``) by RE-3 itself. A refused
        entry raises as the call would (RemoteError with the peer's code and reason); a peer
        that takes no content entries (:data:`~gateway.transactions.NOT_TAKEN`) gets this
        message, and every later one, by RE-3."""
        fits = signed.ByteSize() <= MAX_ENTRY_BYTES
        if self.outbox is not None and not direct and fits and peer not in self._by_single_calls:
            (result,) = await self.outbox.send(peer, [fpb.FederationEntry(content_versions=signed)])
            if result.accepted:
                return result.content_versions
            if result.reason not in NOT_TAKEN:
                raise refusal_of(result)
            self._by_single_calls.add(peer)  # bounded by the configured peers
        answer: cpb.ContentVersions = await call(lambda: stub.ExchangeContentVersions(signed), attempts=1)
        return answer

    # -- answering side -------------------------------------------------------------------
    async def exchange(self, request: cpb.ContentVersions, peer: str) -> cpb.ContentVersions:
        """RE-3 from the linked ``peer`` (the authenticated caller): apply its versions, answer
        with those it lacks. Raises as the module docstring says. Audited."""
        try:
            answer, applied = await self._answer(request, peer, max_bytes=MAX_SYNC_BYTES)
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": "ExchangeContentVersions", "message": err.message[:500]}
            subject = request.content_id[:256]
            await self._audit.append(REFUSED, peer_id=peer, subject=subject, reason=err.reason, details=details)
            raise
        if applied:
            details = {"rpc": "ExchangeContentVersions", "applied": applied}
            await self._audit.append(ACCEPTED, peer_id=peer, subject=request.content_id, details=details)
        return answer

    async def exchange_entry(
        self, request: cpb.ContentVersions, peer: str
    ) -> tuple[cpb.ContentVersions, cpb.ContentVersions]:
        """RE-1: ``request`` from ``peer`` as an entry of a federation transaction
        (:mod:`gateway.transactions`, which audits it): checked and applied as :meth:`exchange`
        does, raising its refusals. Returns the answer, at most :data:`MAX_ENTRY_BYTES` of the
        versions ``peer`` lacks (none, with ``more``, when the next one alone is larger: ``peer``
        asks for it by RE-3 itself), and the answer's stand-in for the transaction's record (the
        ids held here, ``more``, no versions; both signed)."""
        answer, _ = await self._answer(request, peer, max_bytes=MAX_ENTRY_BYTES)
        if answer.ByteSize() <= MAX_ENTRY_BYTES and not answer.versions:
            return answer, answer
        ids = cpb.ContentVersions(content_id=answer.content_id, known_ids=list(answer.known_ids), more=True)
        stand_in = sign_versions(ids, keys=self._keys, destination=peer)
        return (answer if answer.ByteSize() <= MAX_ENTRY_BYTES else stand_in), stand_in

    async def _answer(
        self, request: cpb.ContentVersions, peer: str, *, max_bytes: int
    ) -> tuple[cpb.ContentVersions, int]:
        """Apply ``request``'s versions from ``peer`` (module docstring); the signed answer with at
        most ``max_bytes`` of the versions it lacks (at least one, if any), and how many were applied."""
        await self._agreed(peer)
        await self._receivable(request, peer)
        applied = await self._apply(request.content_id, peer, request)
        exported = await self._export(
            request.content_id, peer, list(request.known_ids), ids_only=False, max_bytes=max_bytes
        )
        return sign_versions(await self._outgoing(exported, peer), keys=self._keys, destination=peer), applied
