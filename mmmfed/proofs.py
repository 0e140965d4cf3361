"""Proofs on JSON documents that others can verify: W3C Data Integrity ``DataIntegrityProof`` with
the ``eddsa-jcs-2022`` cryptosuite (RFC 8785 JSON Canonicalization + Ed25519), as pure functions.

References (section numbers as in the W3C Recommendations of 15 May 2025):

* [DI-EDDSA] Data Integrity EdDSA Cryptosuites v1.0, https://www.w3.org/TR/vc-di-eddsa/: 2.2.1
  DataIntegrityProof; 3.3.1 Create Proof; 3.3.2 Verify Proof; 3.3.3 Transformation; 3.3.4
  Hashing; 3.3.5 Proof Configuration; 3.3.6 Proof Serialization; 3.3.7 Proof Verification; B.3
  (the test vector ``tests/unit/vectors/vc_di_eddsa_jcs_2022.json`` reproduces).
* [VC-DI] Verifiable Credential Data Integrity 1.0, https://www.w3.org/TR/vc-data-integrity/: 2.1
  Proofs (``created`` is an XML Schema ``dateTimeStamp``); 4.2 Add Proof; 4.3 Add Proof
  Set/Chain; 4.4 Verify Proof; 4.5 Verify Proof Sets and Chains.
* RFC 8032 (Ed25519): 5.1.3 point decoding, 5.1.6 signing, 5.1.7 verification. RFC 8785 (JCS).

Signing (DI-EDDSA 3.3.1), for an input document ``doc`` and proof options ``opts``:
``proof = opts + {"@context": doc["@context"]}`` (step 2, when ``doc`` has one);
``hashData = SHA-256(JCS(proof)) || SHA-256(JCS(doc))`` (3.3.3-3.3.5; 64 bytes);
``proof["proofValue"] = "z" + base58btc(Ed25519-sign(hashData))`` (3.3.6).
Verifying (3.3.2) undoes this: drop ``proofValue`` from the proof and ``proof`` from the document;
if the proof has an ``@context``, the document's ``@context`` must start with the same values in the
same order (step 4.1) and is replaced by the proof's for hashing (step 4.2), so a later signer may
append contexts without breaking earlier proofs; every other change to the document breaks them.

Proof sets and chains (VC-DI 4.3 and 4.5). ``proof`` may be one object or a list (a proof set).
:func:`sign_document` on a document that already has proofs adds one more to the list. A proof
that names earlier proofs in ``previousProof`` (an ``id`` string or list of them: a chain, as when a
bridge signs a converted Item that keeps the original's proof) is computed over the document whose
``proof`` is the list of the proofs it names, in the order they appear in the set (VC-DI 4.3 step
6; the list form also when one proof is named, as in vc-di-eddsa's TestVectors/proof-set-chain/
proofChainTempDoc2.json). A proof without ``previousProof`` covers the document with no ``proof``
member at all, as for a single proof (DI-EDDSA B.5.1: "no modification of unsignedDocument is
needed"). No published eddsa-jcs-2022 chain vector exists to confirm this reading for chains.
:func:`verify_document` checks every proof; a proof is valid only if all the proofs it names,
transitively, are valid too (VC-DI 4.5).

Ed25519 verification is strict (:func:`ed25519_verify`): canonical S (S < L, RFC 8032 5.1.7),
canonical point encodings of A and R (y < p, RFC 8032 5.1.3) and neither A nor R one of the eight
small-order points in any encoding; then libsodium (PyNaCl's ``crypto_sign_open``, cofactorless,
itself refusing non-canonical S and small-order points) does the actual check. The small-order
test compares the encoded y coordinate (sign bit cleared) with the five y values the eight
small-order points have: 0 and p-1 and 1 (orders 4, 2, 1) and the two order-8 values listed in
C2SP/CCTV ed25519/README.md "Low-order edwards25519 point encodings" (the same set libsodium's
``ge25519_has_small_order`` blocks). Non-canonical encodings of those points have y >= p (refused
by the canonical check) or x = 0 with the sign bit set (y = 1 or p-1: refused by the y test).
Points with a small-order component but a prime-order part are not refused (no block list can
find them, CCTV README); libsodium's cofactorless equation then applies to them.

Verification never raises for anything a peer sends: :class:`VerificationResult` carries a stable
``reason``. Signing raises :class:`~mmmfed.errors.InvalidInput` for bad arguments (reasons
``PROOF_GENERATION_ERROR``, ``PROOF_MALFORMED``, ``PREVIOUS_PROOF_MISSING``, ``DOCUMENT_MALFORMED``,
``NOT_CANONICALIZABLE``, ``KEY_MALFORMED``). Cost: one JCS + SHA-256 of the document and of the proof
per proof, plus one Ed25519 verify (~39 us with libsodium). JCS of an Item takes ~3 us on
:func:`canonicalize`'s fast path (``orjson``) instead of ~40 us with ``rfc8785``.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from mmmfed.did import (
    DID_KEY_PREFIX,
    did_key,
    did_key_verification_method,
    multibase_decode,
    multibase_encode,
    public_key_from_verification_method,
)
from mmmfed.errors import InvalidInput, MmmfedError

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"

# RFC 8032 section 5.1: field prime p and group order L.
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1
# y of an order-8 point; the other order-8 y is P - it (C2SP/CCTV ed25519/README.md lists both
# encodings: 26e8958f...fc05 and c7176a70...037a).
_ORDER_8_Y = int.from_bytes(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little")
SMALL_ORDER_Y = frozenset({0, 1, P - 1, _ORDER_8_Y, P - _ORDER_8_Y})

# Reasons in VerificationResult / ProofCheck.
VERIFIED = "VERIFIED"
PROOF_MISSING = "PROOF_MISSING"
PROOF_MALFORMED = "PROOF_MALFORMED"
CRYPTOSUITE_UNSUPPORTED = "CRYPTOSUITE_UNSUPPORTED"
KEY_UNRESOLVED = "KEY_UNRESOLVED"
SIGNATURE_INVALID = "SIGNATURE_INVALID"
DOCUMENT_MALFORMED = "DOCUMENT_MALFORMED"
NOT_CANONICALIZABLE = "NOT_CANONICALIZABLE"
PROOF_PURPOSE_MISMATCH = "PROOF_PURPOSE_MISMATCH"
PROOF_CONTEXT_MISMATCH = "PROOF_CONTEXT_MISMATCH"
PREVIOUS_PROOF_MISSING = "PREVIOUS_PROOF_MISSING"
PREVIOUS_PROOF_INVALID = "PREVIOUS_PROOF_INVALID"
PROOF_CHAIN_CYCLE = "PROOF_CHAIN_CYCLE"
TOO_MANY_PROOFS = "TOO_MANY_PROOFS"

# Each proof costs a canonicalisation of the whole document; 16 is far above a bridge chain's
# depth (original + one proof per bridge hop) and bounds the work a peer can ask for.
MAX_PROOFS = 16

# XML Schema 1.1 dateTimeStamp (a dateTime with a time zone), as VC-DI 2.1 requires for `created`;
# years limited to 0001-9999, and the date checked with `datetime.date`.
_DATE_TIME_STAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))",
    re.ASCII,
)


def _strict_point(encoding: bytes) -> bool:
    """True if a 32-byte point encoding is canonical (y < p) and not of a small-order point."""
    y = int.from_bytes(encoding, "little") & _Y_MASK
    return y < P and y not in SMALL_ORDER_Y


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict Ed25519 verification (RFC 8032 5.1.7 plus the checks in the module docstring).

    Args:
        public_key: 32-byte encoded A. message: any bytes. signature: 64 bytes, R || S.

    Returns False, never raises, for: arguments that are not bytes-like, wrong lengths, S >= L,
    a non-canonical (y >= p) or small-order A or R, and any signature libsodium rejects.
    """
    if not all(isinstance(v, bytes | bytearray | memoryview) for v in (public_key, message, signature)):
        return False
    public_key, signature = bytes(public_key), bytes(signature)
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if int.from_bytes(signature[32:], "little") >= L:
        return False
    if not (_strict_point(public_key) and _strict_point(signature[:32])):
        return False
    try:  # libsodium: ~39 us against OpenSSL's ~62 us here, and as strict (it also refuses these)
        crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair. ``public_key_bytes`` is the 32-byte A; equality compares it only."""

    private_key: Ed25519PrivateKey = field(repr=False, compare=False)
    public_key_bytes: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key (OpenSSL's CSPRNG)."""
        return cls._of(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key of a 32-byte RFC 8032 private key (seed); InvalidInput ``KEY_MALFORMED`` else."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise InvalidInput("an Ed25519 private key (seed) is 32 bytes", reason="KEY_MALFORMED")
        return cls._of(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @classmethod
    def _of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        raw = serialization.Encoding.Raw
        return cls(private_key, private_key.public_key().public_bytes(raw, serialization.PublicFormat.Raw))

    @property
    def seed(self) -> bytes:
        """The 32-byte private key (seed). Secret."""
        raw = serialization.Encoding.Raw
        return self.private_key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())

    @property
    def did(self) -> str:
        """``did:key:z6Mk...`` of the public key."""
        return did_key(self.public_key_bytes)

    @property
    def verification_method(self) -> str:
        """``did:key:z6Mk...#z6Mk...``: the verificationMethod to put in proofs."""
        return did_key_verification_method(self.public_key_bytes)

    def sign(self, message: bytes) -> bytes:
        """64-byte Ed25519 signature of ``message`` (RFC 8032 5.1.6, deterministic)."""
        return self.private_key.sign(message)


def generate_key() -> tuple[bytes, bytes]:
    """A new random key pair as ``(seed, public_key)``, 32 bytes each."""
    key = SigningKey.generate()
    return key.seed, key.public_key_bytes


def resolve_did_key(verification_method: str) -> bytes:
    """Public key of a ``did:key:z...#z...`` verification method; for ``resolve_key``.

    Raises InvalidInput (``DID_KEY_MALFORMED`` / ``DID_KEY_UNSUPPORTED``) otherwise.
    """
    return public_key_from_verification_method(verification_method)


# canonicalize's fast path: orjson with sorted keys, refusing integers beyond +-(2**53-1) as
# rfc8785 does (orjson.OPT_STRICT_INTEGER's bounds are exactly those).
_ORJSON_JCS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_JSON_LEAVES = frozenset({str, int, bool, type(None)})
_JSON_CONTAINERS = frozenset({dict, list, tuple})
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _orjson_is_jcs(value: Any) -> bool:
    """True if ``orjson.dumps(value, option=_ORJSON_JCS)``, having succeeded, is RFC 8785 text.

    It is when the value holds only ``dict`` / ``list`` / ``tuple`` (exact types; both serialise
    a tuple as an array), ``str``, ``int``, ``bool`` and ``None``, and no member name has a
    character above U+FFFF. Then both write the same bytes: no numbers but integers within
    +-(2**53-1), written in plain decimal by both (orjson refuses larger ones with
    OPT_STRICT_INTEGER, the range rfc8785 accepts); strings as UTF-8 with the same escapes (both
    escape only U+0000-U+001F, ``"`` and ``\\``, with ``\\b \\t \\n \\f \\r`` and
    otherwise ``\\u00xx`` in lower case; U+007F, U+2028/2029 and all other characters raw; both
    refuse lone surrogates), checked over every Unicode scalar value in
    tests/unit/test_fast_paths.py; members sorted by code point (orjson compares the UTF-8
    bytes), which is RFC 8785's UTF-16 code-unit order except between a character above U+FFFF
    (a surrogate pair, D800-DFFF) and one in U+E000-U+FFFF, hence the member-name condition.
    Anything else (floats, whose ECMAScript form orjson does not write; subclasses, enums,
    dataclasses, datetimes and the rest that orjson serialises but rfc8785 refuses) is not.
    Recursion is bounded: orjson succeeded, so the value is acyclic and at most 255 deep.
    """
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or (not key.isascii() and _ASTRAL.search(key)):
                return False
        children = value.values()
    elif kind is list or kind is tuple:
        children = value
    else:
        return kind in _JSON_LEAVES
    for child in children:
        child_kind = type(child)
        if child_kind in _JSON_LEAVES:
            continue
        if child_kind not in _JSON_CONTAINERS or not _orjson_is_jcs(child):
            return False
    return True


def canonicalize(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``; InvalidInput ``NOT_CANONICALIZABLE`` for values JCS cannot
    represent (NaN, infinities, integers beyond +-(2**53-1), lone surrogates, non-string keys,
    non-JSON types).

    Values without floats (every Item mmmfed builds) take a fast path, ``orjson`` with sorted
    keys, where :func:`_orjson_is_jcs` shows that it writes the same bytes as ``rfc8785.dumps``;
    everything else, and everything orjson refuses, goes to ``rfc8785.dumps``, which gives the
    result or the error.
    """
    try:
        fast = orjson.dumps(value, option=_ORJSON_JCS)
    except orjson.JSONEncodeError:
        pass  # not JSON as orjson sees it (too large an integer, a lone surrogate...): rfc8785 decides
    else:
        if _orjson_is_jcs(value):
            return fast
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        raise InvalidInput(f"not representable as RFC 8785 JSON: {err}", reason=NOT_CANONICALIZABLE) from err


def jcs_hash_data(unsecured_document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """DI-EDDSA 3.3.4: ``SHA-256(JCS(proof_config)) || SHA-256(JCS(unsecured_document))``, 64 bytes.

    ``proof_config`` is the proof without ``proofValue`` (3.3.5); ``unsecured_document`` is what the
    proof covers (3.3.3). Raises InvalidInput ``NOT_CANONICALIZABLE``.
    """
    return (
        hashlib.sha256(canonicalize(proof_config)).digest() + hashlib.sha256(canonicalize(unsecured_document)).digest()
    )


def is_date_time_stamp(value: object) -> bool:
    """True if ``value`` is an XML Schema dateTimeStamp (VC-DI 2.1 ``created``), years 0001-9999."""
    match = _DATE_TIME_STAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    try:
        datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


class _ProofFailure(Exception):
    """Internal: one proof failed for ``reason``; never leaves this module."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _proof_list(proof: object) -> list[Mapping[str, Any]]:
    if isinstance(proof, Mapping):
        return [proof]
    if isinstance(proof, list) and all(isinstance(p, Mapping) for p in proof):
        return list(proof)
    raise _ProofFailure(PROOF_MALFORMED)


def _previous_ids(value: object) -> list[str]:
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise _ProofFailure(PROOF_MALFORMED)
    return ids


def _matching(all_proofs: Sequence[Mapping[str, Any]], ids: list[str]) -> list[Mapping[str, Any]]:
    """VC-DI 4.3 steps 4-5 / 4.5 step 3.2: the proofs whose ``id`` is in ``ids``, in set order."""
    found = {p["id"] for p in all_proofs if isinstance(p.get("id"), str)}
    if any(i not in found for i in ids):
        raise _ProofFailure(PREVIOUS_PROOF_MISSING)
    return [p for p in all_proofs if p.get("id") in ids]


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any) -> Any:
    """A deep copy of a JSON value: dicts and lists rebuilt, JSON scalars shared (immutable),
    anything else through ``copy.deepcopy``. Same result as ``copy.deepcopy`` on the whole value
    at a fifth of its cost, which mattered: a gateway copies every Item it signs."""
    kind = type(value)
    if kind is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)


def sign_document(
    document: Mapping[str, Any],
    *,
    key: SigningKey,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with an eddsa-jcs-2022 ``DataIntegrityProof`` added (DI-EDDSA 3.3.1).

    Args:
        document: a JSON object (``dict``); not modified. If it already has ``proof``, the new
            proof is appended and ``proof`` becomes a list (VC-DI 4.3); otherwise it is an object.
        key: the signer. verification_method: URL of its public key (for did:key it must be this
            key's ``did:key:z..#z..``). created: dateTimeStamp, e.g. ``2023-02-24T23:36:38Z``.
        proof_purpose: e.g. ``assertionMethod``. proof_id: the proof's ``id`` (a URL), needed if a
            later proof is to name it in ``previousProof``. previous_proof: ``id``(s) of proofs
            already on ``document`` that this one chains to (VC-DI 4.3 steps 4-6).

    Raises InvalidInput: ``PROOF_GENERATION_ERROR`` (bad options, did:key of another key, an
    ``id`` already used on the document), ``DOCUMENT_MALFORMED``, ``PROOF_MALFORMED`` (existing
    ``proof`` not an object or list of them), ``PREVIOUS_PROOF_MISSING``, ``NOT_CANONICALIZABLE``.
    """
    if not isinstance(document, Mapping):
        raise InvalidInput("a document to sign is a JSON object", reason=DOCUMENT_MALFORMED)
    _check_sign_options(key, verification_method, created, proof_purpose, proof_id)
    secured = _json_copy(dict(document))
    input_document = {k: v for k, v in secured.items() if k != "proof"}
    options: dict[str, Any] = {"type": PROOF_TYPE}
    if proof_id is not None:
        options["id"] = proof_id
    options |= {"cryptosuite": CRYPTOSUITE, "created": created}
    options |= {"verificationMethod": verification_method, "proofPurpose": proof_purpose}
    try:
        all_proofs = _proof_list(secured["proof"]) if "proof" in secured else []
        if proof_id is not None and any(p.get("id") == proof_id for p in all_proofs):
            raise InvalidInput(
                f"the document already has a proof with id {proof_id!r}", reason="PROOF_GENERATION_ERROR"
            )
        if previous_proof is not None:
            options["previousProof"] = copy.deepcopy(previous_proof)
            input_document["proof"] = _matching(all_proofs, _previous_ids(previous_proof))
    except _ProofFailure as failure:
        raise InvalidInput(f"cannot add a proof: {failure.reason}", reason=failure.reason) from None
    proof = dict(options)
    if "@context" in input_document:  # DI-EDDSA 3.3.1 step 2
        proof["@context"] = copy.deepcopy(input_document["@context"])
    proof["proofValue"] = multibase_encode(key.sign(jcs_hash_data(input_document, proof)))
    secured.pop("proof", None)
    secured["proof"] = [*all_proofs, proof] if all_proofs else proof
    return secured


def _check_sign_options(
    key: SigningKey, verification_method: str, created: str, proof_purpose: str, proof_id: str | None
) -> None:
    def bad(message: str) -> InvalidInput:
        return InvalidInput(message, reason="PROOF_GENERATION_ERROR")

    if not isinstance(key, SigningKey):
        raise bad("key must be a SigningKey")
    if not isinstance(verification_method, str) or not verification_method:
        raise bad("verification_method must be a non-empty URL")
    if verification_method.startswith(DID_KEY_PREFIX) and verification_method != key.verification_method:
        raise bad(f"verification method {verification_method!r} is not the signing key's did:key")
    if not is_date_time_stamp(created):
        raise bad(f"created {created!r} is not an XML Schema dateTimeStamp such as 2023-02-24T23:36:38Z")
    if not isinstance(proof_purpose, str) or not proof_purpose:
        raise bad("proof_purpose must be a non-empty string")
    if proof_id is not None and (not isinstance(proof_id, str) or not proof_id):
        raise bad("proof_id must be a non-empty string (a URL) or None")


@dataclass(frozen=True)
class ProofCheck:
    """Outcome for one proof of a document: its position in ``proof``, its ``id`` and
    ``verificationMethod`` (None if absent or not strings), and ``VERIFIED`` or why not."""

    index: int
    proof_id: str | None
    verified: bool
    reason: str
    verification_method: str | None


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify_document`.

    ``verified`` is True only if every proof verified. ``reason`` is ``VERIFIED`` or the reason of
    the first failing proof (or a document-level reason: ``PROOF_MISSING``, ``PROOF_MALFORMED``,
    ``DOCUMENT_MALFORMED``, ``TOO_MANY_PROOFS``); ``verification_method`` is that proof's (the
    first proof's when all verified). ``proofs`` has one entry per proof, in document order.
    """

    verified: bool
    reason: str
    verification_method: str | None
    proofs: tuple[ProofCheck, ...] = ()

    @property
    def failed(self) -> tuple[ProofCheck, ...]:
        """The proofs that did not verify."""
        return tuple(p for p in self.proofs if not p.verified)


def verify_document(
    document: Mapping[str, Any],
    *,
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None = None,
    max_proofs: int = MAX_PROOFS,
) -> VerificationResult:
    """Verify every eddsa-jcs-2022 proof on ``document`` (DI-EDDSA 3.3.2, VC-DI 4.5). Never raises
    for anything in ``document``.

    Args:
        document: the parsed JSON object, as received (see :mod:`mmmfed.strictjson`).
        resolve_key: verificationMethod URL -> 32-byte Ed25519 public key. It signals an unknown or
            unusable method by raising an :class:`~mmmfed.errors.MmmfedError` or a ``LookupError``
            (``KEY_UNRESOLVED``); other exceptions are bugs and propagate.
        expected_proof_purpose: if given, each proof's ``proofPurpose`` must equal it (VC-DI 4.4).
        max_proofs: more proofs than this give ``TOO_MANY_PROOFS`` without any work.

    Per-proof reasons: ``VERIFIED``, ``PROOF_MALFORMED`` (a member missing or of the wrong type,
    ``created`` not a dateTimeStamp, ``proofValue`` not a 64-byte base58btc multibase value),
    ``CRYPTOSUITE_UNSUPPORTED``, ``PROOF_PURPOSE_MISMATCH``, ``PROOF_CONTEXT_MISMATCH``,
    ``PREVIOUS_PROOF_MISSING``, ``PREVIOUS_PROOF_INVALID``, ``PROOF_CHAIN_CYCLE``,
    ``NOT_CANONICALIZABLE``, ``KEY_UNRESOLVED``, ``SIGNATURE_INVALID``.
    """
    if not isinstance(document, Mapping):
        return VerificationResult(False, DOCUMENT_MALFORMED, None)
    if "proof" not in document or document["proof"] in ([], None):
        return VerificationResult(False, PROOF_MISSING, None)
    try:
        all_proofs = _proof_list(document["proof"])
    except _ProofFailure as failure:
        return VerificationResult(False, failure.reason, None)
    if len(all_proofs) > max_proofs:
        return VerificationResult(False, TOO_MANY_PROOFS, None)
    checks = [_check(i, document, all_proofs, resolve_key, expected_proof_purpose) for i in range(len(all_proofs))]
    checks = _apply_chains(checks, all_proofs)
    failed = [c for c in checks if not c.verified]
    first = failed[0] if failed else checks[0]
    return VerificationResult(not failed, first.reason, first.verification_method, tuple(checks))


def verify_document_did_key(
    document: Mapping[str, Any], *, expected_proof_purpose: str | None = None, max_proofs: int = MAX_PROOFS
) -> VerificationResult:
    """:func:`verify_document` resolving ``did:key:z...#z...`` methods itself; any other
    verificationMethod gives ``KEY_UNRESOLVED``."""
    return verify_document(
        document, resolve_key=resolve_did_key, expected_proof_purpose=expected_proof_purpose, max_proofs=max_proofs
    )


def _text(proof: Mapping[str, Any], name: str) -> str | None:
    value = proof.get(name)
    return value if isinstance(value, str) else None


def _check(
    index: int,
    document: Mapping[str, Any],
    all_proofs: Sequence[Mapping[str, Any]],
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None,
) -> ProofCheck:
    proof = all_proofs[index]
    vm = _text(proof, "verificationMethod")
    try:
        _verify_one(proof, document, all_proofs, resolve_key, expected_proof_purpose)
    except _ProofFailure as failure:
        return ProofCheck(index, _text(proof, "id"), False, failure.reason, vm)
    return ProofCheck(index, _text(proof, "id"), True, VERIFIED, vm)


def _verify_one(
    proof: Mapping[str, Any],
    document: Mapping[str, Any],
    all_proofs: Sequence[Mapping[str, Any]],
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None,
) -> None:
    """DI-EDDSA 3.3.2 for one proof; raises _ProofFailure."""
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:  # 3.3.3 step 1, 3.3.5 step 2
        raise _ProofFailure(CRYPTOSUITE_UNSUPPORTED)
    vm, purpose = _text(proof, "verificationMethod"), _text(proof, "proofPurpose")
    if not vm or not purpose or not isinstance(proof.get("proofValue"), str):  # VC-DI 4.4 step 4
        raise _ProofFailure(PROOF_MALFORMED)
    if ("created" in proof and not is_date_time_stamp(proof["created"])) or (
        "id" in proof and not isinstance(proof["id"], str)
    ):
        raise _ProofFailure(PROOF_MALFORMED)
    if expected_proof_purpose is not None and purpose != expected_proof_purpose:
        raise _ProofFailure(PROOF_PURPOSE_MISMATCH)
    try:
        signature = multibase_decode(proof["proofValue"])  # step 3
    except InvalidInput:
        raise _ProofFailure(PROOF_MALFORMED) from None
    if len(signature) != 64:
        raise _ProofFailure(PROOF_MALFORMED)
    options = {k: v for k, v in proof.items() if k != "proofValue"}  # step 2
    unsecured = {k: v for k, v in document.items() if k != "proof"}  # step 1
    if "previousProof" in proof:  # VC-DI 4.5 steps 3.2-3.3
        unsecured["proof"] = _matching(all_proofs, _previous_ids(proof["previousProof"]))
    if "@context" in options:  # step 4
        if not _starts_with(document.get("@context"), options["@context"]):
            raise _ProofFailure(PROOF_CONTEXT_MISMATCH)
        unsecured["@context"] = options["@context"]
    try:
        hash_data = jcs_hash_data(unsecured, options)  # steps 5-7
    except InvalidInput:
        raise _ProofFailure(NOT_CANONICALIZABLE) from None
    try:
        public_key = resolve_key(vm)  # 3.3.7 step 1
    except (MmmfedError, LookupError):
        raise _ProofFailure(KEY_UNRESOLVED) from None
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise _ProofFailure(KEY_UNRESOLVED)
    if not ed25519_verify(public_key, hash_data, signature):  # 3.3.7 step 2
        raise _ProofFailure(SIGNATURE_INVALID)


def _starts_with(document_context: object, proof_context: object) -> bool:
    """DI-EDDSA 3.3.2 step 4.1: the document's @context starts with the proof's values, in order
    (a single value counts as a one-element list; a missing document @context matches nothing)."""
    if document_context is None:
        return False
    doc = document_context if isinstance(document_context, list) else [document_context]
    mine = proof_context if isinstance(proof_context, list) else [proof_context]
    return len(mine) <= len(doc) and doc[: len(mine)] == mine


def _apply_chains(checks: list[ProofCheck], all_proofs: Sequence[Mapping[str, Any]]) -> list[ProofCheck]:
    """VC-DI 4.5: a verified proof stays verified only if every proof it names, transitively, is
    verified too; a loop of references gives ``PROOF_CHAIN_CYCLE``."""
    named: list[list[int]] = []
    for proof in all_proofs:
        try:
            ids = _previous_ids(proof["previousProof"]) if "previousProof" in proof else []
        except _ProofFailure:
            ids = []  # that proof already failed as PROOF_MALFORMED
        named.append([j for j, other in enumerate(all_proofs) if ids and other.get("id") in ids])
    out = list(checks)
    for start, check in enumerate(checks):
        if check.verified and (reason := _chain_problem(start, named, checks)) is not None:
            out[start] = replace(check, verified=False, reason=reason)
    return out


def _chain_problem(start: int, named: list[list[int]], checks: list[ProofCheck]) -> str | None:
    """Depth-first walk of the proofs ``start`` names; iterative, with the current path for cycles."""
    path = {start}
    done: set[int] = set()
    stack = [(start, iter(named[start]))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.discard(node)
            done.add(node)
        elif child in path:
            return PROOF_CHAIN_CYCLE
        elif child not in done:
            if not checks[child].verified:
                return PREVIOUS_PROOF_INVALID
            path.add(child)
            stack.append((child, iter(named[child])))
    return None
