"""eddsa-jcs-2022 Data Integrity proofs in mmmfed.proofs (W3C Data Integrity EdDSA Cryptosuites
v1.0): the Appendix B.3 vector and the signedJCS.json test vector reproduced, sign_document leaving
its input alone and refusing bad options, duplicate proof ids and what JCS cannot represent, and
the reason verify_document gives for each damaged proof, missing proof, wrong purpose, resolver
failure and proof context."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from proof_vectors import ALICE, BRIDGE, CREATED, ITEM, W3C, _signed

from mmmfed.did import multibase_decode
from mmmfed.errors import InvalidInput, NotFound
from mmmfed.proofs import (
    SigningKey,
    canonicalize,
    jcs_hash_data,
    sign_document,
    verify_document,
    verify_document_did_key,
)

# ----------------------------------------------------------------------------- eddsa-jcs-2022


def test_w3c_eddsa_jcs_2022_vector_reproduced() -> None:
    """vc-di-eddsa B.3: canonical forms, hashes, signature and proofValue match; the result verifies."""
    v = W3C["rec_b3"]
    key = SigningKey.from_seed(multibase_decode(W3C["key_pair"]["secretKeyMultibase"])[2:])
    assert canonicalize(v["unsigned"]).decode() == v["canonical_document"]
    assert canonicalize(v["proof_options"]).decode() == v["canonical_proof_options"]
    hash_data = jcs_hash_data(v["unsigned"], v["proof_options"])
    assert hash_data.hex() == v["hash_data_hex"]
    assert hash_data[:32].hex() == v["proof_options_hash_hex"] and hash_data[32:].hex() == v["document_hash_hex"]
    assert key.sign(hash_data).hex() == v["signature_hex"]

    signed = sign_document(
        v["unsigned"],
        key=key,
        verification_method=v["proof_options"]["verificationMethod"],
        created=v["proof_options"]["created"],
    )
    assert signed["proof"] == {**v["proof_options"], "proofValue": v["proof_value"]}
    result = verify_document_did_key(signed)
    assert result.verified and result.reason == "VERIFIED"
    assert result.verification_method == v["proof_options"]["verificationMethod"]


def test_w3c_test_vector_with_https_verification_method() -> None:
    """TestVectors/eddsa-jcs-2022/signedJCS.json verifies with a resolver for its https method,
    and its proofValue is the published signature."""
    doc = W3C["signed_jcs_https_vm"]
    public = multibase_decode(W3C["key_pair"]["publicKeyMultibase"])[2:]
    keys = {doc["proof"]["verificationMethod"]: public}
    assert verify_document(doc, resolve_key=keys.__getitem__).verified
    assert multibase_decode(doc["proof"]["proofValue"]).hex() == W3C["signed_jcs_https_vm_signature_hex"]
    assert verify_document_did_key(doc).reason == "KEY_UNRESOLVED"


def test_sign_document_leaves_input_alone() -> None:
    """sign_document returns a copy; the input document is unchanged."""
    before = copy.deepcopy(ITEM)
    signed = _signed()
    assert before == ITEM and "proof" not in ITEM
    assert signed["proof"]["type"] == "DataIntegrityProof" and signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert "@context" not in signed["proof"]  # the Item has none to copy


def _mutate(result: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(result)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (["proof", "cryptosuite"], "eddsa-rdfc-2022", "CRYPTOSUITE_UNSUPPORTED"),
        (["proof", "type"], "Ed25519Signature2020", "CRYPTOSUITE_UNSUPPORTED"),
        (["proof", "proofValue"], "z3", "PROOF_MALFORMED"),
        (["proof", "proofValue"], "u" + "A" * 86, "PROOF_MALFORMED"),
        (["proof", "proofValue"], 7, "PROOF_MALFORMED"),
        (["proof", "verificationMethod"], None, "PROOF_MALFORMED"),
        (["proof", "created"], "yesterday", "PROOF_MALFORMED"),
        (["proof", "created"], "2026-02-30T00:00:00Z", "PROOF_MALFORMED"),
        (["proof", "previousProof"], 3, "PROOF_MALFORMED"),
        (["proof", "previousProof"], "urn:uuid:nowhere", "PREVIOUS_PROOF_MISSING"),
        (["proof", "verificationMethod"], "https://a.example/keys#1", "KEY_UNRESOLVED"),
        (["proof", "verificationMethod"], BRIDGE.verification_method, "SIGNATURE_INVALID"),
        (["proof", "created"], "2026-11-25T05:00:01Z", "SIGNATURE_INVALID"),
        (["proof", "@context"], ["https://www.w3.org/ns/credentials/v2"], "PROOF_CONTEXT_MISMATCH"),
        (["proof"], "not a proof", "PROOF_MALFORMED"),
        (["proof"], [], "PROOF_MISSING"),
        (["proof"], [{"type": "DataIntegrityProof"}, 4], "PROOF_MALFORMED"),
        (["ItemData", "Size"], 2**60, "NOT_CANONICALIZABLE"),
        (["ItemData", "Size"], 1025, "SIGNATURE_INVALID"),
    ],
)
def test_verification_reasons(path: list[str], value: Any, reason: str) -> None:
    """Each kind of broken proof or document fails with its stable reason code."""
    result = verify_document_did_key(_mutate(_signed(), path, value))
    assert not result.verified and result.reason == reason


def test_missing_proof_and_non_objects() -> None:
    """No proof gives PROOF_MISSING; a non-object document gives DOCUMENT_MALFORMED."""
    assert verify_document_did_key(ITEM).reason == "PROOF_MISSING"
    assert verify_document_did_key([_signed()]).reason == "DOCUMENT_MALFORMED"  # type: ignore[arg-type]


def test_expected_proof_purpose() -> None:
    """A proof made for another purpose fails when the verifier expects assertionMethod."""
    signed = _signed(proof_purpose="authentication")
    assert verify_document_did_key(signed).verified
    assert verify_document_did_key(signed, expected_proof_purpose="assertionMethod").reason == "PROOF_PURPOSE_MISMATCH"


def test_resolver_failures_are_key_unresolved_but_bugs_propagate() -> None:
    """A resolver raising MmmfedError or LookupError, or returning a bad key, gives KEY_UNRESOLVED;
    any other exception is a bug and is not swallowed."""
    signed = _signed()

    def not_found(vm: str) -> bytes:
        raise NotFound(f"no key {vm}")

    def bug(vm: str) -> bytes:
        raise ZeroDivisionError

    assert verify_document(signed, resolve_key=not_found).reason == "KEY_UNRESOLVED"
    no_keys: dict[str, bytes] = {}
    assert verify_document(signed, resolve_key=no_keys.__getitem__).reason == "KEY_UNRESOLVED"
    assert verify_document(signed, resolve_key=lambda vm: b"short").reason == "KEY_UNRESOLVED"
    with pytest.raises(ZeroDivisionError):
        verify_document(signed, resolve_key=bug)


def test_proof_context_may_be_a_prefix_of_the_document_context() -> None:
    """DI-EDDSA 3.3.2 step 4: contexts appended to the document after signing keep the proof valid;
    changing or removing signed context values does not."""
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2"], **ITEM}
    signed = _signed(doc)
    assert signed["proof"]["@context"] == doc["@context"]
    appended = _mutate(signed, ["@context"], [*doc["@context"], "https://a.example/ctx"])
    assert verify_document_did_key(appended).verified
    assert verify_document_did_key(_mutate(signed, ["@context"], ["https://a.example/ctx"])).reason == (
        "PROOF_CONTEXT_MISMATCH"
    )
    removed = {k: v for k, v in signed.items() if k != "@context"}
    assert verify_document_did_key(removed).reason == "PROOF_CONTEXT_MISMATCH"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"created": "2026-11-25T05:00:00"}, "PROOF_GENERATION_ERROR"),  # no time zone
        ({"created": "2026-13-01T00:00:00Z"}, "PROOF_GENERATION_ERROR"),
        ({"verification_method": BRIDGE.verification_method}, "PROOF_GENERATION_ERROR"),
        ({"verification_method": ""}, "PROOF_GENERATION_ERROR"),
        ({"proof_purpose": ""}, "PROOF_GENERATION_ERROR"),
        ({"proof_id": ""}, "PROOF_GENERATION_ERROR"),
        ({"created": "\u0662\u0660\u0662\u0666-11-25T05:00:00Z"}, "PROOF_GENERATION_ERROR"),  # Arabic-Indic digits
        ({"previous_proof": "urn:uuid:nowhere"}, "PREVIOUS_PROOF_MISSING"),
        ({"previous_proof": []}, "PROOF_MALFORMED"),
    ],
)
def test_sign_document_refuses_bad_options(options: dict[str, Any], reason: str) -> None:
    """Bad signing options raise InvalidInput with a stable reason."""
    arguments: dict[str, Any] = {"key": ALICE, "verification_method": ALICE.verification_method, "created": CREATED}
    with pytest.raises(InvalidInput) as err:
        sign_document(ITEM, **(arguments | options))
    assert err.value.reason == reason


def test_proof_ids_must_be_unique() -> None:
    """Adding a proof whose id another proof on the document already has is refused."""
    signed = _signed(proof_id="urn:p:1")
    with pytest.raises(InvalidInput) as err:
        _signed(signed, key=BRIDGE, proof_id="urn:p:1")
    assert err.value.reason == "PROOF_GENERATION_ERROR"


def test_sign_document_refuses_what_jcs_cannot_represent() -> None:
    """A document with a float NaN or a too-large integer cannot be signed."""
    with pytest.raises(InvalidInput) as err:
        _signed({**ITEM, "x": float("nan")})
    assert err.value.reason == "NOT_CANONICALIZABLE"
    with pytest.raises(InvalidInput) as err:
        _signed({**ITEM, "proof": "junk"})
    assert err.value.reason == "PROOF_MALFORMED"
