"""Identity migration, the destination gateway's part (ITU FGMV-43 9.4 steps 3-4, IDVF;
IDIR-204/303/306; issue 17 items 3-5), served over RE-4 (IdentityFederation) to peers' gateways.

:meth:`IdentityImport.nonce`: a nonce for one presentation, bound to the calling peer (at most
:data:`MAX_NONCES_PER_PEER` outstanding per peer), so a nonce given to one peer is
``NONCE_UNKNOWN`` in a presentation another peer sends
(:class:`mmmfed.identity.nonces.PresentationNonces`). One gateway process keeps them in memory;
replicas behind one address (store ``redis``) share them in Redis
(:mod:`mmmfed.store.redis_nonces`), so a nonce one replica gave is accepted once at any replica
and a replay is refused at every replica.

:meth:`IdentityImport.present`, in order, each refusal its gRPC status and ErrorInfo reason, and
nothing stored:

1. the DID is a user of the calling peer (PERMISSION_DENIED ``ORIGIN_MISMATCH``), the
   presentation at most :data:`MAX_PRESENTATION_CHARS` (RESOURCE_EXHAUSTED
   ``PRESENTATION_TOO_LARGE``), the trust
   agreement with it is active and covers ``Register`` on ``PPR`` (FAILED_PRECONDITION);
2. the peer's published keys, fetched now from its key service (RE-5 GetKeys, the signed key set),
   and its current status list token (RE-4 GetStatusList on the peer, for the uri the credential
   names, which must be at the peer: ``STATUS_LIST_INVALID`` otherwise);
3. :class:`mmmfed.identity.verifier.IdentityVerifier` with this M-Instance as audience:
   issuer signature (rotated keys valid for what they signed, revoked ones refused), Disclosures,
   key binding, audience, nonce (``PRESENTATION_REPLAYED``), status (``CREDENTIAL_REVOKED``), then
   the eligibility rules of this M-Instance's own manifesto as registered now
   (:func:`mmmfed.identity.policy.policy_from_manifesto`: ``identity.min_age``,
   ``identity.required_claims``, ``identity.appearance`` with its accepted Persona rows;
   ``ELIGIBILITY_AGE``, ``ELIGIBILITY_CLAIM_MISSING``, ``ELIGIBILITY_APPEARANCE``) and its
   reputation rule (``identity.reputation.*``: ``REPUTATION_INSUFFICIENT``, or admitted
   ``restricted``, kept with the link as ``admission``);
4. the credential's ``sub`` is the DID sent (INVALID_ARGUMENT ``SUBJECT_MISMATCH``);

then the identity is handed to this M-Instance over RI-1 (Instance.ImportIdentity,
``instance/linked_identities.py``), where it becomes a User Process linked to the home DID with
the Rights its admission gives (``admit``: Account type ``Linked``; ``restricted``:
``LinkedRestricted``, so the engine answers ``InsRights`` to what only a full one may do), holding
the disclosed claims; and the gateway keeps the link (:class:`mmmfed.identity.linked.LinkedIdentities`,
in its data dir: the holder key for an unlink, the scope for synchronisation) with exactly the
disclosed claims. The same DID again is the same Process (``already_linked``), its Rights those
of its admission now.

:meth:`IdentityImport.unlink` (IDIR-204): the request must be signed by the user's key the
credential named (:func:`mmmfed.identity.receipts.check_unlink_request`); the Process, its
Rights and its claims are deleted at this M-Instance (RI-1 Instance.RemoveIdentity), then the
link and every disclosed claim here, and the answer carries a receipt of deletion signed by this
M-Instance's current key. Everything is audited (rpc ``PresentIdentity`` / ``UnlinkIdentity``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.agreements import IDENTITY_ACTION, IDENTITY_TYPE, AgreementBook
from gateway.channels import Channels
from gateway.identity_audit import audited
from gateway.keyring import verified_key_set
from gateway.negotiation import NegotiationService
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import instance_pb2 as ipb_instance
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput, MmmfedError, NotFound, PermissionDenied, RemoteError, TooLarge
from mmmfed.identity.jose import read_jws
from mmmfed.identity.linked import LinkedIdentities, LinkedIdentity
from mmmfed.identity.nonces import LocalPresentationNonces, PresentationNonces
from mmmfed.identity.policy import policy_from_manifesto
from mmmfed.identity.receipts import check_unlink_request, deletion_receipt
from mmmfed.identity.reputation import ReputationPolicy
from mmmfed.identity.sdjwt import parse_sd_jwt
from mmmfed.identity.status_list import STATUS_LIST_INVALID
from mmmfed.identity.verifier import IdentityVerifier, VerifiedIdentity
from mmmfed.keys import InstanceKeyStore, PublicKeyRecord
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

MAX_NONCES_PER_PEER = 1024
NONCE_TTL_S = 300
MAX_NONCES_PER_CALL = 50
"""As many as a federation transaction carries entries (gateway.transactions.MAX_ENTRIES)."""
MAX_DID_CHARS = 512
MAX_PRESENTATION_CHARS = 512 * 1024  # 64 Disclosures (RFC 9901 limit here) and two JWTs, with room
INSTANCE_TIMEOUT_S = 15.0


@dataclass
class PeerMaterial:
    """What verifying a peer's presentations fetches from it: its verified key set and its status
    list tokens, by URI. A presentation verified alone fetches them fresh; the identity updates
    of one federation transaction share one, so a transaction fetches each once (issue 18 item 2)
    and its updates are checked against the peer's keys and statuses as they were when it came."""

    keys: list[PublicKeyRecord] | None = None
    status_tokens: dict[str, str] = field(default_factory=dict)


class IdentityImport:
    """The destination side of identity migration for one gateway (module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        agreements: AgreementBook,
        negotiation: NegotiationService,
        *,
        keys: InstanceKeyStore,
        fetch_keys: Callable[[str], Awaitable[mpb.KeySet]],
        linked: LinkedIdentities,
        audit: SharedAuditLog,
        nonces: PresentationNonces | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._negotiation = negotiation
        self._keys = keys
        self._fetch_keys = fetch_keys
        self.linked = linked
        self._audit = audit
        self._clock = clock
        # per calling peer, in this process unless shared by replicas (module docstring)
        self.nonces = nonces or LocalPresentationNonces(ttl_s=NONCE_TTL_S, max_per_peer=MAX_NONCES_PER_PEER)
        self._lock = asyncio.Lock()

    def check_did(self, did: str, peer: str) -> None:
        """InvalidInput ``DID_INVALID`` for a missing or malformed DID, PermissionDenied
        ``ORIGIN_MISMATCH`` for a DID that is not a user of ``peer``."""
        if not did or len(did) > MAX_DID_CHARS or not did.startswith("did:web:"):
            raise InvalidInput(
                "the user's DID (did:web:<home>:users:<id>) is missing or malformed",
                reason="DID_INVALID",
            )
        if not did.startswith(f"did:web:{peer}:users:"):
            raise PermissionDenied(f"{peer} may not present identities of {did[:256]}", reason="ORIGIN_MISMATCH")

    # -- RE-4 GetNonce ------------------------------------------------------------------------
    async def nonce(self, peer: str, count: int = 1) -> ipb.GetIdentityNonceResponse:
        """``count`` nonces (0 means 1; at most :data:`MAX_NONCES_PER_CALL`, one per presentation
        of a federation transaction) bound to ``peer`` (module docstring); InvalidInput
        ``NONCE_COUNT``, TooLarge ``NONCE_STORE_FULL`` (what was issued before stays valid until
        it expires), Unavailable ``STORE_UNAVAILABLE`` (replicas' Redis unreachable)."""
        if count > MAX_NONCES_PER_CALL:
            raise InvalidInput(
                f"ask for at most {MAX_NONCES_PER_CALL} nonces at a time, not {count}", reason="NONCE_COUNT"
            )
        now_s = int(self._clock())
        nonces = [await self.nonces.issue(peer, now_s=now_s) for _ in range(max(1, count))]
        return ipb.GetIdentityNonceResponse(
            nonce=nonces[0], nonces=nonces if count > 1 else [], audience=self._id, expires_s=now_s + self.nonces.ttl_s
        )

    # -- RE-4 PresentIdentity -----------------------------------------------------------------
    async def present(self, request: ipb.PresentIdentityRequest, peer: str) -> ipb.PresentIdentityResponse:
        """FGMV-43 9.4 steps 3-4 for a presentation from ``peer`` (module docstring). Audited."""
        return await audited(self._audit, "PresentIdentity", peer, request.did, self._present(request, peer))

    async def verify_presentation(
        self, presentation: str, did: str, peer: str, material: PeerMaterial | None = None
    ) -> VerifiedIdentity:
        """Steps 1-4 of the module docstring for ``presentation`` of ``did`` sent by ``peer``
        (PresentIdentity, and PushIdentityUpdate of IDSF): the verified identity, or the refusal
        with its reason. ``peer``'s key set and status list are fetched fresh, or once per
        ``material`` (the identity updates of one federation transaction share one)."""
        self.check_did(did, peer)
        if len(presentation) > MAX_PRESENTATION_CHARS:
            raise TooLarge(
                f"a presentation is at most {MAX_PRESENTATION_CHARS} characters", reason="PRESENTATION_TOO_LARGE"
            )
        sd_jwt = parse_sd_jwt(presentation)  # PRESENTATION_MALFORMED before any call
        await self._agreements.require_active(peer, item_type=IDENTITY_TYPE, action=IDENTITY_ACTION)
        material = material if material is not None else PeerMaterial()
        if material.keys is None:  # fresh: rotations and revocations
            material.keys = verified_key_set(await self._fetch_keys(peer), peer)
        records = material.keys
        uri = _status_uri(sd_jwt.issuer_jwt)
        token = ""
        if uri is not None:
            if not uri.startswith(f"https://{peer}/"):
                raise InvalidInput(
                    f"the credential's status list {uri[:256]} is not published by {peer}", reason=STATUS_LIST_INVALID
                )
            if uri not in material.status_tokens:
                stub = self._channels.identity_peer(peer)
                answer: ipb.GetStatusListResponse = await call(
                    lambda: stub.GetStatusList(ipb.GetStatusListRequest(uri=uri))
                )
                material.status_tokens[uri] = answer.token
            token = material.status_tokens[uri]
        platform = await self._negotiation.platform()
        policies = dict(platform.policies)
        verifier = IdentityVerifier(
            audience=self._id,
            issuer_keys={peer: records},
            status_lists=lambda _uri: token,
            nonce_ttl_s=self.nonces.ttl_s,
            policy=policy_from_manifesto(policies, platform.accepts),  # IDIR-303: age, claims, appearance
            reputation=ReputationPolicy.of(policies),  # identity.reputation.* (IDIR-301/304/305)
        )
        now_s = int(self._clock())

        async def consume(nonce: str) -> None:
            await self.nonces.consume(peer, nonce, now_s=now_s)

        verified = await verifier.verify_with(presentation, now_s=now_s, consume=consume)
        if verified.subject != did:
            raise InvalidInput(
                f"the credential is {verified.subject[:256]}'s, not {did[:256]}'s", reason="SUBJECT_MISMATCH"
            )
        return verified

    async def _present(self, request: ipb.PresentIdentityRequest, peer: str) -> ipb.PresentIdentityResponse:
        verified = await self.verify_presentation(request.presentation, request.did, peer)
        async with self._lock:
            if self.linked.get(peer, request.did) is None:
                self.linked.check_room(peer)  # before the instance makes a Process this gateway cannot link
            made = await self.hand_to_instance(
                peer, request.did, claims=verified.disclosed, admission=verified.admission
            )
            try:
                record, already = self._link(peer, request, verified)
            except BaseException:
                if not made.already_registered:  # no Process at the instance without its link here
                    await self._remove_at_instance(made.process_id)
                raise
        return ipb.PresentIdentityResponse(
            process_id=record.process_id,
            stored_claims=sorted(record.claims),
            already_linked=already,
            admission=record.admission,
            account_type=made.account_type,
            rights=list(made.rights),
        )

    def _link(
        self, peer: str, request: ipb.PresentIdentityRequest, verified: VerifiedIdentity
    ) -> tuple[LinkedIdentity, bool]:
        return self.linked.link(
            peer,
            request.did,
            claims=verified.disclosed,
            holder_jwk=verified.holder_jwk,
            now_s=int(self._clock()),
            expires_s=verified.expires_s,
            admission=verified.admission,
            version=max(0, request.version),
        )

    async def hand_to_instance(
        self, home: str, did: str, *, claims: dict[str, object], admission: str
    ) -> ipb_instance.ImportIdentityResponse:
        """FGMV-43 9.4 step 4 over RI-1 (Instance.ImportIdentity): the admitted identity becomes a
        User Process of this M-Instance linked to ``did``, with the Rights of ``admission``
        (``admit``: Account type Linked; ``restricted``: LinkedRestricted, fewer Rights) and
        holding ``claims`` (the disclosed ones). The instance's refusal passes through (e.g.
        INVALID_ARGUMENT ``REGISTRATION_REFUSED``); nothing is linked here then."""
        instance = self._channels.instance()
        sent = ipb_instance.ImportIdentityRequest(
            did=did,
            home_m_instance_id=home,
            admission=admission,
            claims_json=json.dumps(claims, sort_keys=True, separators=(",", ":")).encode(),
        )
        return await call(lambda: instance.ImportIdentity(sent, timeout=INSTANCE_TIMEOUT_S), attempts=1)

    async def _remove_at_instance(self, process_id: str) -> None:
        """IDIR-204 over RI-1 (Instance.RemoveIdentity): the linked Process, its Rights and its
        claims leave this M-Instance. A Process the instance never held (a link made before
        identities became Processes there) is nothing to delete there."""
        instance = self._channels.instance()
        sent = ipb_instance.RemoveIdentityRequest(process_id=process_id)
        try:
            await call(lambda: instance.RemoveIdentity(sent, timeout=INSTANCE_TIMEOUT_S), attempts=1)
        except RemoteError as err:
            if err.reason != "NOT_LINKED":
                raise

    # -- RE-4 UnlinkIdentity ------------------------------------------------------------------
    async def unlink(self, request: ipb.PeerUnlinkIdentityRequest, peer: str) -> ipb.PeerUnlinkIdentityResponse:
        """IDIR-204 for ``request.did`` of ``peer``: InvalidInput ``DID_INVALID`` /
        ``UNLINK_REQUEST_INVALID``, PermissionDenied ``ORIGIN_MISMATCH``, NotFound ``NOT_LINKED``.
        Audited. Not gated on the trust agreement: a revoked agreement must not keep a user's
        data here."""
        return await audited(self._audit, "UnlinkIdentity", peer, request.did, self._unlink(request, peer))

    async def _unlink(self, request: ipb.PeerUnlinkIdentityRequest, peer: str) -> ipb.PeerUnlinkIdentityResponse:
        self.check_did(request.did, peer)
        now_s = int(self._clock())
        async with self._lock:
            record = self.linked.get(peer, request.did)
            if record is None:
                raise NotFound(f"{self._id} holds no identity linked to {request.did[:256]}", reason="NOT_LINKED")
            check_unlink_request(
                request.request_jws,
                did=request.did,
                destination=self._id,
                holder_jwk=record.holder_jwk,
                linked_at_s=record.linked_at_s,
                now_s=now_s,
            )
            await self._remove_at_instance(record.process_id)  # first: a failure there keeps the link
            deleted = self.linked.unlink(peer, request.did)
        key_record, key = self._keys.current()
        receipt = deletion_receipt(
            destination=self._id,
            home=peer,
            did=request.did,
            process_id=deleted.process_id,
            deleted_claims=sorted(deleted.claims),
            key=key,
            kid=self._keys.method(key_record),
            iat_s=now_s,
        )
        return ipb.PeerUnlinkIdentityResponse(
            receipt_jws=receipt, process_id=deleted.process_id, deleted_claims=sorted(deleted.claims)
        )


def _status_uri(issuer_jwt: str) -> str | None:
    """The ``status.status_list.uri`` the (not yet verified) credential names, or None when it
    names none or cannot be read: the verifier then refuses it with its own reason."""
    try:
        status = read_jws(issuer_jwt, reason="CREDENTIAL_MALFORMED").payload.get("status")
    except MmmfedError:
        return None
    ref = status.get("status_list") if isinstance(status, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return uri if isinstance(uri, str) else None
