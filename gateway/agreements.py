"""Trust agreements (issue "Federated trust", item 5): the final negotiated manifesto of FGMV-43
9.5 as a JSON document signed by both M-Instances, with a scope and a validity period.

Lifecycle: the answering side (B) builds the agreement from its answer manifesto and signs it
(PROPOSED at B); the proposer (A) verifies B's proof, countersigns, and sends it back
(ConfirmAgreement); B verifies both proofs and both hold it ACTIVE. Either side may revoke it,
and tells the other; after ``ValidUntilMs`` it has expired. A new negotiation supersedes it.
Only traffic inside an ACTIVE agreement, within its scope (Item types, Actions), is sent or
accepted, checked before a transfer and again for every chunk while it streams, so revoking
stops in-flight work in both directions at once.

That check runs on every request, so it reads the agreement from memory while the shared state
vouches that no document changed since it was read (:mod:`mmmfed.store.changes`): on one node the
SQLite file says so, with no delay; replicas on Redis hear every replica's writes on a
subscription within milliseconds, and if the subscription breaks they read Redis on every check
again within ``max_staleness_s`` (1 s). So a revocation needs no Redis round trip per request to
stop traffic everywhere.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound
from mmmfed.items import proof_time
from mmmfed.keys import InstanceKeyStore
from mmmfed.manifesto import ROUTE_NAMES
from mmmfed.proofs import sign_document
from mmmfed.store import SharedState
from mmmfed.strictjson import parse_json

AGREEMENT_TYPE = "mmmfed/TrustAgreement/v1"
NS = "agreement"
NS_CONSENT = "agreement/consent"
PROPOSED, ACTIVE, REVOKED = "PROPOSED", "ACTIVE", "REVOKED"
DEFAULT_VALIDITY_S = 30 * 24 * 3600
# The Action under which an avatar (a Persona Item) enters the peer's M-Environment.
AVATAR_ACTION = "MM-Add"
RESOLVE_ACTION = "Resolve"
"""Process Actions forwarded between the M-Instances (MMM-TEC Resolution), on PAC Items."""
PROCESS_ACTION_TYPE = "PAC"
ASSET_ACTION = "Transact"
"""Asset transfers between the M-Instances (FGMV-43 9.2), on ASS Items."""
ASSET_TYPE = "ASS"
CONTENT_ACTION = "Post"
"""Contents migrating to the peer (FGMV-43 9.3 steps 1-4, RE-3): a home M-Instance Posts the
content's Item into the peer's M-Environment; on ITM Items (SubType the content's kind)."""
CONTENT_TYPE = "ITM"
IDENTITY_ACTION = "Register"
"""Identities migrating to the peer (FGMV-43 9.4 steps 1-4, RE-4): the destination Registers a
Process for a user of the home M-Instance from a presentation of their Personal Profile's claims;
on PPR Items (the Personal Profile)."""
IDENTITY_TYPE = "PPR"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _signed(doc: Mapping[str, Any], keys: InstanceKeyStore) -> dict[str, Any]:
    record, key = keys.current()
    return sign_document(doc, key=key, verification_method=keys.method(record), created=proof_time())


def _bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


async def record_consent(store: SharedState, peer_id: str, *, accepted: bool = True) -> None:
    """The operator accepts (``mmmfed agreement accept``) or no longer accepts (``agreement
    withdraw``) agreements proposed by ``peer_id``; agreements already ACTIVE are not touched."""
    key = "AcceptedAtMs" if accepted else "WithdrawnAtMs"
    await store.put_document(NS_CONSENT, peer_id, _bytes({key: _now_ms()}))


async def all_consents(store: SharedState) -> dict[str, dict[str, Any]]:
    """Every consent record by peer: ``{"AcceptedAtMs": ms}`` or ``{"WithdrawnAtMs": ms}``."""
    return {peer: json.loads(raw) for peer, raw in (await store.list_documents(NS_CONSENT)).items()}


async def has_consent(store: SharedState, peer_id: str) -> bool:
    """True while the operator's last word on ``peer_id`` is an acceptance."""
    raw = await store.get_document(NS_CONSENT, peer_id)
    return raw is not None and "AcceptedAtMs" in json.loads(raw)


async def all_agreements(store: SharedState) -> dict[str, dict[str, Any]]:
    """Every agreement record ({"Status", "Document", ...}) in ``store``, by peer."""
    return {peer: json.loads(raw) for peer, raw in (await store.list_documents(NS)).items()}


class AgreementBook:
    """The agreements of one gateway, one per peer, in its shared state (every replica of the
    gateway reads and writes the same records)."""

    def __init__(
        self,
        m_instance_id: str,
        store: SharedState,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
        *,
        accept_from: Iterable[str] = (),
    ) -> None:
        self._id = m_instance_id
        self._store = store
        self._keys = keys
        self._verifier = verifier
        self._accept_from = frozenset(accept_from)
        # peer -> (the state's documents token when read, the record): require_active's copies
        self._in_force: dict[str, tuple[Hashable, dict[str, Any]]] = {}

    async def all(self) -> dict[str, dict[str, Any]]:
        """Every agreement record, by peer."""
        return await all_agreements(self._store)

    # -- records --------------------------------------------------------------------------
    async def record(self, peer_id: str) -> dict[str, Any]:
        """{"Status", "Document"} of the agreement with ``peer_id``; NotFound ``NO_AGREEMENT``."""
        raw = await self._store.get_document(NS, peer_id)
        if raw is None:
            raise NotFound(f"no trust agreement with {peer_id}; negotiate first", reason="NO_AGREEMENT")
        return dict(json.loads(raw))

    async def _record_in_force(self, peer_id: str) -> dict[str, Any] | None:
        """The record :meth:`require_active` checks, read on every request: from memory while the
        shared state's documents token is the one it was read under (nothing changed since, on
        any replica: :mod:`mmmfed.store.changes`), else read again. None if there is none."""
        token = self._store.documents_token()
        if token is not None:
            kept = self._in_force.get(peer_id)
            if kept is not None and kept[0] == token:
                return kept[1]
        raw = await self._store.get_document(NS, peer_id)
        if raw is None:
            return None
        rec = dict(json.loads(raw))
        if token is not None and self._store.documents_token() == token:  # nothing changed while reading
            self._in_force[peer_id] = (token, rec)
        return rec

    async def _put(self, peer_id: str, status: str, doc: Mapping[str, Any], **extra: Any) -> None:
        await self._store.put_document(NS, peer_id, _bytes({"Status": status, "Document": doc, **extra}))

    async def require_active(self, peer_id: str, *, item_type: str, action: str) -> str:
        """The AgreementID if an ACTIVE, unexpired agreement with ``peer_id`` covers ``item_type``
        and ``action``; else FailedPrecondition ``NO_AGREEMENT`` (negotiate first), ``AGREEMENT_PROPOSED``,
        ``AGREEMENT_REVOKED``, ``AGREEMENT_EXPIRED`` or ``OUT_OF_AGREEMENT``."""
        rec = await self._record_in_force(peer_id)
        if rec is None:
            raise FailedPrecondition(f"no trust agreement with {peer_id}; negotiate first", reason="NO_AGREEMENT")
        doc = rec["Document"]
        if rec["Status"] != ACTIVE:
            reason = "AGREEMENT_REVOKED" if rec["Status"] == REVOKED else "AGREEMENT_PROPOSED"
            raise FailedPrecondition(f"the trust agreement with {peer_id} is {rec['Status']}", reason=reason)
        if _now_ms() >= int(doc["ValidUntilMs"]):
            raise FailedPrecondition(f"the trust agreement with {peer_id} has expired", reason="AGREEMENT_EXPIRED")
        scope = doc["Scope"]
        if item_type not in scope["ItemTypes"] or action not in scope["Actions"]:
            raise FailedPrecondition(
                f"{action} on {item_type} Items is outside the trust agreement with {peer_id}",
                reason="OUT_OF_AGREEMENT",
            )
        return str(doc["AgreementID"])

    # -- answering side (B) ------------------------------------------------------------
    async def propose(self, answer: mpb.Manifesto, offer_v: mpb.Manifesto, peer_id: str) -> bytes:
        """Build the agreement from ``answer`` (proposer ``peer_id``), sign it, keep it PROPOSED.

        FailedPrecondition ``AGREEMENT_NOT_ACCEPTED`` unless this instance's operator accepts
        agreements from ``peer_id`` (config ``accept_agreements_from`` or ``mmmfed agreement
        accept``)."""
        if peer_id not in self._accept_from and not await has_consent(self._store, peer_id):
            raise FailedPrecondition(
                f"{self._id}'s operator has not accepted agreements with {peer_id}; "
                f"they run `mmmfed agreement accept {peer_id}`",
                reason="AGREEMENT_NOT_ACCEPTED",
            )
        rows = [r for r in answer.negotiated if r.route != mpb.FEATURE_ROUTE_UNSUPPORTED]
        now = _now_ms()
        doc = {
            "Type": AGREEMENT_TYPE,
            "AgreementID": f"urn:uuid:{uuid.uuid4()}",
            "Parties": [peer_id, self._id],
            "AnswerManifestoID": answer.manifesto_id,
            "Scope": {
                "ItemTypes": sorted(
                    {r.offered.item_type for r in rows} | {PROCESS_ACTION_TYPE, ASSET_TYPE, CONTENT_TYPE, IDENTITY_TYPE}
                ),
                "Actions": [AVATAR_ACTION, RESOLVE_ACTION, ASSET_ACTION, CONTENT_ACTION, IDENTITY_ACTION],
                "Features": sorted(
                    f"{r.offered.item_type} {r.offered.qualifier.format} {ROUTE_NAMES[r.route]}" for r in rows
                ),
                "Profiles": list(answer.profiles),
                "Policies": dict(answer.policies),
                "Bridges": sorted(k.verification_method for k in offer_v.keys),
            },
            "ValidFromMs": now,
            "ValidUntilMs": now + DEFAULT_VALIDITY_S * 1000,
        }
        signed = _signed(doc, self._keys)
        await self._put(peer_id, PROPOSED, signed)
        return _bytes(signed)

    async def confirm(self, agreement_json: bytes, peer_id: str) -> bytes:
        """The proposer's countersigned agreement: must be the one proposed here, with a valid
        proof by each party; then ACTIVE. FailedPrecondition ``AGREEMENT_MISMATCH``."""
        doc = parse_json(agreement_json)
        rec = await self.record(peer_id)
        mine = rec["Document"]
        if not isinstance(doc, dict) or {k: v for k, v in doc.items() if k != "proof"} != {
            k: v for k, v in mine.items() if k != "proof"
        }:
            raise FailedPrecondition("the agreement differs from the one proposed", reason="AGREEMENT_MISMATCH")
        proof = doc.get("proof")
        proofs = proof if isinstance(proof, list) else []
        theirs = [p for p in proofs if str(p.get("verificationMethod", "")).startswith(f"did:web:{peer_id}#")]
        if rec["Status"] != PROPOSED or mine["proof"] not in proofs or len(theirs) != 1:
            raise FailedPrecondition("the agreement must carry both parties' proofs", reason="AGREEMENT_MISMATCH")
        await self._verifier.verify_signed_by_peer({**doc, "proof": theirs[0]}, peer_id)
        await self._put(peer_id, ACTIVE, doc)
        return _bytes(doc)

    # -- proposing side (A) ------------------------------------------------------------
    async def countersign(self, agreement_json: bytes, answer: mpb.Manifesto, peer_id: str) -> bytes:
        """Check the peer's signed agreement matches its answer, countersign it (ACTIVE once the
        peer confirms: :meth:`activate`)."""
        doc = parse_json(agreement_json)
        if not isinstance(doc, dict) or doc.get("Type") != AGREEMENT_TYPE:
            raise InvalidInput("the peer's agreement is not a trust agreement", reason="AGREEMENT_MISMATCH")
        if doc.get("Parties") != [self._id, peer_id] or doc.get("AnswerManifestoID") != answer.manifesto_id:
            raise InvalidInput("the peer's agreement does not match its answer", reason="AGREEMENT_MISMATCH")
        await self._verifier.verify_signed_by_peer(doc, peer_id)
        signed = _signed(doc, self._keys)
        await self._put(peer_id, PROPOSED, signed)
        return _bytes(signed)

    async def activate(self, agreement_json: bytes, peer_id: str) -> None:
        """Record the agreement the peer confirmed as ACTIVE."""
        await self._put(peer_id, ACTIVE, parse_json(agreement_json))

    # -- both sides ------------------------------------------------------------------------
    async def revoke(self, peer_id: str, *, reason: str, agreement_id: str | None = None) -> bytes:
        """Mark the agreement with ``peer_id`` REVOKED (if ``agreement_id`` is given it must
        match: FailedPrecondition ``AGREEMENT_MISMATCH``)."""
        rec = await self.record(peer_id)
        doc = rec["Document"]
        if agreement_id is not None and doc.get("AgreementID") != agreement_id:
            raise FailedPrecondition(f"no agreement {agreement_id} with {peer_id}", reason="AGREEMENT_MISMATCH")
        await self._put(peer_id, REVOKED, doc, RevokedAtMs=_now_ms(), RevocationReason=reason[:500])
        return _bytes(doc)
