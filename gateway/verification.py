"""Verification of foreign Items at the gateway (issue "Federated trust", item 6, first steps).

For a Persona arriving from a peer (RE-1): strict parse (:func:`mmmfed.items.parse_item`); the
JSON Schema (2020-12) of its Item type (:func:`mmmfed.schemas.validate_item`); the local Rules
in force at the Effective Time (:mod:`mmmfed.rules`); origin
equals the authenticated channel peer; every Data Integrity proof (eddsa-jcs-2022) verifies with
a key the peer publishes (did:web, through the keyring) that was valid when the proof was
``created`` and is not revoked (a key revoked as ``compromised`` verifies nothing checked after its
revocation, whatever ``created`` says: issue 12 item 4); ``created`` not in the future beyond the
clock skew (and, for what travels in a transfer envelope, within its issued-at:
:mod:`gateway.envelope`). A Persona a
bridge converted carries the bridge's proof (did:key, one of the keys the bridge announced in
offer manifesto V) and the original Item under ``SourceItem``, whose own proof must verify with
the peer's key: the receiver checks both who produced the data and who converted it.

Each failure raises a :class:`ForeignItemRefused` (gRPC PERMISSION_DENIED) with a specific reason
before anything is stored, and counts in ``mmmfed_verification_refusals_total{reason}`` (issue 6,
item 2) of the node's metrics.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from gateway.keyring import Keyring, KeyUnavailable
from mmmfed.errors import MmmfedError, PermissionDenied
from mmmfed.items import Item, parse_item
from mmmfed.metrics import NodeMetrics
from mmmfed.proofs import VerificationResult, verify_document
from mmmfed.rules import Rules
from mmmfed.schemas import validate_item
from mmmfed.v22 import decode
from mmmfed.v22.conformance import check_conforms
from mmmfed.v22.parts import is_mapping

DEFAULT_SKEW_S = 300.0
# Failures that say nothing about the Item (a key service unreachable, a bug): not refusals.
NOT_REFUSALS = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class ForeignItemRefused(PermissionDenied):
    """A foreign Item failed verification (PERMISSION_DENIED); the reason says which check."""


def created_ms(proof: Mapping[str, Any]) -> int:
    """The proof's ``created`` time as Unix ms; ForeignItemRefused ``PROOF_MALFORMED``."""
    created = proof.get("created")
    try:
        parsed = datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError as err:
        raise ForeignItemRefused(f"proof created {created!r} is not a time", reason="PROOF_MALFORMED") from err
    if parsed.tzinfo is None:
        raise ForeignItemRefused(f"proof created {created!r} has no time zone", reason="PROOF_MALFORMED")
    return int(parsed.timestamp() * 1000)


def _proofs(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    proof = doc.get("proof")
    if not proof:
        raise ForeignItemRefused("the Item carries no proof", reason="PROOF_MISSING")
    proofs = proof if isinstance(proof, list) else [proof]
    if not all(is_mapping(p) for p in proofs):
        raise ForeignItemRefused("proof must be an object or a list of objects", reason="PROOF_MALFORMED")
    return proofs


@contextlib.contextmanager
def refusals_counted(metrics: NodeMetrics) -> Iterator[None]:
    """Count a refusal raised inside the block in ``mmmfed_verification_refusals_total`` by its
    reason, then re-raise it. Errors whose code is in :data:`NOT_REFUSALS` are not counted."""
    try:
        yield
    except MmmfedError as err:
        if err.code not in NOT_REFUSALS:
            metrics.verification_refusals.labels(reason=err.reason).inc()
        raise


class ForeignItemVerifier:
    """Checks foreign Items before a gateway lets them in.

    Args:
        keyring: resolves peers' did:web keys.
        skew_s: tolerated clock difference for proof ``created`` times, seconds.
        clock: wall-clock seconds (tests pass a fake).
        metrics: the node's metrics, where refusals of :meth:`verify_persona` and
            :meth:`verify_signed_by_peer` count by reason (None: counted nowhere anyone reads).
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        rules: Rules | None = None,
        skew_s: float = DEFAULT_SKEW_S,
        clock: Callable[[], float] = time.time,
        metrics: NodeMetrics | None = None,
    ):
        self._metrics = metrics if metrics is not None else NodeMetrics()
        self._keyring = keyring
        self._rules = rules or Rules([])
        self._skew_ms = int(skew_s * 1000)
        self._clock = clock

    async def verify_persona(self, raw: bytes, *, peer_id: str, bridge_keys: Mapping[str, bytes]) -> Item:
        """Verify a Persona sent by ``peer_id`` (exact bytes received).

        Args:
            bridge_keys: did:key verification method -> public key of bridges that may have
                converted it (from offer manifesto V of the agreement with the peer).
        Raises ForeignItemRefused: ``ORIGIN_MISMATCH``, ``PROOF_MISSING``, ``PROOF_MALFORMED``,
        ``PROOF_FROM_FUTURE``, ``KEY_UNKNOWN``, ``KEY_REVOKED``, ``KEY_NOT_VALID_AT_TIME``,
        ``BRIDGE_NOT_ALLOWED``, ``SOURCE_MISMATCH``, ``RULE_VIOLATION``, ``SIGNATURE_INVALID`` (or the proof library's
        other reasons); InvalidInput for malformed JSON (the ``JSON_*`` reasons) and
        ``SCHEMA_VIOLATION`` / ``ITEM_TYPE_UNKNOWN``. Each counts as a refusal by its reason.
        """
        try:  # refusals_counted, without a generator per Item (this runs for every Item a peer sends)
            return await self._verify_persona(raw, peer_id=peer_id, bridge_keys=bridge_keys)
        except MmmfedError as err:
            self._count_refusal(err)
            raise

    def _count_refusal(self, err: MmmfedError) -> None:
        if err.code not in NOT_REFUSALS:
            self._metrics.verification_refusals.labels(reason=err.reason).inc()

    async def _verify_persona(self, raw: bytes, *, peer_id: str, bridge_keys: Mapping[str, bytes]) -> Item:
        item = parse_item(raw)
        # plain_json: parse_item saw no floats and nothing above U+FFFF, so the schema and proof
        # checks skip their type walks (the doc and SourceItem inside it alike)
        validate_item(item.doc, plain_json=item.plain_json)
        if item.m_instance_id != peer_id:
            raise ForeignItemRefused(
                f"Item belongs to {item.m_instance_id} but came from {peer_id}", reason="ORIGIN_MISMATCH"
            )
        # The Effective Time is the receipt: the Rules version in force now applies.
        self._rules.check(item, origin=peer_id, at_ms=int(self._clock() * 1000))
        # proofs cover the V2.2 form (item.wire); the domain's SourceItem is the original's V2.2 form
        source_wire = item.doc.get("SourceItem")
        if source_wire is None:
            await self._verify_signed_by_peer(item.wire, peer_id, plain_json=item.plain_json)
            return item
        if not is_mapping(source_wire):
            raise ForeignItemRefused("SourceItem must be an Item", reason="SOURCE_MISMATCH")
        check_conforms(source_wire)  # the original too is MPAI's V2.2 type of its Header
        source = decode(source_wire)
        if source.get("ItemID") != item.doc.get("SourceItemID"):
            raise ForeignItemRefused("SourceItem does not match SourceItemID", reason="SOURCE_MISMATCH")
        if source.get("MInstanceID") != peer_id:
            raise ForeignItemRefused(f"the original Item is not {peer_id}'s", reason="ORIGIN_MISMATCH")
        self._verify_signed_by_bridge(item.wire, bridge_keys, plain_json=item.plain_json)
        await self._verify_signed_by_peer(source_wire, peer_id, plain_json=item.plain_json)
        return item

    async def verify_signed_by_peer(self, doc: Mapping[str, Any], peer_id: str) -> None:
        """Every proof on ``doc`` verifies with a key ``peer_id`` published, valid when the proof
        was created (raises ForeignItemRefused, counted as a refusal by its reason)."""
        with refusals_counted(self._metrics):
            await self._verify_signed_by_peer(doc, peer_id)

    async def _verify_signed_by_peer(self, doc: Mapping[str, Any], peer_id: str, *, plain_json: bool = False) -> None:
        keys: dict[str, bytes] = {}
        now_ms = int(self._clock() * 1000)
        for proof in _proofs(doc):
            method = str(proof.get("verificationMethod", ""))
            at_ms = created_ms(proof)
            if at_ms > now_ms + self._skew_ms:
                raise ForeignItemRefused(
                    f"proof created {proof.get('created')} is in the future", reason="PROOF_FROM_FUTURE"
                )
            try:
                keys[method] = await self._keyring.resolve(
                    method, at_ms=at_ms, expected_instance=peer_id, now_ms=now_ms
                )
            except KeyUnavailable as err:
                raise ForeignItemRefused(err.message, reason=err.reason) from err
        result = verify_document(
            doc, resolve_key=keys.__getitem__, expected_proof_purpose="assertionMethod", plain_json=plain_json
        )
        _raise_unless(result)

    @staticmethod
    def _verify_signed_by_bridge(doc: Mapping[str, Any], bridge_keys: Mapping[str, bytes], *, plain_json: bool) -> None:
        for proof in _proofs(doc):
            if proof.get("verificationMethod") not in bridge_keys:
                raise ForeignItemRefused(
                    f"{proof.get('verificationMethod')} is not a bridge of the negotiated agreement",
                    reason="BRIDGE_NOT_ALLOWED",
                )
        _raise_unless(
            verify_document(
                doc,
                resolve_key=bridge_keys.__getitem__,
                expected_proof_purpose="assertionMethod",
                plain_json=plain_json,
            )
        )


def _raise_unless(result: VerificationResult) -> None:
    if not result.verified:
        raise ForeignItemRefused(
            f"proof by {result.verification_method} does not verify: {result.reason}", reason=result.reason
        )
