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

The package, one job a module: :mod:`~mmmfed.proofs.ed25519` (strict verification, signing keys),
:mod:`~mmmfed.proofs.jcs` (canonical bytes, hash data), :mod:`~mmmfed.proofs.proofset` (proof
values, proof sets and chains), :mod:`~mmmfed.proofs.sign`, :mod:`~mmmfed.proofs.verify` and
:mod:`~mmmfed.proofs.reasons`. Callers import from ``mmmfed.proofs``.
"""

from __future__ import annotations

from mmmfed.proofs.ed25519 import SMALL_ORDER_Y, L, P, SigningKey, ed25519_verify, generate_key, resolve_did_key
from mmmfed.proofs.jcs import canonicalize, jcs_hash_data
from mmmfed.proofs.proofset import CRYPTOSUITE, MAX_PROOFS, PROOF_TYPE, is_date_time_stamp
from mmmfed.proofs.reasons import (
    CRYPTOSUITE_UNSUPPORTED,
    DOCUMENT_MALFORMED,
    KEY_UNRESOLVED,
    NOT_CANONICALIZABLE,
    PREVIOUS_PROOF_INVALID,
    PREVIOUS_PROOF_MISSING,
    PROOF_CHAIN_CYCLE,
    PROOF_CONTEXT_MISMATCH,
    PROOF_MALFORMED,
    PROOF_MISSING,
    PROOF_PURPOSE_MISMATCH,
    SIGNATURE_INVALID,
    TOO_MANY_PROOFS,
    VERIFIED,
)
from mmmfed.proofs.sign import sign_document
from mmmfed.proofs.verify import ProofCheck, VerificationResult, verify_document, verify_document_did_key

__all__ = [
    "CRYPTOSUITE",
    "CRYPTOSUITE_UNSUPPORTED",
    "DOCUMENT_MALFORMED",
    "KEY_UNRESOLVED",
    "MAX_PROOFS",
    "NOT_CANONICALIZABLE",
    "PREVIOUS_PROOF_INVALID",
    "PREVIOUS_PROOF_MISSING",
    "PROOF_CHAIN_CYCLE",
    "PROOF_CONTEXT_MISMATCH",
    "PROOF_MALFORMED",
    "PROOF_MISSING",
    "PROOF_PURPOSE_MISMATCH",
    "PROOF_TYPE",
    "SIGNATURE_INVALID",
    "SMALL_ORDER_Y",
    "TOO_MANY_PROOFS",
    "VERIFIED",
    "L",
    "P",
    "ProofCheck",
    "SigningKey",
    "VerificationResult",
    "canonicalize",
    "ed25519_verify",
    "generate_key",
    "is_date_time_stamp",
    "jcs_hash_data",
    "resolve_did_key",
    "sign_document",
    "verify_document",
    "verify_document_did_key",
]
