"""Identity migration, the home gateway's part (ITU FGMV-43 9.4 steps 1-2, IDMF; IDIR-204;
issue 17 items 2 and 5): RI-4 towards its own operators (IdentityGateway), RE-4 towards the
destination's gateway (IdentityFederation), and the home's status list served over RE-4.

:meth:`IdentityMigration.migrate` (``mmmfed identity migrate PROCESS_ID --to PEER --disclose
name,age_over_18``): the trust agreement with the peer must be active and cover ``Register`` on
``PPR`` (:data:`gateway.agreements.IDENTITY_ACTION`); the claims named must be ones the user's
credential holds (``DISCLOSE_UNKNOWN_CLAIM`` before anything leaves) and meet the peer's
eligibility rules as its manifesto published them (``ELIGIBILITY_AGE``,
``ELIGIBILITY_CLAIM_MISSING``: a user the peer would refuse sends it nothing, not even a name; the
peer checks its current manifesto again); the gateway asks the peer
for a nonce (RE-4 GetNonce), builds the presentation from the credential it holds for the user,
with only the chosen Disclosures and a KB-JWT (``aud`` the peer's M-Instance id, the peer's
nonce) signed by the user's held key, and sends it (RE-4 PresentIdentity). The Disclosures not
chosen never leave this gateway. The home records the link (``links.json`` of the user).

:meth:`IdentityMigration.unlink` (``mmmfed identity unlink PROCESS_ID --from PEER``): an
``unlink+jwt`` signed by the user's key goes to the peer (RE-4 UnlinkIdentity); the answer's
receipt of deletion is verified with the peer's published keys (its key service, rotated and
revoked keys honoured by :class:`gateway.keyring.Keyring`) and kept under the user's
``receipts/``; the link is dropped. Both are audited (rpc ``MigrateIdentity`` /
``UnlinkIdentity``, ``ACCEPTED`` or ``REFUSED`` with the reason).

:meth:`IdentityMigration.resolve_local` answers RE-5 ResolveDid (IDIR-101/202) for this
M-Instance's DIDs: its own (its key set) and its users' (``#key-1``, the user's current key, held
or brought; ``DID_UNKNOWN`` for a user with none); :meth:`IdentityMigration.resolve` (RI-4) asks
the DID's home for any other.

:meth:`IdentityMigration.status_list_token` answers RE-4 GetStatusList with the current Token
Status List token, signed with the M-Instance's current key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from gateway.agreements import IDENTITY_ACTION, IDENTITY_TYPE, AgreementBook
from gateway.channels import Channels
from gateway.identity_audit import audited
from gateway.keyring import Keyring
from gateway.negotiation import NegotiationService
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.did_document import instance_did_document, load_did_document
from mmmfed.errors import DataIntegrityError, InvalidInput, MmmfedError, NotFound, PermissionDenied
from mmmfed.identity.policy import policy_from_manifesto
from mmmfed.identity.presentation import disclosable, present
from mmmfed.identity.receipts import read_receipt, unlink_request, verify_receipt
from mmmfed.identity.sdjwt import parse_disclosure
from mmmfed.identity.status_list import status_list_token
from mmmfed.identity.store import IdentityStore, credential_digest
from mmmfed.identity.user_did import parse_did, user_did_document, user_did_of_process
from mmmfed.items import instance_or_none
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

STATUS_TTL_S = 300
MAX_DOCUMENT_CHARS = 64 * 1024  # a resolved DID document; the instance's lists its few keys


MAX_GRANTED_RIGHTS = 64


def _granted(answer: ipb.PresentIdentityResponse) -> tuple[str, str, list[str]]:
    """What the peer says its policy granted (FGMV-43 9.4 step 4), bounded: its admission
    (``admit`` / ``restricted``, else ``""``), Account type (64 characters) and at most
    :data:`MAX_GRANTED_RIGHTS` Action names (64 characters each)."""
    admission = answer.admission if answer.admission in ("admit", "restricted") else ""
    return admission, answer.account_type[:64], [r[:64] for r in answer.rights[:MAX_GRANTED_RIGHTS]]


async def resolve_at_home(channels: Channels, did: str) -> ipb.ResolveDidResponse:
    """RE-5 ResolveDid of ``did`` at its home (the DID's host, a configured peer: NotFound
    ``UNKNOWN_PEER``); the peer's refusals with their reasons; DataIntegrityError
    ``PEER_ANSWER_INVALID`` if the answer is not a DID document of ``did`` from that home."""
    host, _ = parse_did(did)
    channels.peer(host)
    stub = channels.identity_peer(host)
    answer: ipb.ResolveDidResponse = await call(lambda: stub.ResolveDid(ipb.ResolveDidRequest(did=did)))
    try:
        document = json.loads(answer.document_json) if len(answer.document_json) <= MAX_DOCUMENT_CHARS else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("id") != did or answer.resolved_by != host:
        raise DataIntegrityError(f"{host} answered no DID document of {did[:256]}", reason="PEER_ANSWER_INVALID")
    return answer


def document_keys(answer: ipb.ResolveDidResponse) -> list[bytes]:
    """The Ed25519 public keys (32 bytes) a resolved DID document lists; InvalidInput
    ``KEY_FILE_INVALID`` if it is not a Multikey DID document."""
    where = Path(f"<DID document of {answer.did[:256]} from {answer.resolved_by}>")
    return [k.public_key for k in load_did_document(where, answer.document_json.encode())]


class IdentityMigration:
    """The home side of identity migration for one gateway (module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        agreements: AgreementBook,
        negotiation: NegotiationService,
        *,
        keys: InstanceKeyStore,
        keyring: Keyring,
        store: IdentityStore,
        audit: SharedAuditLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._negotiation = negotiation
        self._keys = keys
        self._keyring = keyring
        self.store = store
        self._audit = audit
        self._clock = clock

    def user_of(self, process_id: str) -> tuple[str, str]:
        """(user id, DID) of a User Process of this M-Instance; InvalidInput ``USER_ID_INVALID`` /
        ``PROCESS_NOT_LOCAL``."""
        did = user_did_of_process(process_id)
        if not did.startswith(f"did:web:{self._id}:"):
            raise InvalidInput(
                f"{process_id[:256]} is not a Process of {self._id}; migrate it from its home",
                reason="PROCESS_NOT_LOCAL",
            )
        return did.rsplit(":", 1)[-1], did

    def check_peer(self, peer: str) -> None:
        """InvalidInput ``BAD_PEER`` for no peer or this M-Instance, NotFound ``UNKNOWN_PEER``."""
        if not peer or peer == self._id:
            raise InvalidInput("an identity migrates to another M-Instance (--to)", reason="BAD_PEER")
        self._channels.peer(peer)  # NotFound UNKNOWN_PEER

    # -- migrate ------------------------------------------------------------------------------
    async def migrate(self, request: ipb.MigrateIdentityRequest) -> ipb.MigrateIdentityResponse:
        """FGMV-43 9.4 steps 1-2 (module docstring). Raises InvalidInput ``BAD_PEER`` /
        ``PROCESS_NOT_LOCAL`` / ``DISCLOSE_UNKNOWN_CLAIM``, NotFound ``UNKNOWN_PEER`` /
        ``CREDENTIAL_UNKNOWN`` / ``USER_KEY_NOT_HELD``, FailedPrecondition (agreement), and the
        peer's refusals with their reasons. Audited."""
        peer = request.peer_m_instance_id
        return await audited(self._audit, "MigrateIdentity", peer, request.process_id, self._migrate(request))

    async def _migrate(self, request: ipb.MigrateIdentityRequest) -> ipb.MigrateIdentityResponse:
        peer = request.peer_m_instance_id
        self.check_peer(peer)
        user_id, did = self.user_of(request.process_id)
        chosen = sorted({c.strip() for c in request.disclose if c.strip()})
        credential = self.store.credential(user_id)
        user_key = self.store.held_key(user_id)
        held = sorted(disclosable(credential))
        unknown = sorted(set(chosen) - set(held))
        if unknown:  # before any call to the peer: nothing about the user leaves
            raise InvalidInput(
                f"cannot disclose {', '.join(unknown)[:500]}: the credential holds {', '.join(held)}",
                reason="DISCLOSE_UNKNOWN_CLAIM",
            )
        await self._agreements.require_active(peer, item_type=IDENTITY_TYPE, action=IDENTITY_ACTION)
        shown_claims = {d.name: d.value for d in map(parse_disclosure, credential.disclosures) if d.name in chosen}
        await self._check_peer_rules(peer, shown_claims)
        stub = self._channels.identity_peer(peer)
        nonce: ipb.GetIdentityNonceResponse = await call(lambda: stub.GetNonce(ipb.GetIdentityNonceRequest()))
        shown = present(
            credential, disclose=chosen, audience=peer, nonce=nonce.nonce, holder_key=user_key, iat_s=int(self._clock())
        )
        version = self.store.observe_sync(user_id).version  # IDSF: the profile version presented
        sent = ipb.PresentIdentityRequest(presentation=shown.serialize(), did=did, version=version)
        answer: ipb.PresentIdentityResponse = await call(lambda: stub.PresentIdentity(sent), attempts=1)
        if instance_or_none(answer.process_id) != peer or len(answer.process_id) > 256:
            raise DataIntegrityError(
                f"{peer} answered a Process id that is not one of its own: {answer.process_id[:256]!r}",
                reason="PEER_ANSWER_INVALID",
            )
        stored = sorted(set(answer.stored_claims) & set(chosen))  # what it says it keeps, of what it was sent
        admission, account_type, rights = _granted(answer)
        self.store.save_link(
            user_id,
            peer,
            process_id=answer.process_id,
            disclosed=stored,
            linked_at_s=int(self._clock()),
            version=version,
            credential=credential_digest(credential),
        )
        return ipb.MigrateIdentityResponse(
            peer_m_instance_id=peer,
            did=did,
            peer_process_id=answer.process_id,
            stored_claims=stored,
            already_linked=answer.already_linked,
            admission=admission,
            account_type=account_type,
            rights=rights,
        )

    async def _check_peer_rules(self, peer: str, claims: dict[str, object]) -> None:
        """The peer's eligibility rules as it published them in the negotiation
        (``identity.min_age``, ``identity.required_claims``), checked on what would be disclosed,
        so a user the peer refuses sends it nothing (its name included); the peer checks its
        current manifesto again. PermissionDenied ``ELIGIBILITY_AGE`` /
        ``ELIGIBILITY_CLAIM_MISSING`` (metadata ``rule``); rules the home cannot read are left to
        the peer."""
        try:
            rules = policy_from_manifesto(await self._negotiation.peer_policies(peer))
        except InvalidInput:
            return
        try:
            rules.check(claims)
        except PermissionDenied as err:
            raise PermissionDenied(
                f"{peer} refuses this identity by its manifesto ({err.message}); nothing was sent to {peer}",
                reason=err.reason,
                metadata={**err.metadata, "peer": peer},
            ) from err

    # -- unlink -------------------------------------------------------------------------------
    async def unlink(self, request: ipb.UnlinkIdentityRequest) -> ipb.UnlinkIdentityResponse:
        """IDIR-204 (module docstring). Raises InvalidInput ``BAD_PEER`` / ``PROCESS_NOT_LOCAL`` /
        ``RECEIPT_INVALID``, NotFound ``UNKNOWN_PEER`` / ``USER_KEY_NOT_HELD`` / ``NOT_LINKED`` (the
        peer's), and the peer's other refusals. Audited."""
        peer = request.peer_m_instance_id
        return await audited(self._audit, "UnlinkIdentity", peer, request.process_id, self._unlink(request))

    async def _unlink(self, request: ipb.UnlinkIdentityRequest) -> ipb.UnlinkIdentityResponse:
        peer = request.peer_m_instance_id
        self.check_peer(peer)
        user_id, did = self.user_of(request.process_id)
        user_key = self.store.held_key(user_id)
        token = unlink_request(did, destination=peer, user_key=user_key, iat_s=int(self._clock()))
        stub = self._channels.identity_peer(peer)
        sent = ipb.PeerUnlinkIdentityRequest(did=did, request_jws=token)
        answer: ipb.PeerUnlinkIdentityResponse = await call(lambda: stub.UnlinkIdentity(sent), attempts=1)

        # verify_receipt takes a sync key lookup: the receipt's kid is resolved first, at its iat
        # (a key revoked as compromised verifies nothing), and checked again inside
        header, payload = read_receipt(answer.receipt_jws)
        kid, iat = str(header.get("kid", "")), payload.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise InvalidInput(f"receipt of deletion from {peer} has no iat", reason="RECEIPT_INVALID")
        try:
            key = await self._keyring.resolve(kid, at_ms=iat * 1000, expected_instance=peer)
        except MmmfedError as err:
            raise InvalidInput(
                f"receipt of deletion from {peer}: its key {kid[:200]} is not usable: {err.message}",
                reason="RECEIPT_INVALID",
            ) from err
        receipt = verify_receipt(
            answer.receipt_jws, destination=peer, home=self._id, did=did, key_of=lambda _kid, _iat: key
        )
        path = self.store.save_receipt(user_id, peer, receipt.text, issued_at_s=receipt.iat_s)
        self.store.drop_link(user_id, peer)
        state = self.store.sync_state(user_id)  # the platform's offers go with the link (IDSF)
        if any(c.peer == peer for c in state.changes.values()):
            state.changes = {k: c for k, c in state.changes.items() if c.peer != peer}
            self.store.save_sync_state(user_id, state)
        return ipb.UnlinkIdentityResponse(
            peer_m_instance_id=peer,
            did=did,
            peer_process_id=str(receipt.payload.get("process_id", answer.process_id)),
            deleted_claims=sorted(answer.deleted_claims),
            receipt_jws=receipt.text,
            receipt_path=str(path),
        )

    # -- RE-5 DID resolution (IDIR-101/202) -----------------------------------------------------
    def resolve_local(self, did: str) -> ipb.ResolveDidResponse:
        """The DID document of ``did:web:<this M-Instance>`` (its key set: rotated keys with
        ``expires``, revoked ones with ``revoked``) or of ``did:web:<this M-Instance>:users:<id>``
        (``#key-1``: the user's current key, held here or brought by them). InvalidInput
        ``DID_INVALID``; NotFound ``DID_UNKNOWN`` for another M-Instance's DID or a user with no
        key here."""
        host, user_id = parse_did(did)
        if host != self._id:
            raise NotFound(f"{did[:256]} is not a DID of {self._id}; resolve it at {host}", reason="DID_UNKNOWN")
        if user_id is None:
            document = instance_did_document(self._id, self._keys.records())
        else:
            key = self.store.public_key(user_id)
            if key is None:
                raise NotFound(
                    f"{self._id} has no user {user_id} with a key (no credential issued)", reason="DID_UNKNOWN"
                )
            document = user_did_document(did, key)
        return ipb.ResolveDidResponse(did=did, document_json=json.dumps(document, sort_keys=True), resolved_by=self._id)

    async def resolve(self, did: str) -> ipb.ResolveDidResponse:
        """RI-4 ResolveDid: :meth:`resolve_local` for a DID of this M-Instance, else RE-5
        ResolveDid at the DID's home (its host, which must be a configured peer: NotFound
        ``UNKNOWN_PEER``); the answer must be the document of ``did`` (DataIntegrityError
        ``PEER_ANSWER_INVALID`` otherwise)."""
        host, _ = parse_did(did)
        if host == self._id:
            return self.resolve_local(did)
        return await resolve_at_home(self._channels, did)

    # -- RE-4 status list ---------------------------------------------------------------------
    def status_list_token(self, uri: str) -> str:
        """The current status list token for ``uri`` (this M-Instance's one list); NotFound
        ``STATUS_LIST_UNKNOWN`` for any other uri."""
        if uri != self.store.status_uri:
            raise NotFound(
                f"{self._id} publishes no status list {uri[:256]!r}; its list is {self.store.status_uri}",
                reason="STATUS_LIST_UNKNOWN",
            )
        status, _ = self.store.status_list()
        record, key = self._keys.current()
        return status_list_token(
            status, uri=uri, key=key, kid=self._keys.method(record), iat_s=int(self._clock()), ttl_s=STATUS_TTL_S
        )
