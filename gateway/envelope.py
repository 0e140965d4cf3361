"""Transfer envelopes: replay protection for what one gateway sends another (issue "Federated
trust", item 6).

The sending gateway signs (eddsa-jcs-2022, its instance key) a small JSON document binding the
origin and destination M-Instances, the transfer id, the sha-256 of the exact Item bytes sent,
and issued-at / expires-at (Unix ms). The receiving gateway checks the proof, the binding, the
times against its clock with a skew tolerance, and claims the transfer id in a nonce store kept
until expiry plus the skew, so a replay is refused even after the envelope would have expired.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from gateway.keyring import Keyring
from gateway.verification import ForeignItemRefused, ForeignItemVerifier
from mmmfed.items import parse_json, proof_time, sha256_hex
from mmmfed.keys import InstanceKeyStore
from mmmfed.proofs import sign_document
from mmmfed.store import SharedState

ENVELOPE_TYPE = "mmmfed/TransferEnvelope/v1"
DEFAULT_LIFETIME_S = 120.0
MAX_LIFETIME_S = 600.0
NONCE_NAMESPACE = "transfer"


def make_envelope(
    *,
    keys: InstanceKeyStore,
    destination: str,
    transfer_id: str,
    item_json: bytes,
    lifetime_s: float = DEFAULT_LIFETIME_S,
) -> bytes:
    """The signed envelope for sending ``item_json`` to ``destination`` (exact bytes to send)."""
    now_ms = int(time.time() * 1000)
    doc: dict[str, Any] = {
        "Type": ENVELOPE_TYPE,
        "Origin": keys.m_instance_id,
        "Destination": destination,
        "TransferID": transfer_id,
        "ItemSHA256": sha256_hex(item_json),
        "IssuedAtMs": now_ms,
        "ExpiresAtMs": now_ms + int(lifetime_s * 1000),
    }
    record, key = keys.current()
    signed = sign_document(doc, key=key, verification_method=keys.method(record), created=proof_time())
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
        self, envelope_json: bytes, *, peer_id: str, transfer_id: str, item_json: bytes, claim: bool = True
    ) -> None:
        """Raise ForeignItemRefused unless the envelope is signed by ``peer_id``, binds this
        transfer and these exact Item bytes to this destination, is within its validity, and its
        transfer id was never seen (``claim=False`` skips that last check, for messages the
        receiver applies idempotently by transfer id, such as asset offers and decisions).
        Reasons: ``ENVELOPE_MISSING``, ``ENVELOPE_MISMATCH``, ``ENVELOPE_EXPIRED``,
        ``ENVELOPE_FROM_FUTURE``, ``ENVELOPE_TOO_LONG``, ``REPLAYED``, and the
        proof reasons of :class:`ForeignItemVerifier` (``SIGNATURE_INVALID``, ``KEY_*``...)."""
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
        if not claim:
            return
        key = f"{peer_id} {transfer_id}"
        keep_until_ms = expires + self._skew_ms
        if not await self._store.claim_nonce(NONCE_NAMESPACE, key, keep_until_ms=keep_until_ms, now_ms=now_ms):
            raise ForeignItemRefused(f"transfer {transfer_id} was already received", reason="REPLAYED")
