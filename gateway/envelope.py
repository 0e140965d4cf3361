"""Transfer envelopes: replay protection for what one gateway sends another (issue "Federated
trust", item 6).

The sending gateway signs (eddsa-jcs-2022, its instance key) a small JSON document binding the
origin and destination M-Instances, the transfer id, the sha-256 of the exact Item bytes sent,
and issued-at / expires-at (Unix ms). The receiving gateway checks the proof, the binding, the
times against its clock with a skew tolerance, and claims the transfer id in a nonce store kept
until expiry plus the skew, so a replay is refused even after the envelope would have expired.

Every proof on the envelope and on the Items it carries must be ``created`` within
:data:`PROOF_ENVELOPE_SKEW_S` of the envelope's issued-at (issue 12 item 4): the sender signs them
together, so a proof dated far from its envelope was backdated (or kept from another time), and is
refused ``PROOF_CREATED_OUTSIDE_ENVELOPE``. As an envelope's issued-at is itself bounded by the
receiver's clock (lifetime and skew), this bounds how far back anything a transfer carries can be
dated, whatever key signed it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from gateway.keyring import Keyring
from gateway.verification import ForeignItemRefused, ForeignItemVerifier, created_ms
from mmmfed.items import proof_time, sha256_hex
from mmmfed.keys import InstanceKeyStore
from mmmfed.proofs import sign_document
from mmmfed.store import SharedState
from mmmfed.strictjson import parse_json
from mmmfed.v22 import embedded_source

ENVELOPE_TYPE = "mmmfed/TransferEnvelope/v1"
DEFAULT_LIFETIME_S = 120.0
MAX_LIFETIME_S = 600.0
NONCE_NAMESPACE = "transfer"
# How far a proof's created may lie from its envelope's IssuedAtMs, either way: both come from the
# sender's clock, so this covers only the time between signing an Item and sending it (a bridge's
# conversion on the way, a retry), not clock drift between M-Instances.
PROOF_ENVELOPE_SKEW_S = 300.0


def make_envelope(
    *,
    keys: InstanceKeyStore,
    destination: str,
    transfer_id: str,
    item_json: bytes,
    lifetime_s: float = DEFAULT_LIFETIME_S,
    issued_at_s: float | None = None,
) -> bytes:
    """The signed envelope for sending ``item_json`` to ``destination`` (exact bytes to send),
    issued at ``issued_at_s`` (Unix s; default now: tests pass another time) and signed then, with
    the key current at that time. Raises FailedPrecondition ``NO_SIGNING_KEY``."""
    issued_s = time.time() if issued_at_s is None else issued_at_s
    now_ms = int(issued_s * 1000)
    doc: dict[str, Any] = {
        "Type": ENVELOPE_TYPE,
        "Origin": keys.m_instance_id,
        "Destination": destination,
        "TransferID": transfer_id,
        "ItemSHA256": sha256_hex(item_json),
        "IssuedAtMs": now_ms,
        "ExpiresAtMs": now_ms + int(lifetime_s * 1000),
    }
    record, key = keys.current(None if issued_at_s is None else (now_ms // 1000) * 1000)
    signed = sign_document(doc, key=key, verification_method=keys.method(record), created=proof_time(issued_s))
    return json.dumps(signed, separators=(",", ":")).encode()


def new_transfer_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


class EnvelopeChecker:
    """Checks transfer envelopes at the receiving gateway.

    Args:
        m_instance_id: this gateway's M-Instance (the expected destination).
        store: the shared state whose nonces every replica of this gateway claims, so a transfer
            id is accepted by one replica once (issue 6 item 1).
        skew_s: tolerated clock difference, seconds.
        clock: wall-clock seconds (tests pass a fake).
    """

    def __init__(
        self,
        m_instance_id: str,
        keyring: Keyring,
        store: SharedState,
        *,
        skew_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._id = m_instance_id
        self._verifier = ForeignItemVerifier(keyring, skew_s=skew_s, clock=clock)
        self._store = store
        self._skew_ms = int(skew_s * 1000)
        self._clock = clock

    async def check(
        self,
        envelope_json: bytes,
        *,
        peer_id: str,
        transfer_id: str,
        item_json: bytes,
        claim: bool = True,
        items: Sequence[bytes] = (),
    ) -> None:
        """Raise ForeignItemRefused unless the envelope is signed by ``peer_id``, binds this
        transfer and these exact Item bytes to this destination, is within its validity, every
        proof on it and on ``items`` (the exact bytes of the signed Items the transfer carries, and
        the ``SourceItem`` each embeds) was created within :data:`PROOF_ENVELOPE_SKEW_S` of its
        issued-at (issue 12 item 4), and its transfer id was never seen (``claim=False`` skips that
        last check, for messages the receiver applies idempotently by transfer id, such as asset
        offers and decisions).
        Reasons: ``ENVELOPE_MISSING``, ``ENVELOPE_MISMATCH``, ``ENVELOPE_EXPIRED``,
        ``ENVELOPE_FROM_FUTURE``, ``ENVELOPE_TOO_LONG``, ``PROOF_CREATED_OUTSIDE_ENVELOPE``,
        ``REPLAYED``, and the proof reasons of :class:`ForeignItemVerifier` (``SIGNATURE_INVALID``,
        ``KEY_*``, ``PROOF_MALFORMED``...); InvalidInput ``JSON_*`` for an Item that is not JSON."""
        if not envelope_json:
            raise ForeignItemRefused("the transfer carries no envelope", reason="ENVELOPE_MISSING")
        doc = parse_json(envelope_json)
        if not isinstance(doc, dict):
            raise ForeignItemRefused("the envelope is not a JSON object", reason="ENVELOPE_MISMATCH")
        await self._verifier.verify_signed_by_peer(doc, peer_id)
        expected = {
            "Type": ENVELOPE_TYPE,
            "Origin": peer_id,
            "Destination": self._id,
            "TransferID": transfer_id,
            "ItemSHA256": sha256_hex(item_json),
        }
        wrong = sorted(k for k, v in expected.items() if doc.get(k) != v)
        if wrong:
            raise ForeignItemRefused(
                f"the envelope does not bind this transfer: {', '.join(wrong)}", reason="ENVELOPE_MISMATCH"
            )
        issued, expires = doc.get("IssuedAtMs"), doc.get("ExpiresAtMs")
        if not isinstance(issued, int) or not isinstance(expires, int):
            raise ForeignItemRefused("IssuedAtMs and ExpiresAtMs must be integers", reason="ENVELOPE_MISMATCH")
        now_ms = int(self._clock() * 1000)
        if issued > now_ms + self._skew_ms:
            raise ForeignItemRefused(
                f"the envelope was issued {issued - now_ms} ms in the future", reason="ENVELOPE_FROM_FUTURE"
            )
        if expires < now_ms - self._skew_ms:
            raise ForeignItemRefused(f"the envelope expired {now_ms - expires} ms ago", reason="ENVELOPE_EXPIRED")
        if expires - issued > MAX_LIFETIME_S * 1000:
            raise ForeignItemRefused(f"envelopes may live at most {MAX_LIFETIME_S:.0f} s", reason="ENVELOPE_TOO_LONG")
        _check_proofs_near(issued, [doc, *(parse_json(raw) for raw in items)])
        if not claim:
            return
        key = f"{peer_id} {transfer_id}"
        keep_until_ms = expires + self._skew_ms
        if not await self._store.claim_nonce(NONCE_NAMESPACE, key, keep_until_ms=keep_until_ms, now_ms=now_ms):
            raise ForeignItemRefused(f"transfer {transfer_id} was already received", reason="REPLAYED")


def _proofs_of(doc: Any) -> Iterator[Mapping[str, Any]]:
    """The proofs on ``doc`` (an Item's V2.2 form) and on the original Item it embeds (a bridge's
    conversion: :func:`mmmfed.v22.embedded_source`)."""
    if not isinstance(doc, Mapping):
        return
    proof = doc.get("proof")
    for p in proof if isinstance(proof, list) else [proof] if proof else []:
        if isinstance(p, Mapping):
            yield p
    yield from _proofs_of(embedded_source(doc))


def _check_proofs_near(issued_at_ms: int, docs: Sequence[Any]) -> None:
    """ForeignItemRefused ``PROOF_CREATED_OUTSIDE_ENVELOPE`` unless every proof on ``docs`` was
    created within PROOF_ENVELOPE_SKEW_S of ``issued_at_ms`` (Unix ms); ``PROOF_MALFORMED`` for a
    ``created`` that is not a time."""
    skew_ms = int(PROOF_ENVELOPE_SKEW_S * 1000)
    for doc in docs:
        for proof in _proofs_of(doc):
            offset_ms = created_ms(proof) - issued_at_ms
            if abs(offset_ms) > skew_ms:
                when = "before" if offset_ms < 0 else "after"
                raise ForeignItemRefused(
                    f"proof by {str(proof.get('verificationMethod', ''))[:200]} was created {proof.get('created')}, "
                    f"{abs(offset_ms) // 1000} s {when} its envelope was issued (at most "
                    f"{PROOF_ENVELOPE_SKEW_S:.0f} s allowed)",
                    reason="PROOF_CREATED_OUTSIDE_ENVELOPE",
                )
